-- One deploy per (rule, subject): the hash is the claim, created with its indexes and its job,
-- or not at all. With a retention, each index is trimmed by the same clock and expires a
-- retention after its last write: an index never outlives, nor grows beyond, the records it
-- lists. Answers 1 when claimed, 0 when the deploy existed.
--! KEYS: deploy all by_rule by_subject by_target job queue
--! ARGV: fields now job job_id deploy_id retention_ms
-- fields: JSON object; retention_ms: 0 = kept.
--!include redis/arq_enqueue
if redis.call('EXISTS', KEY.deploy) == 1 then return 0 end
local args = {}
for k, v in pairs(cjson.decode(ARG.fields)) do args[#args + 1] = k; args[#args + 1] = v end
redis.call('HSET', KEY.deploy, unpack(args))
local keep = tonumber(ARG.retention_ms)
for _, index in ipairs({KEY.all, KEY.by_rule, KEY.by_subject, KEY.by_target}) do
  redis.call('ZADD', index, ARG.now, ARG.deploy_id)
  if keep > 0 then
    redis.call('ZREMRANGEBYSCORE', index, '-inf', tonumber(ARG.now) - keep)
    redis.call('PEXPIRE', index, keep)
  end
end
arq_enqueue(KEY.queue, KEY.job, ARG.job, ARG.job_id, ARG.now)
return 1
