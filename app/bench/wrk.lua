-- One script for both measurements. BENCH_METHOD=GET lists BENCH_PATH; BENCH_METHOD=POST creates
-- comments on content_id BENCH_POST_CONTENT (a different content than the listed one, so the
-- list keeps its size). done() prints one JSON line with exact figures for run.py to parse.
local method = os.getenv("BENCH_METHOD") or "GET"
local path = os.getenv("BENCH_PATH") or "/"
local post_content = os.getenv("BENCH_POST_CONTENT") or "2"
local counter = 0

if method == "POST" then
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
  request = function()
    counter = counter + 1
    local body = string.format(
      '{"email": "bench%d@example.com", "comment": "benchmark comment number %d", "content_id": %s}',
      counter, counter, post_content)
    return wrk.format("POST", path, nil, body)
  end
end

done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRK_JSON {"requests": %d, "duration_us": %d, "bytes": %d, "p50_us": %d, "p90_us": %d, ' ..
    '"p99_us": %d, "max_us": %d, "connect_errors": %d, "read_errors": %d, "write_errors": %d, ' ..
    '"timeouts": %d, "non_2xx": %d}\n',
    summary.requests, summary.duration, summary.bytes, latency:percentile(50),
    latency:percentile(90), latency:percentile(99), latency.max, e.connect, e.read, e.write,
    e.timeout, e.status))
end
