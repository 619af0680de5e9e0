package store

import "testing"

// TestChoosePlacement is the placement rule on its own: least share of
// capacity in use, room first, the chosen region first, enabled nodes only.
func TestChoosePlacement(t *testing.T) {
	n := func(id int16, region, state string, users, capacity int) nodeLoad {
		return nodeLoad{ID: id, Region: region, State: state, Users: users, Capacity: capacity}
	}
	cases := []struct {
		name     string
		nodes    []nodeLoad
		region   string
		overfill bool
		want     int16 // 0: none
	}{
		{"least share, not least users", []nodeLoad{n(1, "", NodeEnabled, 5, 10), n(2, "", NodeEnabled, 8, 100)}, "", false, 2},
		{"equal share: fewer users", []nodeLoad{n(1, "", NodeEnabled, 4, 20), n(2, "", NodeEnabled, 2, 10)}, "", false, 2},
		{"equal everything: older", []nodeLoad{n(2, "", NodeEnabled, 1, 10), n(1, "", NodeEnabled, 1, 10)}, "", false, 1},
		{"full node skipped", []nodeLoad{n(1, "", NodeEnabled, 10, 10), n(2, "", NodeEnabled, 99, 100)}, "", false, 2},
		{"all full: trial refused", []nodeLoad{n(1, "", NodeEnabled, 10, 10), n(2, "", NodeEnabled, 100, 100)}, "", false, 0},
		{"all full: paid overfills the least over", []nodeLoad{n(1, "", NodeEnabled, 12, 10), n(2, "", NodeEnabled, 100, 100)}, "", true, 2},
		{"draining and disabled skipped", []nodeLoad{n(1, "", NodeDraining, 0, 10), n(2, "", NodeDisabled, 0, 10), n(3, "", NodeEnabled, 9, 10)}, "", false, 3},
		{"only draining: nothing even paid", []nodeLoad{n(1, "", NodeDraining, 0, 10)}, "", true, 0},
		{"region wins over load", []nodeLoad{n(1, "eu", NodeEnabled, 0, 10), n(2, "us", NodeEnabled, 8, 10)}, "us", false, 2},
		{"region full: any other", []nodeLoad{n(1, "eu", NodeEnabled, 0, 10), n(2, "us", NodeEnabled, 10, 10)}, "us", false, 1},
		{"region unknown: any", []nodeLoad{n(1, "eu", NodeEnabled, 3, 10), n(2, "us", NodeEnabled, 1, 10)}, "asia", false, 2},
		{"all full, paid: region first", []nodeLoad{n(1, "eu", NodeEnabled, 10, 10), n(2, "us", NodeEnabled, 30, 10)}, "us", true, 2},
		{"no nodes", nil, "", true, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, ok := choosePlacement(c.nodes, c.region, c.overfill)
			if c.want == 0 {
				if ok {
					t.Fatalf("chose node %d, want none", got.ID)
				}
				return
			}
			if !ok || got.ID != c.want {
				t.Fatalf("chose %d (ok %t), want %d", got.ID, ok, c.want)
			}
		})
	}
}
