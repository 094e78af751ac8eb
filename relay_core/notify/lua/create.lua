-- Create a message's deliveries (relay_core.notify.emit): once per message (the marker), each
-- delivery with its first attempt's job, or not at all. Answers how many were created.
--! KEYS: marker queue ...deliveries
--! ARGV: marker_ttl_ms now ...deliveries
-- KEY.deliveries: per destination, its delivery hash and its first job's key;
-- ARG.deliveries: per destination, its fields (JSON object), the job's bytes and its id.
--!include redis/arq_enqueue
if not redis.call('SET', KEY.marker, '1', 'NX', 'PX', ARG.marker_ttl_ms) then return 0 end
local n = 0
for d = 1, #KEY.deliveries / 2 do
  local hkey, job_key = KEY.deliveries[2 * d - 1], KEY.deliveries[2 * d]
  local a = 3 * d - 2
  if redis.call('EXISTS', hkey) == 0 then
    local args = {}
    for k, v in pairs(cjson.decode(ARG.deliveries[a])) do
      args[#args + 1] = k; args[#args + 1] = v
    end
    redis.call('HSET', hkey, unpack(args))
    arq_enqueue(KEY.queue, job_key, ARG.deliveries[a + 1], ARG.deliveries[a + 2], ARG.now)
    n = n + 1
  end
end
return n
