"""Lua scripts: each one is a single atomic step, so a crash never leaves half a change."""

from __future__ import annotations

# Shared by every script that can finish a batch: a batch is complete once every file has a
# terminal run, failed to submit, or was cancelled before it was sent. Completion is recorded
# once and enqueues the batch_completed job (bytes built by relay_core.redis.queue) in the
# same step.
_COMPLETE_CHECK = """
local function complete_check(bkey, job_key, queue, job, job_id, now)
  local v = redis.call('HMGET', bkey, 'files', 'completedAt', 'state',
    'c:PROCESSED', 'c:FAILED', 'c:REJECTED', 'c:CANCELLED', 'submitFailed', 'unsent')
  if v[2] then return 0 end
  local done = 0
  for i = 4, 9 do done = done + (tonumber(v[i]) or 0) end
  if done < (tonumber(v[1]) or 0) then return 0 end
  local state = 'completed'
  if v[3] == 'cancelled' then state = 'cancelled' end
  redis.call('HSET', bkey, 'completedAt', now, 'state', state)
  if redis.call('SET', job_key, job, 'NX', 'PX', 86400000) then
    redis.call('ZADD', queue, now, job_id)
  end
  return 1
end
"""

# One letter per status in a run's history (relay_core.runs.store reads them back); the apply
# script's table is built from this one, so the two cannot drift apart.
HISTORY_CODES = {
    "P": "PENDING",
    "R": "PROCESSING",
    "N": "NEEDS_REVIEW",
    "L": "CANCELLING",
    "D": "PROCESSED",
    "J": "REJECTED",
    "F": "FAILED",
    "C": "CANCELLED",
}
_CODE_TABLE = ", ".join(f"{status}='{code}'" for code, status in HISTORY_CODES.items())

# KEYS: run, batch, the file's runmap bucket, completion job key, arq queue, open runs, the
#       run-expiry list of this hour, the run-expiry bucket index (relay_core.runs.expiry), the
#       reviews index (relay_core.runs.reviews)
# ARGV: status ('' = no status change), eventId, now ms, history limit, fields (JSON object of
#       hash fields to set), run id, file index ('' = not a relay batch run), job bytes, job id,
#       retention ms of a terminal run (0 = kept), expiry bucket, expiry list TTL ms
APPLY_RUN = (
    _COMPLETE_CHECK
    + """
local RANK = {PENDING=0, PROCESSING=1, NEEDS_REVIEW=2, CANCELLING=3,
  PROCESSED=4, REJECTED=4, FAILED=4, CANCELLED=4}
local CODE = {"""
    + _CODE_TABLE
    + """}
local COUNTED = {CANCELLING='PROCESSING'}
local rkey, new, now = KEYS[1], ARGV[1], ARGV[3]
local fields = cjson.decode(ARGV[5])
local cur = redis.call('HGET', rkey, 's')
-- The reviews index follows the run's status in this same step: written apart, a needs_review
-- applied just before a completion could land after it and stay. From the status after the
-- event, changed or not, so re-applying a group repairs it.
local function index_review(st)
  if st == 'NEEDS_REVIEW' then redis.call('ZADD', KEYS[9], 'NX', now, ARGV[6])
  elseif st and RANK[st] == 4 then redis.call('ZREM', KEYS[9], ARGV[6]) end
end
if new == '' then
  -- A step of a finished run, or the step already recorded, changes nothing (a late or
  -- replayed step event must not move a run's last step or its updatedAt).
  if fields.st and not (cur and RANK[cur] == 4) and redis.call('HGET', rkey, 'st') ~= fields.st then
    redis.call('HSET', rkey, 'st', fields.st, 'u', now)
  end
  redis.call('HSETNX', rkey, 'f', now)
  index_review(cur)
  return {0, cur or '', 0, 0}
end
if cur and RANK[cur] >= RANK[new] then
  index_review(cur)
  return {0, cur, 0, 0}
end
index_review(new)
local args = {'s', new, 'u', now}
for k, v in pairs(fields) do args[#args + 1] = k; args[#args + 1] = v end
redis.call('HSET', rkey, unpack(args))
local first = now
if redis.call('HSETNX', rkey, 'f', now) == 0 then first = redis.call('HGET', rkey, 'f') end
-- Runs not yet terminal, by last change: the reconciliation asks the platform about old ones.
if KEYS[6] then
  if RANK[new] == 4 then redis.call('ZREM', KEYS[6], ARGV[6])
  else redis.call('ZADD', KEYS[6], now, ARGV[6]) end
end
-- A run is kept while open and for the retention once terminal (status never moves back):
-- its id joins the list of the hour it finished in, which the sweep deletes runs by.
if RANK[new] == 4 and tonumber(ARGV[10] or '0') > 0 then
  if redis.call('RPUSH', KEYS[7], ARGV[6]) == 1 then
    redis.call('PEXPIRE', KEYS[7], ARGV[12])
    redis.call('ZADD', KEYS[8], ARGV[11], ARGV[11])
    redis.call('PEXPIRE', KEYS[8], ARGV[12])
  end
end
local review_done = 0
if new == 'NEEDS_REVIEW' then redis.call('HSET', rkey, 'nr', '1') end
if new == 'REJECTED' or (new == 'PROCESSED' and
    (cur == 'NEEDS_REVIEW' or fields.rv == '1' or redis.call('HGET', rkey, 'nr') == '1')) then
  redis.call('HSET', rkey, 'rc', '1')
  review_done = 1
end
-- History as a ring of small fields ("<status letter><eventId>|<ms since f>"; the order follows
-- from the slot and 'hn'): values under 64 bytes keep the hash in Redis's compact listpack
-- encoding (about a third of the memory of a hashtable), and short ones a smaller allocation.
local seq = redis.call('HINCRBY', rkey, 'hn', 1)
redis.call('HSET', rkey, 'h' .. ((seq - 1) % tonumber(ARGV[4])),
  CODE[new] .. ARGV[2] .. '|' .. (tonumber(now) - tonumber(first)))
local completed = 0
local fi = ARGV[7]
if fi ~= '' and redis.call('EXISTS', KEYS[2]) == 1 then
  local owner = redis.call('HGET', KEYS[3], fi)
  if not owner then
    redis.call('HSET', KEYS[3], fi, ARGV[6])
    owner = ARGV[6]
  end
  if owner ~= ARGV[6] then
    redis.call('HINCRBY', KEYS[2], 'duplicateRuns', 1)
  else
    if cur then redis.call('HINCRBY', KEYS[2], 'c:' .. (COUNTED[cur] or cur), -1) end
    redis.call('HINCRBY', KEYS[2], 'c:' .. (COUNTED[new] or new), 1)
    completed = complete_check(KEYS[2], KEYS[4], KEYS[5], ARGV[8], ARGV[9], now)
  end
end
return {1, cur or '', review_done, completed}
"""
)

