package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
)

// loadTests are the wrk tests, in report order.
var loadTests = []struct{ test, title string }{
	{"cred-get", "Credential document GET (with a valid IMDSv2 token)"},
	{"token-put", "Token PUT"},
	{"listing-get", "Role listing GET"},
}

var contenders = []string{"imdsd", "imdsd-quiet", "ceiling", "mock"}

// runReport prints the results as markdown: one table per test, then the
// goals of issue 7 with the measured value and whether it holds.
func runReport(_ context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("report", flag.ContinueOnError)
	in := fs.String("in", "", "results `file`")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *in == "" {
		return errors.New("-in is required")
	}
	rows, err := readRows(*in)
	if err != nil {
		return err
	}
	res := Results{rows}
	w := &mdWriter{w: stdout}
	for _, lt := range loadTests {
		reportLoad(w, res, lt.test, lt.title)
	}
	reportPinned(w, res)
	reportSDK(w, res)
	reportCLI(w, res)
	reportSTS(w, res)
	reportResources(w, res)
	reportGoals(w, res)
	return w.err
}

// mdWriter prints lines and keeps the first error.
type mdWriter struct {
	w   io.Writer
	err error
}

func (m *mdWriter) f(format string, a ...any) {
	if m.err == nil {
		_, m.err = fmt.Fprintf(m.w, format+"\n", a...)
	}
}

func ratio(a, b float64) string {
	if b == 0 {
		return "–"
	}
	return fmt.Sprintf("%.2f×", a/b)
}

// paired formats a paired ratio (Results.pairedRatio).
func paired(v float64, ok bool) string {
	if !ok {
		return "–"
	}
	return fmt.Sprintf("%.2f×", v)
}

func msOf(us float64) string { return fmt.Sprintf("%.2f", us/1000) }

// num prints whole numbers without exponent.
func num(v float64) string {
	if v == float64(int64(v)) {
		return fmt.Sprintf("%d", int64(v))
	}
	return fmt.Sprintf("%.2f", v)
}

