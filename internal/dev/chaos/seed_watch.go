package chaos

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// seedWatch looks at the shop from outside while the seed scenario runs:
// transactions left idle, the liveness endpoints, the health check's view
// of Xray, and what the admins were told.
type seedWatch struct {
	sys   *system
	admin int64
	http  *http.Client

	faultsFrom, healedAt atomic.Int64 // unix nanoseconds; 0 until then

	mu sync.Mutex
	r  seedWatchResult
}

// seedWatchResult is what the watch saw.
type seedWatchResult struct {
	IdleSamples   int           // pg_stat_activity samples taken
	IdleSeen      int           // samples with a shop connection idle in a transaction
	IdleLongest   time.Duration // the longest such idle time seen
	IdleQuery     string        // the last statement of that connection
	HealthzChecks int           // rounds of GET /healthz on the bot and the worker
	HealthzFailed map[string]int
	HealthzReason map[string]string
	Flagged       time.Duration // faults on → the health check reports Xray down (worker metric); 0: never
	AdminDown     time.Duration // faults on → admins told Xray is down; 0: never
	AdminUp       time.Duration // faults off → admins told Xray is back up; 0: never
}

func newSeedWatch(sys *system, admin int64) *seedWatch {
	return &seedWatch{sys: sys, admin: admin, http: &http.Client{Timeout: 2 * time.Second},
		r: seedWatchResult{HealthzFailed: map[string]int{}, HealthzReason: map[string]string{}}}
}

func (w *seedWatch) run(ctx context.Context) {
	fast := time.NewTicker(250 * time.Millisecond)
	defer fast.Stop()
	slow := time.NewTicker(2 * time.Second)
	defer slow.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-fast.C:
			w.sampleIdle(ctx)
		case <-slow.C:
			w.sampleHealthz()
			w.sampleFlag()
			w.sampleAdmin()
		}
	}
}

// sampleIdle looks for shop connections idle inside a transaction: a
// transaction held open while its owner waits on something else, the
// predecessor's way of draining its pool.
func (w *seedWatch) sampleIdle(ctx context.Context) {
	qctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	var (
		n     int
		secs  float64
		query string
	)
	err := w.sys.pool.QueryRow(qctx, `
		SELECT count(*) OVER (), extract(epoch FROM now() - state_change), left(query, 120)
		FROM pg_stat_activity
		WHERE state LIKE 'idle in transaction%' AND datname = current_database() AND pid <> pg_backend_pid()
		ORDER BY state_change LIMIT 1`).Scan(&n, &secs, &query)
	w.mu.Lock()
	defer w.mu.Unlock()
	if err != nil && ctx.Err() != nil {
		return
	}
	w.r.IdleSamples++
	if err != nil || n == 0 {
		return // pgx.ErrNoRows: nobody idle in a transaction
	}
	w.r.IdleSeen++
	if d := time.Duration(secs * float64(time.Second)); d > w.r.IdleLongest {
		w.r.IdleLongest, w.r.IdleQuery = d, query
	}
}

// sampleHealthz asks both processes whether they are live.
func (w *seedWatch) sampleHealthz() {
	cfg := w.sys.stack.Config
	w.mu.Lock()
	w.r.HealthzChecks++
	w.mu.Unlock()
	for name, addr := range map[string]string{"bot": cfg.HTTPAddr, "worker": cfg.WorkerMetricsAddr} {
		status, body := w.get("http://" + addr + "/healthz")
		if status == http.StatusOK {
			continue
		}
		w.mu.Lock()
		w.r.HealthzFailed[name]++
		w.r.HealthzReason[name] = fmt.Sprintf("%d %s", status, firstLine(body))
		w.mu.Unlock()
	}
}

// sampleFlag reads the worker's vpnflow_health_component_up for Xray.
func (w *seedWatch) sampleFlag() {
	from := w.faultsFrom.Load()
	if from == 0 || w.result().Flagged != 0 {
		return
	}
	_, body := w.get("http://" + w.sys.stack.Config.WorkerMetricsAddr + "/metrics")
	sc := bufio.NewScanner(strings.NewReader(body))
	for sc.Scan() {
		line := sc.Text()
		// The one node is "xray:default" since nodes are components of
		// their own; "xray" before.
		xray := strings.Contains(line, `component="xray"`) || strings.Contains(line, `component="xray:`)
		if strings.HasPrefix(line, "vpnflow_health_component_up{") && xray && strings.HasSuffix(line, " 0") {
			w.mu.Lock()
			w.r.Flagged = time.Since(time.Unix(0, from))
			w.mu.Unlock()
			return
		}
	}
}

// sampleAdmin reads the admin's chat for the health alerts about Xray.
func (w *seedWatch) sampleAdmin() {
	from, healed := w.faultsFrom.Load(), w.healedAt.Load()
	if from == 0 {
		return
	}
	for _, m := range w.sys.stack.Telegram.Messages(w.admin) {
		text := m.Text
		switch {
		case xrayAlert(text, "is down") && m.Date.UnixNano() >= from:
			w.mu.Lock()
			if w.r.AdminDown == 0 {
				w.r.AdminDown = m.Date.Sub(time.Unix(0, from))
			}
			w.mu.Unlock()
		case xrayAlert(text, "is back up") && healed != 0 && m.Date.UnixNano() >= healed:
			w.mu.Lock()
			if w.r.AdminUp == 0 {
				w.r.AdminUp = m.Date.Sub(time.Unix(0, healed))
			}
			w.mu.Unlock()
		}
	}
}

// xrayAlert reports whether text is a health alert about an Xray node
// ("Xray default is down") that says what.
func xrayAlert(text, what string) bool {
	return strings.HasPrefix(strings.TrimLeft(text, "🔴🟢 "), "Xray ") && strings.Contains(text, what)
}

// waitAdminUp waits until the admins have heard that Xray is back.
func (w *seedWatch) waitAdminUp(ctx context.Context, limit time.Duration) time.Duration {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		w.sampleAdmin()
		if up := w.result().AdminUp; up != 0 {
			return up
		}
		sleep(ctx, time.Second)
	}
	return 0
}

func (w *seedWatch) get(url string) (int, string) {
	resp, err := w.http.Get(url)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	var b strings.Builder
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	for sc.Scan() {
		b.WriteString(sc.Text())
		b.WriteByte('\n')
	}
	return resp.StatusCode, b.String()
}

func (w *seedWatch) result() seedWatchResult {
	w.mu.Lock()
	defer w.mu.Unlock()
	r := w.r
	return r
}

// status is the progress line's view of the watch.
func (w *seedWatch) status() string {
	r := w.result()
	flag, heard := "not yet", "not yet"
	if r.Flagged != 0 {
		flag = "after " + r.Flagged.Round(time.Second).String()
	}
	if r.AdminDown != 0 {
		heard = "after " + r.AdminDown.Round(time.Second).String()
	}
	return fmt.Sprintf("Xray flagged down %s, admins told %s; idle-in-transaction seen in %d/%d samples (longest %s); /healthz failures %v",
		flag, heard, r.IdleSeen, r.IdleSamples, r.IdleLongest.Round(time.Millisecond), r.HealthzFailed)
}
