-- A stored batch with files left to send joins the schedule (its creation's last step).
--! KEYS: batch levels
--! ARGV: batch_id default_priority level_prefix weights_suffix producer_infix
--!include scheduler/sched_state
local S = sched_keys(KEY.levels, ARG.level_prefix, ARG.weights_suffix, ARG.producer_infix)
local lv, u, w = sched_place(KEY.batch, ARG.default_priority)
sched_join(S, lv, u, ARG.batch_id, w)
return 1
