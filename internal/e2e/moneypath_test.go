package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	enumspb "go.temporal.io/api/enums/v1"

	"vpnflow/internal/botapp"
	"vpnflow/internal/config"
	"vpnflow/internal/cryptopay"
	fakecp "vpnflow/internal/dev/fake/cryptopay"
	faketg "vpnflow/internal/dev/fake/telegram"
	"vpnflow/internal/shop"
	"vpnflow/internal/store"
	"vpnflow/internal/telemetry"
)

// Helpers shared by the money-path tests (Stars, balance, webhooks,
// crashes, secrecy, rate limiting, webhook mode).

// startBot runs only the bot in-process, for tests that run the worker as a
// process of its own.
func (s *shopEnv) startBot() {
	s.t.Helper()
	s.startComponent("bot", func(ctx context.Context, cfg config.Config, tel *telemetry.Telemetry) error {
		return botapp.Run(ctx, cfg, tel)
	})
	s.waitReady()
}

// buyWithCryptoPay walks a registered user through Buy → plan → Crypto Pay
// and returns the invoice the stand-in issued.
func (s *shopEnv) buyWithCryptoPay(userID int64, planLabel string) fakecp.Invoice {
	s.t.Helper()
	s.press(userID, "Buy")
	s.press(userID, planLabel)
	s.press(userID, "Crypto")
	return s.invoiceFor(userID)
}

// register sends /start and waits for the menu.
func (s *shopEnv) register(name string) int64 {
	s.t.Helper()
	id := s.newUser(name)
	s.say(id, "/start")
	s.waitText(id, 0, name)
	// A newcomer's menu goes out while their row is being written.
	s.eventually(name+"'s user row", func() error {
		_, err := store.New(s.pool).GetUser(context.Background(), id)
		return err
	})
	return id
}

// latestPurchase is the user's newest purchase.
func (s *shopEnv) latestPurchase(userID int64) store.Purchase {
	s.t.Helper()
	ps := s.purchases(userID)
	if len(ps) == 0 {
		s.t.Fatalf("user %d has no purchase", userID)
	}
	return ps[0]
}

// purchases are the user's purchases, newest first.
func (s *shopEnv) purchases(userID int64) []store.Purchase {
	s.t.Helper()
	ps, err := s.store.RecentPurchases(context.Background(), userID, 100)
	if err != nil {
		s.t.Fatalf("purchases of %d: %v", userID, err)
	}
	return ps
}

// waitPurchaseStatus waits until the purchase has the status in the
// database.
func (s *shopEnv) waitPurchaseStatus(p store.Purchase, status string) store.Purchase {
	s.t.Helper()
	var got store.Purchase
	s.eventually("purchase "+p.ID.String()+" "+status, func() error {
		var err error
		got, err = s.store.GetPurchase(context.Background(), p.ID)
		if err != nil {
			return err
		}
		if got.Status != status {
			return fmt.Errorf("status %s", got.Status)
		}
		return nil
	})
	return got
}

// ledgerRows counts the user's ledger rows of a kind.
func (s *shopEnv) ledgerRows(userID int64, kind string) int {
	s.t.Helper()
	var n int
	if err := s.pool.QueryRow(context.Background(),
		`SELECT count(*) FROM ledger WHERE user_id = $1 AND kind = $2`, userID, kind).Scan(&n); err != nil {
		s.t.Fatal(err)
	}
	return n
}

// allLedgerRows counts every ledger row of the user.
func (s *shopEnv) allLedgerRows(userID int64) int {
	s.t.Helper()
	var n int
	if err := s.pool.QueryRow(context.Background(), `SELECT count(*) FROM ledger WHERE user_id = $1`, userID).Scan(&n); err != nil {
		s.t.Fatal(err)
	}
	return n
}

func (s *shopEnv) balance(userID int64) int64 {
	s.t.Helper()
	u, err := s.store.GetUser(context.Background(), userID)
	if err != nil {
		s.t.Fatal(err)
	}
	return u.Balance
}

// settle waits until the purchase's workflow has finished and the user's
// Subscription workflow has nothing left to do (no activity or workflow
// task pending), so counting messages afterwards counts all of them.
func (s *shopEnv) settle(userID int64, purchaseID string) {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	if err := s.temporal.GetWorkflow(ctx, shop.PurchaseWorkflowID(purchaseID), "").Get(ctx, nil); err != nil {
		s.t.Fatalf("purchase workflow %s: %v", purchaseID, err)
	}
	s.waitSubscriptionIdle(userID)
}

// waitSubscriptionIdle waits until the user's Subscription workflow runs
// with no activity or workflow task pending.
func (s *shopEnv) waitSubscriptionIdle(userID int64) {
	s.t.Helper()
	s.waitIdle(shop.SubscriptionWorkflowID(userID))
}

