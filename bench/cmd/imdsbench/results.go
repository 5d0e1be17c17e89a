package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
)

// Row is one measured value.
type Row struct {
	Test      string // e.g. "cred-get", "sdk-fetch"
	Contender string // "imdsd", "ceiling", "mock", ...
	Conns     int
	Round     string // round number, or "all" for a value over all rounds
	Metric    string // e.g. "rps", "p99_us"
	Value     float64
}

// writeRow prints r as one tab-separated line.
func writeRow(w io.Writer, r Row) {
	fmt.Fprintf(w, "%s\t%s\t%d\t%s\t%s\t%g\n", r.Test, r.Contender, r.Conns, r.Round, r.Metric, r.Value)
}

// readRows reads a results file; lines that are not rows are skipped.
func readRows(path string) ([]Row, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var rows []Row
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Split(sc.Text(), "\t")
		if len(fields) != 6 {
			continue
		}
		conns, err1 := strconv.Atoi(fields[2])
		v, err2 := strconv.ParseFloat(fields[5], 64)
		if err1 != nil || err2 != nil {
			continue
		}
		rows = append(rows, Row{fields[0], fields[1], conns, fields[3], fields[4], v})
	}
	return rows, sc.Err()
}

// Results indexes rows for the report and the chart.
type Results struct{ rows []Row }

// values returns the values of one metric, one per round (rows of round
// "all" only when all is true).
func (r Results) values(test, contender string, conns int, metric string, all bool) []float64 {
	var out []float64
	for _, row := range r.rows {
		if row.Test == test && row.Contender == contender && row.Conns == conns && row.Metric == metric && (row.Round == "all") == all {
			out = append(out, row.Value)
		}
	}
	return out
}

// median returns the median over rounds of a metric, and whether any
// round measured it.
func (r Results) median(test, contender string, conns int, metric string) (float64, bool) {
	v := r.values(test, contender, conns, metric, false)
	if len(v) == 0 {
		return 0, false
	}
	return median(v), true
}

// one returns the value of a metric measured once ("all").
func (r Results) one(test, contender string, conns int, metric string) (float64, bool) {
	v := r.values(test, contender, conns, metric, true)
	if len(v) == 0 {
		return 0, false
	}
	return v[len(v)-1], true
}

// conns returns the connection counts measured for test, ascending.
func (r Results) conns(test string) []int {
	seen := map[int]bool{}
	var out []int
	for _, row := range r.rows {
		if row.Test == test && !seen[row.Conns] {
			seen[row.Conns] = true
			out = append(out, row.Conns)
		}
	}
	slices.Sort(out)
	return out
}

// pairedRatio returns the median over rounds of a's value divided by b's in
// the same round. Contenders run back to back within a round, so a paired
// ratio cancels the slow swings of a shared machine's load better than a
// ratio of medians does.
func (r Results) pairedRatio(test, a, b string, conns int, metric string) (float64, bool) {
	byRound := map[string]float64{}
	for _, row := range r.rows {
		if row.Test == test && row.Contender == b && row.Conns == conns && row.Metric == metric && row.Round != "all" {
			byRound[row.Round] = row.Value
		}
	}
	var ratios []float64
	for _, row := range r.rows {
		if row.Test == test && row.Contender == a && row.Conns == conns && row.Metric == metric && row.Round != "all" {
			if d, ok := byRound[row.Round]; ok && d > 0 {
				ratios = append(ratios, row.Value/d)
			}
		}
	}
	if len(ratios) == 0 {
		return 0, false
	}
	return median(ratios), true
}
