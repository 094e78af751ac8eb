-- Delete the arq in-progress keys a worker set for jobs it no longer runs
-- (worker.resilience), so arq starts those jobs again on its next poll instead of once the
-- keys expire. A key is deleted only while it is still the one that worker set: one with more
-- time left than that key could have was set later, by another worker, and is left alone.
-- Answers the keys deleted.
--! KEYS: ...in_progress
--! ARGV: ...most_left_ms
local released = {}
for i, key in ipairs(KEY.in_progress) do
  local left = redis.call('PTTL', key)
  if left > 0 and left <= tonumber(ARG.most_left_ms[i]) then
    redis.call('DEL', key)
    released[#released + 1] = key
  end
end
return released
