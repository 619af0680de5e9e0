package chaos

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"sync"
	"time"
)

// injector causes one fault at a time while the users are driven: a pause,
// a fault, its healing, then a probe that measures recovery. It keeps going
// after driving ends until every fault in the set has happened once.
type injector struct {
	sys   *system
	d     *driver
	plan  *faultPlan
	start time.Time
	out   io.Writer

	mu     sync.Mutex
	done   []injection
	probes []*user
	now    Fault // the fault in progress, if any
}

func (in *injector) run(ctx context.Context, drivingDone <-chan struct{}) {
	if len(in.plan.set) == 0 {
		return
	}
	seen := map[Fault]bool{}
	for n := 1; ; n++ {
		f, gap, hold := in.plan.next()
		finishedDriving := false
		select {
		case <-drivingDone:
			finishedDriving = true
		default:
		}
		if finishedDriving && len(seen) >= len(uniq(in.plan.set)) {
			return
		}
		if !finishedDriving {
			sleep(ctx, gap)
		}
		if ctx.Err() != nil {
			return
		}
		if finishedDriving && seen[f] {
			continue // after driving, only the faults not yet seen
		}
		seen[f] = true
		in.mu.Lock()
		in.now = f
		in.mu.Unlock()
		at := time.Since(in.start)
		fmt.Fprintf(in.out, "[%4.0fs] fault %d: %s%s\n", at.Seconds(), n, f, holdNote(f, hold))
		var keys map[string]bool
		if f == KillXray {
			keys, _ = in.sys.liveEmails(ctx)
		}
		from := time.Now()
		held, err := in.sys.inject(ctx, f, hold)
		rec := injection{Fault: f, At: at, Held: held, Err: err, From: from, To: time.Now()}
		if err == nil {
			healed := time.Now()
			probe := &user{n: 1_000_000 + n, kind: KindTrial, probe: true}
			in.d.run(ctx, probe, rand.New(rand.NewPCG(uint64(n), 0)))
			rec.Recovery, rec.Err = probe.took, probe.err
			in.mu.Lock()
			in.probes = append(in.probes, probe)
			in.mu.Unlock()
			if rec.Err == nil && keys != nil {
				rec.Err = in.sys.waitKeysBack(ctx, keys, 3*time.Minute)
				back := time.Since(healed)
				rec.Detail = fmt.Sprintf("%d keys back in Xray after %s", len(keys), back.Round(100*time.Millisecond))
				rec.Recovery = max(rec.Recovery, back)
			}
		}
		in.mu.Lock()
		in.done = append(in.done, rec)
		in.now = ""
		in.mu.Unlock()
		status := "recovered in " + rec.Recovery.Round(100*time.Millisecond).String()
		if rec.Err != nil {
			status = "NOT RECOVERED: " + firstLine(rec.Err.Error())
		}
		if rec.Detail != "" {
			status += " (" + rec.Detail + ")"
		}
		fmt.Fprintf(in.out, "[%4.0fs] fault %d: %s healed after %s, %s\n", time.Since(in.start).Seconds(), n, f,
			held.Round(100*time.Millisecond), status)
	}
}

func (in *injector) count() int {
	in.mu.Lock()
	defer in.mu.Unlock()
	return len(in.done)
}

func (in *injector) current() string {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.now == "" {
		return ""
	}
	return ", now: " + string(in.now)
}

func holdNote(f Fault, hold time.Duration) string {
	if f == FreezeXray || f == HangTelegram {
		return fmt.Sprintf(" for %s", hold.Round(time.Second))
	}
	return ""
}

func uniq(fs []Fault) map[Fault]bool {
	m := map[Fault]bool{}
	for _, f := range fs {
		m[f] = true
	}
	return m
}

func firstLine(s string) string {
	for i, r := range s {
		if r == '\n' {
			return s[:i]
		}
	}
	return s
}
