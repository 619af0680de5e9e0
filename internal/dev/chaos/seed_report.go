package chaos

import (
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// The seed scenario's bounds (issue 10): what "survived the incident"
// means.
const (
	seedAnswerP99   = 200 * time.Millisecond // the bot's first answer to a command or button press
	seedFlagLimit   = time.Minute            // the hang flagged, and the admins told, within this
	seedIdleLimit   = time.Second            // no transaction idle longer than this: far above a slowed round trip, far below any external call
	answerHistogram = "vpnflow_bot_first_answer_seconds"
)

// SeedReport is a finished seed scenario.
type SeedReport struct {
	Seed    uint64
	Options SeedOptions
	Elapsed time.Duration
	Faults  time.Duration // how long the faults lasted
	Fires   int           // rounds of every Schedule fired together
	// Triggers is how many Schedule triggers those rounds made, and
	// TriggersFailed the errors of those that failed.
	Triggers       int
	TriggersFailed []string
	Walks          int // menu walks completed during the faults
	Answers        answerSnapshot
	Watch          seedWatchResult
	Probe          *user         // a new user's trial right after the faults
	Drained        time.Duration // faults off → every purchase started under them finished
	AdminUp        time.Duration
	Users          []*user
	Checks         []Check
}

// OK reports whether every check passed.
func (r *SeedReport) OK() bool { return allOK(r.Checks) }

// seedChecks are the scenario's own checks, beside the chaos audit.
func (r *SeedReport) seedChecks() []Check {
	answers := Check{Name: fmt.Sprintf("bot's first answer p99 ≤ %s (commands, buttons)", seedAnswerP99)}
	if r.Options.AnswerTimesPrinted {
		answers.Name = "bot answered commands and buttons (times printed above)"
	}
	for _, kind := range []string{"message", "button"} {
		b := r.Answers[kind]
		answers.Items += int(b.count())
		if b.count() == 0 {
			answers.Violations = append(answers.Violations, kind+": no answers measured")
		} else if p := b.quantile(0.99); p > seedAnswerP99 && !r.Options.AnswerTimesPrinted {
			answers.Violations = append(answers.Violations, fmt.Sprintf("%s: p99 %s", kind, p))
		}
	}
	w := r.Watch
	flag := Check{Name: fmt.Sprintf("Xray hang flagged and admins told within %s", seedFlagLimit), Items: 2}
	if w.Flagged == 0 || w.Flagged > seedFlagLimit {
		flag.Violations = append(flag.Violations, fmt.Sprintf("health check flagged Xray after %s (0: never)", w.Flagged))
	}
	if w.AdminDown == 0 || w.AdminDown > seedFlagLimit {
		flag.Violations = append(flag.Violations, fmt.Sprintf("admins told after %s (0: never)", w.AdminDown))
	}
	if r.AdminUp == 0 {
		flag.Violations = append(flag.Violations, "admins never told Xray is back up")
	}
	idle := Check{Name: fmt.Sprintf("no transaction idle over %s", seedIdleLimit), Items: w.IdleSamples}
	if w.IdleLongest > seedIdleLimit {
		idle.Violations = append(idle.Violations, fmt.Sprintf("idle in transaction for %s: %s", w.IdleLongest, w.IdleQuery))
	}
	live := Check{Name: "bot and worker /healthz stay 200 (nothing is stuck)", Items: 2 * w.HealthzChecks}
	for name, n := range w.HealthzFailed {
		live.Violations = append(live.Violations, fmt.Sprintf("%s: %d failures, last %s", name, n, w.HealthzReason[name]))
	}
	healed := Check{Name: "a new user gets a trial key once the faults stop", Items: 1}
	switch {
	case r.Probe == nil:
		healed.Violations = append(healed.Violations, "probe: never ran")
	case r.Probe.err != nil:
		healed.Violations = append(healed.Violations, fmt.Sprintf("probe: %v", r.Probe.err))
	}
	fired := Check{Name: "every Schedule fired in every round", Items: r.Triggers, Violations: r.TriggersFailed}
	if r.Triggers == 0 {
		fired.Violations = append(fired.Violations, "no Schedule was fired")
	}
	return []Check{answers, flag, idle, live, healed, fired}
}

// Print writes the scenario's figures, then the audit table.
func (r *SeedReport) Print(w io.Writer) {
	o := r.Options
	purchases := 0
	for _, u := range r.Users {
		if !u.probe {
			purchases++
		}
	}
	fmt.Fprintf(w, "\nchaos-seed report: seed %d, faults held %s (Xray SIGSTOPped, PostgreSQL +%s per chunk each way, Telegram +%s per call, every Schedule fired together %d times), %d purchases started under the faults, %d menu walks, %s in all\n\n",
		r.Seed, r.Faults.Round(time.Second), o.DBDelay, o.TelegramDelay, r.Fires, purchases, r.Walks, r.Elapsed.Round(time.Second))
	fmt.Fprintf(w, "| %-44s | %-36s |\n", "measured (during the faults unless said)", "figure")
	fmt.Fprintf(w, "|%s|%s|\n", strings.Repeat("-", 46), strings.Repeat("-", 38))
	row := func(k, v string) { fmt.Fprintf(w, "| %-44s | %-36s |\n", k, v) }
	for _, kind := range []string{"message", "button", "pre_checkout", "payment"} {
		b := r.Answers[kind]
		if b.count() == 0 {
			continue
		}
		row("bot first answer, "+kind, fmt.Sprintf("n=%d p50 %s p95 %s p99 %s", b.count(),
			b.quantile(0.5).Round(time.Millisecond), b.quantile(0.95).Round(time.Millisecond), b.quantile(0.99).Round(time.Millisecond)))
	}
	wr := r.Watch
	row("Xray flagged down by the health check", orNever(wr.Flagged))
	row("admins told Xray is down", orNever(wr.AdminDown))
	row("idle-in-transaction samples (seen/taken)", fmt.Sprintf("%d/%d, longest %s", wr.IdleSeen, wr.IdleSamples, wr.IdleLongest.Round(time.Millisecond)))
	row("/healthz failures (bot, worker)", fmt.Sprintf("%d, %d of %d checks", wr.HealthzFailed["bot"], wr.HealthzFailed["worker"], wr.HealthzChecks))
	if r.Probe != nil {
		row("after: new user's trial key", r.Probe.took.Round(100*time.Millisecond).String())
	}
	row("after: every purchase finished", r.Drained.Round(time.Second).String())
	row("after: admins told Xray is back up", orNever(r.AdminUp))
	fmt.Fprintln(w)
	printChecks(w, r.Checks)
	printViolations(w, r.Checks)
	if r.OK() {
		fmt.Fprintln(w, "\nchaos-seed: survived, audit clean")
	} else {
		fmt.Fprintln(w, "\nchaos-seed: FAILED")
	}
}

func orNever(d time.Duration) string {
	if d == 0 {
		return "never"
	}
	return "after " + d.Round(100*time.Millisecond).String()
}

// answerSnapshot is the bot's first-answer histogram by update kind.
type answerSnapshot map[string]buckets

// buckets are a histogram's cumulative counts by upper bound, +Inf last.
type buckets struct {
	upper []float64 // seconds
	cum   []uint64
}

func (b buckets) count() uint64 {
	if len(b.cum) == 0 {
		return 0
	}
	return b.cum[len(b.cum)-1]
}

// quantile estimates the q-quantile as Prometheus's histogram_quantile
// does: linearly within the bucket the rank falls in.
func (b buckets) quantile(q float64) time.Duration {
	total := b.count()
	if total == 0 {
		return 0
	}
	rank := q * float64(total)
	lower, below := 0.0, uint64(0)
	for i, c := range b.cum {
		if float64(c) >= rank {
			upper := b.upper[i]
			if math.IsInf(upper, 1) {
				upper = lower // beyond the last bound: report the bound
			}
			in := float64(c - below)
			frac := 1.0
			if in > 0 {
				frac = (rank - float64(below)) / in
			}
			return time.Duration((lower + (upper-lower)*frac) * float64(time.Second))
		}
		lower, below = b.upper[i], c
	}
	return time.Duration(lower * float64(time.Second))
}

// since is s minus an earlier snapshot: the answers in between.
func (s answerSnapshot) since(before answerSnapshot) answerSnapshot {
	out := answerSnapshot{}
	for kind, b := range s {
		prev := before[kind]
		d := buckets{upper: b.upper, cum: slices.Clone(b.cum)}
		if len(prev.cum) == len(b.cum) {
			for i := range d.cum {
				d.cum[i] -= prev.cum[i]
			}
		}
		out[kind] = d
	}
	return out
}

// botAnswers reads the bot's first-answer histogram from its /metrics.
func (s *system) botAnswers(ctx context.Context) (answerSnapshot, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+s.stack.Config.HTTPAddr+"/metrics", nil)
	if err != nil {
		return nil, err
	}
	resp, err := (&http.Client{Timeout: 5 * time.Second}).Do(req)
	if err != nil {
		return nil, fmt.Errorf("bot metrics: %w", err)
	}
	defer resp.Body.Close()
	return parseAnswers(resp.Body)
}

func parseAnswers(r io.Reader) (answerSnapshot, error) {
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(r)
	if err != nil {
		return nil, fmt.Errorf("parse bot metrics: %w", err)
	}
	out := answerSnapshot{}
	fam := families[answerHistogram]
	if fam == nil {
		return out, nil
	}
	for _, m := range fam.GetMetric() {
		kind := ""
		for _, l := range m.GetLabel() {
			if l.GetName() == "update" {
				kind = l.GetValue()
			}
		}
		var b buckets
		for _, bk := range m.GetHistogram().GetBucket() {
			b.upper = append(b.upper, bk.GetUpperBound())
			b.cum = append(b.cum, bk.GetCumulativeCount())
		}
		if len(b.upper) == 0 || !math.IsInf(b.upper[len(b.upper)-1], 1) {
			b.upper = append(b.upper, math.Inf(1))
			b.cum = append(b.cum, m.GetHistogram().GetSampleCount())
		}
		out[kind] = b
	}
	return out, nil
}
