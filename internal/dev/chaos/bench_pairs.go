package chaos

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
)

// Issue 11's goal for the pipeline is a ratio: the shop's purchase at
// saturation against the minimal pipeline of the same shape
// (bench_minimal.go), on the same server in the same run. One pair is
// noisy on a shared 2-core machine, so the case runs pairs of the two,
// interleaved (the order alternates, so a drift in the machine's load
// favours neither), and reports the median of the pairs' ratios.

// PairRow is one interleaved pair: the same number of purchases at the
// same concurrency through the shop and through the minimal pipeline.
type PairRow struct {
	Shop, Minimal BenchRow
}

// Ratio is the shop's completed purchases per second over the minimal
// pipeline's.
func (p PairRow) Ratio() float64 {
	if p.Minimal.PerSecond == 0 {
		return 0
	}
	return p.Shop.PerSecond / p.Minimal.PerSecond
}

// medianRatio is the median of the pairs' ratios.
func medianRatio(pairs []PairRow) float64 {
	if len(pairs) == 0 {
		return 0
	}
	r := make([]float64, len(pairs))
	for i, p := range pairs {
		r[i] = p.Ratio()
	}
	slices.Sort(r)
	if len(r)%2 == 1 {
		return r[len(r)/2]
	}
	return (r[len(r)/2-1] + r[len(r)/2]) / 2
}

// pairCases runs opts.Pairs pairs of opts.Purchases purchases each; first
// numbers the shop's users after the earlier cases' ones.
func (sys *system) pairCases(ctx context.Context, d *driver, opts BenchOptions, first int, r *BenchReport, out io.Writer) error {
	stop, err := sys.startMinimal(ctx)
	if err != nil {
		return err
	}
	defer stop()
	for i := range opts.Pairs {
		fmt.Fprintf(out, "bench: pair %d of %d: preparing %d invoices\n", i+1, opts.Pairs, opts.Purchases)
		invs, err := d.prepareInvoices(ctx, opts.Purchases, first+i*opts.Purchases)
		if err != nil {
			return err
		}
		var p PairRow
		var minimalErr error
		shop := func() {
			p.Shop = sys.measure(ctx, fmt.Sprintf("pair %d: pipeline", i+1), func() BenchRow {
				return d.payAll(ctx, invs, opts.Concurrency, 0)
			})
			p.Shop.Events = sys.eventsPerPurchase(ctx, invs)
		}
		minimal := func() {
			p.Minimal = sys.measure(ctx, fmt.Sprintf("pair %d: minimal pipeline", i+1), func() BenchRow {
				row, err := sys.runMinimal(ctx, d, opts.Purchases, i*opts.Purchases, opts.Concurrency)
				minimalErr = err
				return row
			})
		}
		if i%2 == 0 {
			shop()
			minimal()
		} else {
			minimal()
			shop()
		}
		if minimalErr != nil {
			return fmt.Errorf("minimal pipeline: %w", minimalErr)
		}
		p.Minimal.WorkerCPU = -1 // its worker is this process
		r.Pairs = append(r.Pairs, p)
		r.Rows = append(r.Rows, p.Shop, p.Minimal)
		fmt.Fprintf(out, "bench: pair %d: pipeline %.1f/s, minimal %.1f/s (%.0f%%)\n", i+1, p.Shop.PerSecond, p.Minimal.PerSecond, 100*p.Ratio())
	}
	return nil
}

// printPairs writes the pairs' ratios and their median.
func (r *BenchReport) printPairs(w io.Writer) {
	if len(r.Pairs) == 0 {
		return
	}
	each := make([]string, len(r.Pairs))
	for i, p := range r.Pairs {
		each[i] = fmt.Sprintf("%.0f%%", 100*p.Ratio())
	}
	fmt.Fprintf(w, "pipeline ÷ minimal pipeline of the same shape, median of %d interleaved pairs: %.0f%% (%s)\n",
		len(r.Pairs), 100*medianRatio(r.Pairs), strings.Join(each, ", "))
}
