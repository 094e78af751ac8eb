-- Cancel a batch (relay_core.batches.store.cancel): out of the schedule, the files never
-- scheduled counted as unsent at once (no chunk will ever settle them), which may complete the
-- batch in this very step, and the job that cancels its runs on the platform queued.
-- Answers -1 (no batch), 0 (already completed), 1 (already cancelled) or 2 (cancelled).
--! KEYS: batch done_job queue cancel_job levels open_batches
--! ARGV: now cancel_job cancel_job_id done_job done_job_id batch_id default_priority
--! ARGV: level_prefix weights_suffix producer_infix
-- level_prefix, weights_suffix, producer_infix: the schedule's key shapes (scheduler/sched_state).
--!include batches/batch_complete
--!include scheduler/sched_state
local v = redis.call('HMGET', KEY.batch, 'state', 'completedAt', 'files', 'next')
if not v[1] then return -1 end
if v[2] then return 0 end
if v[1] == 'cancelled' then return 1 end
local S = sched_keys(KEY.levels, ARG.level_prefix, ARG.weights_suffix, ARG.producer_infix)
local b = ARG.batch_id
local lv, u, w = sched_place(KEY.batch, ARG.default_priority)
sched_leave(S, lv, u, b, w)
local files = tonumber(v[3])
local nxt = tonumber(v[4]) or files
redis.call('HSET', KEY.batch, 'state', 'cancelled', 'cancelledAt', ARG.now, 'cutAt', nxt,
  'next', files)
redis.call('HINCRBY', KEY.batch, 'unsent', files - nxt)
arq_enqueue(KEY.queue, KEY.cancel_job, ARG.cancel_job, ARG.cancel_job_id, ARG.now)
if batch_complete(KEY.batch, KEY.queue, KEY.done_job, ARG.done_job, ARG.done_job_id,
    ARG.now) == 1 then
  redis.call('SREM', KEY.open_batches, b)
end
return 2
