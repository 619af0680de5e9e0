package schedules_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"vpnflow/internal/config"
	"vpnflow/internal/schedules"
)

// window is when one run of a schedule may start: its planned time, up to
// its jitter later.
type window struct {
	id         string
	start, end time.Duration // since midnight
}

// simulateDay lists every window of every schedule over the day that starts
// at day (since the Unix epoch), as the Temporal server places them: at
// epoch + Offset + k*Every, plus up to Jitter. Intervals that do not divide
// a day fall differently each day, so the test simulates several.
func simulateDay(defs []schedules.Definition, day time.Duration) []window {
	var ws []window
	for _, d := range defs {
		first := d.Offset + (day-d.Offset+d.Every-1)/d.Every*d.Every
		for t := first; t < day+24*time.Hour; t += d.Every {
			ws = append(ws, window{d.ID, t - day, t - day + d.Jitter})
		}
	}
	slices.SortFunc(ws, func(a, b window) int { return int(a.start - b.start) })
	return ws
}

// closest is the smallest gap between windows of two different schedules,
// with the pair: the start of one after the end of the latest-ending
// earlier window of another.
func closest(ws []window) (time.Duration, string) {
	best, pair := 24*time.Hour, ""
	for i, w := range ws {
		for j := i - 1; j >= 0 && ws[j].start > w.start-2*time.Hour; j-- {
			p := ws[j]
			if p.id == w.id {
				continue
			}
			if gap := w.start - p.end; gap < best {
				best, pair = gap, fmt.Sprintf("%s at %s and %s at %s", p.id, p.start, w.id, w.start)
			}
		}
	}
	return best, pair
}

// TestSchedulesNeverFireTogether simulates a day of the Schedules as
// Definitions gives them, with each run anywhere within its jitter, and
// checks that no two schedules ever start within MinGap of each other. The
// predecessor's tickers all woke together every 600 s; harmonic intervals
// with no phase offset do the same.
func TestSchedulesNeverFireTogether(t *testing.T) {
	for _, tc := range []struct {
		env map[string]string
		gap time.Duration // the least gap these intervals allow
	}{
		{map[string]string{}, schedules.MinGap}, // the defaults
		{map[string]string{"RECONCILE_INTERVAL": "5m", "XRAY_WATCH_INTERVAL": "1m", "HEALTH_CHECK_INTERVAL": "2m"}, schedules.MinGap},
		{map[string]string{"RECONCILE_INTERVAL": "1h", "XRAY_WATCH_INTERVAL": "20s", "HEALTH_CHECK_INTERVAL": "30s"}, schedules.MinGap},
		// Intervals sharing only 15 s: the runs lose their jitter and keep
		// a smaller gap, but still never coincide.
		{map[string]string{"RECONCILE_INTERVAL": "7m", "XRAY_WATCH_INTERVAL": "45s", "HEALTH_CHECK_INTERVAL": "90s"}, 2 * time.Second},
	} {
		env := tc.env
		t.Run(fmt.Sprint(env), func(t *testing.T) {
			cfg, err := config.LoadFrom(env)
			if err != nil {
				t.Fatal(err)
			}
			all, err := schedules.Definitions(cfg)
			if err != nil {
				t.Fatal(err)
			}
			// A continuous workflow (the notice drain) runs all the time;
			// the others are the ones that fire.
			var defs []schedules.Definition
			for _, d := range all {
				if !d.Continuous {
					defs = append(defs, d)
				}
			}
			for _, date := range []time.Time{
				time.Date(2026, 12, 4, 0, 0, 0, 0, time.UTC),
				time.Date(2027, 3, 28, 0, 0, 0, 0, time.UTC),
			} {
				ws := simulateDay(defs, time.Duration(date.Unix())*time.Second)
				gap, pair := closest(ws)
				t.Logf("%s: %d runs; closest: %s apart (%s)", date.Format(time.DateOnly), len(ws), gap, pair)
				if gap < tc.gap {
					t.Errorf("%s: two schedules start %s apart (%s), want at least %s", date.Format(time.DateOnly), gap, pair, tc.gap)
				}
			}
			for _, d := range defs {
				if d.Offset < 0 || d.Offset >= d.Every {
					t.Errorf("%s: offset %s outside its interval %s", d.ID, d.Offset, d.Every)
				}
			}
		})
	}
}

// A revocation run watches for storms for RevokeWatch and must end before
// the next run can start: a start the Schedule skips (overlap SKIP) would
// leave the storms after the watch to the run after that, 30 s later.
func TestRevokeWatchEndsBeforeTheNextRun(t *testing.T) {
	cfg, err := config.LoadFrom(map[string]string{})
	if err != nil {
		t.Fatal(err)
	}
	defs, err := schedules.Definitions(cfg)
	if err != nil {
		t.Fatal(err)
	}
	const lastSweep = 2 * time.Second // the final sweep's margin
	for _, d := range defs {
		if d.ID != schedules.RevokeID {
			continue
		}
		// The run started as late as its jitter allows; the next as early.
		if end, next := d.Jitter+schedules.RevokeWatch+lastSweep, d.Every; end > next {
			t.Fatalf("a run may watch until %s after its planned start, the next starts at %s", end, next)
		}
		return
	}
	t.Fatalf("no %s schedule", schedules.RevokeID)
}
