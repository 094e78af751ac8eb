-- Record one delivery attempt's outcome (relay_core.notify.delivery.record) and, for a retry,
-- queue the next attempt's job, in one step. Applies only to the attempt it names, so a
-- repeated or stale job records nothing (and the next job, named by its attempt, is queued
-- once). Answers 1 when recorded.
--! KEYS: delivery attempts job queue
--! ARGV: round attempt state now fields record attempts_kept job job_id score
--! ARGV: finished_ttl_ms attempts_ttl_ms
-- state: pending (retry) | delivered | dead | disabled | dropped; fields: JSON object;
-- record: the attempt's JSON ('' = none); job(_id), score: the next attempt's job.
--!include redis/arq_enqueue
local v = redis.call('HMGET', KEY.delivery, 'state', 'r', 'n')
if v[1] ~= 'pending' or v[2] ~= ARG.round or v[3] ~= ARG.attempt then return 0 end
local args = {'state', ARG.state, 'at', ARG.now}
for k, x in pairs(cjson.decode(ARG.fields)) do args[#args + 1] = k; args[#args + 1] = x end
redis.call('HSET', KEY.delivery, unpack(args))
if ARG.record ~= '' then
  redis.call('LPUSH', KEY.attempts, ARG.record)
  redis.call('LTRIM', KEY.attempts, 0, tonumber(ARG.attempts_kept) - 1)
  -- A destination's history goes with it once nothing was tried for a while (a batch's).
  redis.call('PEXPIRE', KEY.attempts, ARG.attempts_ttl_ms)
end
if ARG.state == 'pending' then
  redis.call('HINCRBY', KEY.delivery, 'n', 1)
  arq_enqueue(KEY.queue, KEY.job, ARG.job, ARG.job_id, ARG.score, {now = ARG.now})
elseif ARG.state ~= 'dead' then
  -- A dead delivery is kept: its dead letter (relay_core.ops.deadletters) holds it from now on.
  redis.call('PEXPIRE', KEY.delivery, ARG.finished_ttl_ms)
end
return 1
