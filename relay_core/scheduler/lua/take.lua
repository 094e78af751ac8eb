-- Grant the next rate-limit slot to the batch the schedule's rules pick (relay_core.scheduler),
-- as the dispatcher holding the lease. Answers {'busy'} (another dispatcher holds the lease),
-- {'idle'} (nothing to send: the lease is released in the same step, so a kick after it
-- starts a new dispatcher), {'wait', ms}, or {'granted', batch, chunk, files, ms until its
-- slot}: the chunk's hash and its arq job are written here, with the reservation, so a
-- granted slot can never be lost or given twice.
--! KEYS: pause run_bucket pace window lease levels queue
--! ARGV: token now lookahead_ms lease_ms default_priority slot_ms run_interval_ms pace_ms
--! ARGV: files_limit window_ms level_prefix weights_suffix producer_infix batch_prefix
--! ARGV: chunk_infix kinds_suffix job_prefix chunk_job_prefix job_function
-- now: '' = Redis's clock (simulations inject theirs). The batch, its chunk and that chunk's
-- job are chosen here, so their keys are built here from the shapes keys.py and arq define:
-- batch_prefix (keys.BATCH), chunk_infix, kinds_suffix, job_prefix (arq's job key prefix);
-- chunk_job_prefix and job_function make the job (relay_core.redis.queue).
--!include scheduler/rate_limit
--!include scheduler/sched_state
--!include redis/arq_enqueue
local now = tonumber(ARG.now) or redis_now()
local holder = redis.call('GET', KEY.lease)
if holder and holder ~= ARG.token then return {'busy'} end
local S = sched_keys(KEY.levels, ARG.level_prefix, ARG.weights_suffix, ARG.producer_infix)
local bp = ARG.batch_prefix
local function pick()
  for _ = 1, 50 do
    local lv = redis.call('ZRANGE', S.levels, 0, 0)[1]
    if not lv then return nil end
    local L = lvl_key(S, lv)
    local u = redis.call('ZRANGE', L, 0, 0)[1]
    if not u then
      redis.call('ZREM', S.levels, lv)
    else
      local b = redis.call('ZRANGE', producer_key(S, L, u), 0, 0)[1]
      if not b then
        redis.call('ZREM', L, u)
        redis.call('HDEL', weights_key(S, L), u)
      else
        local v = redis.call('HMGET', bp .. b, 'files', 'next', 'state')
        if v[1] and v[3] ~= 'cancelled' and (tonumber(v[2]) or 0) < tonumber(v[1]) then
          return lv, u, b, tonumber(v[1]), tonumber(v[2]) or 0
        end
        -- Gone, cancelled or fully scheduled: out of the schedule (normally done already).
        local _, _, pw = sched_place(bp .. b, ARG.default_priority)
        sched_leave(S, lv, u, b, pw)
      end
    end
  end
  return nil
end
local lv, u, b, files, nxt = pick()
if not lv then
  if holder then redis.call('DEL', KEY.lease) end
  return {'idle'}
end
local bkey = bp .. b
local L = lvl_key(S, lv)
local _, _, w = sched_place(bkey, ARG.default_priority)
local wsum = tonumber(redis.call('HGET', weights_key(S, L), u)) or w
local share = (1 / redis.call('ZCARD', L)) * (w / math.max(wsum, w))
-- Files per minute binding: a chunk takes no more than its share of one slot's files.
-- Never so small that the RUN limit would bind instead: at least the files one request's
-- interval is worth.
local per_ms = tonumber(ARG.files_limit) / tonumber(ARG.window_ms)
local cap = math.floor(per_ms * tonumber(ARG.slot_ms) * share)
cap = math.max(1, cap, math.ceil(per_ms * tonumber(ARG.run_interval_ms)))
local maxc = tonumber(redis.call('HGET', bkey, 'chunkSize')) or 50
local n = math.min(maxc, cap, files - nxt)
local kind = redis.call('HGET', bkey, 'kind') or 'files'
local kkey = bkey .. ARG.kinds_suffix
if redis.call('EXISTS', kkey) == 1 then
  local cur = redis.call('ZREVRANGEBYSCORE', kkey, nxt, '-inf', 'LIMIT', 0, 1)[1]
  kind = string.match(cur, ':(.+)$')
  local after = redis.call('ZRANGEBYSCORE', kkey, '(' .. nxt, '+inf', 'WITHSCORES', 'LIMIT', 0, 1)
  if after[2] then n = math.min(n, tonumber(after[2]) - nxt) end
end
local Lim = {pause = KEY.pause, pace = KEY.pace, win = KEY.window,
  limit = tonumber(ARG.files_limit), window = tonumber(ARG.window_ms),
  pace_iv = tonumber(ARG.pace_ms),
  buckets = {{key = KEY.run_bucket, interval = tonumber(ARG.run_interval_ms), units = 1}}}
local go = rl_when(now, Lim, n)
redis.call('SET', KEY.lease, ARG.token, 'PX', ARG.lease_ms)
if go - now > tonumber(ARG.lookahead_ms) then return {'wait', go - now} end
rl_commit(now, go, Lim, n)
local c = redis.call('HINCRBY', bkey, 'chunks', 1) - 1
redis.call('HSET', bkey .. ARG.chunk_infix .. c, 'start', nxt, 'end', nxt + n, 'kind', kind,
  'state', 'pending', 'slot', math.floor(go))
redis.call('HSET', bkey, 'next', nxt + n)
local job_id = ARG.chunk_job_prefix .. b .. ':' .. c
local job = '{"t":null,"f":"' .. ARG.job_function .. '","a":["' .. b .. '",' .. c
  .. '],"k":{},"et":' .. now .. '}'
-- Due a lookahead early: the job waits for its slot itself (worker.batches.fanout), so the
-- worker's poll interval is not added to every send. Replaced, not once only: the chunk number
-- is new, but a failover can lose a cut whose job is still about, and the new cut needs its job.
arq_enqueue(KEY.queue, ARG.job_prefix .. job_id, job, job_id,
  math.max(now, go - tonumber(ARG.lookahead_ms)), {replace = true})
redis.call('ZINCRBY', producer_key(S, L, u), n / w, b)
redis.call('ZINCRBY', L, n, u)
if nxt + n >= files then sched_leave(S, lv, u, b, w) end
return {'granted', b, c, n, go - now}
