-- Delete the next `count` runs of an hour's run-expiry list (relay_core.runs.expiry). Pop and
-- delete in one step: two sweepers never skip ids, and a crash never loses any. Answers how
-- many were deleted (0: the list is empty).
--! KEYS: hour
--! ARGV: count run_prefix
-- run_prefix is keys.RUN: the run keys are named after ids popped here, known only inside.
local ids = redis.call('LPOP', KEY.hour, ARG.count)
if not ids then return 0 end
local names = {}
for i, id in ipairs(ids) do names[i] = ARG.run_prefix .. id end
redis.call('UNLINK', unpack(names))
return #ids
