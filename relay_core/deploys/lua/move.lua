-- A deploy's transition: fields set (and an attempt logged, the last attempts_kept kept) only
-- from the states it names, so a late or repeated writer is a no-op. Answers 1 when applied.
--! KEYS: deploy
--! ARGV: allowed fields attempt attempts_kept
-- allowed: statuses it may be in (comma-separated); fields: JSON object; attempt: JSON
-- object ('' = none).
local cur = redis.call('HGET', KEY.deploy, 'status')
if not cur then return 0 end
local ok = false
for s in string.gmatch(ARG.allowed, '[^,]+') do if s == cur then ok = true end end
if not ok then return 0 end
local args = {}
for k, v in pairs(cjson.decode(ARG.fields)) do args[#args + 1] = k; args[#args + 1] = v end
if ARG.attempt ~= '' then
  local raw = redis.call('HGET', KEY.deploy, 'attempts')
  local list = {}
  if raw then list = cjson.decode(raw) end
  list[#list + 1] = cjson.decode(ARG.attempt)
  while #list > tonumber(ARG.attempts_kept) do table.remove(list, 1) end
  args[#args + 1] = 'attempts'; args[#args + 1] = cjson.encode(list)
end
if #args > 0 then redis.call('HSET', KEY.deploy, unpack(args)) end
return 1
