package xray_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"vpnflow/internal/dev/testenv"
)

// BenchmarkAddRemoveUser adds b.N users one after another, then removes
// them, and reports each rate. Run with -benchtime=20000x for stable
// figures. Measured here (2 shared cores, no -race): 2,000–3,600 adds/s
// and 2,500–4,200 removes/s from one caller.
func BenchmarkAddRemoveUser(b *testing.B) {
	c := dial(b, testenv.NewXray(b))
	ctx := context.Background()
	users := make([]string, b.N)
	b.ResetTimer()
	start := time.Now()
	for i := range b.N {
		u := newUser(b, i)
		users[i] = u.Email
		if err := c.AddUser(ctx, u); err != nil {
			b.Fatal(err)
		}
	}
	added := time.Since(start)
	start = time.Now()
	for _, email := range users {
		if err := c.RemoveUser(ctx, email); err != nil {
			b.Fatal(err)
		}
	}
	removed := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(b.N)/added.Seconds(), "adds/s")
	b.ReportMetric(float64(b.N)/removed.Seconds(), "removes/s")
}

// BenchmarkAddUserParallel adds users from GOMAXPROCS callers at once, the
// shape of a reconciliation re-adding everyone after an Xray restart.
// Measured here: 9,000–11,000 adds/s with 8 callers.
func BenchmarkAddUserParallel(b *testing.B) {
	c := dial(b, testenv.NewXray(b))
	ctx := context.Background()
	var n atomic.Int64
	b.SetParallelism(4)
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := c.AddUser(ctx, newUser(b, int(n.Add(1)))); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "adds/s")
}

// BenchmarkListUsers lists an inbound of 10,000 users (measured here: ~50 ms
// a list, ~200,000 users/s). Use a small -benchtime such as 5x.
func BenchmarkListUsers(b *testing.B) {
	c := dial(b, testenv.NewXray(b))
	ctx := context.Background()
	const size = 10_000
	for i := range size {
		mustAdd(b, c, newUser(b, i))
	}
	b.ResetTimer()
	for range b.N {
		users, err := c.ListUsers(ctx)
		if err != nil {
			b.Fatal(err)
		}
		if len(users) != size {
			b.Fatalf("listed %d users, want %d", len(users), size)
		}
	}
	b.ReportMetric(float64(size*b.N)/b.Elapsed().Seconds(), "users/s")
}