# KEYS: dedupe key per event..., then group list, job key, arq queue (last three)
# ARGV: ttl seconds, job bytes, job id, queue score, then one raw body per event
ENQUEUE_EVENTS = """
local n = #KEYS - 3
local group, job_key, queue = KEYS[n + 1], KEYS[n + 2], KEYS[n + 3]
local out = {}
local added = 0
for i = 1, n do
  if redis.call('SET', KEYS[i], '1', 'NX', 'EX', ARGV[1]) then
    redis.call('RPUSH', group, ARGV[4 + i])
    out[i] = 1
    added = added + 1
  else
    out[i] = 0
  end
end
if added > 0 then
  redis.call('SET', job_key, ARGV[2], 'PX', 86400000)
  redis.call('ZADD', queue, ARGV[4], ARGV[3])
end
return out
"""

# KEYS: deploy hash, then the indexes (all, by rule, by subject, by target), job key, arq queue
# ARGV: fields (JSON object), now ms, job bytes, job id, deploy id, retention ms (0 = kept)
# One deploy per (rule, subject): the hash is the claim, created with its job or not at all.
# With a retention, each index is trimmed by the same clock and expires a retention after its
# last write: an index never outlives, nor grows beyond, the records it lists.
DEPLOY_CLAIM = """
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
local args = {}
for k, v in pairs(cjson.decode(ARGV[1])) do args[#args + 1] = k; args[#args + 1] = v end
redis.call('HSET', KEYS[1], unpack(args))
local keep = tonumber(ARGV[6] or '0')
for i = 2, 5 do
  redis.call('ZADD', KEYS[i], ARGV[2], ARGV[5])
  if keep > 0 then
    redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', tonumber(ARGV[2]) - keep)
    redis.call('PEXPIRE', KEYS[i], keep)
  end
end
redis.call('SET', KEYS[6], ARGV[3], 'PX', 86400000)
redis.call('ZADD', KEYS[7], ARGV[2], ARGV[4])
return 1
"""

# KEYS: deploy hash. ARGV: statuses it may be in (comma-separated), fields (JSON object),
# attempt (JSON object or ''), attempts kept.
# A transition only applies from the states it names, so a late or repeated writer is a no-op.
DEPLOY_MOVE = """
local cur = redis.call('HGET', KEYS[1], 'status')
if not cur then return 0 end
local ok = false
for s in string.gmatch(ARGV[1], '[^,]+') do if s == cur then ok = true end end
if not ok then return 0 end
local args = {}
for k, v in pairs(cjson.decode(ARGV[2])) do args[#args + 1] = k; args[#args + 1] = v end
if ARGV[3] ~= '' then
  local raw = redis.call('HGET', KEYS[1], 'attempts')
  local list = {}
  if raw then list = cjson.decode(raw) end
  list[#list + 1] = cjson.decode(ARGV[3])
  while #list > tonumber(ARGV[4]) do table.remove(list, 1) end
  args[#args + 1] = 'attempts'; args[#args + 1] = cjson.encode(list)
end
if #args > 0 then redis.call('HSET', KEYS[1], unpack(args)) end
return 1
"""

# KEYS: event group, its job key, its retry counter, arq queue, its dead letter
# ARGV: job bytes, job id, score
# A group whose job is gone (arq gave up, or the job key expired) gets its job back, with a
# fresh try count; a group still queued, running, already applied (deleted) or dead-lettered
# (it waits for a person's redrive or purge) is left alone.
REQUEUE_GROUP = """
if redis.call('EXISTS', KEYS[1]) == 0 or redis.call('EXISTS', KEYS[2]) == 1 then return 0 end
if KEYS[5] and redis.call('EXISTS', KEYS[5]) == 1 then return 0 end
redis.call('DEL', KEYS[3])
redis.call('SET', KEYS[2], ARGV[1], 'PX', 86400000)
redis.call('ZADD', KEYS[4], ARGV[3], ARGV[2])
return 1
"""
