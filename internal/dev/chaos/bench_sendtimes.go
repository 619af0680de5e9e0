package chaos

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"slices"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// The worker's Telegram send pace, read from its histograms: how long
// paced sends waited for their turn (vpnflow_telegram_send_wait_seconds)
// and how long each took to be answered (vpnflow_telegram_send_seconds),
// whose sum with a second is what a send holds in the pace's window.
const (
	sendWaitMetric = "vpnflow_telegram_send_wait_seconds"
	sendTripMetric = "vpnflow_telegram_send_seconds"
)

// sendSnapshot is one reading of the send histograms, by metric name.
type sendSnapshot map[string]buckets

// readSends reads the worker's send histograms from its /metrics; a
// reading that fails is empty, and the figures say "not read".
func (s *system) readSends(ctx context.Context) sendSnapshot {
	out := sendSnapshot{}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+s.stack.Config.WorkerMetricsAddr+"/metrics", nil)
	if err != nil {
		return out
	}
	resp, err := (&http.Client{Timeout: 5 * time.Second}).Do(req)
	if err != nil {
		return out
	}
	defer resp.Body.Close()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		return out
	}
	for _, name := range []string{sendWaitMetric, sendTripMetric} {
		fam := families[name]
		if fam == nil || len(fam.GetMetric()) == 0 {
			continue
		}
		h := fam.GetMetric()[0].GetHistogram()
		var b buckets
		for _, bk := range h.GetBucket() {
			b.upper = append(b.upper, bk.GetUpperBound())
			b.cum = append(b.cum, bk.GetCumulativeCount())
		}
		b.upper = append(b.upper, math.Inf(1))
		b.cum = append(b.cum, h.GetSampleCount())
		out[name] = b
	}
	return out
}

// sendTimes is the pace's waits and round trips between two readings.
type sendTimes struct {
	Waits, Trips buckets
}

func sendsBetween(before, after sendSnapshot) sendTimes {
	minus := func(name string) buckets {
		b, prev := after[name], before[name]
		d := buckets{upper: b.upper, cum: slices.Clone(b.cum)}
		if len(prev.cum) == len(d.cum) {
			for i := range d.cum {
				d.cum[i] -= prev.cum[i]
			}
		}
		return d
	}
	return sendTimes{Waits: minus(sendWaitMetric), Trips: minus(sendTripMetric)}
}

func (s sendTimes) String() string {
	if s.Trips.count() == 0 {
		return "paced sends not read"
	}
	q := func(b buckets) string {
		ms := func(p float64) int64 { return b.quantile(p).Milliseconds() }
		return fmt.Sprintf("p50 %dms p90 %dms p99 %dms", ms(.5), ms(.9), ms(.99))
	}
	return fmt.Sprintf("%d paced sends waited %s for their turn and were answered after %s", s.Trips.count(), q(s.Waits), q(s.Trips))
}
