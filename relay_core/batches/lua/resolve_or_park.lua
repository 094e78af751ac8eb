-- A 2025-04-21 event can arrive before the response that says which file its run is: park it,
-- atomically with the check, so map_runs (which queues the parked bodies again) cannot miss
-- it. Answers the file index, -1 (parked) or -2 (no such batch).
--! KEYS: batch run_files parked
--! ARGV: run_id body
if redis.call('EXISTS', KEY.batch) == 0 then return -2 end
local idx = redis.call('HGET', KEY.run_files, ARG.run_id)
if idx then return tonumber(idx) end
redis.call('RPUSH', KEY.parked, ARG.body)
redis.call('PEXPIRE', KEY.parked, 604800000)
return -1
