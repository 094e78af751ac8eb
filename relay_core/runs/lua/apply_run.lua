-- Apply one event to its run (relay_core.runs.store): status, fields, history, the indexes
-- that follow the run, and for a relay batch's run its file's counters and the batch's
-- completion, all in one atomic step.
--! KEYS: run batch runmap_bucket done_job queue open_runs expiry_list expiry_buckets reviews
--! ARGV: status event_id now history_limit fields run_id file_index done_job done_job_id
--! ARGV: retention_ms expiry_bucket expiry_ttl_ms
-- status: '' = no status change (a step event); fields: JSON object of hash fields to set;
-- file_index: '' = not a relay batch's run; done_job(_id): the batch_completed job;
-- retention_ms: how long a terminal run is kept (0 = kept); expiry_list: the run-expiry list
-- of this hour (relay_core.runs.expiry); reviews: relay_core.runs.reviews's index.
-- RUN_RANK and HISTORY_CODE come from relay_core.runs.status.
--!include batches/batch_complete
local COUNTED = {CANCELLING='PROCESSING'}
local rkey, new, now = KEY.run, ARG.status, ARG.now
local fields = cjson.decode(ARG.fields)
local cur = redis.call('HGET', rkey, 's')
-- The reviews index follows the run's status in this same step: written apart, a needs_review
-- applied just before a completion could land after it and stay. From the status after the
-- event, changed or not, so re-applying a group repairs it.
local function index_review(st)
  if st == 'NEEDS_REVIEW' then redis.call('ZADD', KEY.reviews, 'NX', now, ARG.run_id)
  elseif st and RUN_RANK[st] == 4 then redis.call('ZREM', KEY.reviews, ARG.run_id) end
end
if new == '' then
  -- A step of a finished run, or the step already recorded, changes nothing (a late or
  -- replayed step event must not move a run's last step or its updatedAt).
  if fields.st and not (cur and RUN_RANK[cur] == 4) and redis.call('HGET', rkey, 'st') ~= fields.st then
    redis.call('HSET', rkey, 'st', fields.st, 'u', now)
  end
  redis.call('HSETNX', rkey, 'f', now)
  index_review(cur)
  return {0, cur or '', 0, 0}
end
if cur and RUN_RANK[cur] >= RUN_RANK[new] then
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
if RUN_RANK[new] == 4 then redis.call('ZREM', KEY.open_runs, ARG.run_id)
else redis.call('ZADD', KEY.open_runs, now, ARG.run_id) end
-- A run is kept while open and for the retention once terminal (status never moves back):
-- its id joins the list of the hour it finished in, which the sweep deletes runs by.
if RUN_RANK[new] == 4 and tonumber(ARG.retention_ms) > 0 then
  if redis.call('RPUSH', KEY.expiry_list, ARG.run_id) == 1 then
    redis.call('PEXPIRE', KEY.expiry_list, ARG.expiry_ttl_ms)
    redis.call('ZADD', KEY.expiry_buckets, ARG.expiry_bucket, ARG.expiry_bucket)
    redis.call('PEXPIRE', KEY.expiry_buckets, ARG.expiry_ttl_ms)
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
redis.call('HSET', rkey, 'h' .. ((seq - 1) % tonumber(ARG.history_limit)),
  HISTORY_CODE[new] .. ARG.event_id .. '|' .. (tonumber(now) - tonumber(first)))
local completed = 0
local fi = ARG.file_index
if fi ~= '' and redis.call('EXISTS', KEY.batch) == 1 then
  local owner = redis.call('HGET', KEY.runmap_bucket, fi)
  if not owner then
    redis.call('HSET', KEY.runmap_bucket, fi, ARG.run_id)
    owner = ARG.run_id
  end
  if owner ~= ARG.run_id then
    redis.call('HINCRBY', KEY.batch, 'duplicateRuns', 1)
  else
    if cur then redis.call('HINCRBY', KEY.batch, 'c:' .. (COUNTED[cur] or cur), -1) end
    redis.call('HINCRBY', KEY.batch, 'c:' .. (COUNTED[new] or new), 1)
    completed = batch_complete(KEY.batch, KEY.queue, KEY.done_job, ARG.done_job,
      ARG.done_job_id, now)
  end
end
return {1, cur or '', review_done, completed}
