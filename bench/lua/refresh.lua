-- refresh_token grant with rotation: each thread keeps a pool of live refresh tokens read
-- from BENCH_TOKENS_FILE (one per line, split between threads); every answer's new refresh
-- token goes back into the pool, so no token is ever presented twice. A unit is a 200
-- answer carrying a new refresh token. A thread whose pool ran dry (tokens lost to errors)
-- counts a failure for each request it then has to make instead (GET /healthz).
function init(args)
  pool = {}
  units = 0
  failures = 0
  local nthreads = tonumber(os.getenv("BENCH_THREADS"))
  local i = 0
  for line in io.lines(os.getenv("BENCH_TOKENS_FILE")) do
    if (i % nthreads) + 1 == id then table.insert(pool, line) end
    i = i + 1
  end
  path = os.getenv("BENCH_PATH")
  basic = os.getenv("BENCH_BASIC")
end

function request()
  local token = table.remove(pool)
  if token == nil then
    failures = failures + 1
    return wrk.format("GET", "/healthz")
  end
  return wrk.format("POST", path, {
    ["Authorization"] = basic,
    ["Content-Type"] = "application/x-www-form-urlencoded",
  }, "grant_type=refresh_token&refresh_token=" .. token)
end

function response(status, headers, body)
  if status ~= 200 then return end
  local token = string.match(body, '"refresh_token"%s*:%s*"([^"]+)"')
  if token then
    table.insert(pool, token)
    units = units + 1
  end
end
