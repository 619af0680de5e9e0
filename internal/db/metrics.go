package db

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
)

// poolCollector reads pgxpool's counters at scrape time. These are the
// numbers the legacy freeze audit wished it had: a pool that is full
// (acquired == max) with a growing empty-acquire count and wait time is a
// pool being starved, long before requests time out.
type poolCollector struct {
	pool *pgxpool.Pool

	acquired, idle, total, max, constructing  *prometheus.Desc
	acquires, emptyAcquires, canceledAcquires *prometheus.Desc
	acquireWait, emptyAcquireWait             *prometheus.Desc
	newConns, lifetimeDestroys, idleDestroys  *prometheus.Desc
}

// NewPoolCollector exposes pool's statistics as vpnflow_db_pool_* metrics
// labelled pool=name (name tells the pools of one process apart).
func NewPoolCollector(pool *pgxpool.Pool, name string) prometheus.Collector {
	labels := prometheus.Labels{"pool": name}
	d := func(metric, help string) *prometheus.Desc {
		return prometheus.NewDesc("vpnflow_db_pool_"+metric, help, nil, labels)
	}
	return &poolCollector{
		pool:             pool,
		acquired:         d("acquired_conns", "Connections currently checked out of the pool."),
		idle:             d("idle_conns", "Connections idle in the pool."),
		total:            d("total_conns", "Connections open (acquired, idle and being constructed)."),
		max:              d("max_conns", "Maximum size of the pool."),
		constructing:     d("constructing_conns", "Connections being opened."),
		acquires:         d("acquires_total", "Successful acquires from the pool."),
		emptyAcquires:    d("empty_acquires_total", "Acquires that had to wait because no connection was idle."),
		canceledAcquires: d("canceled_acquires_total", "Acquires abandoned because their context ended."),
		acquireWait:      d("acquire_wait_seconds_total", "Cumulative time spent acquiring connections."),
		emptyAcquireWait: d("empty_acquire_wait_seconds_total", "Cumulative time acquires spent waiting for a free connection."),
		newConns:         d("new_conns_total", "Connections opened."),
		lifetimeDestroys: d("max_lifetime_destroys_total", "Connections closed for reaching their maximum lifetime."),
		idleDestroys:     d("max_idle_destroys_total", "Connections closed for idling too long."),
	}
}

func (c *poolCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{
		c.acquired, c.idle, c.total, c.max, c.constructing,
		c.acquires, c.emptyAcquires, c.canceledAcquires, c.acquireWait, c.emptyAcquireWait,
		c.newConns, c.lifetimeDestroys, c.idleDestroys,
	} {
		ch <- d
	}
}

func (c *poolCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.pool.Stat()
	gauge := func(d *prometheus.Desc, v float64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v)
	}
	counter := func(d *prometheus.Desc, v float64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v)
	}
	gauge(c.acquired, float64(s.AcquiredConns()))
	gauge(c.idle, float64(s.IdleConns()))
	gauge(c.total, float64(s.TotalConns()))
	gauge(c.max, float64(s.MaxConns()))
	gauge(c.constructing, float64(s.ConstructingConns()))
	counter(c.acquires, float64(s.AcquireCount()))
	counter(c.emptyAcquires, float64(s.EmptyAcquireCount()))
	counter(c.canceledAcquires, float64(s.CanceledAcquireCount()))
	counter(c.acquireWait, s.AcquireDuration().Seconds())
	counter(c.emptyAcquireWait, s.EmptyAcquireWaitTime().Seconds())
	counter(c.newConns, float64(s.NewConnsCount()))
	counter(c.lifetimeDestroys, float64(s.MaxLifetimeDestroyCount()))
	counter(c.idleDestroys, float64(s.MaxIdleDestroyCount()))
}

// OpenMetered opens a pool and registers its collector, named for the
// process, on reg: the pool statistics every vpnflow process exposes.
func OpenMetered(ctx context.Context, databaseURL string, reg prometheus.Registerer, name string, opts ...Option) (*pgxpool.Pool, error) {
	pool, err := Open(ctx, databaseURL, opts...)
	if err != nil {
		return nil, err
	}
	if err := reg.Register(NewPoolCollector(pool, name)); err != nil {
		pool.Close()
		return nil, fmt.Errorf("register %s pool metrics: %w", name, err)
	}
	return pool, nil
}
