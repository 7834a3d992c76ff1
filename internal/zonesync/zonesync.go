// Package zonesync holds what the instances of a fleet agree on when they
// share zones through a Redis (or Valkey) store: the scripts that run
// there and the names of the keys they use. A script runs atomically in
// the store and takes the time from the store's own clock, so every
// instance applies nginx's arithmetic to one bucket with one clock, and a
// check costs one round trip however many instances share the key.
package zonesync

import (
	"crypto/sha1"
	"encoding/hex"
	"strconv"
	"time"
)

// LimitReqScript is limit_req's leaky bucket, as nginx computes it
// (ngx_http_limit_req_lookup), on one key of the store. KEYS[1] is the
// bucket; ARGV[1] is the zone's rate in thousandths of a request per
// second and ARGV[2] the burst in thousandths. A bucket is a hash of its
// excess ("e", thousandths) and the time it was last updated ("l",
// milliseconds of the store's clock). The reply is {1, excess, wait} when
// the request is within the burst (and accounted), or {0, excess, wait}
// with the excess it would have had when it is not (and nothing
// changes). wait is how long, in microseconds of the store's clock from
// the check, until the first millisecond at which another request could
// pass (0: one could now): no instance can make the bucket drain faster,
// so an instance may refuse the key on its own until then and lose no
// exactness (a flood on one key then costs the store about one check per
// instance and worker each time the bucket lets one through). A bucket
// expires once its excess has drained away: a drained bucket and a
// missing one give the same answer, so nothing is lost and the store
// keeps only the keys that are limiting.
const LimitReqScript = `
local t = redis.call('TIME')
local nowus = tonumber(t[1]) * 1000000 + tonumber(t[2])
local now = math.floor(nowus / 1000)
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local function wait(e, l)
  local d = e + 1000 - burst
  if d <= 0 then
    return 0
  end
  local w = (l + math.ceil(1000 * d / rate)) * 1000 - nowus
  if w < 0 then
    return 0
  end
  return w
end
local s = redis.call('HMGET', KEYS[1], 'e', 'l')
local excess = 0
local last = now
if s[1] then
  local e, l = tonumber(s[1]), tonumber(s[2])
  local ms = now - l
  if ms < -60000 then
    ms = 1
  elseif ms < 0 then
    ms = 0
  end
  excess = e - math.floor(rate * ms / 1000) + 1000
  if excess < 0 then
    excess = 0
  end
  if excess > burst then
    return {0, excess, wait(e, l)}
  end
  last = l
  if ms ~= 0 then
    last = now
  end
end
redis.call('HSET', KEYS[1], 'e', excess, 'l', last)
redis.call('PEXPIRE', KEYS[1], math.floor(excess * 1000 / rate) + 1000)
return {1, excess, wait(excess, last)}
`

// HeartbeatScript renews an instance's lease in the fleet and counts the
// live instances. KEYS[1] is the fleet's sorted set of instances by the
// time (store clock, ms) of their last heartbeat; ARGV[1] is this
// instance and ARGV[2] the lease in milliseconds. Instances whose lease
// ran out are removed, so a dead instance stops counting within a lease.
const HeartbeatScript = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local lease = tonumber(ARGV[2])
redis.call('ZADD', KEYS[1], now, ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - lease)
redis.call('PEXPIRE', KEYS[1], lease * 2)
return redis.call('ZCARD', KEYS[1])
`

// LimitConnAcquireScript counts a request in a limit_conn zone's key for
// the whole fleet. KEYS[1] is the key's hash of counts by instance and
// KEYS[2] the fleet's set of instances (FleetKey); ARGV[1] is this
// instance, ARGV[2] the limit, ARGV[3] the lease and ARGV[4] how long the
// hash lives without being touched, both in milliseconds. The counts of
// instances whose lease ran out are dropped: a dead instance's requests
// stop counting within a lease and are never inherited. The reply is
// {1, total} when the request is counted, {0, total} when the key has the
// limit's requests in progress already.
const LimitConnAcquireScript = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local limit = tonumber(ARGV[2])
local oldest = now - tonumber(ARGV[3])
local h = redis.call('HGETALL', KEYS[1])
local total = 0
for i = 1, #h, 2 do
  local seen = redis.call('ZSCORE', KEYS[2], h[i])
  if seen and tonumber(seen) > oldest then
    total = total + tonumber(h[i + 1])
  else
    redis.call('HDEL', KEYS[1], h[i])
  end
end
if total >= limit then
  return {0, total}
end
redis.call('HINCRBY', KEYS[1], ARGV[1], 1)
redis.call('PEXPIRE', KEYS[1], ARGV[4])
return {1, total + 1}
`

// LimitConnReleaseScript ends a request counted by LimitConnAcquireScript:
// KEYS[1] is the key's hash and ARGV[1] this instance. A count that
// reaches zero leaves the hash.
const LimitConnReleaseScript = `
local n = redis.call('HINCRBY', KEYS[1], ARGV[1], -1)
if n <= 0 then
  redis.call('HDEL', KEYS[1], ARGV[1])
end
return n
`

