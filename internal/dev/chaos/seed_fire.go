package chaos

import (
	"context"
	"fmt"
	"io"
	"sync"
	"time"

	"vpnflow/internal/schedules"
)

// fireRounds counts the rounds of every Schedule fired together, and the
// triggers that failed; a round counts however many of its triggers did.
type fireRounds struct {
	mu       sync.Mutex
	rounds   int
	triggers int
	failed   []string
}

func (f *fireRounds) done() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.rounds
}

// fireTogether triggers every Schedule at the same instant, at once and
// then every interval, as the predecessor's tickers all woke at 600 s.
func (s *system) fireTogether(ctx context.Context, every time.Duration, f *fireRounds, out io.Writer) {
	defs, err := schedules.Definitions(s.stack.Config)
	if err != nil {
		fmt.Fprintf(out, "  schedules: %v\n", err)
		return
	}
	for {
		var wg sync.WaitGroup
		for _, def := range defs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				err := schedules.TriggerNow(ctx, s.temporal, def.ID)
				if ctx.Err() != nil {
					return // the faults ended mid-round
				}
				f.mu.Lock()
				defer f.mu.Unlock()
				f.triggers++
				if err != nil {
					f.failed = append(f.failed, err.Error())
					fmt.Fprintf(out, "  trigger %s: %v\n", def.ID, err)
				}
			}()
		}
		wg.Wait()
		f.mu.Lock()
		f.rounds++
		f.mu.Unlock()
		select {
		case <-ctx.Done():
			return
		case <-time.After(every):
		}
	}
}

// schedulesCreated waits until every Schedule exists. The worker creates
// them as it starts, and the scenario used to begin before it had: the
// first round of firings found none of them.
func (s *system) schedulesCreated(ctx context.Context, within time.Duration) error {
	defs, err := schedules.Definitions(s.stack.Config)
	if err != nil {
		return err
	}
	deadline := time.Now().Add(within)
	for _, def := range defs {
		for {
			_, err := s.temporal.ScheduleClient().GetHandle(ctx, def.ID).Describe(ctx)
			if err == nil {
				break
			}
			if !schedules.IsNotFound(err) || time.Now().After(deadline) {
				return fmt.Errorf("schedule %s not there %s after the worker started: %w", def.ID, within, err)
			}
			sleep(ctx, 200*time.Millisecond)
		}
	}
	return nil
}
