package chaos

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	faketg "vpnflow/internal/dev/fake/telegram"
	"vpnflow/internal/telegram"
	"vpnflow/internal/xray"
)

// The minimal pipeline is what issue 11 compares the shop's purchase with:
// the same shape written the naive way, on the same server, PostgreSQL,
// Xray and Telegram stand-in. A payment signal-with-starts a purchase
// workflow, which records the payment in one database transaction and
// hands the key over with an update-with-start to a per-user workflow;
// that one adds the key to Xray and sends one Telegram message. Nothing
// else: no invoice, no idempotency checks, no search attributes, no
// notices, no retries past the defaults.

const (
	benchMinimalQueue   = "bench-minimal"
	minimalPaidSignal   = "paid"
	minimalDeliverName  = "deliver"
	minimalPurchaseType = "BenchMinimalPurchase"
	minimalUserType     = "BenchMinimalUser"
)

// minimalPurchaseInput is one minimal purchase: its id and the chat the
// key goes to.
type minimalPurchaseInput struct {
	PurchaseID string
	UserID     int64
}

// minimalPipeline holds the minimal pipeline's activities and the worker
// that runs them in the benchmark process.
type minimalPipeline struct {
	sys *system
	tg  *telegram.Client
}

func minimalActivityOptions(ctx workflow.Context) workflow.Context {
	return workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 10 * time.Second,
		RetryPolicy:         &temporal.RetryPolicy{InitialInterval: time.Second},
	})
}

func minimalPurchase(ctx workflow.Context, in minimalPurchaseInput) error {
	workflow.GetSignalChannel(ctx, minimalPaidSignal).Receive(ctx, nil)
	ctx = minimalActivityOptions(ctx)
	var m *minimalPipeline
	if err := workflow.ExecuteActivity(ctx, m.Record, in).Get(ctx, nil); err != nil {
		return err
	}
	return workflow.ExecuteActivity(ctx, m.Deliver, in).Get(ctx, nil)
}

func minimalUser(ctx workflow.Context, _ int64) error {
	done := false
	if err := workflow.SetUpdateHandler(ctx, minimalDeliverName, func(ctx workflow.Context, in minimalPurchaseInput) error {
		ctx = minimalActivityOptions(ctx)
		var m *minimalPipeline
		if err := workflow.ExecuteActivity(ctx, m.AddKey, in).Get(ctx, nil); err != nil {
			return err
		}
		if err := workflow.ExecuteActivity(ctx, m.SendKey, in).Get(ctx, nil); err != nil {
			return err
		}
		done = true
		return nil
	}); err != nil {
		return err
	}
	return workflow.Await(ctx, func() bool { return done && workflow.AllHandlersFinished(ctx) })
}

// Record is the purchase's one database transaction.
func (m *minimalPipeline) Record(ctx context.Context, in minimalPurchaseInput) error {
	_, err := m.sys.pool.Exec(ctx, `INSERT INTO bench_minimal_purchases (id, user_id) VALUES ($1, $2) ON CONFLICT DO NOTHING`, in.PurchaseID, in.UserID)
	return err
}

// Deliver hands the purchase to the user's workflow with update-with-start.
func (m *minimalPipeline) Deliver(ctx context.Context, in minimalPurchaseInput) error {
	c := m.sys.temporal
	start := c.NewWithStartWorkflowOperation(client.StartWorkflowOptions{
		ID: minimalUserID(in.UserID), TaskQueue: benchMinimalQueue,
		WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING,
	}, minimalUserType, in.UserID)
	h, err := c.UpdateWithStartWorkflow(ctx, client.UpdateWithStartWorkflowOptions{
		StartWorkflowOperation: start,
		UpdateOptions: client.UpdateWorkflowOptions{
			UpdateName: minimalDeliverName, UpdateID: in.PurchaseID, Args: []any{in},
			WaitForStage: client.WorkflowUpdateStageCompleted,
		},
	})
	if err != nil {
		return err
	}
	return h.Get(ctx, nil)
}

// AddKey is the one call to Xray.
func (m *minimalPipeline) AddKey(ctx context.Context, in minimalPurchaseInput) error {
	return m.sys.xray.AddUser(ctx, xray.User{Email: "bench-min-" + in.PurchaseID, UUID: in.PurchaseID, Flow: xray.FlowVision})
}

