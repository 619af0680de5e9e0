package e2e

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/workflowservice/v1"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	faketg "vpnflow/internal/dev/fake/telegram"
	"vpnflow/internal/schedules"
	"vpnflow/internal/shop"
	"vpnflow/internal/store"
	"vpnflow/internal/xray"
)

// TestNoVLESSUUIDInAnyHistoryOrLog: a full run — a Crypto Pay and a Stars
// purchase, a trial, a key reissue, reconciliations, and two UUID
// mismatches forced by putting another UUID into Xray under a user's email
// (one reconcile repairs, one a reissue replaces) — and then not one
// VLESS UUID of any user, current, pending or previous, nor one planted in
// Xray, nor a subscription URL token, is in any event of any workflow in
// the namespace or in any line the worker and the bot logged. Workflow histories and logs are read by
// operators and kept; a UUID is the VPN itself.
func TestNoVLESSUUIDInAnyHistoryOrLog(t *testing.T) {
	s := startShop(t, nil)
	s.runInProcess()
	ctx := context.Background()
	domain := s.cfg.XrayEmailDomain

	// A Crypto Pay purchase.
	ann := s.register("Ann")
	inv := s.buyWithCryptoPay(ann, "30 days")
	if err := s.cp.Pay(inv.InvoiceID); err != nil {
		t.Fatal(err)
	}
	s.assertActive(ann, 30)
	s.settle(ann, s.latestPurchase(ann).ID.String())

	// A Stars purchase.
	bob := s.register("Bob")
	stars := s.starsInvoice(bob)
	if _, err := s.tg.PayStarsInvoice(ctx, bob, stars.ID); err != nil {
		t.Fatalf("pay stars invoice: %v\n%s", err, s.conversation(bob))
	}
	s.waitText(bob, stars.ID, "Payment received")
	s.assertActive(bob, 30)
	s.settle(bob, s.latestPurchase(bob).ID.String())

	// A trial and a reissue that works: Cat has a previous key afterwards.
	cat := s.register("Cat")
	s.press(cat, "trial")
	s.waitFor(cat, 0, "the trial key", isKey)
	s.say(cat, "/sub")
	s.press(cat, "New key")
	s.waitFor(cat, 0, "a second key", func(faketg.Message) bool { return s.keyMessages(cat) >= 2 })

	var planted []string
	plant := func(email string) {
		t.Helper()
		id := uuid.NewString()
		planted = append(planted, id)
		if err := s.xray.RemoveUser(ctx, email); err != nil {
			t.Fatal(err)
		}
		if err := s.xray.AddUser(ctx, xray.User{Email: email, UUID: id, Flow: s.cfg.VLESSFlow}); err != nil {
			t.Fatal(err)
		}
	}
	// Mismatch one: Xray serves another UUID under Ann's email;
	// reconciliation puts hers back.
	annSub, err := s.store.GetSubscription(ctx, ann)
	if err != nil {
		t.Fatal(err)
	}
	plant(annSub.XrayEmail)
	if res, _, _ := s.reconcileOnce(schedules.ReconcileInput{}); res.Readded < 1 {
		t.Fatalf("reconcile repaired nothing: %+v", res)
	}
	s.assertActive(ann, 30)

	// Mismatch two: the email Bob's next key will have already holds
	// another UUID (an interrupted reissue's leftover); his reissue replaces
	// it and goes through.
	bobSub, err := s.store.GetSubscription(ctx, bob)
	if err != nil {
		t.Fatal(err)
	}
	next, ok := xray.NextKeyEmail(bobSub.XrayEmail, domain)
	if !ok {
		t.Fatalf("no next email for %s", bobSub.XrayEmail)
	}
	plant(next)
	after := s.lastID(bob)
	s.say(bob, "/sub")
	s.press(bob, "New key")
	s.waitText(bob, after, "Your old key is switched off")
	s.settleSubscription(bob)

	secrets := s.allStoredKeys()
	if len(secrets) < 4 {
		t.Fatalf("%d keys in the database, want at least 3 current and Cat's previous one", len(secrets))
	}
	secrets = append(secrets, planted...)
	// The subscription URLs' tokens read the keys: just as secret.
	secrets = append(secrets, s.allURLTokens()...)
	s.assertNoSecretInHistories(secrets,
		shop.SubscriptionWorkflowID(ann), shop.SubscriptionWorkflowID(bob), shop.SubscriptionWorkflowID(cat),
		shop.PurchaseWorkflowID(s.latestPurchase(ann).ID.String()), shop.PurchaseWorkflowID(s.latestPurchase(bob).ID.String()))
	s.stopComponent("bot")
	s.stopComponent("worker")
	s.assertNoSecretInLogs(secrets, "worker", "bot")
}

