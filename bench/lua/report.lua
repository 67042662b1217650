-- Shared by every scenario (appended to its script by bench/run.py).
--
-- Scripts whose unit of work is not one request (refresh, sso_hop, signin) count, in each
-- thread, `units` (completed units of work: a rotated refresh token, a code exchanged for
-- tokens, a finished sign-in) and `failures` (an answer that ended a unit without an HTTP
-- error status, e.g. an authorization redirect without a code, or a thread that ran out of
-- refresh tokens). done() prints the totals with wrk's own figures as one JSON line, which
-- bench/run.py parses.
local threads = {}
local next_id = 0

function setup(thread)
  next_id = next_id + 1
  thread:set("id", next_id)
  table.insert(threads, thread)
end

function done(summary, latency, requests)
  local units, failures, counted = 0, 0, false
  for _, thread in ipairs(threads) do
    local u = thread:get("units")
    if u ~= nil then
      counted = true
      units = units + u
    end
    failures = failures + (thread:get("failures") or 0)
  end
  local errors = summary.errors
  io.write(string.format(
    '\nBENCH_JSON {"requests": %d, "duration_us": %d, "p50_us": %d, "p99_us": %d, ' ..
    '"non2xx3xx": %d, "connect": %d, "read": %d, "write": %d, "timeout": %d, ' ..
    '"units": %d, "counted": %s, "failures": %d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    errors.status, errors.connect, errors.read, errors.write, errors.timeout,
    units, counted and "true" or "false", failures))
end