// LimitReqSHA, HeartbeatSHA, LimitConnAcquireSHA and LimitConnReleaseSHA
// name the scripts for EVALSHA once SCRIPT LOAD has given them to the
// store on a connection.
var (
	LimitReqSHA         = digest(LimitReqScript)
	HeartbeatSHA        = digest(HeartbeatScript)
	LimitConnAcquireSHA = digest(LimitConnAcquireScript)
	LimitConnReleaseSHA = digest(LimitConnReleaseScript)
)

// MaxConnsLeaseScript sets how many connection places to one upstream
// server an instance holds, out of the server's max_conns for the whole
// fleet. KEYS[1] is the server's hash of places by instance and KEYS[2]
// the fleet's set of instances (FleetKey); ARGV[1] is this instance,
// ARGV[2] max_conns, ARGV[3] the places it wants, ARGV[4] the lease and
// ARGV[5] how long the hash lives untouched, both in milliseconds. The
// places of instances whose lease ran out are dropped; the instance gets
// what it wants of what the live others leave, and the reply is {granted,
// others' places}. The sum of the places leased never exceeds max_conns,
// so the instances together never open more connections than it, each
// keeping to its own places.
const MaxConnsLeaseScript = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local oldest = now - tonumber(ARGV[4])
local h = redis.call('HGETALL', KEYS[1])
local others = 0
for i = 1, #h, 2 do
  if h[i] ~= ARGV[1] then
    local seen = redis.call('ZSCORE', KEYS[2], h[i])
    if seen and tonumber(seen) > oldest then
      others = others + tonumber(h[i + 1])
    else
      redis.call('HDEL', KEYS[1], h[i])
    end
  end
end
local grant = math.min(tonumber(ARGV[3]), tonumber(ARGV[2]) - others)
if grant < 0 then
  grant = 0
end
redis.call('HSET', KEYS[1], ARGV[1], grant)
redis.call('PEXPIRE', KEYS[1], ARGV[5])
return {grant, others}
`

// MaxConnsLeaseSHA names MaxConnsLeaseScript for EVALSHA.
var MaxConnsLeaseSHA = digest(MaxConnsLeaseScript)

// AppendServerKey appends the store's key for the places leased to an
// upstream group's server, named by the group's zone and the server's
// address.
func AppendServerKey(b []byte, zone, server string) []byte {
	return appendKey(b, "headroom:max_conns:", zone, server)
}

// Scripts are every script an instance loads on connecting.
var Scripts = []string{LimitReqScript, HeartbeatScript, LimitConnAcquireScript, LimitConnReleaseScript, MaxConnsLeaseScript}

// ConnKeyTTL is how long a limit_conn key's hash lives without being
// touched; instances rewrite their counts each second, so only a key no
// live instance holds expires.
const ConnKeyTTL = 10 * time.Second

func digest(s string) string {
	h := sha1.Sum([]byte(s))
	return hex.EncodeToString(h[:])
}

// Lease is how long an instance counts as live after its last heartbeat;
// instances beat once a second, so two lost beats do not drop one.
const Lease = 3 * time.Second

// FleetKey is the sorted set of live instances.
const FleetKey = "headroom:instances"

// ZoneKey is the hash in which each instance that shares the zone writes
// its definition of it (LimitReqDefinition) under its own name, so that
// instances sharing a zone under different terms can be found.
func ZoneKey(zone string) string { return "headroom:zone:" + zone }

// LimitReqDefinition is how an instance describes a limit_req zone in
// ZoneKey: its kind and its rate.
func LimitReqDefinition(ratePerMinute int) string {
	if ratePerMinute%60 == 0 {
		return "limit_req rate=" + strconv.Itoa(ratePerMinute/60) + "r/s"
	}
	return "limit_req rate=" + strconv.Itoa(ratePerMinute) + "r/m"
}

// AppendConnKey appends the store's key for a limit_conn zone's key: the
// counts by instance, named as AppendBucketKey names buckets.
func AppendConnKey(b []byte, zone, key string) []byte {
	return appendKey(b, "headroom:limit_conn:", zone, key)
}

func appendKey(b []byte, prefix, zone, key string) []byte {
	b = append(b, prefix...)
	b = appendInt(b, len(zone))
	b = append(b, ':')
	b = append(b, zone...)
	b = append(b, ':')
	return append(b, key...)
}

// LimitConnDefinition is how an instance describes a limit_conn zone in
// ZoneKey; the limit belongs to each limit_conn directive, not the zone.
const LimitConnDefinition = "limit_conn"

// AppendBucketKey appends the store's key for a limit_req zone's bucket:
// the zone's name, preceded by its length, and the request's key, which
// may hold any bytes (a binary address). With the length no pair of a
// zone name and a key can spell another pair's store key.
func AppendBucketKey(b []byte, zone, key string) []byte {
	return appendKey(b, "headroom:limit_req:", zone, key)
}

func appendInt(b []byte, n int) []byte {
	if n >= 10 {
		b = appendInt(b, n/10)
	}
	return append(b, byte('0'+n%10))
}
