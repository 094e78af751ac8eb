"""Lua of the notifications: each delivery transition is one atomic step with its arq job."""

from __future__ import annotations

# KEYS: message marker, arq queue, then per destination: delivery hash, job key
# ARGV: marker ttl ms, now ms, then per destination: fields (JSON object), job bytes, job id
# A message's deliveries are created once (the marker), each with its first job, or not at all.
CREATE = """
if not redis.call('SET', KEYS[1], '1', 'NX', 'PX', ARGV[1]) then return 0 end
local n = 0
for i = 3, #KEYS, 2 do
  local a = 3 + (i - 3) / 2 * 3
  if redis.call('EXISTS', KEYS[i]) == 0 then
    local args = {}
    for k, v in pairs(cjson.decode(ARGV[a])) do args[#args + 1] = k; args[#args + 1] = v end
    redis.call('HSET', KEYS[i], unpack(args))
    if redis.call('SET', KEYS[i + 1], ARGV[a + 1], 'NX', 'PX', 86400000) then
      redis.call('ZADD', KEYS[2], ARGV[2], ARGV[a + 2])
    end
    n = n + 1
  end
end
return n
"""

# KEYS: delivery hash, attempts list, next job key, arq queue
# ARGV: round, attempt, state (pending | delivered | dead | disabled | dropped), now ms,
#       fields (JSON object), attempt JSON, attempts kept, next job bytes, next job id,
#       next job score, ttl ms of a finished delivery, ttl ms of the attempts list
# Applies only to the attempt it names: a repeated or stale job records nothing. A dead delivery
# is kept (no expiry here): its dead letter (relay_core.ops.deadletters) holds it from now on.
RESULT = """
local v = redis.call('HMGET', KEYS[1], 'state', 'r', 'n')
if v[1] ~= 'pending' or v[2] ~= ARGV[1] or v[3] ~= ARGV[2] then return 0 end
local args = {'state', ARGV[3], 'at', ARGV[4]}
for k, x in pairs(cjson.decode(ARGV[5])) do args[#args + 1] = k; args[#args + 1] = x end
redis.call('HSET', KEYS[1], unpack(args))
if ARGV[6] ~= '' then
  redis.call('LPUSH', KEYS[2], ARGV[6])
  redis.call('LTRIM', KEYS[2], 0, tonumber(ARGV[7]) - 1)
  -- A destination's history goes with it once nothing was tried for a while (a batch's).
  redis.call('PEXPIRE', KEYS[2], ARGV[12])
end
if ARGV[3] == 'pending' then
  redis.call('HINCRBY', KEYS[1], 'n', 1)
  redis.call('SET', KEYS[3], ARGV[8], 'PX', 86400000 + math.max(0, ARGV[10] - ARGV[4]))
  redis.call('ZADD', KEYS[4], ARGV[10], ARGV[9])
elseif ARGV[3] ~= 'dead' then
  redis.call('PEXPIRE', KEYS[1], ARGV[11])
end
return 1
"""

# KEYS: delivery hash, job key, arq queue. ARGV: now ms, job bytes, job id
# A dead delivery starts a new round from its first attempt, with the same webhook-id.
REDRIVE = """
if redis.call('HGET', KEYS[1], 'state') ~= 'dead' then return 0 end
redis.call('HINCRBY', KEYS[1], 'r', 1)
redis.call('HSET', KEYS[1], 'state', 'pending', 'n', 0)
redis.call('SET', KEYS[2], ARGV[2], 'PX', 86400000)
redis.call('ZADD', KEYS[3], ARGV[1], ARGV[3])
return 1
"""

# KEYS: the destination's in-flight set. ARGV: token, now ms, lease expiry ms, limit
# A slot of the destination's bounded in-flight; a crashed holder's slot expires with its lease.
TAKE_SLOT = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[2])
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[4]) then return 0 end
redis.call('ZADD', KEYS[1], ARGV[3], ARGV[1])
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[3]) - tonumber(ARGV[2]))
return 1
"""
