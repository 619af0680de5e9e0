package chaos

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"vpnflow/internal/shop"
)

// moveExpiries does what the sandbox's "expire in" does for each user (the
// stored expiry moved, then the user's Subscription workflow told through
// the replacing extension), but with one statement for all and a signal
// each: setting up 10,000 would otherwise start 10,000 workflows, about 40
// minutes of the dev server before the storm begins.
func (s *system) moveExpiries(ctx context.Context, users []*user, at time.Time, out io.Writer) error {
	ids := make([]int64, len(users))
	for i, u := range users {
		ids[i] = u.id
	}
	tag, err := s.pool.Exec(ctx, `UPDATE subscriptions SET expires_at = $2, updated_at = now()
		WHERE user_id = ANY($1) AND status IN ('trial', 'active')`, ids, at)
	if err != nil {
		return fmt.Errorf("move the expiries to %s: %w", at.Format(time.TimeOnly), err)
	}
	if int(tag.RowsAffected()) != len(ids) {
		return fmt.Errorf("moved %d expiries, want %d: some trials are not live", tag.RowsAffected(), len(ids))
	}
	cfg := s.stack.Config
	policy := shop.SubscriptionPolicy(cfg.PaidStages, cfg.TrialStages, cfg.AutoRenewLead)
	ext := shop.Extension{
		ID: "bench-storm:" + at.UTC().Format(time.RFC3339), Kind: shop.ExtensionGrant,
		ExpiresAt: at, Trial: true, Replace: true,
	}
	fmt.Fprintf(out, "bench: expiry storm: telling %d workflows their expiry is %s\n", len(users), at.UTC().Format(time.TimeOnly))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(32)
	var told atomic.Int64
	for _, u := range users {
		g.Go(func() error {
			if err := shop.SignalSubscription(gctx, s.temporal, cfg.TaskQueue, policy, u.id, shop.SignalExtend, ext); err != nil {
				return err
			}
			if m := told.Add(1); m%1000 == 0 {
				fmt.Fprintf(out, "bench: expiry storm: %d of %d told, %s before the instant\n", m, len(users), time.Until(at).Round(time.Second))
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return fmt.Errorf("tell the workflows their new expiry: %w", err)
	}
	return nil
}

// poolPeak is the worker's database pool at its busiest during the storm,
// read from its vpnflow_db_pool_* metrics every 100 ms (a shorter peak can
// slip between two readings; EmptyAcquires cannot: it counts every
// acquire that found no idle connection).
type poolPeak struct {
	Acquired, Max int
	EmptyAcquires int // during the storm
	Samples       int
}

func (p poolPeak) String() string {
	if p.Samples == 0 || p.Max == 0 {
		return "not read"
	}
	return fmt.Sprintf("%d of %d connections at most (%.0f%%), %d acquires waited for one, %d readings",
		p.Acquired, p.Max, 100*float64(p.Acquired)/float64(p.Max), p.EmptyAcquires, p.Samples)
}

// watchPool reads the worker's pool metrics until ctx ends, then sends the
// peak.
func (s *system) watchPool(ctx context.Context) <-chan poolPeak {
	done := make(chan poolPeak, 1)
	url := "http://" + s.stack.Config.WorkerMetricsAddr + "/metrics"
	go func() {
		var peak poolPeak
		firstEmpty := -1
		lastEmpty := 0
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			if m, err := readPoolMetrics(ctx, url); err == nil {
				peak.Samples++
				peak.Acquired = max(peak.Acquired, m.acquired)
				peak.Max = max(peak.Max, m.max)
				if firstEmpty < 0 {
					firstEmpty = m.emptyAcquires
				}
				lastEmpty = m.emptyAcquires
			}
			select {
			case <-ctx.Done():
				if firstEmpty >= 0 {
					peak.EmptyAcquires = lastEmpty - firstEmpty
				}
				done <- peak
				return
			case <-tick.C:
			}
		}
	}()
	return done
}

type poolMetrics struct{ acquired, max, emptyAcquires int }

// readPoolMetrics sums the vpnflow_db_pool_* series of every pool the
// worker has.
func readPoolMetrics(ctx context.Context, url string) (poolMetrics, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return poolMetrics{}, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return poolMetrics{}, err
	}
	defer resp.Body.Close()
	var m poolMetrics
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 0, 64*1024), 1024*1024)
	for sc.Scan() {
		name, value, ok := metricLine(sc.Text())
		if !ok {
			continue
		}
		switch name {
		case "vpnflow_db_pool_acquired_conns":
			m.acquired += int(value)
		case "vpnflow_db_pool_max_conns":
			m.max += int(value)
		case "vpnflow_db_pool_empty_acquires_total":
			m.emptyAcquires += int(value)
		}
	}
	return m, sc.Err()
}

// metricLine splits a Prometheus text line into its name (labels dropped)
// and value.
func metricLine(line string) (string, float64, bool) {
	if line == "" || line[0] == '#' {
		return "", 0, false
	}
	sp := strings.LastIndexByte(line, ' ')
	if sp < 0 {
		return "", 0, false
	}
	v, err := strconv.ParseFloat(line[sp+1:], 64)
	if err != nil {
		return "", 0, false
	}
	name := line[:sp]
	if i := strings.IndexByte(name, '{'); i >= 0 {
		name = name[:i]
	}
	return name, v, true
}

// noticePace is the rate of the users' "has ended" notices from the first
// to the last, and the most that arrived in any one second.
func noticePace(d *driver, users []*user, at time.Time) (float64, int) {
	var first, last time.Time
	perSecond := map[int64]int{}
	count := 0
	for _, u := range users {
		for _, m := range d.tg.Messages(u.id) {
			if !strings.Contains(m.Text, "has ended") || m.Date.Before(at) {
				continue
			}
			count++
			perSecond[m.Date.Unix()]++
			if first.IsZero() || m.Date.Before(first) {
				first = m.Date
			}
			if m.Date.After(last) {
				last = m.Date
			}
			break
		}
	}
	peak := 0
	for _, c := range perSecond {
		peak = max(peak, c)
	}
	if count < 2 {
		return 0, peak
	}
	return float64(count) / max(last.Sub(first), time.Second).Seconds(), peak
}
