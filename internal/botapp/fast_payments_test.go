package botapp

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/google/uuid"

	"vpnflow/internal/cryptopay"
	faketg "vpnflow/internal/dev/fake/telegram"
	"vpnflow/internal/shop"
	"vpnflow/internal/store"
	"vpnflow/internal/telegram"
)

// paymentArg is the payment signal as the Purchase workflow decodes it.
type paymentArg struct {
	Provider  string
	InvoiceID string
	ChargeID  string
	Source    string
	UserID    int64
	Amount    int64
}

// TestFastCryptoPayWebhook: the webhook answers 401 to a bad signature and
// 400 to a malformed update, both with no side effect; a paid invoice of
// ours is signal-with-started into purchase/<id> and answered 200 only
// once Temporal took it, 503 when it did not.
func TestFastCryptoPayWebhook(t *testing.T) {
	cfg := fastConfig(t)
	f := newFastBot(t, cfg)
	purchase := uuid.Must(uuid.NewV7()).String()
	paid := func(payload string) []byte {
		return []byte(`{"update_id":1,"update_type":"invoice_paid","request_date":"2026-11-27T10:00:00Z","payload":{"invoice_id":7,"hash":"h","currency_type":"fiat","fiat":"USD","amount":"3.00","status":"paid","created_at":"2026-11-27T09:59:00Z","payload":"` + payload + `"}}`)
	}
	post := func(body []byte, sig string) int {
		req := httptest.NewRequest(http.MethodPost, "/webhooks/cryptopay", bytes.NewReader(body))
		req.Header.Set(cryptopay.SignatureHeader, sig)
		rec := httptest.NewRecorder()
		f.app.cryptoPayWebhook(rec, req)
		return rec.Code
	}
	good := paid(purchase)

	if code := post(good, cryptopay.Sign("someone-else", good)); code != http.StatusUnauthorized {
		t.Errorf("bad signature: %d, want 401", code)
	}
	if code := post(good, ""); code != http.StatusUnauthorized {
		t.Errorf("no signature: %d, want 401", code)
	}
	junk := []byte(`{"update_id":`)
	if code := post(junk, cryptopay.Sign(cfg.CryptoPayToken, junk)); code != http.StatusBadRequest {
		t.Errorf("malformed update: %d, want 400", code)
	}
	notOurs := paid("order-42")
	if code := post(notOurs, cryptopay.Sign(cfg.CryptoPayToken, notOurs)); code != http.StatusOK {
		t.Errorf("an invoice we did not create: %d, want 200 (nothing to retry)", code)
	}
	if calls := f.temporal.Calls(""); len(calls) != 0 {
		t.Fatalf("refused or foreign webhooks reached Temporal: %+v", calls)
	}

	if code := post(good, cryptopay.Sign(cfg.CryptoPayToken, good)); code != http.StatusOK {
		t.Fatalf("good webhook: %d, want 200", code)
	}
	calls := f.temporal.Calls("")
	if len(calls) != 1 {
		t.Fatalf("calls = %+v, want one signal-with-start", calls)
	}
	c := calls[0]
	var pay paymentArg
	decode(t, c.Args[0], &pay)
	var start struct {
		PurchaseID string
		Late       bool
	}
	decode(t, c.StartArgs[0], &start)
	if c.Kind != "signal-with-start" || c.WorkflowID != shop.PurchaseWorkflowID(purchase) || c.Name != shop.SignalPayment ||
		c.Workflow != shop.PurchaseWorkflowType || c.Options.TaskQueue != cfg.TaskQueue {
		t.Errorf("call = %+v, want the payment signal-with-started into purchase/%s", c, purchase)
	}
	if pay != (paymentArg{Provider: shop.ProviderCryptoPay, InvoiceID: "7", Source: "webhook"}) || start.PurchaseID != purchase || !start.Late {
		t.Errorf("signal %+v, start input %+v; want invoice 7 from the webhook, a late run of %s", pay, start, purchase)
	}

	f.temporal.setAnswer(func(tcall) tresult { return tresult{CallErr: errors.New("temporal unavailable")} })
	if code := post(good, cryptopay.Sign(cfg.CryptoPayToken, good)); code != http.StatusServiceUnavailable {
		t.Errorf("Temporal refusing the signal: %d, want 503 so Crypto Pay retries", code)
	}
}

