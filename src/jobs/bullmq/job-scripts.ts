/**
 * The Lua scripts that change job records (layout in `job-records.ts`). Each one checks the
 * record's status and changes it in one step, so a change that lost a race (a cancel against a
 * finish, two workers after a stall) changes nothing and says why, as the SQL `UPDATE ... WHERE
 * status = ?` of the embedded backend does.
 *
 * Every change is also appended to the queue's BullMQ events stream as a `tally.job` entry
 * carrying the whole record after the change (its fields prefixed `j.`), in the same script: the
 * stream order is the order of the changes, so an observer in another process never sees a
 * progress event after the final status. `QueueEvents` reads it back (`job-event-feed.ts`).
 *
 * Common arguments: KEYS[1] the record, KEYS[2] the events stream; ARGV[1] the key base,
 * ARGV[2] the stream's approximate maximum length, ARGV[3] the origin (the writing backend's
 * id, so it can skip its own entries), ARGV[4] the job id.
 */
import { RedisScript } from './redis-script.js'

const PRELUDE = `
local rcall = redis.call
local base, maxEvents, origin, id = ARGV[1], ARGV[2], ARGV[3], ARGV[4]

local function statusKeys(status, ownerHex)
  local keys = { base .. 'status:' .. status }
  if ownerHex and ownerHex ~= '' then
    keys[2] = base .. 'owner:' .. ownerHex .. ':status:' .. status
  end
  return keys
end

local function moveStatus(from, to)
  if from == to then return end
  local seq = rcall('HGET', KEYS[1], 'seq')
  local ownerHex = rcall('HGET', KEYS[1], 'ownerHex')
  for _, key in ipairs(statusKeys(from, ownerHex)) do rcall('ZREM', key, id) end
  for _, key in ipairs(statusKeys(to, ownerHex)) do rcall('ZADD', key, seq, id) end
  rcall('HSET', KEYS[1], 'status', to)
end

-- Field/value pairs from ARGV[first]; an empty value removes the field (null).
local function applyPatch(first)
  for i = first, #ARGV, 2 do
    if ARGV[i + 1] == '' then
      rcall('HDEL', KEYS[1], ARGV[i])
    else
      rcall('HSET', KEYS[1], ARGV[i], ARGV[i + 1])
    end
  end
end

local function publish(eventType)
  local fields = rcall('HGETALL', KEYS[1])
  local entry = { KEYS[2], 'MAXLEN', '~', maxEvents, '*', 'event', 'tally.job', 'origin', origin,
    'type', eventType }
  for i = 1, #fields, 2 do
    entry[#entry + 1] = 'j.' .. fields[i]
    entry[#entry + 1] = fields[i + 1]
  end
  rcall('XADD', unpack(entry))
  return fields
end
`

/** ARGV[5] queue limit, ARGV[6] owner (hex, '' for none), ARGV[7..] the record's fields. */
export const submitScript = new RedisScript(
  'submit',
  `${PRELUDE}
if rcall('EXISTS', KEYS[1]) == 1 then return { 'taken' } end
if rcall('ZCARD', base .. 'status:queued') >= tonumber(ARGV[5]) then return { 'full' } end
local ownerHex = ARGV[6]
local seq = rcall('INCR', base .. 'seq')
applyPatch(7)
rcall('HSET', KEYS[1], 'seq', seq, 'ownerHex', ownerHex)
rcall('ZADD', base .. 'all', seq, id)
if ownerHex ~= '' then rcall('ZADD', base .. 'owner:' .. ownerHex, seq, id) end
for _, key in ipairs(statusKeys('queued', ownerHex)) do rcall('ZADD', key, seq, id) end
return { 'ok', publish('status') }
`,
)

/**
 * Takes a job for a run: queued -> running, or running -> running when the run that had it died
 * (BullMQ found it stalled and handed it out again). One more attempt; a new run id, so the run
 * that lost the job can no longer change it. ARGV[5] run id, ARGV[6] startedAt.
 */
export const claimScript = new RedisScript(
  'claim',
  `${PRELUDE}
local status = rcall('HGET', KEYS[1], 'status')
if not status then return { 'missing' } end
if status ~= 'queued' and status ~= 'running' then return { 'status', status } end
moveStatus(status, 'running')
rcall('HINCRBY', KEYS[1], 'attempts', 1)
rcall('HSET', KEYS[1], 'startedAt', ARGV[6], 'runId', ARGV[5])
rcall('HDEL', KEYS[1], 'progress', 'error')
return { 'ok', publish('status'), status }
`,
)

