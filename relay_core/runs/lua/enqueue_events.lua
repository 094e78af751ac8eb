-- Store a group of webhook events (ingest.sink): each event's dedupe claim, its raw body in the
-- group's list and, once any is new, the group's apply_events job, in one atomic step.
-- Answers one flag per event: 1 new, 0 a duplicate of an event already accepted.
--! KEYS: group job queue ...seen
--! ARGV: seen_ttl_s job job_id score ...bodies
-- seen: one dedupe key per event; bodies: the raw body of each, in the same order.
-- The job id is new for every group, so the once-only enqueue never meets an existing job.
--!include redis/arq_enqueue
local out = {}
local added = 0
for i, seen in ipairs(KEY.seen) do
  if redis.call('SET', seen, '1', 'NX', 'EX', ARG.seen_ttl_s) then
    redis.call('RPUSH', KEY.group, ARG.bodies[i])
    out[i] = 1
    added = added + 1
  else
    out[i] = 0
  end
end
if added > 0 then arq_enqueue(KEY.queue, KEY.job, ARG.job, ARG.job_id, ARG.score) end
return out
