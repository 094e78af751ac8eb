-- Give an event group its apply job back (worker.runs.sweep). A group whose job is gone (arq
-- gave up, or the job key expired) gets it back, with a fresh try count; a group still queued,
-- running, already applied (deleted) or dead-lettered (it waits for a person's redrive or
-- purge) is left alone. Answers 1 when the job was queued again.
--! KEYS: group job retries queue dead_letter
--! ARGV: job job_id score
--!include redis/arq_enqueue
if redis.call('EXISTS', KEY.group) == 0 or redis.call('EXISTS', KEY.job) == 1 then return 0 end
if redis.call('EXISTS', KEY.dead_letter) == 1 then return 0 end
redis.call('DEL', KEY.retries)
arq_enqueue(KEY.queue, KEY.job, ARG.job, ARG.job_id, ARG.score)
return 1
