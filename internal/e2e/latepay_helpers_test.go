package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"sync"
	"testing"

	"github.com/google/uuid"
	"go.temporal.io/sdk/client"

	"vpnflow/internal/schedules"
	"vpnflow/internal/shop"
	"vpnflow/internal/store"
	"vpnflow/workflows"
)

// closePurchase ends a purchase the way the end of its grace period does:
// its workflow is gone and the database says expired.
func (s *shopEnv) closePurchase(p store.Purchase) {
	s.t.Helper()
	ctx := context.Background()
	if err := s.temporal.TerminateWorkflow(ctx, shop.PurchaseWorkflowID(p.ID.String()), "", "test: grace period over"); err != nil {
		s.t.Fatal(err)
	}
	if _, err := s.store.ExpirePurchase(ctx, p.ID); err != nil {
		s.t.Fatal(err)
	}
}

// runSweep runs one PaymentsSweep now, as its schedule would.
func (s *shopEnv) runSweep(in schedules.PaymentsSweepInput) workflows.PaymentsSweepResult {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	run, err := s.temporal.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID: "test-payments-sweep-" + uuid.NewString(), TaskQueue: s.cfg.TaskQueue,
	}, schedules.PaymentsSweepWorkflowType, in)
	if err != nil {
		s.t.Fatal(err)
	}
	var res workflows.PaymentsSweepResult
	if err := run.Get(ctx, &res); err != nil {
		s.t.Fatalf("payments sweep: %v", err)
	}
	return res
}

// switchProxy forwards TCP to a target while up; down closes every
// connection and refuses new ones: Temporal unreachable for its clients.
type switchProxy struct {
	l      net.Listener
	target string
	mu     sync.Mutex
	up     bool
	conns  []net.Conn
}

func newSwitchProxy(t *testing.T, target string) *switchProxy {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &switchProxy{l: l, target: target, up: true}
	t.Cleanup(func() { l.Close(); p.setUp(false) })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go p.serve(c)
		}
	}()
	return p
}

func (p *switchProxy) serve(c net.Conn) {
	p.mu.Lock()
	if !p.up {
		p.mu.Unlock()
		c.Close()
		return
	}
	p.mu.Unlock()
	u, err := net.Dial("tcp", p.target)
	if err != nil {
		c.Close()
		return
	}
	p.mu.Lock()
	p.conns = append(p.conns, c, u)
	p.mu.Unlock()
	go func() { _, _ = io.Copy(u, c); u.Close() }()
	_, _ = io.Copy(c, u)
	c.Close()
}

func (p *switchProxy) setUp(up bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.up = up
	if !up {
		for _, c := range p.conns {
			c.Close()
		}
		p.conns = nil
	}
}

// botCall calls the Bot API as the bot, for a test standing in for it.
func (s *shopEnv) botCall(method string, params url.Values, result any) {
	s.t.Helper()
	resp, err := http.PostForm(s.tg.URL()+"/bot"+s.cfg.TelegramBotToken+"/"+method, params)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		OK          bool            `json:"ok"`
		Result      json.RawMessage `json:"result"`
		Description string          `json:"description"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || !body.OK {
		s.t.Fatalf("%s: %v %s", method, err, body.Description)
	}
	if result != nil {
		if err := json.Unmarshal(body.Result, result); err != nil {
			s.t.Fatal(err)
		}
	}
}

// approveAsBot stands in for the bot while it is away: it takes the next
// pre_checkout_query from getUpdates and approves it, and returns the
// offset that confirms the updates up to it.
func (s *shopEnv) approveAsBot() int64 {
	s.t.Helper()
	var offset int64
	for answered := false; !answered; {
		var upds []struct {
			UpdateID         int64 `json:"update_id"`
			PreCheckoutQuery *struct {
				ID string `json:"id"`
			} `json:"pre_checkout_query"`
		}
		s.botCall("getUpdates", url.Values{"offset": {fmt.Sprint(offset)}, "timeout": {"1"}}, &upds)
		for _, u := range upds {
			if u.PreCheckoutQuery == nil {
				continue
			}
			s.botCall("answerPreCheckoutQuery", url.Values{"pre_checkout_query_id": {u.PreCheckoutQuery.ID}, "ok": {"true"}}, nil)
			offset, answered = u.UpdateID+1, true
			break
		}
	}
	return offset
}

// approveInWorkflow runs the purchase's approve-checkout update the way the
// bot's pre-checkout handler does.
func approveInWorkflow(ctx context.Context, s *shopEnv, p store.Purchase, userID int64) error {
	h, err := s.temporal.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{
		WorkflowID: shop.PurchaseWorkflowID(p.ID.String()), UpdateName: shop.UpdateApproveCheckout,
		Args:         []any{shop.CheckoutRequest{UserID: userID, Amount: p.Amount, Currency: p.Currency}},
		WaitForStage: client.WorkflowUpdateStageCompleted,
	})
	if err != nil {
		return err
	}
	return h.Get(ctx, nil)
}