/**
 * A status change, answering the record after it and the status before: ARGV[5] allowed current statuses (comma-separated), ARGV[6] the new status,
 * ARGV[7] the run id that must hold the job ('' for any), ARGV[8] change of `attempts`,
 * ARGV[9] finish time in epoch ms for a final status ('' otherwise), ARGV[10..] fields to set.
 */
export const transitionScript = new RedisScript(
  'transition',
  `${PRELUDE}
local status = rcall('HGET', KEYS[1], 'status')
if not status then return { 'missing' } end
if not string.find(',' .. ARGV[5] .. ',', ',' .. status .. ',', 1, true) then
  return { 'status', status }
end
if ARGV[7] ~= '' and rcall('HGET', KEYS[1], 'runId') ~= ARGV[7] then
  return { 'superseded', status }
end
moveStatus(status, ARGV[6])
if tonumber(ARGV[8]) ~= 0 then rcall('HINCRBY', KEYS[1], 'attempts', ARGV[8]) end
applyPatch(10)
if ARGV[9] ~= '' then rcall('ZADD', base .. 'finished', ARGV[9], id) end
return { 'ok', publish('status'), status }
`,
)

/** Progress of the run holding the job: ARGV[5] run id, ARGV[6] progress JSON. */
export const progressScript = new RedisScript(
  'progress',
  `${PRELUDE}
if rcall('HGET', KEYS[1], 'status') ~= 'running' or rcall('HGET', KEYS[1], 'runId') ~= ARGV[5] then
  return { 'stale' }
end
rcall('HSET', KEYS[1], 'progress', ARGV[6])
return { 'ok', publish('progress') }
`,
)

/** Deletes a finished job's record and its index entries. No event. */
export const removeScript = new RedisScript(
  'remove',
  `${PRELUDE}
local status = rcall('HGET', KEYS[1], 'status')
if not status then return { 'missing' } end
if status ~= 'succeeded' and status ~= 'failed' and status ~= 'canceled' then
  return { 'status', status }
end
local ownerHex = rcall('HGET', KEYS[1], 'ownerHex')
rcall('ZREM', base .. 'all', id)
rcall('ZREM', base .. 'finished', id)
if ownerHex and ownerHex ~= '' then rcall('ZREM', base .. 'owner:' .. ownerHex, id) end
for _, key in ipairs(statusKeys(status, ownerHex)) do rcall('ZREM', key, id) end
rcall('DEL', KEYS[1])
return { 'ok' }
`,
)

/** Marks a finished job's files as gone: ARGV[5] expiredAt. No event. */
export const expireScript = new RedisScript(
  'expire',
  `${PRELUDE}
rcall('ZREM', base .. 'finished', id)
if rcall('EXISTS', KEYS[1]) == 0 then return { 'missing' } end
if rcall('HEXISTS', KEYS[1], 'expiredAt') == 1 then return { 'expired' } end
rcall('HSET', KEYS[1], 'expiredAt', ARGV[5])
return { 'ok' }
`,
)

/**
 * One page of records, newest first: the `limit` highest sequence numbers below the cursor
 * across the index sets in KEYS (one per status asked for, or the owner's or global index).
 * ARGV[1] the record key prefix, ARGV[2] the upper bound (`+inf` or `(seq`), ARGV[3] limit.
 */
export const listScript = new RedisScript(
  'list',
  `
local rcall = redis.call
local limit = tonumber(ARGV[3])
local merged = {}
for _, key in ipairs(KEYS) do
  local rows = rcall('ZREVRANGEBYSCORE', key, ARGV[2], '-inf', 'WITHSCORES', 'LIMIT', 0, limit)
  for i = 1, #rows, 2 do merged[#merged + 1] = { rows[i], tonumber(rows[i + 1]) } end
end
table.sort(merged, function(a, b) return a[2] > b[2] end)
local page = {}
for i = 1, math.min(#merged, limit) do
  page[#page + 1] = rcall('HGETALL', ARGV[1] .. merged[i][1])
end
return page
`,
)