// TestFastStarsPaymentRecordedBeforeSignal: a Stars payment goes through the
// pre-checkout update, and the successful_payment is written to
// star_payments before the payment is signalled, so a signal Temporal
// refuses still leaves the payment on record; the bot retries the signal
// and thanks the user.
func TestFastStarsPaymentRecordedBeforeSignal(t *testing.T) {
	cfg := fastConfig(t)
	f := newFastBot(t, cfg)
	ann := f.newUser("Ann", "en")
	f.start(ann, "Ann", "en")
	purchase := uuid.Must(uuid.NewV7())

	// The invoice as the Purchase workflow's activity would send it.
	invID, err := f.app.tg.SendStarsInvoice(f.ctx(), telegram.StarsInvoice{
		ChatID: ann, Title: "1m", Description: "30 days", Payload: purchase.String(), Label: "1m", Stars: 150,
	})
	if err != nil {
		t.Fatal(err)
	}

	var (
		mu          sync.Mutex
		signals     int
		rowAtSignal []bool
	)
	f.temporal.mu.Lock()
	f.temporal.onCall = func(c tcall) {
		if c.Kind != "signal-with-start" {
			return
		}
		// On the bot's goroutine: no t.Fatal here, a bad payload shows as
		// a missing row.
		pay, _ := c.Args[0].(shop.Payment)
		_, err := f.store.GetStarPayment(context.Background(), pay.ChargeID)
		mu.Lock()
		rowAtSignal = append(rowAtSignal, err == nil)
		mu.Unlock()
	}
	f.temporal.mu.Unlock()
	f.temporal.setAnswer(func(c tcall) tresult {
		if c.Kind != "signal-with-start" {
			return tresult{}
		}
		mu.Lock()
		defer mu.Unlock()
		signals++
		if signals == 1 {
			return tresult{CallErr: errors.New("temporal unavailable")}
		}
		return tresult{}
	})

	charge, err := f.tg.PayStarsInvoice(f.ctx(), ann, invID)
	if err != nil {
		t.Fatalf("pay: %v", err)
	}
	f.waitText(ann, f.T("en", "payment_received", nil))

	updates := f.temporal.Calls("update")
	var checkout struct {
		UserID   int64
		Amount   int64
		Currency string
	}
	if len(updates) != 1 {
		t.Fatalf("updates = %+v, want the one pre-checkout approval", updates)
	}
	decode(t, updates[0].Args[0], &checkout)
	if updates[0].WorkflowID != shop.PurchaseWorkflowID(purchase.String()) || updates[0].Name != shop.UpdateApproveCheckout ||
		checkout.UserID != ann || checkout.Amount != 150 || checkout.Currency != "XTR" {
		t.Errorf("pre-checkout update %s %s %+v, want approve-checkout of 150 XTR by %d", updates[0].WorkflowID, updates[0].Name, checkout, ann)
	}

	row, err := f.store.GetStarPayment(f.ctx(), charge)
	if err != nil {
		t.Fatalf("star_payments row for %s: %v", charge, err)
	}
	if row.UserID != ann || row.Amount != 150 || row.PurchaseID == nil || *row.PurchaseID != purchase {
		t.Errorf("star_payments row = %+v, want 150 by %d for %s", row, ann, purchase)
	}
	signalCalls := f.temporal.Calls("signal-with-start")
	mu.Lock()
	defer mu.Unlock()
	if len(signalCalls) != 2 || len(rowAtSignal) != 2 || !rowAtSignal[0] {
		t.Fatalf("%d signals, row present at each: %v; want the row written before the first (refused) signal and a retry", len(signalCalls), rowAtSignal)
	}
	var pay paymentArg
	decode(t, signalCalls[1].Args[0], &pay)
	if signalCalls[1].WorkflowID != shop.PurchaseWorkflowID(purchase.String()) || signalCalls[1].Name != shop.SignalPayment ||
		pay != (paymentArg{Provider: shop.ProviderStars, ChargeID: charge, Source: "telegram", UserID: ann, Amount: 150}) {
		t.Errorf("payment signal %s %s %+v, want the Stars charge %s", signalCalls[1].WorkflowID, signalCalls[1].Name, pay, charge)
	}
}

