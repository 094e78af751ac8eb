"""Lua scripts of the batch fan-out: each chunk transition is one atomic step with its counters.

Every script that can finish a batch reuses relay_core.lua's complete_check, so completion is
recorded once and its job enqueued in the same step, whoever gets there first.
"""

from __future__ import annotations

from typing import Any

from redis.asyncio import Redis

from relay_core.lua import _COMPLETE_CHECK
from relay_core.scheduler.lua import STATE_LIB


async def run(
    redis: Redis | Any, script: str, keys: list[str], args: list[Any], pipe: Any = None
) -> Any:
    """Run a script by its hash (loading it on first use), or queue it on `pipe`."""
    return await redis.register_script(script)(keys=keys, args=args, client=pipe)


# KEYS: batch, chunk, errors, the chunk's first runmap bucket, completion job key, arq queue,
#       open batches set, platform batch id -> chunk, the chunk's further runmap buckets
# ARGV: mode (sent | failed | cancelled | files), now ms, job bytes, job id,
#       errors (JSON object fileIndex -> reason JSON), unused, platform batch id ('' = none),
#       batch id, chunk number, first bucket number, files per bucket
# `files` records file errors without settling the chunk (one bad file of a chunk).
CHUNK_SETTLE = (
    _COMPLETE_CHECK
    + """
local bkey, ckey, ekey = KEYS[1], KEYS[2], KEYS[3]
local mode, now = ARGV[1], ARGV[2]
local first_bucket, per_bucket = tonumber(ARGV[10]), tonumber(ARGV[11])
local function rkey(idx)
  local k = math.floor(tonumber(idx) / per_bucket) - first_bucket
  if k == 0 then return KEYS[4] end
  return KEYS[8 + k]
end
if redis.call('EXISTS', bkey) == 0 then return -1 end
local st = redis.call('HGET', ckey, 'state')
-- A chunk a failover lost (with its cut: the dispatcher cuts it again) is not written to.
if not st then return -2 end
if st == 'sent' or st == 'failed' or st == 'cancelled' then return 0 end
local field = 'submitFailed'
if mode == 'cancelled' then field = 'unsent' end
for idx, reason in pairs(cjson.decode(ARGV[5])) do
  if redis.call('HEXISTS', rkey(idx), idx) == 0 and redis.call('HSETNX', ekey, idx, reason) == 1 then
    redis.call('HINCRBY', bkey, field, 1)
  end
end
if mode ~= 'files' then
  redis.call('HSET', ckey, 'state', mode, 'settledAt', now)
  if ARGV[7] ~= '' then
    -- With the chunk's state, atomically: a look must never see one without the other.
    redis.call('HSET', ckey, 'platformBatchId', ARGV[7])
    redis.call('HSET', KEYS[8], ARGV[7], ARGV[9])
  end
  local counter = {sent = 'chunksSubmitted', failed = 'chunksFailed', cancelled = 'chunksCancelled'}
  redis.call('HINCRBY', bkey, counter[mode], 1)
  -- Files of the chunk that have (or will have) a run: all but those recorded as failed.
  local c = redis.call('HMGET', ckey, 'start', 'end')
  local sent = 0
  for i = tonumber(c[1]), tonumber(c[2]) - 1 do
    if redis.call('HEXISTS', ekey, tostring(i)) == 0 then sent = sent + 1 end
  end
  redis.call('HINCRBY', bkey, 'filesSent', sent)
  local v = redis.call('HMGET', bkey, 'chunks', 'chunksSubmitted', 'chunksFailed',
    'chunksCancelled', 'state')
  local settled = (tonumber(v[2]) or 0) + (tonumber(v[3]) or 0) + (tonumber(v[4]) or 0)
  local left = redis.call('HMGET', bkey, 'files', 'next')
  if settled >= tonumber(v[1]) and tonumber(left[2] or left[1]) >= tonumber(left[1])
      and v[5] == 'submitting' then
    redis.call('HSET', bkey, 'state', 'running')
  end
end
local done = complete_check(bkey, KEYS[5], KEYS[6], ARGV[3], ARGV[4], now)
if done == 1 then redis.call('SREM', KEYS[7], ARGV[8]) end
return 1 + done
"""
)