// SendKey is the one Telegram message.
func (m *minimalPipeline) SendKey(ctx context.Context, in minimalPurchaseInput) error {
	_, err := m.tg.Send(ctx, telegram.Message{ChatID: in.UserID, Text: "vless://" + in.PurchaseID + "@minimal", Plain: true})
	return err
}

// startMinimal starts the minimal pipeline's worker in this process; stop
// ends it.
func (s *system) startMinimal(ctx context.Context) (stop func(), err error) {
	if _, err := s.pool.Exec(ctx, `CREATE TABLE IF NOT EXISTS bench_minimal_purchases (
		id text PRIMARY KEY, user_id bigint NOT NULL, paid_at timestamptz NOT NULL DEFAULT now())`); err != nil {
		return nil, fmt.Errorf("minimal pipeline's table: %w", err)
	}
	// The same send pace as the worker's, so that both pipelines send the
	// same way.
	tg, err := telegram.New(s.stack.Config.TelegramBotToken, s.stack.Config.TelegramAPIURL, nil,
		telegram.NewPace(s.stack.Config.TelegramSendRate, prometheus.NewRegistry()))
	if err != nil {
		return nil, err
	}
	m := &minimalPipeline{sys: s, tg: tg}
	w := worker.New(s.temporal, benchMinimalQueue, worker.Options{})
	w.RegisterWorkflowWithOptions(minimalPurchase, workflow.RegisterOptions{Name: minimalPurchaseType})
	w.RegisterWorkflowWithOptions(minimalUser, workflow.RegisterOptions{Name: minimalUserType})
	w.RegisterActivity(m)
	if err := w.Start(); err != nil {
		return nil, fmt.Errorf("minimal pipeline's worker: %w", err)
	}
	return w.Stop, nil
}

// runMinimal runs n minimal purchases, concurrency at a time, each timed
// from its payment signal to its message in the chat, like payAll.
func (s *system) runMinimal(ctx context.Context, d *driver, n, first, concurrency int) (BenchRow, error) {
	chats := make([]int64, n)
	for i := range chats {
		acc, err := d.tg.AddUser(benchUser(7_000_000 + first + i))
		if err != nil {
			return BenchRow{}, err
		}
		// A user who has written to the bot, so the bot may write to them.
		if err := d.tg.MarkStarted(acc.ID); err != nil {
			return BenchRow{}, err
		}
		chats[i] = acc.ID
	}
	lat := make([]time.Duration, n)
	var lost atomic.Int64
	var sample atomic.Pointer[minimalPurchaseInput]
	next := make(chan int)
	var wg sync.WaitGroup
	start := time.Now()
	for range concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				in := minimalPurchaseInput{PurchaseID: uuid.NewString(), UserID: chats[i]}
				t0 := time.Now()
				if _, err := s.temporal.SignalWithStartWorkflow(ctx, "bench-minimal-"+in.PurchaseID, minimalPaidSignal, nil,
					client.StartWorkflowOptions{TaskQueue: benchMinimalQueue}, minimalPurchaseType, in); err != nil {
					lost.Add(1)
					continue
				}
				wctx, cancel := context.WithTimeout(ctx, keyWait)
				_, err := d.tg.WaitForMessage(wctx, in.UserID, isMinimalKey(in.PurchaseID))
				cancel()
				if err != nil {
					lost.Add(1)
					continue
				}
				lat[i] = time.Since(t0)
				sample.Store(&in)
			}
		}()
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	row := latencyRow(lat, time.Since(start), int(lost.Load()), concurrency)
	if in := sample.Load(); in != nil {
		p, err1 := s.historyLength(ctx, "bench-minimal-"+in.PurchaseID)
		u, err2 := s.historyLength(ctx, minimalUserID(in.UserID))
		if err1 == nil && err2 == nil {
			row.Events = float64(p + u)
		}
	}
	return row, nil
}

func minimalUserID(userID int64) string { return fmt.Sprintf("bench-minimal-user-%d", userID) }

func isMinimalKey(purchaseID string) func(faketg.Message) bool {
	return func(m faketg.Message) bool { return strings.Contains(m.Text, purchaseID) }
}
