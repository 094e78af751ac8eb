--!include redis/arq_enqueue
-- A batch is complete once every file has a terminal run, failed to submit, or was cancelled
-- before it was sent. Every script that can finish a batch calls this, so completion is
-- recorded once, whoever gets there first, with its batch_completed job in the same step.
-- Answers 1 when this call completed the batch.
local function batch_complete(bkey, queue, job_key, job, job_id, now)
  local v = redis.call('HMGET', bkey, 'files', 'completedAt', 'state',
    'c:PROCESSED', 'c:FAILED', 'c:REJECTED', 'c:CANCELLED', 'submitFailed', 'unsent')
  if v[2] then return 0 end
  local done = 0
  for i = 4, 9 do done = done + (tonumber(v[i]) or 0) end
  if done < (tonumber(v[1]) or 0) then return 0 end
  local state = 'completed'
  if v[3] == 'cancelled' then state = 'cancelled' end
  redis.call('HSET', bkey, 'completedAt', now, 'state', state)
  arq_enqueue(queue, job_key, job, job_id, now)
  return 1
end
