package chaos

import (
	"math"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestAnswerQuantilesFromTheBotsHistogram: the seed scenario's bot
// figures come from the difference of two /metrics readings, estimated
// within buckets as histogram_quantile does.
func TestAnswerQuantilesFromTheBotsHistogram(t *testing.T) {
	reading := func(le005, le01, le02, total int) string {
		return strings.NewReplacer("{A}", itoa(le005), "{B}", itoa(le01), "{C}", itoa(le02), "{T}", itoa(total)).Replace(`# HELP vpnflow_bot_first_answer_seconds x
# TYPE vpnflow_bot_first_answer_seconds histogram
vpnflow_bot_first_answer_seconds_bucket{update="button",le="0.05"} {A}
vpnflow_bot_first_answer_seconds_bucket{update="button",le="0.1"} {B}
vpnflow_bot_first_answer_seconds_bucket{update="button",le="0.2"} {C}
vpnflow_bot_first_answer_seconds_bucket{update="button",le="+Inf"} {T}
vpnflow_bot_first_answer_seconds_sum{update="button"} 1
vpnflow_bot_first_answer_seconds_count{update="button"} {T}
`)
	}
	before, err := parseAnswers(strings.NewReader(reading(10, 10, 10, 10)))
	if err != nil {
		t.Fatal(err)
	}
	after, err := parseAnswers(strings.NewReader(reading(10, 60, 110, 110)))
	if err != nil {
		t.Fatal(err)
	}
	b := after.since(before)["button"]
	if b.count() != 100 {
		t.Fatalf("answers between the readings = %d, want 100", b.count())
	}
	for _, c := range []struct {
		q    float64
		want time.Duration
	}{{0.5, 100 * time.Millisecond}, {0.99, 198 * time.Millisecond}, {0.25, 75 * time.Millisecond}} {
		if got := b.quantile(c.q); got.Round(time.Millisecond) != c.want {
			t.Errorf("quantile(%v) = %s, want %s", c.q, got, c.want)
		}
	}
	over := buckets{upper: []float64{0.1, inf()}, cum: []uint64{0, 5}}
	if got := over.quantile(0.99); got != 100*time.Millisecond {
		t.Errorf("beyond the last bound: %s, want the bound 100ms", got)
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

func inf() float64 { return math.Inf(1) }

// The full scenario holds the bot's answers to seedAnswerP99; the short
// run of `make test` prints them and still requires answers.
func TestSeedAnswerBoundHeldOnlyInTheFullScenario(t *testing.T) {
	slow := answerSnapshot{
		"message": buckets{upper: []float64{0.1, 0.5, inf()}, cum: []uint64{0, 10, 10}},
		"button":  buckets{upper: []float64{0.1, inf()}, cum: []uint64{10, 10}},
	}
	answerCheck := func(r *SeedReport) Check {
		for _, c := range r.seedChecks() {
			if strings.HasPrefix(c.Name, "bot") {
				return c
			}
		}
		t.Fatal("no answer check")
		return Check{}
	}
	if c := answerCheck(&SeedReport{Answers: slow}); len(c.Violations) != 1 {
		t.Errorf("full scenario, message p99 above 200ms: violations %v, want one", c.Violations)
	}
	if c := answerCheck(&SeedReport{Answers: slow, Options: SeedOptions{AnswerTimesPrinted: true}}); len(c.Violations) != 0 {
		t.Errorf("printed only: violations %v, want none", c.Violations)
	}
	none := answerSnapshot{"button": slow["button"]}
	if c := answerCheck(&SeedReport{Answers: none, Options: SeedOptions{AnswerTimesPrinted: true}}); len(c.Violations) != 1 {
		t.Errorf("no message answers at all must still fail: %v", c.Violations)
	}
}
