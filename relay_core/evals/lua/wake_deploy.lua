-- An evaluation batch completed: queue its deploy's job again, to score. The job has its own
-- id per batch, so it is queued at most once. Answers 1 when queued.
--! KEYS: job queue
--! ARGV: job job_id now
--!include redis/arq_enqueue
if arq_enqueue(KEY.queue, KEY.job, ARG.job, ARG.job_id, ARG.now) then return 1 end
return 0
