package metrics

import "github.com/prometheus/client_golang/prometheus"

// SchedulerSample is the role scheduler's state at scrape time.
type SchedulerSample struct {
	InFlight  int     // STS calls running now
	Queued    int     // fetches waiting for a permit
	Throttles int64   // fetches STS answered with a throttling error
	Rate      float64 // calls per second allowed now
}

var (
	descInFlight = prometheus.NewDesc(namespace+"_sts_in_flight",
		"STS calls (credential fetches) running now, over every role.", nil, nil)
	descQueued = prometheus.NewDesc(namespace+"_sts_queue_length",
		"Credential fetches waiting for the scheduler's permit.", nil, nil)
	descThrottles = prometheus.NewDesc(namespace+"_sts_throttles_total",
		"Credential fetches STS answered with a throttling error; each slows the whole scheduler.", nil, nil)
	descRate = prometheus.NewDesc(namespace+"_sts_rate_limit",
		"STS calls per second the scheduler allows now: the configured sts_rate, or less after throttling.", nil, nil)
)

// schedulerCollector reports the scheduler's gauges at scrape time.
type schedulerCollector struct{ m *Metrics }

func (c schedulerCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- descInFlight
	ch <- descQueued
	ch <- descThrottles
	ch <- descRate
}

func (c schedulerCollector) Collect(ch chan<- prometheus.Metric) {
	if c.m.opts.Scheduler == nil {
		return
	}
	s := c.m.opts.Scheduler()
	ch <- prometheus.MustNewConstMetric(descInFlight, prometheus.GaugeValue, float64(s.InFlight))
	ch <- prometheus.MustNewConstMetric(descQueued, prometheus.GaugeValue, float64(s.Queued))
	ch <- prometheus.MustNewConstMetric(descThrottles, prometheus.CounterValue, float64(s.Throttles))
	ch <- prometheus.MustNewConstMetric(descRate, prometheus.GaugeValue, s.Rate)
}
