package chaos

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"time"

	faketg "vpnflow/internal/dev/fake/telegram"
	"vpnflow/internal/dev/stack"
	"vpnflow/internal/store"
	"vpnflow/internal/xray"
)

// FailoverRow is the failover case's figures: n users on a second node,
// which is stopped; the health check fails it over and the users are
// moved to the first node.
type FailoverRow struct {
	Users int
	// From the stop: the node failed over (its failed_over_at), and every
	// user moved (row on the first node, key in its Xray).
	FailedOver time.Duration
	Moved      time.Duration
	// MovedAfterFailover is Moved less FailedOver: the moving itself, the
	// issue's goal (1,000 in at most a minute).
	MovedAfterFailover time.Duration
	HalfMoved          time.Duration // from the failover, half of them moved
	Notified           time.Duration // from the failover, every user told (0: not all within the wait)
	NoticesPerSecond   float64
	ServerCPU          float64
	WorkerCPU          float64
}

func (r FailoverRow) String() string {
	notified := "not all within the wait"
	if r.Notified > 0 {
		notified = r.Notified.Round(100 * time.Millisecond).String()
	}
	return fmt.Sprintf("failover: %d users on a stopped node; failed over %s after the stop (NODE_FAILOVER_AFTER %s, health check every %s); "+
		"from the failover, half moved after %s, all moved (row and key on the other node) after %s (%.1f/s), %s after the stop; "+
		"every user told after %s (notices %.1f/s, flood control at 30/s); server %.2f cores, worker %.2f",
		r.Users, r.FailedOver.Round(100*time.Millisecond), failoverBenchAfter, failoverBenchHealth,
		r.HalfMoved.Round(100*time.Millisecond), r.MovedAfterFailover.Round(100*time.Millisecond),
		float64(r.Users)/max(r.MovedAfterFailover, time.Millisecond).Seconds(), r.Moved.Round(100*time.Millisecond),
		notified, r.NoticesPerSecond, r.ServerCPU, r.WorkerCPU)
}

// The failover case's clocks (set in the worker's environment when the
// case runs): the shortest failover delay allowed, and a health check
// often enough to notice it soon after.
const (
	failoverBenchAfter  = 30 * time.Second
	failoverBenchHealth = 10 * time.Second
	failoverWait        = 10 * time.Minute
	failoverNodeName    = "bench-b"
	movedText           = "You are on a new server"
)

// failoverCase starts a second Xray and registers it as a node, puts n
// trials on it (the first node draining meanwhile, so placement has no
// choice and the chat asks no region), enables the first node again,
// stops the second, and watches the database and the first node's Xray
// until every user is moved, then the chat until every user is told.
func (s *system) failoverCase(ctx context.Context, d *driver, n int, dir string, out io.Writer) (FailoverRow, error) {
	fmt.Fprintf(out, "bench: failover: starting a second node\n")
	x2, err := stack.StartXray(ctx, stack.XrayOptions{Dir: filepath.Join(dir, "xray-bench-b")})
	if err != nil {
		return FailoverRow{}, fmt.Errorf("second xray: %w", err)
	}
	defer x2.Stop()
	b, err := s.store.AddNode(ctx, store.Node{Name: failoverNodeName, APIAddr: x2.APIAddr, InboundTag: x2.InboundTag,
		Host: x2.VLESSHost, Port: x2.VLESSPort, PublicKey: x2.PublicKey, SNI: x2.SNI, ShortID: x2.ShortID,
		Capacity: store.DefaultNodeCapacity, State: store.NodeEnabled})
	if err != nil {
		return FailoverRow{}, err
	}
	// Out of service afterwards: a later case's reconcile or health check
	// would otherwise wait on the stopped node.
	defer func() {
		if _, _, err := s.store.SetNodeState(context.WithoutCancel(ctx), b.Name, store.NodeDisabled); err != nil {
			fmt.Fprintf(out, "bench: failover: %s not disabled: %v\n", b.Name, err)
		}
	}()
	first, err := s.firstNode(ctx, b.ID)
	if err != nil {
		return FailoverRow{}, err
	}
	if _, _, err := s.store.SetNodeState(ctx, first.Name, store.NodeDraining); err != nil {
		return FailoverRow{}, err
	}
	fmt.Fprintf(out, "bench: failover: %d trials on %s\n", n, failoverNodeName)
	users, err := giveTrials(ctx, d, n, 6_000_000, "failover", out)
	if err != nil {
		return FailoverRow{}, err
	}
	if _, _, err := s.store.SetNodeState(ctx, first.Name, store.NodeEnabled); err != nil {
		return FailoverRow{}, err
	}
	x2c, err := xray.Dial(x2.APIAddr, x2.InboundTag, nil)
	if err != nil {
		return FailoverRow{}, err
	}
	defer x2c.Close()
	emails, err := s.emailsOn(ctx, users, b.ID)
	if err != nil {
		return FailoverRow{}, err
	}
	if err := s.waitKeys(ctx, x2c, emails, len(emails)); err != nil {
		return FailoverRow{}, fmt.Errorf("keys on %s before the stop: %w", failoverNodeName, err)
	}
	// The health check must have seen the node answer: the failover
	// counts from its last answer.
	if err := s.waitHealthy(ctx, b.ID); err != nil {
		return FailoverRow{}, err
	}

	row := FailoverRow{Users: n}
	server, work := s.stack.Temporal.Pid(), s.worker.pid()
	s0, w0 := cpuTime(server), cpuTime(work)
	s.stack.Telegram.SetRateLimit(faketg.RateLimit{PerSecond: 30, RetryAfter: 5 * time.Second})
	defer s.stack.Telegram.SetRateLimit(faketg.RateLimit{})
	fmt.Fprintf(out, "bench: failover: stopping %s with %d users\n", failoverNodeName, n)
	stopped := time.Now()
	x2.Stop()
	deadline := stopped.Add(failoverWait)
	for time.Now().Before(deadline) {
		if row.FailedOver == 0 {
			if node, err := s.store.GetNode(ctx, b.ID); err == nil && node.FailedOverAt != nil {
				row.FailedOver = node.FailedOverAt.Sub(stopped)
			}
		}
		left, err := s.leftOn(ctx, emails, b.ID)
		if err == nil && row.FailedOver > 0 {
			since := time.Since(stopped) - row.FailedOver
			if left <= n/2 && row.HalfMoved == 0 {
				row.HalfMoved = since
			}
			if left == 0 {
				row.Moved, row.MovedAfterFailover = time.Since(stopped), since
				break
			}
		}
		sleep(ctx, 250*time.Millisecond)
	}
	wall := time.Since(stopped).Seconds()
	row.ServerCPU = (cpuTime(server) - s0).Seconds() / wall
	row.WorkerCPU = (cpuTime(work) - w0).Seconds() / wall
	if row.Moved == 0 {
		return row, fmt.Errorf("users still on %s %s after the stop (failed over after %s)", failoverNodeName, failoverWait, row.FailedOver)
	}
	failedOverAt := stopped.Add(row.FailedOver)
	for time.Now().Before(deadline) {
		if told := sentSince(d, users, time.Time{}, movedText); told == n {
			row.Notified = time.Since(failedOverAt)
			break
		}
		sleep(ctx, time.Second)
	}
	row.NoticesPerSecond, _ = noticePace(d, users, failedOverAt, movedText)
	return row, nil
}

