package metrics

import (
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
)

// PoolCollector reads a pgx pool's statistics at scrape time: saturation from the
// connection gauges, acquire wait from the counters. Register one per pool.
type PoolCollector struct {
	stat func() *pgxpool.Stat

	acquired, idle, total, constructing, max *prometheus.Desc
	acquires, acquireSeconds                 *prometheus.Desc
	emptyAcquires, emptyWaitSeconds          *prometheus.Desc
	canceledAcquires, newConns               *prometheus.Desc
}

// NewPoolCollector returns a collector over stat, normally a *pgxpool.Pool's Stat method.
func NewPoolCollector(stat func() *pgxpool.Stat) *PoolCollector {
	desc := func(name, help string) *prometheus.Desc {
		return prometheus.NewDesc(prometheus.BuildFQName(Namespace, "pool", name), help, nil, nil)
	}
	return &PoolCollector{
		stat:         stat,
		acquired:     desc("acquired_conns", "Connections currently checked out by requests."),
		idle:         desc("idle_conns", "Open connections waiting in the pool."),
		total:        desc("total_conns", "Open connections, acquired, idle and being opened."),
		constructing: desc("constructing_conns", "Connections being opened."),
		max:          desc("max_conns", "The pool's size limit (--pool-max-conns)."),
		acquires: desc("acquires_total",
			"Connections handed out by the pool."),
		acquireSeconds: desc("acquire_duration_seconds_total",
			"Total time spent acquiring connections, including the waits."),
		emptyAcquires: desc("empty_acquires_total",
			"Acquires that found no idle connection and had to wait or open one."),
		emptyWaitSeconds: desc("empty_acquire_wait_seconds_total",
			"Total time acquires spent waiting because no connection was idle."),
		canceledAcquires: desc("canceled_acquires_total",
			"Acquires given up before a connection came: acquire timeouts and "+
				"requests whose deadline passed."),
		newConns: desc("new_conns_total", "Connections opened to the server."),
	}
}

// Describe implements prometheus.Collector.
func (c *PoolCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{
		c.acquired, c.idle, c.total, c.constructing, c.max, c.acquires, c.acquireSeconds,
		c.emptyAcquires, c.emptyWaitSeconds, c.canceledAcquires, c.newConns,
	} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *PoolCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.stat()
	gauge := func(d *prometheus.Desc, v float64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v)
	}
	counter := func(d *prometheus.Desc, v float64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v)
	}
	gauge(c.acquired, float64(s.AcquiredConns()))
	gauge(c.idle, float64(s.IdleConns()))
	gauge(c.total, float64(s.TotalConns()))
	gauge(c.constructing, float64(s.ConstructingConns()))
	gauge(c.max, float64(s.MaxConns()))
	counter(c.acquires, float64(s.AcquireCount()))
	counter(c.acquireSeconds, s.AcquireDuration().Seconds())
	counter(c.emptyAcquires, float64(s.EmptyAcquireCount()))
	counter(c.emptyWaitSeconds, s.EmptyAcquireWaitTime().Seconds())
	counter(c.canceledAcquires, float64(s.CanceledAcquireCount()))
	counter(c.newConns, float64(s.NewConnsCount()))
}
