"""The scheduler's Lua: every decision is one atomic step on Redis, whichever worker takes it.

State (relay_core.keys): a sorted set of the priority levels with files left to send; per level
a sorted set of producers by virtual time and a hash of each producer's summed batch weights;
per level and producer a sorted set of batches by virtual time. Serving n files of a batch adds
n to its producer's virtual time and n / weight to the batch's, and the smallest virtual time
goes next: producers share a level equally, a producer's batches share by weight. A newcomer
joins at the smallest virtual time present, so it neither waits behind old credit nor claims
any: no active batch starves (tests/scheduler: a property-based test).
"""

from __future__ import annotations

from relay_core.scheduler.ratelimit import RESERVE_LIB

# Helpers over the state. ARGV-independent: callers pass the level prefix (keys.SCHED_LEVEL).
STATE_LIB = """
local function lvl_key(prefix, lv) return prefix .. lv end
local function min_score(key)
  local m = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
  return m[2] or '0'
end
local function sched_join(levels, prefix, lv, u, b, w)
  local L = lvl_key(prefix, lv)
  redis.call('ZADD', levels, tonumber(lv), lv)
  if not redis.call('ZSCORE', L, u) then redis.call('ZADD', L, min_score(L), u) end
  local U = L .. ':u:' .. u
  if not redis.call('ZSCORE', U, b) then
    redis.call('ZADD', U, min_score(U), b)
    redis.call('HINCRBYFLOAT', L .. ':w', u, w)
  end
end
local function sched_leave(levels, prefix, lv, u, b, w)
  local L = lvl_key(prefix, lv)
  local U = L .. ':u:' .. u
  if redis.call('ZREM', U, b) == 1 then redis.call('HINCRBYFLOAT', L .. ':w', u, -w) end
  if redis.call('ZCARD', U) == 0 then
    redis.call('ZREM', L, u)
    redis.call('HDEL', L .. ':w', u)
  end
  if redis.call('ZCARD', L) == 0 then
    redis.call('ZREM', levels, lv)
    redis.call('DEL', L .. ':w')
  end
end
-- A batch's place: level (its priority, default ARGV-given), producer, weight.
local function sched_place(bkey, default_priority)
  local v = redis.call('HMGET', bkey, 'priority', 'producer', 'weight')
  return tostring(tonumber(v[1]) or default_priority), v[2] or 'default', tonumber(v[3]) or 1
end
"""

# KEYS: batch, levels. ARGV: level prefix, default priority.
# A stored batch with files left to send joins the schedule (its creation's last step).
JOIN = (
    STATE_LIB
    + """
local lv, u, w = sched_place(KEYS[1], ARGV[2])
local b = string.match(KEYS[1], '([^:]+)$')
sched_join(KEYS[2], ARGV[1], lv, u, b, w)
return 1
"""
)

