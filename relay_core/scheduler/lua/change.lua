-- Re-prioritise or re-weight a batch: its unsent files leave their place and join the new one,
-- atomically. Answers -1 (no such batch), 0 (nothing left to send: recorded only), 1 (moved).
--! KEYS: batch levels
--! ARGV: batch_id default_priority priority weight level_prefix weights_suffix producer_infix
-- priority, weight: '' = unchanged.
--!include scheduler/sched_state
if redis.call('EXISTS', KEY.batch) == 0 then return -1 end
local S = sched_keys(KEY.levels, ARG.level_prefix, ARG.weights_suffix, ARG.producer_infix)
local b = ARG.batch_id
local lv, u, w = sched_place(KEY.batch, ARG.default_priority)
local v = redis.call('HMGET', KEY.batch, 'files', 'next', 'state')
local active = v[3] ~= 'cancelled' and v[3] ~= 'completed'
  and (tonumber(v[2]) or 0) < tonumber(v[1])
if active then sched_leave(S, lv, u, b, w) end
if ARG.priority ~= '' then redis.call('HSET', KEY.batch, 'priority', ARG.priority) end
if ARG.weight ~= '' then redis.call('HSET', KEY.batch, 'weight', ARG.weight) end
if not active then return 0 end
lv, u, w = sched_place(KEY.batch, ARG.default_priority)
sched_join(S, lv, u, b, w)
return 1