// TestFastStarsCheckoutRefused: when the Purchase workflow refuses the
// pre-checkout (say, the invoice expired), Telegram is told no with a
// plain-text reason and no payment is taken.
func TestFastStarsCheckoutRefused(t *testing.T) {
	f := newFastBot(t, fastConfig(t))
	ann := f.newUser("Ann", "en")
	f.start(ann, "Ann", "en")
	purchase := uuid.Must(uuid.NewV7())
	invID, err := f.app.tg.SendStarsInvoice(f.ctx(), telegram.StarsInvoice{
		ChatID: ann, Title: "1m", Description: "30 days", Payload: purchase.String(), Label: "1m", Stars: 150,
	})
	if err != nil {
		t.Fatal(err)
	}
	f.temporal.setAnswer(func(tcall) tresult { return tresult{Err: errors.New("purchase is not awaiting payment")} })
	_, err = f.tg.PayStarsInvoice(f.ctx(), ann, invID)
	var declined *faketg.PaymentDeclinedError
	if !errors.As(err, &declined) {
		t.Fatalf("pay with the checkout refused: %v, want declined", err)
	}
	if want := plainText(f.T("en", "error_generic", nil)); declined.Message != want {
		t.Errorf("decline reason %q, want %q", declined.Message, want)
	}
	if n := len(f.tg.Charges()); n != 0 {
		t.Errorf("%d charges after a refused checkout", n)
	}
	if calls := f.temporal.Calls("signal-with-start"); len(calls) != 0 {
		t.Errorf("a refused checkout was signalled as paid: %+v", calls)
	}
}

// TestFastStarsCheckoutRefusalSaysWhy: a refused pre-checkout is explained
// by what the purchase is. An invoice still awaiting payment (the workflow
// refused because an approved checkout may still be paying, or Temporal
// did not answer in time) is never called expired: the user is asked to
// try again, and does, on the same invoice. Found by the chaos suite: the
// user told "expired" started over, though the invoice was live.
func TestFastStarsCheckoutRefusalSaysWhy(t *testing.T) {
	f := newFastBot(t, fastConfig(t))
	ann := f.newUser("Ann", "en")
	f.start(ann, "Ann", "en")
	f.temporal.setAnswer(func(tcall) tresult { return tresult{Err: errors.New("purchase is already being paid")} })
	for _, c := range []struct {
		status string
		want   string
	}{
		{shop.PurchaseInvoiced, plainText(f.T("en", "checkout_try_again", nil))},
		{shop.PurchasePending, plainText(f.T("en", "checkout_try_again", nil))},
		{shop.PurchaseExpired, plainText(f.T("en", "purchase_expired", map[string]any{"Plan": "1m"}))},
		{shop.PurchaseFailed, plainText(f.T("en", "purchase_expired", map[string]any{"Plan": "1m"}))},
		{shop.PurchasePaid, plainText(f.T("en", "payment_received", nil))},
	} {
		id := uuid.Must(uuid.NewV7())
		if _, err := f.store.CreatePurchase(f.ctx(), store.NewPurchase{ID: id, UserID: ann, Kind: shop.KindSubscription,
			PlanID: "1m", Days: 30, Amount: 150, Currency: "XTR", Provider: shop.ProviderStars}); err != nil {
			t.Fatal(err)
		}
		if _, err := f.app.pool.Exec(f.ctx(), `UPDATE purchases SET status = $2, paid_at = CASE WHEN $2 = 'paid' THEN now() END WHERE id = $1`, id, c.status); err != nil {
			t.Fatal(err)
		}
		invID, err := f.app.tg.SendStarsInvoice(f.ctx(), telegram.StarsInvoice{
			ChatID: ann, Title: "1m", Description: "30 days", Payload: id.String(), Label: "1m", Stars: 150,
		})
		if err != nil {
			t.Fatal(err)
		}
		_, err = f.tg.PayStarsInvoice(f.ctx(), ann, invID)
		var declined *faketg.PaymentDeclinedError
		if !errors.As(err, &declined) {
			t.Fatalf("%s: pay with the checkout refused: %v, want declined", c.status, err)
		}
		if declined.Message != c.want {
			t.Errorf("purchase %s: decline reason %q, want %q", c.status, declined.Message, c.want)
		}
	}
}
