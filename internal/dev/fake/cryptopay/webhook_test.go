package cryptopay_test

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"testing"
	"time"

	"vpnflow/internal/cryptopay"
	fakecp "vpnflow/internal/dev/fake/cryptopay"
)

func TestWebhookDelivered(t *testing.T) {
	rc := newReceiver(t, token)
	s := start(t, fakecp.Options{WebhookURL: rc.URL()})
	inv := newInvoice(t, s, cryptopay.CreateInvoiceParams{Payload: "purchase:17", Description: "30 days"})

	if err := s.Pay(inv.InvoiceID); err != nil {
		t.Fatalf("pay: %v", err)
	}
	waitWebhooks(t, s)

	ups := rc.Updates()
	if len(ups) != 1 {
		t.Fatalf("received %d updates, want 1 (rejected: %v)", len(ups), rc.Rejected())
	}
	u := ups[0]
	if u.UpdateType != cryptopay.UpdateInvoicePaid || u.UpdateID == 0 || u.RequestDate.IsZero() {
		t.Errorf("update header = %d %q %v", u.UpdateID, u.UpdateType, u.RequestDate)
	}
	p := u.Payload
	if p.InvoiceID != inv.InvoiceID || p.Status != cryptopay.StatusPaid || p.Payload != "purchase:17" ||
		p.Amount != "4.99" || p.PaidAmount != "4.99" || p.PaidAsset != "USDT" || p.PaidAt.IsZero() {
		t.Errorf("payload = %+v", p)
	}
	if got := statuses(s.WebhookDeliveries()); !slices.Equal(got, []int{200}) {
		t.Errorf("deliveries = %v, want [200]", got)
	}
}

func TestWebhookDuplicates(t *testing.T) {
	rc := newReceiver(t, token)
	s := start(t, fakecp.Options{WebhookURL: rc.URL()})
	dup := newInvoice(t, s, cryptopay.CreateInvoiceParams{})
	single := newInvoice(t, s, cryptopay.CreateInvoiceParams{})
	if err := s.SetInvoiceWebhookBehavior(dup.InvoiceID, fakecp.WebhookBehavior{Copies: 3}); err != nil {
		t.Fatal(err)
	}
	if err := s.Pay(dup.InvoiceID); err != nil {
		t.Fatal(err)
	}
	if err := s.Pay(single.InvoiceID); err != nil {
		t.Fatal(err)
	}
	waitWebhooks(t, s)

	counts := map[int64]int{}
	updateIDs := map[int64]map[int64]bool{}
	for _, u := range rc.Updates() {
		id := u.Payload.InvoiceID
		counts[id]++
		if updateIDs[id] == nil {
			updateIDs[id] = map[int64]bool{}
		}
		updateIDs[id][u.UpdateID] = true
	}
	if counts[dup.InvoiceID] != 3 || counts[single.InvoiceID] != 1 {
		t.Errorf("deliveries per invoice = %v, want 3 and 1", counts)
	}
	if len(updateIDs[dup.InvoiceID]) != 1 {
		t.Errorf("duplicates carry update ids %v, want one id", updateIDs[dup.InvoiceID])
	}
	if got := statuses(s.WebhookDeliveries()); !slices.Equal(got, []int{200, 200, 200, 200}) {
		t.Errorf("deliveries = %v", got)
	}
}

func TestWebhookDropped(t *testing.T) {
	rc := newReceiver(t, token)
	s := start(t, fakecp.Options{WebhookURL: rc.URL()})
	s.SetWebhookBehavior(fakecp.WebhookBehavior{Drop: true})
	inv := newInvoice(t, s, cryptopay.CreateInvoiceParams{})
	if err := s.Pay(inv.InvoiceID); err != nil {
		t.Fatal(err)
	}
	waitWebhooks(t, s)
	if n := len(rc.Updates()); n != 0 {
		t.Errorf("received %d updates of a dropped webhook", n)
	}
	if n := len(s.WebhookDeliveries()); n != 0 {
		t.Errorf("%d delivery attempts of a dropped webhook", n)
	}
	// Polling still sees the payment.
	items, err := client(s).GetInvoices(testCtx(t), cryptopay.GetInvoicesParams{Status: cryptopay.StatusPaid})
	if err != nil || len(items) != 1 || items[0].InvoiceID != inv.InvoiceID {
		t.Errorf("paid invoices = %v, %v", items, err)
	}
}

