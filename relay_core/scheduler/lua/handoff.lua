-- A dispatcher that must wait long hands over to a job due then (its id is new: a fresh
-- token), keeping the lease meanwhile. Answers 0 when the lease was not `token`'s.
--! KEYS: lease job queue
--! ARGV: token new_token lease_ms job job_id score
--!include redis/arq_enqueue
if redis.call('GET', KEY.lease) ~= ARG.token then return 0 end
redis.call('SET', KEY.lease, ARG.new_token, 'PX', ARG.lease_ms)
arq_enqueue(KEY.queue, KEY.job, ARG.job, ARG.job_id, ARG.score)
return 1
