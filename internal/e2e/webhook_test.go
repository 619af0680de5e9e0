package e2e

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/google/uuid"
	enumspb "go.temporal.io/api/enums/v1"

	"vpnflow/internal/cryptopay"
	fakecp "vpnflow/internal/dev/fake/cryptopay"
	"vpnflow/internal/shop"
	"vpnflow/internal/store"
)

func TestDuplicateWebhooksCreditOnce(t *testing.T) {
	s := startShop(t, nil)
	s.runInProcess()
	ctx := context.Background()

	dave := s.register("Dave")
	inv := s.buyWithCryptoPay(dave, "30 days")
	if err := s.cp.SetInvoiceWebhookBehavior(inv.InvoiceID, fakecp.WebhookBehavior{Copies: 5}); err != nil {
		t.Fatal(err)
	}
	if err := s.cp.Pay(inv.InvoiceID); err != nil {
		t.Fatal(err)
	}
	s.assertActive(dave, 30)
	p := s.latestPurchase(dave)
	s.settle(dave, p.ID.String())

	wctx, cancel := context.WithTimeout(ctx, waitLimit)
	defer cancel()
	if err := s.cp.WaitWebhooks(wctx); err != nil {
		t.Fatal(err)
	}
	accepted := map[int]bool{}
	for _, d := range s.cp.WebhookDeliveries() {
		if d.InvoiceID == inv.InvoiceID && d.Status == http.StatusOK {
			accepted[d.Copy] = true
		}
	}
	if len(accepted) != 5 {
		t.Fatalf("the bot accepted %d of 5 copies: %+v", len(accepted), s.cp.WebhookDeliveries())
	}
	if n := s.ledgerRows(dave, store.LedgerPayment); n != 1 {
		t.Fatalf("%d payment ledger rows, want 1", n)
	}
	if n := s.keyMessages(dave); n != 1 {
		t.Fatalf("%d key messages, want 1", n)
	}
}

func TestWebhookAfterPollingChangesNothing(t *testing.T) {
	s := startShop(t, nil)
	s.runInProcess()
	ctx := context.Background()

	erin := s.register("Erin")
	inv := s.buyWithCryptoPay(erin, "30 days")
	if err := s.cp.SetInvoiceWebhookBehavior(inv.InvoiceID, fakecp.WebhookBehavior{Drop: true}); err != nil {
		t.Fatal(err)
	}
	if err := s.cp.Pay(inv.InvoiceID); err != nil {
		t.Fatal(err)
	}
	s.assertActive(erin, 30)
	p := s.latestPurchase(erin)
	s.settle(erin, p.ID.String())
	var st shop.PurchaseState
	if err := s.temporal.GetWorkflow(ctx, shop.PurchaseWorkflowID(p.ID.String()), "").Get(ctx, &st); err != nil {
		t.Fatal(err)
	}
	if st.PaidVia != "poll" {
		t.Fatalf("paid via %q, want poll (the webhook was dropped)", st.PaidVia)
	}

	// The late webhook, as Crypto Pay would sign it.
	paid, ok := s.cp.Invoice(inv.InvoiceID)
	if !ok {
		t.Fatal("invoice vanished")
	}
	body := invoicePaidUpdate(1000, paid)
	if code := s.postCryptoPayWebhook(body, cryptopay.Sign(s.cfg.CryptoPayToken, body)); code != http.StatusOK {
		t.Fatalf("late webhook: HTTP %d, want 200", code)
	}
	// The purchase's workflow had closed: the webhook starts a late run,
	// which finds the purchase credited already and changes nothing.
	s.waitLog("bot", "crypto pay payment signalled", map[string]string{"purchase_id": p.ID.String()})
	s.settle(erin, p.ID.String())
	if got, err := s.store.GetPurchase(ctx, p.ID); err != nil || got.Status != shop.PurchasePaid {
		t.Fatalf("purchase after the late webhook: %+v, %v", got, err)
	}
	if n := s.ledgerRows(erin, store.LedgerPayment); n != 1 {
		t.Fatalf("%d payment ledger rows, want 1", n)
	}
	if n := s.keyMessages(erin); n != 1 {
		t.Fatalf("%d key messages, want 1", n)
	}
}