# KEYS: pause, RUN bucket, files pace, files window, lease, levels, arq queue
# ARGV: 1 token, 2 lookahead ms, 3 RUN interval ms, 4 ms per file, 5 files limit, 6 window ms,
#       7 slot ms, 8 level prefix, 9 batch prefix, 10 chunk infix, 11 kinds suffix,
#       12 arq job key prefix, 13 chunk job id prefix, 14 job function, 15 lease ttl ms,
#       16 default priority, 17 the clock in ms ('' = Redis's; injected by simulations)
# Answers {'busy'} (another dispatcher holds the lease), {'idle'} (nothing to send: the lease
# is released in the same step, so a kick after it starts a new dispatcher), {'wait', ms}, or
# {'granted', batch, chunk, files, ms until its slot}: the chunk's hash and its arq job are
# written here, with the reservation, so a granted slot can never be lost or given twice.
TAKE = (
    RESERVE_LIB
    + STATE_LIB
    + """
local now = tonumber(ARGV[17]) or redis_now()
local holder = redis.call('GET', KEYS[5])
if holder and holder ~= ARGV[1] then return {'busy'} end
local levels, prefix, bp = KEYS[6], ARGV[8], ARGV[9]
local function pick()
  for _ = 1, 50 do
    local lv = redis.call('ZRANGE', levels, 0, 0)[1]
    if not lv then return nil end
    local L = lvl_key(prefix, lv)
    local u = redis.call('ZRANGE', L, 0, 0)[1]
    if not u then
      redis.call('ZREM', levels, lv)
    else
      local b = redis.call('ZRANGE', L .. ':u:' .. u, 0, 0)[1]
      if not b then
        redis.call('ZREM', L, u)
        redis.call('HDEL', L .. ':w', u)
      else
        local v = redis.call('HMGET', bp .. b, 'files', 'next', 'state')
        if v[1] and v[3] ~= 'cancelled' and (tonumber(v[2]) or 0) < tonumber(v[1]) then
          return lv, u, b, tonumber(v[1]), tonumber(v[2]) or 0
        end
        -- Gone, cancelled or fully scheduled: out of the schedule (normally done already).
        local _, _, pw = sched_place(bp .. b, ARGV[16])
        sched_leave(levels, prefix, lv, u, b, pw)
      end
    end
  end
  return nil
end
local lv, u, b, files, nxt = pick()
if not lv then
  if holder then redis.call('DEL', KEYS[5]) end
  return {'idle'}
end
local bkey = bp .. b
local L = lvl_key(prefix, lv)
local _, _, w = sched_place(bkey, ARGV[16])
local wsum = tonumber(redis.call('HGET', L .. ':w', u)) or w
local share = (1 / redis.call('ZCARD', L)) * (w / math.max(wsum, w))
-- Files per minute binding: a chunk takes no more than its share of one slot's files.
-- Never so small that the RUN limit would bind instead: at least the files one request's
-- interval is worth.
local per_ms = tonumber(ARGV[5]) / tonumber(ARGV[6])
local cap = math.floor(per_ms * tonumber(ARGV[7]) * share)
cap = math.max(1, cap, math.ceil(per_ms * tonumber(ARGV[3])))
local maxc = tonumber(redis.call('HGET', bkey, 'chunkSize')) or 50
local n = math.min(maxc, cap, files - nxt)
local kind = redis.call('HGET', bkey, 'kind') or 'files'
local kkey = bkey .. ARGV[11]
if redis.call('EXISTS', kkey) == 1 then
  local cur = redis.call('ZREVRANGEBYSCORE', kkey, nxt, '-inf', 'LIMIT', 0, 1)[1]
  kind = string.match(cur, ':(.+)$')
  local after = redis.call('ZRANGEBYSCORE', kkey, '(' .. nxt, '+inf', 'WITHSCORES', 'LIMIT', 0, 1)
  if after[2] then n = math.min(n, tonumber(after[2]) - nxt) end
end
local Lim = {pause = KEYS[1], pace = KEYS[3], win = KEYS[4], limit = tonumber(ARGV[5]),
  window = tonumber(ARGV[6]), pace_iv = tonumber(ARGV[4]),
  buckets = {{key = KEYS[2], interval = tonumber(ARGV[3]), units = 1}}}
local go = rl_when(now, Lim, n)
redis.call('SET', KEYS[5], ARGV[1], 'PX', ARGV[15])
if go - now > tonumber(ARGV[2]) then return {'wait', go - now} end
rl_commit(now, go, Lim, n)
local c = redis.call('HINCRBY', bkey, 'chunks', 1) - 1
redis.call('HSET', bkey .. ARGV[10] .. c, 'start', nxt, 'end', nxt + n, 'kind', kind,
  'state', 'pending', 'slot', math.floor(go))
redis.call('HSET', bkey, 'next', nxt + n)
local job_id = ARGV[13] .. b .. ':' .. c
local job = '{"t":null,"f":"' .. ARGV[14] .. '","a":["' .. b .. '",' .. c .. '],"k":{},"et":'
  .. now .. '}'
redis.call('SET', ARGV[12] .. job_id, job, 'PX', 86400000)
-- Due a lookahead early: the job waits for its slot itself (worker.batches.fanout), so the worker's
-- poll interval is not added to every send.
redis.call('ZADD', KEYS[7], math.max(now, go - tonumber(ARGV[2])), job_id)
redis.call('ZINCRBY', L .. ':u:' .. u, n / w, b)
redis.call('ZINCRBY', L, n, u)
if nxt + n >= files then sched_leave(levels, prefix, lv, u, b, w) end
return {'granted', b, c, n, go - now}
"""
)

# KEYS: lease, levels, job key, arq queue. ARGV: token, lease ttl ms, job bytes, job id, score
# Start a dispatcher unless one holds the lease or there is nothing to send.
KICK = """
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
if redis.call('ZCARD', KEYS[2]) == 0 then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
redis.call('SET', KEYS[3], ARGV[3], 'PX', 86400000)
redis.call('ZADD', KEYS[4], ARGV[5], ARGV[4])
return 1
"""

# KEYS: lease, job key, arq queue. ARGV: token, new token, lease ttl ms, job bytes, job id, score
# A dispatcher that must wait long hands over to a job due then, keeping the lease meanwhile.
HANDOFF = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
redis.call('SET', KEYS[2], ARGV[4], 'PX', 86400000)
redis.call('ZADD', KEYS[3], ARGV[6], ARGV[5])
return 1
"""

# KEYS: batch, levels. ARGV: level prefix, default priority, new priority ('' = same),
#       new weight ('' = same)
# Re-prioritise a batch: its unsent files leave their place and join the new one, atomically.
# Answers -1 (no such batch), 0 (nothing left to send: recorded only), 1 (moved).
CHANGE = (
    STATE_LIB
    + """
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
local b = string.match(KEYS[1], '([^:]+)$')
local lv, u, w = sched_place(KEYS[1], ARGV[2])
local v = redis.call('HMGET', KEYS[1], 'files', 'next', 'state')
local active = v[3] ~= 'cancelled' and v[3] ~= 'completed'
  and (tonumber(v[2]) or 0) < tonumber(v[1])
if active then sched_leave(KEYS[2], ARGV[1], lv, u, b, w) end
if ARGV[3] ~= '' then redis.call('HSET', KEYS[1], 'priority', ARGV[3]) end
if ARGV[4] ~= '' then redis.call('HSET', KEYS[1], 'weight', ARGV[4]) end
if not active then return 0 end
lv, u, w = sched_place(KEYS[1], ARGV[2])
sched_join(KEYS[2], ARGV[1], lv, u, b, w)
return 1
"""
)
