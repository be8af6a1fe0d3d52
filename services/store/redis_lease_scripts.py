"""The Lua scripts of the shared pool's leases (services/store/redis_leases.py), each one atomic round trip."""

# Every key of the pool (leases, queues, health, waiters, the state secret and the first-start marker) is under
# POOL_PREFIX, whose hash tag {pool} puts them in one Redis Cluster slot: each script below touches that slot
# only, and a multi-account acquire stays one atomic step (docs/serving.md says what that costs on a cluster).
# Every announcement is a redis.pcall: a Redis user refused the channel (an ACL without `&freeseek:*`) must not
# abort a script after its writes; waiters then fall back to their poll.

# One atomic step for a waiter, in one round trip: read the candidates' health (returned, so the caller judges
# refusals and rests without another read), drop expired leases and dead waiters, then take a slot on the least
# busy usable token whose earliest live waiter is not ahead of us; otherwise join each usable token's queue by
# ticket. No slot is granted for one lease time after the ready marker is found missing: Redis lost its data,
# or no process could refresh the marker for a lease time (Redis was away or unreachable that long, so every
# lease may have expired while its answer still streams); holders reassert their leases first, never two
# answers on one account. An empty store cannot tell a first start from a loss, so a first start waits that
# lease time too; the waiters are told when it ends (the third value: milliseconds until ready). Token keys are
# hashes under a state secret kept in Redis: a waiter whose secret is not the one kept there (Redis lost it and
# another worker made a new one) gets -1 and derives its keys again, so no slot is granted under a stale key.
# A waiter taken off other accounts' queues announces them, and a grant that leaves a slot free on an account
# others still queue for announces it, so whoever was behind asks again at once.
ACQUIRE = """
local now, ttl, me, ticket = tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3], tonumber(ARGV[4])
local lease, alive_ttl, secret, channel = ARGV[5], tonumber(ARGV[6]), ARGV[7], ARGV[8]
local n = (#KEYS - 3) / 3
local alive = KEYS[#KEYS]
local health, usable = {}, {}
for i = 1, n do
  health[i] = redis.call('GET', KEYS[3*i]) or ''
  usable[i] = health[i] == '' or tonumber(cjson.decode(health[i]).unusable_until) * 1000 <= now
end
if secret ~= '' then
  local kept = redis.call('GET', KEYS[#KEYS - 2])
  if not kept then redis.call('SET', KEYS[#KEYS - 2], secret); kept = secret end
  if kept ~= secret then return {-1, health, 0} end
end
local boot = redis.call('GET', KEYS[#KEYS - 1])
if not boot then
  redis.call('SET', KEYS[#KEYS - 1], now, 'PX', ttl * 2); boot = now
elseif redis.call('PTTL', KEYS[#KEYS - 1]) == -1 then
  redis.call('PEXPIRE', KEYS[#KEYS - 1], ttl)   -- set by hand (a test's, a bench's): from now on it may expire
end
local ready_in = math.max(0, tonumber(boot) + ttl - now)
redis.call('ZREMRANGEBYSCORE', alive, '-inf', now)
local best, best_count = nil, nil
for i = 1, n do
  local leases, waits, limit = KEYS[3*i-2], KEYS[3*i-1], tonumber(ARGV[8+i])
  if usable[i] then
    redis.call('ZREMRANGEBYSCORE', leases, '-inf', now)
    local count = redis.call('ZCARD', leases)
    if limit == 0 or count < limit then
      local first = true
      while true do
        local head = redis.call('ZRANGE', waits, 0, 0, 'WITHSCORES')
        if #head == 0 or head[1] == me or tonumber(head[2]) > ticket then break end
        if redis.call('ZSCORE', alive, head[1]) then first = false; break end
        redis.call('ZREM', waits, head[1])
      end
      if first and ready_in == 0 and (best == nil or count < best_count) then best, best_count = i, count end
    end
  end
end
if best then
  redis.call('ZADD', KEYS[3*best-2], now + ttl, lease)
  redis.call('PEXPIRE', KEYS[3*best-2], ttl * 2)
  for i = 1, n do
    if redis.call('ZREM', KEYS[3*i-1], me) == 1 and i ~= best then redis.pcall('PUBLISH', channel, KEYS[3*i-2]) end
  end
  local limit = tonumber(ARGV[8+best])
  if (limit == 0 or best_count + 1 < limit) and redis.call('EXISTS', KEYS[3*best-1]) == 1 then
    redis.pcall('PUBLISH', channel, KEYS[3*best-2])   -- someone still queues there, and a slot is left for it
  end
  redis.call('ZREM', alive, me)
  return {best, health, 0}
end
for i = 1, n do
  if usable[i] then
    redis.call('ZADD', KEYS[3*i-1], 'NX', ticket, me)
    redis.call('PEXPIRE', KEYS[3*i-1], alive_ttl * 10)
  end
end
redis.call('ZADD', alive, now + alive_ttl, me)
redis.call('PEXPIRE', alive, alive_ttl * 10)
return {0, health, ready_in}
"""

# Give a slot back in one round trip: forget the account's past failures when the answer succeeded (as
# TokenPool.report_success does), and announce the freed slot to every process's waiters.
RELEASE = """
local gone = redis.call('ZREM', KEYS[1], ARGV[1])
if ARGV[2] == '1' then
  local raw = redis.call('GET', KEYS[2])
  if raw and cjson.decode(raw).state ~= 'ok' then redis.call('DEL', KEYS[2]) end
end
redis.pcall('PUBLISH', ARGV[3], KEYS[1])
return gone
"""

# A waiter leaves every queue it joined (leased elsewhere, timed out, cancelled) and announces those accounts, so
# whoever waited behind it asks again. KEYS: each account's leases and waits keys, then the waiters' key.
LEAVE = """
for i = 1, (#KEYS - 1) / 2 do
  if redis.call('ZREM', KEYS[2*i], ARGV[1]) == 1 then redis.pcall('PUBLISH', ARGV[2], KEYS[2*i-1]) end
end
redis.call('ZREM', KEYS[#KEYS], ARGV[1])
return 0
"""

# A process's heartbeat, every third of a lease time: keep the ready marker alive (only if it exists: a missing
# one means the wait after a loss, which a heartbeat must not cut short) and push the expiry of the leases it
# holds forward. A lease found gone (Redis lost it, or it expired while Redis was out of reach) is put back only
# within the account's limit: if the account was leased again meanwhile, a second live lease would let a third
# answer in. KEYS: the marker, then each lease's key; ARGV: now, ttl, then each lease's id and its account's
# limit (0: none). Returns the leases put back and the ones lost.
RENEW = """
local now, ttl = tonumber(ARGV[1]), tonumber(ARGV[2])
redis.call('PEXPIRE', KEYS[1], ttl)
local back, lost = {}, {}
for i = 2, #KEYS do
  local key, lease, limit = KEYS[i], ARGV[2*i-1], tonumber(ARGV[2*i])
  if redis.call('ZSCORE', key, lease) then
    redis.call('ZADD', key, now + ttl, lease)
  else
    redis.call('ZREMRANGEBYSCORE', key, '-inf', now)
    if limit == 0 or redis.call('ZCARD', key) < limit then
      redis.call('ZADD', key, now + ttl, lease)
      back[#back + 1] = lease
    else
      lost[#lost + 1] = lease
    end
  end
  redis.call('PEXPIRE', key, ttl * 2)
end
return {back, lost}
"""
