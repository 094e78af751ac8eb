-- Start a dispatcher unless one holds the lease or there is nothing to send. Answers 1 when a
-- dispatcher job was queued (its id is new: a fresh token).
--! KEYS: lease levels job queue
--! ARGV: token lease_ms job job_id score
--!include redis/arq_enqueue
if redis.call('EXISTS', KEY.lease) == 1 then return 0 end
if redis.call('ZCARD', KEY.levels) == 0 then return 0 end
redis.call('SET', KEY.lease, ARG.token, 'PX', ARG.lease_ms)
arq_enqueue(KEY.queue, KEY.job, ARG.job, ARG.job_id, ARG.score)
return 1
