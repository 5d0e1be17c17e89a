package main

import (
	"strings"
	"testing"
)

// pinnedRows are two rounds of the pinned test at 16 connections: imdsd's
// p99 is 1.1x the ceiling's in round 1 and 1.3x in round 2, and ceiling-sdk's
// is 1.4x and 1.5x; imdsd had 2 errors in round 2.
func pinnedRows() []Row {
	r := func(c, round, m string, v float64) Row { return Row{pinnedTest, c, 16, round, m, v} }
	return []Row{
		r("imdsd", "1", "rps", 1000), r("ceiling", "1", "rps", 1000), r("ceiling-sdk", "1", "rps", 900),
		r("imdsd", "1", "p99_us", 550), r("ceiling", "1", "p99_us", 500), r("ceiling-sdk", "1", "p99_us", 700),
		r("imdsd", "2", "rps", 1100), r("ceiling", "2", "rps", 1000), r("ceiling-sdk", "2", "rps", 950),
		r("imdsd", "2", "p99_us", 650), r("ceiling", "2", "p99_us", 500), r("ceiling-sdk", "2", "p99_us", 750),
		r("imdsd", "2", "errors", 2),
	}
}

func TestReportPinned(t *testing.T) {
	var b strings.Builder
	reportPinned(&mdWriter{w: &b}, Results{pinnedRows()})
	out := b.String()
	for _, want := range []string{
		"separate cores",
		// req/s median 1050, 1.05x the ceiling; p99 median 0.60 ms; paired
		// p99 ratios: median of 1.1 and 1.3 against the ceiling, of 550/700
		// and 650/750 against ceiling-sdk.
		"| 16 | imdsd | 1050 | 0.00 | 0.00 | 0.60 | 0.00 | 1.05× | 1.20× | 0.83× | 2 |",
		"| 16 | ceiling | 1000 |",
		"| 16 | ceiling-sdk | 925 |",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
}

func TestReportPinned_NoRowsNoTable(t *testing.T) {
	var b strings.Builder
	reportPinned(&mdWriter{w: &b}, Results{})
	if b.Len() != 0 {
		t.Errorf("report without pinned rows printed:\n%s", b.String())
	}
}

func TestReportGoals_Pinned(t *testing.T) {
	tests := []struct {
		name  string
		p99   float64 // imdsd's p99 in both rounds; the ceiling's is 500
		holds string
	}{
		{"within", 600, "| 1.20× | yes |"},
		{"over", 610, "| 1.22× | **no** |"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rows := pinnedRows()
			for i := range rows {
				if rows[i].Contender == "imdsd" && rows[i].Metric == "p99_us" {
					rows[i].Value = tt.p99
				}
			}
			var b strings.Builder
			reportGoals(&mdWriter{w: &b}, Results{rows})
			want := "| imdsd: credential GET p99 at 16 connections ≤ 1.2 × ceiling, wrk and server on separate cores " + tt.holds
			if !strings.Contains(b.String(), want) {
				t.Errorf("goals lack %q:\n%s", want, b.String())
			}
			want64 := "| imdsd: credential GET p99 at 64 connections ≤ 1.2 × ceiling, wrk and server on separate cores | – | not measured |"
			if !strings.Contains(b.String(), want64) {
				t.Errorf("goals lack %q:\n%s", want64, b.String())
			}
		})
	}
}
