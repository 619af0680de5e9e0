package schedules

import (
	"cmp"
	"fmt"
	"slices"
	"time"
)

// MinGap is the least time between the starts of runs of two different
// schedules, jitter included, for every configuration the tests try. The
// predecessor's tickers all woke in the same second every 600 s; with
// harmonic intervals (30 s, 1 min, 5 min, 10 min) and no offset, Schedules
// do the same. Each Definition therefore gets a phase offset.
const MinGap = 5 * time.Second

// maxJitter bounds each schedule's jitter. The offsets keep schedules
// apart; jitter only blurs each run's start, and a long one would leave no
// room between the Xray watch's 30-second runs.
const maxJitter = 5 * time.Second

// jitter is the jitter of a schedule that runs every d.
func jitter(every time.Duration) time.Duration {
	return min(every/10, maxJitter).Truncate(time.Second)
}

// place gives each definition an offset within its interval such that no
// two runs of different schedules start within MinGap of each other. When
// the configured intervals leave no room for that, it drops the jitter
// (the offsets alone then keep runs apart) and then accepts a smaller gap,
// down to a second. The result depends only on the intervals, so every
// worker computes the same offsets and Ensure finds nothing to change.
func place(defs []Definition) ([]Definition, error) {
	unjittered := slices.Clone(defs)
	for i := range unjittered {
		unjittered[i].Jitter = 0
	}
	for _, try := range []struct {
		defs []Definition
		gap  time.Duration
	}{{defs, MinGap}, {unjittered, MinGap}, {unjittered, 2 * time.Second}, {unjittered, time.Second}} {
		if out, ok := placeWithGap(try.defs, try.gap); ok {
			return out, nil
		}
	}
	return nil, fmt.Errorf("the schedules' intervals leave no room to keep their runs a second apart (%s): choose intervals that are multiples of 30s", describeIntervals(defs))
}

// placeWithGap places the most frequent schedules first (they constrain
// the rest most), each at the earliest whole second that keeps clear of
// those already placed.
func placeWithGap(defs []Definition, gap time.Duration) ([]Definition, bool) {
	order := make([]int, len(defs))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return cmp.Compare(defs[a].Every, defs[b].Every) })

	out := slices.Clone(defs)
	var placed []Definition
	for _, i := range order {
		d := out[i]
		found := false
		for o := time.Duration(0); o < d.Every; o += time.Second {
			d.Offset = o
			if clearOfAll(d, placed, gap) {
				found = true
				break
			}
		}
		if !found {
			return nil, false
		}
		out[i] = d
		placed = append(placed, d)
	}
	return out, true
}

func clearOfAll(d Definition, placed []Definition, gap time.Duration) bool {
	for _, p := range placed {
		if !clear(p, d, gap) {
			return false
		}
	}
	return true
}

// clear reports whether runs of a and b never start within gap of each
// other. Over time, the differences between their planned starts take
// every value (b.Offset - a.Offset) + m*g, where g is the greatest common
// divisor of the intervals, so only the two nearest values matter: b's run
// must start at least a's jitter plus gap after a's, and a's next one at
// least b's jitter plus gap after b's.
func clear(a, b Definition, gap time.Duration) bool {
	g := gcd(a.Every, b.Every)
	delta := ((b.Offset-a.Offset)%g + g) % g
	return delta >= a.Jitter+gap && g-delta >= b.Jitter+gap
}

func gcd(a, b time.Duration) time.Duration {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

func describeIntervals(defs []Definition) string {
	var s string
	for i, d := range defs {
		if i > 0 {
			s += ", "
		}
		s += fmt.Sprintf("%s every %s", d.ID, d.Every)
	}
	return s
}