// firstNode is the environment's node: the one other than b.
func (s *system) firstNode(ctx context.Context, b int16) (store.Node, error) {
	nodes, err := s.store.Nodes(ctx)
	if err != nil {
		return store.Node{}, err
	}
	for _, n := range nodes {
		if n.ID != b && n.State == store.NodeEnabled {
			return n, nil
		}
	}
	return store.Node{}, fmt.Errorf("no enabled node besides %s", failoverNodeName)
}

// emailsOn is the users' key emails, checking each is on node.
func (s *system) emailsOn(ctx context.Context, users []*user, node int16) (map[string]bool, error) {
	emails := map[string]bool{}
	for _, u := range users {
		sub, err := s.store.GetSubscription(ctx, u.id)
		if err != nil {
			return nil, fmt.Errorf("key of user %d: %w", u.id, err)
		}
		if sub.NodeID != node {
			return nil, fmt.Errorf("user %d placed on node %d, not %s", u.id, sub.NodeID, failoverNodeName)
		}
		emails[strings.ToLower(sub.XrayEmail)] = true
	}
	return emails, nil
}

// waitKeys waits until xc serves want of the emails.
func (s *system) waitKeys(ctx context.Context, xc *xray.Client, emails map[string]bool, want int) error {
	var have int
	for range 240 {
		users, err := xc.ListUsers(ctx)
		if err == nil {
			have = 0
			for _, u := range users {
				if emails[strings.ToLower(u.Email)] {
					have++
				}
			}
			if have == want {
				return nil
			}
		}
		sleep(ctx, 250*time.Millisecond)
	}
	return fmt.Errorf("%d of %d keys", have, want)
}

// waitHealthy waits for a probe of node the node answered.
func (s *system) waitHealthy(ctx context.Context, node int16) error {
	for range 4 * int(failoverBenchHealth/time.Second) * 3 {
		n, err := s.store.GetNode(ctx, node)
		if err == nil && n.HealthyAt != nil && n.CheckedAt != nil && n.HealthyAt.Equal(*n.CheckedAt) {
			return nil
		}
		sleep(ctx, 250*time.Millisecond)
	}
	return fmt.Errorf("the health check never saw %s answer", failoverNodeName)
}

// leftOn counts the users not yet moved: their row still on node, or
// their key not yet in the first node's Xray.
func (s *system) leftOn(ctx context.Context, emails map[string]bool, node int16) (int, error) {
	var onNode int
	if err := s.pool.QueryRow(ctx, `SELECT count(*) FROM subscriptions WHERE node_id = $1 AND status IN ('trial', 'active')`,
		node).Scan(&onNode); err != nil {
		return 0, err
	}
	inXray, err := s.keysLeft(ctx, emails) // the first node's Xray
	if err != nil {
		return 0, err
	}
	return max(onNode, len(emails)-inXray), nil
}
