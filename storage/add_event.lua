-- Count one scored event exactly once: dedupe by id and every bucket increment in one atomic step.
-- KEYS: seen, entities, watermark, first_minute, closed_through, partition_marks
-- ARGV: prefix, kind, minute, hour, label, score, score_sq, event_time, snippet_json,
--       ttl_seen, ttl_minute, ttl_hour, ttl_meta, partitions (newline-separated, may be empty), entity...
-- Returns 0 for a duplicate, 1 when counted, 2 when late: its minute was already closed, so it is not counted
-- (the caller dead-letters it with that reason; its id stays seen, so a redelivery is a duplicate, not a second
-- dead letter).
if not redis.call('SET', KEYS[1], '1', 'NX', 'EX', ARGV[10]) then
  return 0
end
local closed = tonumber(redis.call('GET', KEYS[5]) or '-1')
if closed >= 0 and tonumber(ARGV[3]) <= closed then
  return 2
end
local prefix, kind, minute, hour = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
for i = 15, #ARGV do
  local entity = ARGV[i]
  local keys = {
    {prefix .. 'm:' .. entity .. ':' .. kind .. ':' .. minute, ARGV[11]},
    {prefix .. 'h:' .. entity .. ':' .. kind .. ':' .. hour, ARGV[12]},
  }
  for _, spec in ipairs(keys) do
    redis.call('HINCRBY', spec[1], 'n', 1)
    redis.call('HINCRBY', spec[1], ARGV[5], 1)
    redis.call('HINCRBYFLOAT', spec[1], 'total', ARGV[6])
    redis.call('HINCRBYFLOAT', spec[1], 'total_sq', ARGV[7])
    redis.call('EXPIRE', spec[1], spec[2])
  end
  local evidence = prefix .. 'ev:' .. entity .. ':' .. minute
  redis.call('LPUSH', evidence, ARGV[9])
  redis.call('LTRIM', evidence, 0, 19)
  redis.call('EXPIRE', evidence, ARGV[11])
  redis.call('ZADD', KEYS[2], 'GT', minute, entity)
end
redis.call('EXPIRE', KEYS[2], ARGV[13])
local watermark = tonumber(redis.call('GET', KEYS[3]) or '0')
if tonumber(ARGV[8]) > watermark then
  redis.call('SET', KEYS[3], ARGV[8], 'EX', ARGV[13])
end
for name in string.gmatch(ARGV[14], '[^\n]+') do
  local mark = tonumber(redis.call('HGET', KEYS[6], name) or '0')
  if tonumber(ARGV[8]) > mark then
    redis.call('HSET', KEYS[6], name, ARGV[8])
  end
  redis.call('EXPIRE', KEYS[6], ARGV[13])
end
local first = tonumber(redis.call('GET', KEYS[4]) or '-1')
if first < 0 or tonumber(minute) < first then
  redis.call('SET', KEYS[4], minute, 'EX', ARGV[13])
end
return 1