// waitIdle waits until a workflow runs with no activity or workflow task
// pending.
func (s *shopEnv) waitIdle(workflowID string) {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	s.eventually(workflowID+" to be idle", func() error {
		d, err := s.temporal.DescribeWorkflowExecution(ctx, workflowID, "")
		if err != nil {
			return err
		}
		if st := d.GetWorkflowExecutionInfo().GetStatus(); st != enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING {
			return fmt.Errorf("workflow is %s", st)
		}
		if n := len(d.GetPendingActivities()); n > 0 {
			return fmt.Errorf("%d activities pending (%s)", n, d.GetPendingActivities()[0].GetActivityType().GetName())
		}
		if d.GetPendingWorkflowTask() != nil {
			return errors.New("a workflow task is pending")
		}
		return nil
	})
}

// invoicePaidUpdate is the invoice_paid webhook body Crypto Pay sends for
// inv, built from the stand-in's own wire form of the invoice.
func invoicePaidUpdate(updateID int64, inv fakecp.Invoice) []byte {
	body, err := json.Marshal(map[string]any{
		"update_id":    updateID,
		"update_type":  cryptopay.UpdateInvoicePaid,
		"request_date": time.Now().UTC(),
		"payload":      inv,
	})
	if err != nil {
		panic(err) // a map of plain values always encodes
	}
	return body
}

// postCryptoPayWebhook posts body to the bot's Crypto Pay webhook with the
// given signature header ("" sends none) and returns the HTTP status.
func (s *shopEnv) postCryptoPayWebhook(body []byte, signature string) int {
	s.t.Helper()
	req, err := http.NewRequest(http.MethodPost, "http://"+s.cfg.HTTPAddr+"/webhooks/cryptopay", bytes.NewReader(body))
	if err != nil {
		s.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if signature != "" {
		req.Header.Set(cryptopay.SignatureHeader, signature)
	}
	return s.do(req)
}

func (s *shopEnv) do(req *http.Request) int {
	s.t.Helper()
	c := &http.Client{Timeout: 30 * time.Second}
	resp, err := c.Do(req)
	if err != nil {
		s.t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode
}

// logRecords reads a component's JSON log (bot.log, worker.log) and returns
// the records whose msg is msg.
func (s *shopEnv) logRecords(component, msg string) []map[string]any {
	s.t.Helper()
	f, err := os.Open(filepath.Join(s.dir, component+".log"))
	if err != nil {
		s.t.Fatal(err)
	}
	defer f.Close()
	var out []map[string]any
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if !bytes.Contains(sc.Bytes(), []byte(msg)) {
			continue
		}
		var rec map[string]any
		dec := json.NewDecoder(bytes.NewReader(sc.Bytes()))
		dec.UseNumber() // user ids print as integers, not 7.000000001e+09
		if dec.Decode(&rec) == nil && rec["msg"] == msg {
			out = append(out, rec)
		}
	}
	if err := sc.Err(); err != nil {
		s.t.Fatal(err)
	}
	return out
}

// waitLog waits for a log record with the message and every given
// attribute (compared as text).
func (s *shopEnv) waitLog(component, msg string, attrs map[string]string) {
	s.t.Helper()
	s.eventually(fmt.Sprintf("%s.log to say %q %v", component, msg, attrs), func() error {
	records:
		for _, rec := range s.logRecords(component, msg) {
			for k, v := range attrs {
				if fmt.Sprint(rec[k]) != v {
					continue records
				}
			}
			return nil
		}
		return errors.New("no such record")
	})
}

// pressOn presses the button whose text contains label on one given
// message, which need not be the newest (a stale menu, say).
func (s *shopEnv) pressOn(userID int64, msgID int, label string) {
	s.t.Helper()
	for _, m := range s.tg.Messages(userID) {
		if m.ID != msgID {
			continue
		}
		for _, row := range m.Keyboard {
			for _, b := range row {
				if strings.Contains(b.Text, label) && b.CallbackData != "" {
					if _, err := s.tg.PressButton(userID, msgID, b.CallbackData); err != nil {
						s.t.Fatalf("press %q on message %d: %v", label, msgID, err)
					}
					return
				}
			}
		}
		s.t.Fatalf("message %d has no button %q:\n%s", msgID, label, s.conversation(userID))
	}
	s.t.Fatalf("no message %d in the chat of user %d", msgID, userID)
}

// countMessages counts the bot's messages to the user containing substr.
func (s *shopEnv) countMessages(userID int64, substr string) int {
	n := 0
	for _, m := range s.tg.Messages(userID) {
		if strings.Contains(m.Text+m.Caption, substr) {
			n++
		}
	}
	return n
}

// waitButton waits for a bot message newer than after with a button whose
// text contains label.
func (s *shopEnv) waitButton(userID int64, after int, label string) faketg.Message {
	s.t.Helper()
	return s.waitFor(userID, after, fmt.Sprintf("a %q button", label), func(m faketg.Message) bool {
		for _, row := range m.Keyboard {
			for _, b := range row {
				if strings.Contains(b.Text, label) {
					return true
				}
			}
		}
		return false
	})
}