func reportLoad(w *mdWriter, res Results, test, title string) {
	conns := res.conns(test)
	if len(conns) == 0 {
		return
	}
	w.f("### %s\n", title)
	w.f("| conns | server | req/s | p50 ms | p90 ms | p99 ms | p99.9 ms | req/s vs ceiling | req/s vs mock | p99 vs ceiling | errors |")
	w.f("|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
	for _, c := range conns {
		for _, name := range contenders {
			rps, ok := res.median(test, name, c, "rps")
			if !ok {
				continue
			}
			p50, _ := res.median(test, name, c, "p50_us")
			p90, _ := res.median(test, name, c, "p90_us")
			p99, _ := res.median(test, name, c, "p99_us")
			p999, _ := res.median(test, name, c, "p99.9_us")
			var errs float64
			for _, v := range res.values(test, name, c, "errors", false) {
				errs += v
			}
			vsMock := paired(res.pairedRatio(test, name, "mock", c, "rps"))
			if name == "mock" {
				vsMock = ""
			}
			if n := len(res.values(test, name, c, "crashed", false)); n > 0 {
				name = fmt.Sprintf("%s (crashed in %d of %d rounds)", name, n, len(res.values(test, name, c, "rps", false)))
			}
			w.f("| %d | %s | %.0f | %s | %s | %s | %s | %s | %s | %s | %.0f |", c, name, rps, msOf(p50), msOf(p90), msOf(p99), msOf(p999),
				paired(res.pairedRatio(test, name, "ceiling", c, "rps")), vsMock,
				paired(res.pairedRatio(test, name, "ceiling", c, "p99_us")), errs)
		}
	}
	w.f("")
}

// pinnedTest is the credential GET at saturation with wrk and the servers
// on separate cores (scripts/bench.sh).
const pinnedTest = "cred-get-pinned"

// reportPinned prints the credential GET at saturation on separate cores,
// with each server's p99 against the ceiling's and against the ceiling's
// with the AWS SDK linked (ceiling-sdk).
func reportPinned(w *mdWriter, res Results) {
	conns := res.conns(pinnedTest)
	if len(conns) == 0 {
		return
	}
	w.f("### Credential document GET at saturation, wrk and each server on separate cores\n")
	w.f("| conns | server | req/s | p50 ms | p90 ms | p99 ms | p99.9 ms | req/s vs ceiling | p99 vs ceiling | p99 vs ceiling-sdk | errors |")
	w.f("|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
	for _, c := range conns {
		for _, name := range []string{"imdsd", "ceiling", "ceiling-sdk"} {
			rps, ok := res.median(pinnedTest, name, c, "rps")
			if !ok {
				continue
			}
			var ms [4]string
			for i, m := range []string{"p50_us", "p90_us", "p99_us", "p99.9_us"} {
				v, _ := res.median(pinnedTest, name, c, m)
				ms[i] = msOf(v)
			}
			var errs float64
			for _, v := range res.values(pinnedTest, name, c, "errors", false) {
				errs += v
			}
			w.f("| %d | %s | %.0f | %s | %s | %s | %s | %s | %s | %s | %.0f |", c, name, rps, ms[0], ms[1], ms[2], ms[3],
				paired(res.pairedRatio(pinnedTest, name, "ceiling", c, "rps")),
				paired(res.pairedRatio(pinnedTest, name, "ceiling", c, "p99_us")),
				paired(res.pairedRatio(pinnedTest, name, "ceiling-sdk", c, "p99_us")), errs)
		}
	}
	w.f("")
}

func reportSDK(w *mdWriter, res Results) {
	c50, ok := res.one("sdk-fetch", "ceiling", 1, "p50_us")
	if !ok {
		return
	}
	c99, _ := res.one("sdk-fetch", "ceiling", 1, "p99_us")
	w.f("### aws-sdk-go-v2 ec2rolecreds Retrieve (token + listing + document)\n")
	w.f("| server | fetches | p50 ms | p90 ms | p99 ms | p50 vs ceiling | p99 vs ceiling |")
	w.f("|---|---:|---:|---:|---:|---:|---:|")
	for _, name := range []string{"imdsd", "ceiling"} {
		n, _ := res.one("sdk-fetch", name, 1, "fetches")
		p50, _ := res.one("sdk-fetch", name, 1, "p50_us")
		p90, _ := res.one("sdk-fetch", name, 1, "p90_us")
		p99, _ := res.one("sdk-fetch", name, 1, "p99_us")
		w.f("| %s | %.0f | %s | %s | %s | %s | %s |", name, n, msOf(p50), msOf(p90), msOf(p99), ratio(p50, c50), ratio(p99, c99))
	}
	if rpf, ok := res.one("sdk-fetch", "all", 1, "requests_per_fetch"); ok {
		w.f("\nHTTP requests per fetch: %.2f.", rpf)
	}
	w.f("")
}

func reportCLI(w *mdWriter, res Results) {
	imd, ok1 := res.median("cli", "imdsd", 1, "wall_ms")
	env, ok2 := res.median("cli", "static-env", 1, "wall_ms")
	if !ok1 || !ok2 {
		return
	}
	n := len(res.values("cli", "imdsd", 1, "wall_ms", false))
	w.f("### AWS CLI credential resolution (`aws configure list`, median of %d runs each)\n", n)
	w.f("| credentials from | wall ms | vs static env (paired) |")
	w.f("|---|---:|---:|")
	w.f("| imdsd (IMDSv2) | %.0f | %s |", imd, paired(res.pairedRatio("cli", "imdsd", "static-env", 1, "wall_ms")))
	if c, ok := res.median("cli", "ceiling", 1, "wall_ms"); ok {
		w.f("| ceiling server (IMDSv2) | %.0f | %s |", c, paired(res.pairedRatio("cli", "ceiling", "static-env", 1, "wall_ms")))
	}
	w.f("| static environment variables | %.0f | 1.00× |", env)
	w.f("")
}

func reportSTS(w *mdWriter, res Results) {
	var clients int
	for _, r := range res.rows {
		if r.Test == "sts" {
			clients = r.Conns
		}
	}
	if clients == 0 {
		return
	}
	get := func(m string) float64 { v, _ := res.one("sts", "imdsd", clients, m); return v }
	w.f("### STS efficiency (%d concurrent clients, %.0f simulated hours, moto as STS)\n", clients, get("simulated_hours"))
	w.f("| measure | value |")
	w.f("|---|---:|")
	for _, m := range []string{"requests", "failed_requests", "sts_calls", "moto_posts", "refreshes", "credential_sets_served", "sts_calls_per_hour", "min_minutes_between_sts_calls"} {
		if v, ok := res.one("sts", "imdsd", clients, m); ok {
			w.f("| %s | %s |", strings.ReplaceAll(m, "_", " "), num(v))
		}
	}
	w.f("")
}

// resourceRows are the resources metrics, in report order.
var resourceRows = []struct{ metric, label string }{
	{"rss_kb_started", "RSS after start-up (first credentials served), KiB"},
	{"rss_kb_idle", "RSS after 60 s idle, KiB"},
	{"cpu_ms_idle", "CPU time during 60 s idle, ms"},
	{"requests_load", "requests served in the load phase"},
	{"rss_kb_load", "RSS after the load phase, KiB"},
	{"cpu_ms_load", "CPU time of the load phase, ms"},
	{"cpu_us_per_request", "CPU time per request, µs"},
	{"threads_load", "OS threads after the load phase"},
	{"goroutines_idle", "goroutines (runtime's included), idle"},
	{"goroutines_load", "goroutines (runtime's included), after the load phase"},
}

func reportResources(w *mdWriter, res Results) {
	if _, ok := res.one("resources", "imdsd", 0, "rss_kb_started"); !ok {
		return
	}
	w.f("### Cost at rest and under load (imdsd, one process)\n")
	w.f("| measure | value |")
	w.f("|---|---:|")
	for _, r := range resourceRows {
		if v, ok := res.one("resources", "imdsd", 0, r.metric); ok {
			w.f("| %s | %s |", r.label, num(v))
		}
	}
	if a, ok := res.median("startup", "imdsd", 1, "first_answer_ms"); ok {
		c, _ := res.median("startup", "imdsd", 1, "first_credentials_ms")
		n := len(res.values("startup", "imdsd", 1, "first_answer_ms", false))
		w.f("| start to first answer (STS round trip excluded), ms, median of %d | %.1f |", n, a)
		w.f("| start to first credentials (STS round trip included), ms, median of %d | %.1f |", n, c)
	}
	w.f("")
}

// goal is one goal of issue 7 and its outcome.
type goal struct {
	text, measured string
	ok, known      bool
}

func reportGoals(w *mdWriter, res Results) {
	var goals []goal
	add := func(text string, known, ok bool, measured string) {
		goals = append(goals, goal{text, measured, ok, known})
	}
	for _, who := range []string{"imdsd", "imdsd-quiet"} {
		c, ok := res.pairedRatio("cred-get", who, "ceiling", 64, "rps")
		add(who+": credential GET at 64 connections ≥ 0.9 × ceiling req/s", ok, c >= 0.9, paired(c, ok))
		m, ok := res.pairedRatio("cred-get", who, "mock", 64, "rps")
		add(who+": credential GET at 64 connections ≥ 1.5 × mock req/s", ok, m >= 1.5, paired(m, ok))
		for _, conns := range []int{16, 64} {
			p, ok := res.pairedRatio("cred-get", who, "ceiling", conns, "p99_us")
			add(fmt.Sprintf("%s: credential GET p99 at %d connections ≤ 1.2 × ceiling", who, conns), ok, p <= 1.2, paired(p, ok))
		}
	}
	for _, conns := range []int{16, 64} {
		p, ok := res.pairedRatio(pinnedTest, "imdsd", "ceiling", conns, "p99_us")
		add(fmt.Sprintf("imdsd: credential GET p99 at %d connections ≤ 1.2 × ceiling, wrk and server on separate cores", conns), ok, p <= 1.2, paired(p, ok))
	}
	a, ok1 := res.one("sdk-fetch", "imdsd", 1, "p50_us")
	b, ok2 := res.one("sdk-fetch", "ceiling", 1, "p50_us")
	add("Go SDK fetch (3 requests) median ≤ 1.2 × ceiling", ok1 && ok2, b > 0 && a/b <= 1.2, ratio(a, b))
	var clients int
	for _, r := range res.rows {
		if r.Test == "sts" {
			clients = r.Conns
		}
	}
	refreshes, ok1 := res.one("sts", "imdsd", clients, "refreshes")
	sets, ok2 := res.one("sts", "imdsd", clients, "credential_sets_served")
	calls, _ := res.one("sts", "imdsd", clients, "sts_calls")
	add("exactly 1 STS call per role per refresh", ok1 && ok2, refreshes >= 1 && calls == sets,
		fmt.Sprintf("%.0f calls for %.0f credential sets (%.0f refreshes, %d clients)", calls, sets, refreshes, clients))
	idle, ok := res.one("resources", "imdsd", 0, "rss_kb_idle")
	add("RSS idle < 20 MB", ok, idle < 20*1024, fmt.Sprintf("%.1f MiB", idle/1024))
	load, ok := res.one("resources", "imdsd", 0, "rss_kb_load")
	n, _ := res.one("resources", "imdsd", 0, "requests_load")
	add("RSS after 1,000,000 requests < 40 MB", ok && n >= 1e6, load < 40*1024, fmt.Sprintf("%.1f MiB after %.0f requests", load/1024, n))

	w.f("### Goals (issue 7)\n")
	w.f("| goal | measured | holds |")
	w.f("|---|---|---|")
	for _, g := range goals {
		verdict := "not measured"
		if g.known {
			verdict = map[bool]string{true: "yes", false: "**no**"}[g.ok]
		}
		w.f("| %s | %s | %s |", g.text, g.measured, verdict)
	}
	w.f("")
}
