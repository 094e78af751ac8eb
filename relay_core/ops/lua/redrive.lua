-- Redrive a dead letter (relay_core.ops.deadletters): the record goes, the kept keys are kept
-- for good again, a reset record gets its fields back, and the item's job is queued with a
-- fresh try count, in one step. Answers 0 when there is no such dead letter.
--! KEYS: dead_letter index kind_index job retries result queue reset_record ...keep
--! ARGV: id job job_id score reset reset_drop
-- reset_record: '' = none; reset: JSON object of fields to set on it; reset_drop: JSON array
-- of fields to delete from it; keep: the keys that expired with the dead letter.
--!include redis/arq_enqueue
if redis.call('EXISTS', KEY.dead_letter) == 0 then return 0 end
redis.call('DEL', KEY.dead_letter, KEY.retries, KEY.result)
redis.call('ZREM', KEY.index, ARG.id)
redis.call('ZREM', KEY.kind_index, ARG.id)
for _, key in ipairs(KEY.keep) do redis.call('PERSIST', key) end
if KEY.reset_record ~= '' and redis.call('EXISTS', KEY.reset_record) == 1 then
  local args = {}
  for k, v in pairs(cjson.decode(ARG.reset)) do args[#args + 1] = k; args[#args + 1] = v end
  if #args > 0 then redis.call('HSET', KEY.reset_record, unpack(args)) end
  for _, f in ipairs(cjson.decode(ARG.reset_drop)) do redis.call('HDEL', KEY.reset_record, f) end
  redis.call('PERSIST', KEY.reset_record)
end
-- Replaced, not once only: whatever is left of the dead job (its key, tries and result) makes
-- way for the redriven one.
arq_enqueue(KEY.queue, KEY.job, ARG.job, ARG.job_id, ARG.score, {replace = true})
return 1
