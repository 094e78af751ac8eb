-- Record a chunk's end (worker.batches.chunkstate.settle), with the batch's counters, in one
-- atomic step: mode sent | failed | cancelled settles the chunk; `files` records file errors
-- without settling it (one bad file of a chunk). Answers -1 (no batch), -2 (the chunk is gone:
-- a failover lost it with its cut, and the dispatcher cuts it again, so nothing is written),
-- 0 (already settled), 1 (recorded) or 2 (recorded, and the batch completed).
--! KEYS: batch chunk errors bucket done_job queue open_batches platform_batches ...more_buckets
--! ARGV: mode now done_job done_job_id errors platform_batch_id batch_id chunk
--! ARGV: first_bucket bucket_size
-- bucket: the run map bucket of the chunk's first file; more_buckets: the buckets after it
-- (relay_core.batches.runmap); errors: JSON object fileIndex -> reason JSON;
-- platform_batch_id: '' = none; done_job(_id): the batch_completed job.
--!include batches/batch_complete
local bkey, ckey, ekey = KEY.batch, KEY.chunk, KEY.errors
local mode, now = ARG.mode, ARG.now
local first_bucket, per_bucket = tonumber(ARG.first_bucket), tonumber(ARG.bucket_size)
local function rkey(idx)
  local k = math.floor(tonumber(idx) / per_bucket) - first_bucket
  if k == 0 then return KEY.bucket end
  return KEY.more_buckets[k]
end
if redis.call('EXISTS', bkey) == 0 then return -1 end
local st = redis.call('HGET', ckey, 'state')
if not st then return -2 end
if st == 'sent' or st == 'failed' or st == 'cancelled' then return 0 end
local field = 'submitFailed'
if mode == 'cancelled' then field = 'unsent' end
for idx, reason in pairs(cjson.decode(ARG.errors)) do
  if redis.call('HEXISTS', rkey(idx), idx) == 0 and redis.call('HSETNX', ekey, idx, reason) == 1 then
    redis.call('HINCRBY', bkey, field, 1)
  end
end
if mode ~= 'files' then
  redis.call('HSET', ckey, 'state', mode, 'settledAt', now)
  if ARG.platform_batch_id ~= '' then
    -- With the chunk's state, atomically: a look must never see one without the other.
    redis.call('HSET', ckey, 'platformBatchId', ARG.platform_batch_id)
    redis.call('HSET', KEY.platform_batches, ARG.platform_batch_id, ARG.chunk)
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
local done = batch_complete(bkey, KEY.queue, KEY.done_job, ARG.done_job, ARG.done_job_id, now)
if done == 1 then redis.call('SREM', KEY.open_batches, ARG.batch_id) end
return 1 + done
