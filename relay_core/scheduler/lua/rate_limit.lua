-- The fleet-wide rate limits (relay_core.scheduler.ratelimit), shared with the scheduler's
-- take. L holds the keys and numbers: pause, buckets {key, interval, units}, pace (files GCRA
-- key) and pace_iv (ms per file), win (files window list), limit, window. rl_when answers when
-- a send of `n` files may go; rl_commit reserves it. Files are paced (pay after: the next send
-- waits until the files of the last are paid off) and the sliding window stays as the hard
-- guard. Time is Redis's own (redis_now), so every worker shares one clock.
local function rl_when(now, L, n)
  local go = math.max(now, tonumber(redis.call('GET', L.pause) or '0'))
  for _, b in ipairs(L.buckets) do
    b.tat = tonumber(redis.call('GET', b.key) or '0')
    go = math.max(go, b.tat + (b.units - 1) * b.interval)
  end
  if n <= 0 then return go end
  L.ptat = tonumber(redis.call('GET', L.pace) or '0')
  go = math.max(go, L.ptat)
  local ts, ns = {}, {}
  for _, e in ipairs(redis.call('LRANGE', L.win, 0, -1)) do
    local a, b = string.match(e, '^([^:]+):(.+)$')
    if tonumber(a) > now - L.window then ts[#ts + 1] = tonumber(a); ns[#ns + 1] = tonumber(b) end
  end
  if #ts > 0 then go = math.max(go, ts[#ts]) end
  local total, i = 0, 1
  for j = 1, #ns do total = total + ns[j] end
  while i <= #ts and ts[i] <= go - L.window do total = total - ns[i]; i = i + 1 end
  while total + n > L.limit and i <= #ts do
    go = math.max(go, ts[i] + L.window + 1)
    while i <= #ts and ts[i] <= go - L.window do total = total - ns[i]; i = i + 1 end
  end
  return go
end

local function rl_commit(now, go, L, n)
  for _, b in ipairs(L.buckets) do
    local tat = math.max(b.tat, go) + b.units * b.interval
    redis.call('SET', b.key, tat, 'PX', math.ceil(tat - now + 1000))
  end
  if n <= 0 then return end
  local ptat = math.max(L.ptat, go) + n * L.pace_iv
  redis.call('SET', L.pace, ptat, 'PX', math.ceil(ptat - now + 1000))
  while true do
    local head = redis.call('LINDEX', L.win, 0)
    if not head then break end
    if tonumber(string.match(head, '^([^:]+)')) > now - L.window then break end
    redis.call('LPOP', L.win)
  end
  redis.call('RPUSH', L.win, go .. ':' .. n)
  redis.call('PEXPIRE', L.win, math.ceil(go - now + L.window + 1000))
end

local function redis_now()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