# KEYS: batch, chunk. ARGV: now ms, the file indexes of this send (JSON).
# pending -> sending, unless the batch was cancelled; answers the state the caller must act on.
# A chunk that is gone ('missing': a failover lost it) is not written to.
CHUNK_SEND = """
local st = redis.call('HGET', KEYS[2], 'state')
if st ~= 'pending' then return st or 'missing' end
if redis.call('HGET', KEYS[1], 'state') == 'cancelled' then return 'cancel' end
redis.call('HSET', KEYS[2], 'state', 'sending', 'sentAt', ARGV[1], 'sendingFiles', ARGV[2])
redis.call('HINCRBY', KEYS[2], 'sends', 1)
return 'sending'
"""

# KEYS: chunk. ARGV: state, error ('' = none). Answers the attempts so far (-1: chunk gone).
CHUNK_STATE = """
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
redis.call('HSET', KEYS[1], 'state', ARGV[1])
if ARGV[2] == '' then return tonumber(redis.call('HGET', KEYS[1], 'attempts') or '0') end
redis.call('HSET', KEYS[1], 'lastError', ARGV[2])
return redis.call('HINCRBY', KEYS[1], 'attempts', 1)
"""

# KEYS: batch, completion job key, arq queue, cancel job key, levels, open batches
# ARGV: now ms, cancel job bytes, cancel job id, level prefix, default priority,
#       completion job bytes, completion job id
# Cancel: out of the schedule, and the files never scheduled count as unsent at once (no chunk
# will ever settle them), which may complete the batch in this very step.
CANCEL = (
    _COMPLETE_CHECK
    + STATE_LIB
    + """
local v = redis.call('HMGET', KEYS[1], 'state', 'completedAt', 'files', 'next')
if not v[1] then return -1 end
if v[2] then return 0 end
if v[1] == 'cancelled' then return 1 end
local b = string.match(KEYS[1], '([^:]+)$')
local lv, u, w = sched_place(KEYS[1], ARGV[5])
sched_leave(KEYS[5], ARGV[4], lv, u, b, w)
local files = tonumber(v[3])
local nxt = tonumber(v[4]) or files
redis.call('HSET', KEYS[1], 'state', 'cancelled', 'cancelledAt', ARGV[1], 'cutAt', nxt,
  'next', files)
redis.call('HINCRBY', KEYS[1], 'unsent', files - nxt)
if redis.call('SET', KEYS[4], ARGV[2], 'NX', 'PX', 86400000) then
  redis.call('ZADD', KEYS[3], ARGV[1], ARGV[3])
end
if complete_check(KEYS[1], KEYS[2], KEYS[3], ARGV[6], ARGV[7], ARGV[1]) == 1 then
  redis.call('SREM', KEYS[6], b)
end
return 2
"""
)

# KEYS: batch, run->file map, parked list. ARGV: run id, raw event body.
# A 2025-04-21 event can arrive before the response that says which file its run is: park it,
# atomically with the check, so MAP_RUNS (which re-queues the parked bodies) cannot miss it.
RESOLVE_OR_PARK = """
if redis.call('EXISTS', KEYS[1]) == 0 then return -2 end
local idx = redis.call('HGET', KEYS[2], ARGV[1])
if idx then return tonumber(idx) end
redis.call('RPUSH', KEYS[3], ARGV[2])
redis.call('PEXPIRE', KEYS[3], 604800000)
return -1
"""

# KEYS: run->file map, parked list, new event group, job key, arq queue
# ARGV: mapping (JSON object runId -> fileIndex), queue score, job bytes, job id
MAP_RUNS = """
local args = {}
for run, idx in pairs(cjson.decode(ARGV[1])) do args[#args + 1] = run; args[#args + 1] = idx end
if #args > 0 then redis.call('HSET', KEYS[1], unpack(args)) end
if redis.call('LLEN', KEYS[2]) == 0 then return 0 end
local n = redis.call('LLEN', KEYS[2])
redis.call('RENAME', KEYS[2], KEYS[3])
redis.call('SET', KEYS[4], ARGV[3], 'PX', 86400000)
redis.call('ZADD', KEYS[5], ARGV[2], ARGV[4])
return n
"""
