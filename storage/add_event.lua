-- Count one scored event exactly once: dedupe by id and every bucket increment in one atomic step.
-- Named arguments: this is the script's body. storage/add_event.py prepends a generated header that binds the
-- fields of AddEventKeys and AddEventArgs (seen_key ... closed_through_key, prefix ... ttl_meta, entities) to
-- their KEYS and ARGV positions; the body reads those names only, never KEYS or ARGV (a unit test checks).
-- Returns 0 for a duplicate, 1 when counted, 2 when late: its minute was already closed, so it is not counted
-- (the caller dead-letters it with that reason; its id stays seen, so a redelivery is a duplicate, not a second
-- dead letter), 3 when refused: a score that is not a number in [-1, 1] or an unknown label, checked before
-- anything is written (a failure half-way would leave the id seen and some buckets counted).
local labels = {['negative'] = true, ['neutral'] = true, ['positive'] = true}
for i = 1, #entities, 4 do
  local score = tonumber(entities[i + 2])
  if score == nil or score ~= score or score < -1 or score > 1 or not labels[entities[i + 1]] then
    return 3
  end
end
if tonumber(minute) == nil or tonumber(event_time) == nil then
  return 3
end
if not redis.call('SET', seen_key, '1', 'NX', 'EX', ttl_seen) then
  return 0
end
local closed = tonumber(redis.call('GET', closed_through_key) or '-1')
if closed >= 0 and tonumber(minute) <= closed then
  return 2
end
-- entities: groups of four (entity, label, score, snippet): each entity counts the sentiment toward itself
for i = 1, #entities, 4 do
  local entity = entities[i]
  local label = entities[i + 1]
  local score = entities[i + 2]
  local snippet = entities[i + 3]
  local score_sq = tonumber(score) * tonumber(score)
  local buckets = {
    {prefix .. 'm:' .. entity .. ':' .. kind .. ':' .. minute, ttl_minute},
    {prefix .. 'h:' .. entity .. ':' .. kind .. ':' .. hour, ttl_hour},
  }
  for _, spec in ipairs(buckets) do
    redis.call('HINCRBY', spec[1], 'n', 1)
    redis.call('HINCRBY', spec[1], label, 1)
    redis.call('HINCRBYFLOAT', spec[1], 'total', score)
    redis.call('HINCRBYFLOAT', spec[1], 'total_sq', string.format('%.17g', score_sq))
    redis.call('EXPIRE', spec[1], spec[2])
  end
  local evidence = prefix .. 'ev:' .. entity .. ':' .. minute
  redis.call('LPUSH', evidence, snippet)
  redis.call('LTRIM', evidence, 0, 19)
  redis.call('EXPIRE', evidence, ttl_minute)
  redis.call('ZADD', entities_key, 'GT', minute, entity)
  -- the minute's distinct voices (a HyperLogLog: about 1% off, at most 12 KiB however many authors a flood invents)
  if voice ~= '' then
    local voices = prefix .. 'v:' .. entity .. ':' .. minute
    redis.call('PFADD', voices, voice)
    redis.call('EXPIRE', voices, ttl_voice)
  end
end
redis.call('EXPIRE', entities_key, ttl_meta)
local watermark = tonumber(redis.call('GET', watermark_key) or '0')
if tonumber(event_time) > watermark then
  redis.call('SET', watermark_key, event_time, 'EX', ttl_meta)
end
local first = tonumber(redis.call('GET', first_minute_key) or '-1')
if first < 0 or tonumber(minute) < first then
  redis.call('SET', first_minute_key, minute, 'EX', ttl_meta)
end
return 1
