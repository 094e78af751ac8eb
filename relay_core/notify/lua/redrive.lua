-- A dead delivery starts a new round from its first attempt, with the same webhook-id, its
-- job (named by the new round) queued in the same step. Answers 1 when redriven.
--! KEYS: delivery job queue
--! ARGV: now job job_id
--!include redis/arq_enqueue
if redis.call('HGET', KEY.delivery, 'state') ~= 'dead' then return 0 end
redis.call('HINCRBY', KEY.delivery, 'r', 1)
redis.call('HSET', KEY.delivery, 'state', 'pending', 'n', 0)
arq_enqueue(KEY.queue, KEY.job, ARG.job, ARG.job_id, ARG.now)
return 1
