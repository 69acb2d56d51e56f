/**
 * The Lua scripts of the Redis control plane (redis-control.ts): its atomic steps. Each runs on
 * one function's keys only (keys.ts: every one carries the hash tag `{fn:NAME}`), so on a
 * Cluster each call touches one slot, and on any topology no other client sees a half-done
 * step. Numbers cross as strings formatted with `%.0f`: Lua numbers are doubles, and a publish
 * time in ms (13 digits) must not come back in exponent form.
 */

/**
 * The next publish time of a function: now, or its last one + 1 ms, so version ids strictly
 * increase even for two publishers in the same millisecond or after the clock stepped back
 * (version-id.ts). The newest version's score also counts, in case the clock key was lost.
 * KEYS: clock, versions. ARGV: now ms. Returns the time handed out.
 */
export const NEXT_TIME_LUA = `
local last = tonumber(redis.call('GET', KEYS[1]) or '0')
local newest = redis.call('ZREVRANGE', KEYS[2], 0, 0, 'WITHSCORES')
if newest[2] then last = math.max(last, tonumber(newest[2])) end
local t = math.max(tonumber(ARGV[1]), last + 1)
redis.call('SET', KEYS[1], string.format('%.0f', t))
return string.format('%.0f', t)
`;

/**
 * Adds a version and prunes by retention.ts's rule (oldest first, never a version the rollout
 * names, until at most MAX remain), reading the rollout in the same step, so a pruned version
 * can never be one a rollout names. An id already taken is refused with `EXISTS id` (the caller
 * takes the next time). KEYS: versions, version:ID, rollout. ARGV: id, ms, record JSON, MAX,
 * the version key prefix. Returns the pruned ids.
 */
export const ADD_VERSION_LUA = `
if redis.call('EXISTS', KEYS[2]) == 1 then return redis.error_reply('EXISTS ' .. ARGV[1]) end
redis.call('SET', KEYS[2], ARGV[3])
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
local keep = {}
local r = redis.call('GET', KEYS[3])
if r then
  local ro = cjson.decode(r)
  keep[ro.stable] = true
  if type(ro.canary) == 'table' then keep[ro.canary.version] = true end
end
local count = redis.call('ZCARD', KEYS[1])
local max = tonumber(ARGV[4])
local pruned = {}
if count > max then
  for _, id in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
    if count <= max then break end
    if not keep[id] then
      redis.call('ZREM', KEYS[1], id)
      redis.call('DEL', ARGV[5] .. id)
      count = count - 1
      pruned[#pruned + 1] = id
    end
  end
end
return pruned
`;

/**
 * Replaces the rollout with revision + 1 once every version it names exists (else
 * `UNKNOWN id`: a rollout never names a missing version), and remembers the stable it replaces
 * as previousStable (rollout-rules.ts nextPreviousStable, the same rule in Lua). The document
 * is built as text, revision first, so the JSON the CLI wrote passes through unchanged.
 * KEYS: rollout, versions. ARGV: the rollout as JSON without its revision, the next stable,
 * then the ids to check. Returns the stored rollout JSON.
 */
export const SET_ROLLOUT_LUA = `
for i = 3, #ARGV do
  if not redis.call('ZSCORE', KEYS[2], ARGV[i]) then return redis.error_reply('UNKNOWN ' .. ARGV[i]) end
end
local rev = 1
local prevStable = nil
local cur = redis.call('GET', KEYS[1])
if cur then
  local c = cjson.decode(cur)
  rev = (tonumber(c.revision) or 0) + 1
  if c.stable ~= ARGV[2] then prevStable = c.stable else prevStable = c.previousStable end
end
local prev = ''
if type(prevStable) == 'string' then prev = '"previousStable":' .. cjson.encode(prevStable) .. ',' end
local doc = '{"revision":' .. string.format('%d', rev) .. ',' .. prev .. string.sub(ARGV[1], 2)
redis.call('SET', KEYS[1], doc)
return doc
`;
