package chaos

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
)

// What the benchmarks read from the running shop besides the stand-ins: a
// process's connection pool through its metrics, and a workflow's history.

// poolPeak is what a pool watch saw. Readings are 100 ms apart, so a
// shorter peak can slip between two of them; Waited cannot: it counts
// every acquire that found no idle connection.
type poolPeak struct {
	Acquired int // the most connections in use at one sample
	Open     int // the most connections open at one sample
	Max      int // the pool's size
	Waited   int // acquires that found no idle connection, during the watch
	Samples  int // readings taken
}

func (p poolPeak) String() string {
	if p.Samples == 0 || p.Max == 0 {
		return "not read"
	}
	return fmt.Sprintf("%d of %d connections at most (%.0f%%), %d acquires waited for one, %d readings",
		p.Acquired, p.Max, 100*float64(p.Acquired)/float64(p.Max), p.Waited, p.Samples)
}

// poolWatch samples one pool's vpnflow_db_pool_* metrics every 100 ms.
type poolWatch struct {
	url, pool string
	http      *http.Client
	cancel    context.CancelFunc
	done      chan struct{}

	mu          sync.Mutex
	peak        poolPeak
	firstWaited int
}

func startPoolWatch(ctx context.Context, url, pool string) *poolWatch {
	w := &poolWatch{url: url, pool: pool, http: &http.Client{Timeout: 2 * time.Second}, done: make(chan struct{}), firstWaited: -1}
	w.sample()
	ctx, w.cancel = context.WithCancel(ctx)
	go func() {
		defer close(w.done)
		for ctx.Err() == nil {
			sleep(ctx, 100*time.Millisecond)
			w.sample()
		}
	}()
	return w
}

// stop ends the watch after a last sample.
func (w *poolWatch) stop() poolPeak {
	w.cancel()
	<-w.done
	w.sample()
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.peak
}

func (w *poolWatch) sample() {
	resp, err := w.http.Get(w.url)
	if err != nil {
		return
	}
	defer resp.Body.Close()
	label := `{pool="` + w.pool + `"} `
	w.mu.Lock()
	defer w.mu.Unlock()
	w.peak.Samples++
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		name, value, ok := strings.Cut(sc.Text(), label)
		if !ok {
			continue
		}
		v, err := strconv.ParseFloat(value, 64)
		if err != nil {
			continue
		}
		switch name {
		case "vpnflow_db_pool_acquired_conns":
			w.peak.Acquired = max(w.peak.Acquired, int(v))
		case "vpnflow_db_pool_total_conns":
			w.peak.Open = max(w.peak.Open, int(v))
		case "vpnflow_db_pool_max_conns":
			w.peak.Max = int(v)
		case "vpnflow_db_pool_empty_acquires_total":
			if w.firstWaited < 0 {
				w.firstWaited = int(v)
			}
			w.peak.Waited = int(v) - w.firstWaited
		}
	}
}

// chainHistory is a workflow's history over its runs (continue-as-new).
type chainHistory struct {
	Events   int // all runs
	Longest  int // the longest single run
	Runs     int
	Activity map[string]time.Duration // the longest attempt of each activity type, start to close
}

// historyChain reads the workflow's histories from firstRun on.
func historyChain(ctx context.Context, c client.Client, id, firstRun string) (chainHistory, error) {
	h := chainHistory{Activity: map[string]time.Duration{}}
	for runID := firstRun; runID != ""; {
		it := c.GetWorkflowHistory(ctx, id, runID, false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
		n, next := 0, ""
		kind := map[int64]string{}       // scheduled event → activity type
		started := map[int64]time.Time{} // started event → when
		for it.HasNext() {
			e, err := it.Next()
			if err != nil {
				return h, fmt.Errorf("history of %s run %s: %w", id, runID, err)
			}
			n++
			if a := e.GetActivityTaskScheduledEventAttributes(); a != nil {
				kind[e.GetEventId()] = a.GetActivityType().GetName()
			}
			if e.GetActivityTaskStartedEventAttributes() != nil {
				started[e.GetEventId()] = e.GetEventTime().AsTime()
			}
			if a := e.GetActivityTaskCompletedEventAttributes(); a != nil {
				name := kind[a.GetScheduledEventId()]
				h.Activity[name] = max(h.Activity[name], e.GetEventTime().AsTime().Sub(started[a.GetStartedEventId()]))
			}
			if a := e.GetWorkflowExecutionContinuedAsNewEventAttributes(); a != nil {
				next = a.GetNewExecutionRunId()
			}
		}
		h.Events += n
		h.Longest = max(h.Longest, n)
		h.Runs++
		runID = next
	}
	return h, nil
}
