-- Record 2025-04-21 runs' files, and turn the events parked meanwhile into a new event group
-- with its apply job. Answers how many events were parked.
--! KEYS: run_files parked group job queue
--! ARGV: mapping score job job_id
-- mapping: JSON object runId -> fileIndex. The group (and so the job id) is new each call.
--!include redis/arq_enqueue
local args = {}
for run, idx in pairs(cjson.decode(ARG.mapping)) do args[#args + 1] = run; args[#args + 1] = idx end
if #args > 0 then redis.call('HSET', KEY.run_files, unpack(args)) end
if redis.call('LLEN', KEY.parked) == 0 then return 0 end
local n = redis.call('LLEN', KEY.parked)
redis.call('RENAME', KEY.parked, KEY.group)
arq_enqueue(KEY.queue, KEY.job, ARG.job, ARG.job_id, ARG.score)
return n