func TestWebhookRetriedUntil200(t *testing.T) {
	rc := newReceiver(t, token, 500, 503)
	s := start(t, fakecp.Options{WebhookURL: rc.URL()})
	inv := newInvoice(t, s, cryptopay.CreateInvoiceParams{})
	if err := s.Pay(inv.InvoiceID); err != nil {
		t.Fatal(err)
	}
	waitWebhooks(t, s)
	ds := s.WebhookDeliveries()
	if got := statuses(ds); !slices.Equal(got, []int{500, 503, 200}) {
		t.Fatalf("deliveries = %v, want [500 503 200]", got)
	}
	for i, d := range ds {
		if d.Attempt != i+1 || d.InvoiceID != inv.InvoiceID || d.UpdateID != ds[0].UpdateID {
			t.Errorf("delivery %d = %+v", i, d)
		}
	}
	ups := rc.Updates()
	if len(ups) != 3 || ups[0].UpdateID != ups[2].UpdateID {
		t.Errorf("receiver saw %d updates", len(ups))
	}
}

func TestWebhookRetriesAreBounded(t *testing.T) {
	rc := newReceiver(t, token, 500, 500, 500, 500, 500)
	s := start(t, fakecp.Options{WebhookURL: rc.URL(), WebhookMaxAttempts: 3})
	inv := newInvoice(t, s, cryptopay.CreateInvoiceParams{})
	if err := s.Pay(inv.InvoiceID); err != nil {
		t.Fatal(err)
	}
	waitWebhooks(t, s)
	if got := statuses(s.WebhookDeliveries()); !slices.Equal(got, []int{500, 500, 500}) {
		t.Errorf("deliveries = %v, want three 500s", got)
	}
}

func TestWebhookSignedWithTheAppToken(t *testing.T) {
	rc := newReceiver(t, "some other app's token")
	s := start(t, fakecp.Options{WebhookURL: rc.URL(), WebhookMaxAttempts: 2})
	inv := newInvoice(t, s, cryptopay.CreateInvoiceParams{})
	if err := s.Pay(inv.InvoiceID); err != nil {
		t.Fatal(err)
	}
	waitWebhooks(t, s)
	rej := rc.Rejected()
	if len(rej) != 2 || !errors.Is(rej[0], cryptopay.ErrBadSignature) {
		t.Errorf("rejections = %v, want two bad signatures", rej)
	}
	if got := statuses(s.WebhookDeliveries()); !slices.Equal(got, []int{401, 401}) {
		t.Errorf("deliveries = %v", got)
	}
}

func TestWebhookUnreachableReceiver(t *testing.T) {
	rc := newReceiver(t, token)
	url := rc.URL()
	rc.srv.Close() // nothing listens there any more
	s := start(t, fakecp.Options{WebhookURL: url, WebhookMaxAttempts: 2})
	inv := newInvoice(t, s, cryptopay.CreateInvoiceParams{})
	if err := s.Pay(inv.InvoiceID); err != nil {
		t.Fatal(err)
	}
	waitWebhooks(t, s)
	ds := s.WebhookDeliveries()
	if len(ds) != 2 || ds[0].Status != 0 || ds[0].Err == "" {
		t.Errorf("deliveries = %+v, want two failed requests", ds)
	}
}

func TestCloseStopsRetries(t *testing.T) {
	rc := newReceiver(t, token, slices.Repeat([]int{http.StatusInternalServerError}, 1000)...)
	s, err := fakecp.New(fakecp.Options{
		Token: token, WebhookURL: rc.URL(), WebhookMaxAttempts: 1000, WebhookRetryInterval: time.Hour,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	inv := newInvoice(t, s, cryptopay.CreateInvoiceParams{})
	if err := s.Pay(inv.InvoiceID); err != nil {
		t.Fatal(err)
	}
	// The first attempt fails and the delivery waits an hour to retry;
	// Close must not wait for it.
	for len(s.WebhookDeliveries()) == 0 {
		time.Sleep(time.Millisecond)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	if err := s.WaitWebhooks(context.Background()); err != nil {
		t.Fatalf("wait after close: %v", err)
	}
	if n := len(s.WebhookDeliveries()); n != 1 {
		t.Errorf("%d attempts, want 1", n)
	}
}

func TestNoWebhookURL(t *testing.T) {
	s := start(t, fakecp.Options{})
	inv := newInvoice(t, s, cryptopay.CreateInvoiceParams{})
	if err := s.Pay(inv.InvoiceID); err != nil {
		t.Fatal(err)
	}
	waitWebhooks(t, s)
	if n := len(s.WebhookDeliveries()); n != 0 {
		t.Errorf("%d deliveries without a webhook URL", n)
	}

	rc := newReceiver(t, token)
	s.SetWebhookURL(rc.URL())
	inv = newInvoice(t, s, cryptopay.CreateInvoiceParams{})
	if err := s.Pay(inv.InvoiceID); err != nil {
		t.Fatal(err)
	}
	waitWebhooks(t, s)
	if n := len(rc.Updates()); n != 1 {
		t.Errorf("%d updates after SetWebhookURL, want 1", n)
	}
}