func TestForgedWebhooksChangeNothing(t *testing.T) {
	s := startShop(t, nil)
	s.runInProcess()
	ctx := context.Background()

	frank := s.register("Frank")
	inv := s.buyWithCryptoPay(frank, "30 days")
	p := s.latestPurchase(frank)
	s.waitPurchaseStatus(p, shop.PurchaseInvoiced)
	posted := time.Now()

	// The invoice is unpaid at Crypto Pay; the forger claims it is paid.
	forged := inv
	forged.Status = fakecp.StatusPaid
	forged.PaidAt = time.Now().UTC()
	body := invoicePaidUpdate(1, forged)
	if code := s.postCryptoPayWebhook(body, cryptopay.Sign("not-the-token", body)); code != http.StatusUnauthorized {
		t.Errorf("wrong signature: HTTP %d, want 401", code)
	}
	if code := s.postCryptoPayWebhook(body, ""); code != http.StatusUnauthorized {
		t.Errorf("no signature: HTTP %d, want 401", code)
	}
	if code := s.postCryptoPayWebhook(body, "zz"+cryptopay.Sign(s.cfg.CryptoPayToken, body)[2:]); code != http.StatusUnauthorized {
		t.Errorf("signature that is not hex: HTTP %d, want 401", code)
	}
	for _, bad := range []string{`{"update_id": 1, "update_type": `, `{"update_id": 1}`, `{"update_id": 1, "update_type": "invoice_paid", "payload": {}}`} {
		if code := s.postCryptoPayWebhook([]byte(bad), cryptopay.Sign(s.cfg.CryptoPayToken, []byte(bad))); code != http.StatusBadRequest {
			t.Errorf("signed malformed body %s: HTTP %d, want 400", bad, code)
		}
	}

	// Correctly signed but for nothing we sold: answered 200 (a retry would
	// not help) and logged.
	stranger := inv
	stranger.InvoiceID, stranger.Payload = 999_999, uuid.NewString()
	body = invoicePaidUpdate(2, stranger)
	if code := s.postCryptoPayWebhook(body, cryptopay.Sign(s.cfg.CryptoPayToken, body)); code != http.StatusOK {
		t.Errorf("unknown purchase: HTTP %d, want 200", code)
	}
	// A late run looks the purchase up, finds nothing and tells the admins.
	s.waitLog("bot", "crypto pay payment signalled", map[string]string{"purchase_id": stranger.Payload})
	{
		wctx, cancel := context.WithTimeout(ctx, waitLimit)
		if err := s.temporal.GetWorkflow(wctx, shop.PurchaseWorkflowID(stranger.Payload), "").Get(wctx, nil); err != nil {
			t.Errorf("late run for an unknown purchase: %v", err)
		}
		cancel()
	}
	stranger.Payload = "order-42"
	body = invoicePaidUpdate(3, stranger)
	if code := s.postCryptoPayWebhook(body, cryptopay.Sign(s.cfg.CryptoPayToken, body)); code != http.StatusOK {
		t.Errorf("foreign payload: HTTP %d, want 200", code)
	}
	s.waitLog("bot", "crypto pay webhook for an invoice we did not create", map[string]string{"payload": "order-42"})
	s.waitLog("bot", "crypto pay webhook with a bad signature refused", nil)

	// The workflow polls Crypto Pay after the forgeries; had any of them
	// reached it, it would have been credited by then.
	s.eventually("a poll of the invoice after the forged webhooks", func() error {
		for _, c := range s.cp.Calls() {
			if c.Method == "getInvoices" && c.At.After(posted) && c.Params["invoice_ids"] == strconv.FormatInt(inv.InvoiceID, 10) {
				return nil
			}
		}
		return fmt.Errorf("no getInvoices for invoice %d yet", inv.InvoiceID)
	})
	if got, err := s.store.GetPurchase(ctx, p.ID); err != nil || got.Status != shop.PurchaseInvoiced {
		t.Fatalf("purchase after forged webhooks: %+v, %v", got, err)
	}
	// Not a single payment signal reached the purchase.
	hist := s.temporal.GetWorkflowHistory(ctx, shop.PurchaseWorkflowID(p.ID.String()), "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for hist.HasNext() {
		ev, err := hist.Next()
		if err != nil {
			t.Fatal(err)
		}
		if ev.GetEventType() == enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED {
			t.Fatalf("the purchase got a signal: %v", ev)
		}
	}
	if n := s.allLedgerRows(frank); n != 0 {
		t.Fatalf("%d ledger rows, want none", n)
	}
	if n := s.keyMessages(frank); n != 0 {
		t.Fatalf("%d key messages, want none", n)
	}
}
