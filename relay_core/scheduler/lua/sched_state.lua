-- The schedule's state (relay_core.scheduler): a sorted set of the priority levels with files
-- left to send; per level a sorted set of producers by virtual time and a hash of each
-- producer's summed batch weights; per level and producer a sorted set of batches by virtual
-- time. Which level and producer a batch belongs to is read here, inside the atomic step, so
-- those keys are built here too, from the shapes keys.py defines (SCHED_LEVEL,
-- SCHED_WEIGHTS_SUFFIX, SCHED_PRODUCER_INFIX), which each script takes as arguments.
local function sched_keys(levels, level_prefix, weights_suffix, producer_infix)
  return {levels = levels, prefix = level_prefix, w = weights_suffix, u = producer_infix}
end
local function lvl_key(S, lv) return S.prefix .. lv end
local function weights_key(S, L) return L .. S.w end
local function producer_key(S, L, u) return L .. S.u .. u end
local function min_score(key)
  local m = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
  return m[2] or '0'
end
local function sched_join(S, lv, u, b, w)
  local L = lvl_key(S, lv)
  redis.call('ZADD', S.levels, tonumber(lv), lv)
  if not redis.call('ZSCORE', L, u) then redis.call('ZADD', L, min_score(L), u) end
  local U = producer_key(S, L, u)
  if not redis.call('ZSCORE', U, b) then
    redis.call('ZADD', U, min_score(U), b)
    redis.call('HINCRBYFLOAT', weights_key(S, L), u, w)
  end
end
local function sched_leave(S, lv, u, b, w)
  local L = lvl_key(S, lv)
  local U = producer_key(S, L, u)
  if redis.call('ZREM', U, b) == 1 then redis.call('HINCRBYFLOAT', weights_key(S, L), u, -w) end
  if redis.call('ZCARD', U) == 0 then
    redis.call('ZREM', L, u)
    redis.call('HDEL', weights_key(S, L), u)
  end
  if redis.call('ZCARD', L) == 0 then
    redis.call('ZREM', S.levels, lv)
    redis.call('DEL', weights_key(S, L))
  end
end
-- A batch's place: level (its priority, else the default), producer, weight.
local function sched_place(bkey, default_priority)
  local v = redis.call('HMGET', bkey, 'priority', 'producer', 'weight')
  return tostring(tonumber(v[1]) or default_priority), v[2] or 'default', tonumber(v[3]) or 1
end
