-- wrk script for scripts/bench.sh: sets the method from WRK_METHOD and, when
-- the run ends, prints the summary as "@@<TAB>metric<TAB>value" lines.
wrk.method = os.getenv("WRK_METHOD") or "GET"

function done(summary, latency, requests)
  local secs = summary.duration / 1e6
  local e = summary.errors
  local out = function(k, v) io.write(string.format("@@\t%s\t%s\n", k, v)) end
  out("rps", string.format("%.1f", summary.requests / secs))
  out("requests", summary.requests)
  for _, p in ipairs({50, 75, 90, 99, 99.9}) do
    out("p" .. tostring(p) .. "_us", latency:percentile(p))
  end
  out("max_us", latency.max)
  out("errors", e.connect + e.read + e.write + e.timeout + e.status)
end
