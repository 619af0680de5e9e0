package chaos

import (
	"math/rand/v2"
	"reflect"
	"testing"
	"time"
)

// TestFaultPlanIsSeededAndCoversEveryFault: one seed gives one order, and
// every fault comes up once before any repeats.
func TestFaultPlanIsSeededAndCoversEveryFault(t *testing.T) {
	draw := func(seed uint64) (order []Fault, gaps []time.Duration) {
		p := &faultPlan{rng: rand.New(rand.NewPCG(seed, 1)), set: AllFaults,
			gapMin: time.Second, gapMax: 3 * time.Second, holdMin: 30 * time.Second, holdMax: 2 * time.Minute}
		for range 2 * len(AllFaults) {
			f, gap, hold := p.next()
			if gap < time.Second || gap >= 3*time.Second || hold < 30*time.Second || hold >= 2*time.Minute {
				t.Fatalf("gap %s or hold %s out of bounds", gap, hold)
			}
			order, gaps = append(order, f), append(gaps, gap)
		}
		return order, gaps
	}
	a, ga := draw(42)
	b, gb := draw(42)
	if !reflect.DeepEqual(a, b) || !reflect.DeepEqual(ga, gb) {
		t.Fatalf("same seed, different plans:\n%v\n%v", a, b)
	}
	for round := range 2 {
		seen := map[Fault]bool{}
		for _, f := range a[round*len(AllFaults) : (round+1)*len(AllFaults)] {
			seen[f] = true
		}
		if len(seen) != len(AllFaults) {
			t.Fatalf("round %d has %d distinct faults, want all %d: %v", round, len(seen), len(AllFaults), a)
		}
	}
	if c, _ := draw(43); reflect.DeepEqual(a, c) {
		t.Errorf("seeds 42 and 43 give the same order %v", a)
	}
}

func TestParseFaults(t *testing.T) {
	got, err := ParseFaults([]string{"kill-xray", "freeze-xray"})
	if err != nil || !reflect.DeepEqual(got, []Fault{KillXray, FreezeXray}) {
		t.Fatalf("ParseFaults = %v, %v", got, err)
	}
	if all, err := ParseFaults([]string{"all"}); err != nil || len(all) != len(AllFaults) {
		t.Fatalf("all = %v, %v", all, err)
	}
	if _, err := ParseFaults([]string{"kill-everything"}); err == nil {
		t.Fatal("an unknown fault was accepted")
	}
}