// settleSubscription waits until the user's Subscription workflow has
// nothing in flight.
func (s *shopEnv) settleSubscription(userID int64) {
	s.t.Helper()
	ctx := context.Background()
	s.eventually("the subscription workflow to be idle", func() error {
		d, err := s.temporal.DescribeWorkflowExecution(ctx, shop.SubscriptionWorkflowID(userID), "")
		if err != nil {
			return err
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

// allStoredKeys reads every VLESS UUID the database holds: current,
// pending and previous keys of every user.
func (s *shopEnv) allStoredKeys() []string {
	s.t.Helper()
	rows, err := s.pool.Query(context.Background(), `SELECT k FROM subscriptions,
		LATERAL (VALUES (vless_uuid), (pending_uuid), (previous_uuid)) AS keys(k) WHERE k IS NOT NULL`)
	if err != nil {
		s.t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var k uuid.UUID
		if err := rows.Scan(&k); err != nil {
			s.t.Fatal(err)
		}
		out = append(out, k.String())
	}
	if err := rows.Err(); err != nil {
		s.t.Fatal(err)
	}
	if len(out) == 0 {
		s.t.Fatal("no keys in the database: the check would prove nothing")
	}
	return out
}

// allURLTokens reads every subscription URL token the database holds.
func (s *shopEnv) allURLTokens() []string {
	s.t.Helper()
	rows, err := s.pool.Query(context.Background(), `SELECT url_token FROM subscriptions`)
	if err != nil {
		s.t.Fatal(err)
	}
	tokens, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		s.t.Fatal(err)
	}
	return tokens
}

// needles are the spellings a UUID can take in text or bytes; a URL token
// has one.
func needles(t *testing.T, secrets []string) [][]byte {
	t.Helper()
	var out [][]byte
	for _, sec := range secrets {
		if len(sec) == store.URLTokenLen {
			out = append(out, []byte(sec))
			continue
		}
		id, err := uuid.Parse(sec)
		if err != nil {
			t.Fatal(err)
		}
		lower := strings.ToLower(id.String())
		out = append(out, []byte(lower), []byte(strings.ReplaceAll(lower, "-", "")), bytes.Clone(id[:]))
	}
	return out
}

// assertNoSecretInHistories reads every run of every workflow in the
// namespace, open or closed, and fails on any event that holds a secret
// in any spelling: payloads, failure messages, search attributes, all.
// The listing comes from visibility, which lags a little: it waits until
// the listing has the workflows the test knows ran.
func (s *shopEnv) assertNoSecretInHistories(secrets []string, mustSee ...string) {
	s.t.Helper()
	ctx := context.Background()
	ns := needles(s.t, secrets)
	var executions [][2]string
	s.eventually("visibility lists the test's workflows", func() error {
		executions = executions[:0]
		seen := map[string]bool{}
		var token []byte
		for {
			resp, err := s.temporal.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{PageSize: 1000, NextPageToken: token})
			if err != nil {
				return fmt.Errorf("list workflows: %w", err)
			}
			for _, e := range resp.GetExecutions() {
				executions = append(executions, [2]string{e.GetExecution().GetWorkflowId(), e.GetExecution().GetRunId()})
				seen[e.GetExecution().GetWorkflowId()] = true
			}
			if token = resp.GetNextPageToken(); len(token) == 0 {
				break
			}
		}
		for _, id := range mustSee {
			if !seen[id] {
				return fmt.Errorf("%s not listed among %d runs", id, len(executions))
			}
		}
		return nil
	})
	events := 0
	for _, e := range executions {
		wid, rid := e[0], e[1]
		it := s.temporal.GetWorkflowHistory(ctx, wid, rid, false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
		for it.HasNext() {
			ev, err := it.Next()
			if err != nil {
				s.t.Fatalf("history of %s run %s: %v", wid, rid, err)
			}
			events++
			bin, err := proto.Marshal(ev)
			if err != nil {
				s.t.Fatal(err)
			}
			js, err := protojson.Marshal(ev)
			if err != nil {
				s.t.Fatal(err)
			}
			// Payload data is raw bytes in the binary form (base64 in
			// JSON); the JSON form shows everything else as text.
			if containsAny(ns, bin, bytes.ToLower(bin), bytes.ToLower(js)) {
				s.t.Errorf("a VLESS UUID is in event %d (%s) of %s run %s:\n%s", ev.GetEventId(), ev.GetEventType(), wid, rid, js)
			}
		}
	}
	s.t.Logf("no VLESS UUID in %d events of %d workflow runs (%d keys)", events, len(executions), len(secrets))
}

// containsAny reports whether any of the texts holds any of the needles.
func containsAny(needles [][]byte, texts ...[]byte) bool {
	for _, text := range texts {
		for _, n := range needles {
			if bytes.Contains(text, n) {
				return true
			}
		}
	}
	return false
}

// assertNoSecretInLogs scans every line the components logged.
func (s *shopEnv) assertNoSecretInLogs(secrets []string, components ...string) {
	s.t.Helper()
	ns := needles(s.t, secrets)
	for _, c := range components {
		path := filepath.Join(s.dir, c+".log")
		f, err := os.Open(path)
		if err != nil {
			s.t.Fatal(err)
		}
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 1<<20), 4<<20)
		lines := 0
		for sc.Scan() {
			lines++
			if containsAny(ns, bytes.ToLower(sc.Bytes())) {
				s.t.Errorf("a VLESS UUID is in line %d of the %s log:\n%s", lines, c, sc.Bytes())
			}
		}
		if err := sc.Err(); err != nil {
			s.t.Fatal(err)
		}
		f.Close()
		if lines < 10 {
			s.t.Fatalf("the %s log has %d lines: the check would prove little", c, lines)
		}
		s.t.Logf("no VLESS UUID in %d lines of the %s log", lines, c)
	}
}
