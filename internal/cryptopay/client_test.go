package cryptopay_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"vpnflow/internal/cryptopay"
	fakecp "vpnflow/internal/dev/fake/cryptopay"
)

const testToken = "7777:AAtestTokenForTheStandIn"

// clock is a settable time source for the stand-in.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func startFake(t *testing.T, opts fakecp.Options) *fakecp.Server {
	t.Helper()
	if opts.Token == "" {
		opts.Token = testToken
	}
	s, err := fakecp.New(opts)
	if err != nil {
		t.Fatalf("new stand-in: %v", err)
	}
	if err := s.Start("127.0.0.1:0"); err != nil {
		t.Fatalf("start stand-in: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("close stand-in: %v", err)
		}
	})
	return s
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func ptr[T any](v T) *T { return &v }

func TestGetMe(t *testing.T) {
	fake := startFake(t, fakecp.Options{AppID: 321, AppName: "shop", BotUsername: "CryptoTestnetBot"})
	c := cryptopay.New(fake.URL(), testToken, nil)
	me, err := c.GetMe(ctxT(t))
	if err != nil {
		t.Fatalf("GetMe: %v", err)
	}
	want := cryptopay.Me{AppID: 321, Name: "shop", PaymentProcessingBotUsername: "CryptoTestnetBot"}
	if me != want {
		t.Errorf("GetMe = %+v, want %+v", me, want)
	}
	calls := fake.Calls()
	if len(calls) != 1 || calls[0].Method != "getMe" || calls[0].Status != http.StatusOK {
		t.Errorf("calls = %+v", calls)
	}
}

func TestCreateInvoiceCrypto(t *testing.T) {
	clk := &clock{t: time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)}
	fake := startFake(t, fakecp.Options{Now: clk.Now})
	c := cryptopay.New(fake.URL(), testToken, nil)

	inv, err := c.CreateInvoice(ctxT(t), cryptopay.CreateInvoiceParams{
		Asset:         "USDT",
		Amount:        cryptopay.FormatCents(499),
		Description:   "VPN, 30 days",
		HiddenMessage: "Thanks!",
		PaidBtnName:   cryptopay.ButtonOpenBot,
		PaidBtnURL:    "https://t.me/vpnflow_bot",
		Payload:       "purchase:17",
		AllowComments: ptr(false),
		ExpiresIn:     time.Hour,
	})
	if err != nil {
		t.Fatalf("CreateInvoice: %v", err)
	}
	if inv.InvoiceID == 0 || inv.Hash == "" {
		t.Errorf("no id or hash: %+v", inv)
	}
	if inv.CurrencyType != cryptopay.CurrencyCrypto || inv.Asset != "USDT" || inv.Amount != "4.99" {
		t.Errorf("currency/asset/amount = %s/%s/%s", inv.CurrencyType, inv.Asset, inv.Amount)
	}
	if inv.Status != cryptopay.StatusActive || inv.Payload != "purchase:17" || inv.Description != "VPN, 30 days" {
		t.Errorf("status/payload/description = %s/%q/%q", inv.Status, inv.Payload, inv.Description)
	}
	if inv.AllowComments || !inv.AllowAnonymous {
		t.Errorf("allow comments/anonymous = %v/%v, want false/true", inv.AllowComments, inv.AllowAnonymous)
	}
	if !inv.CreatedAt.Equal(clk.Now()) || !inv.ExpirationDate.Equal(clk.Now().Add(time.Hour)) {
		t.Errorf("created %v, expires %v", inv.CreatedAt, inv.ExpirationDate)
	}
	root := strings.TrimSuffix(fake.URL(), "/api")
	if inv.URL() != root+"/pay/"+inv.Hash || !strings.HasPrefix(inv.MiniAppInvoiceURL, root+"/pay/") {
		t.Errorf("links = %q, %q", inv.URL(), inv.MiniAppInvoiceURL)
	}

	calls := fake.Calls()
	if len(calls) != 1 {
		t.Fatalf("calls = %+v", calls)
	}
	p := calls[0].Params
	for k, want := range map[string]string{
		"asset": "USDT", "amount": "4.99", "payload": "purchase:17", "expires_in": "3600",
		"allow_comments": "false", "paid_btn_name": "openBot",
	} {
		if p[k] != want {
			t.Errorf("sent %s = %q, want %q", k, p[k], want)
		}
	}
	if _, sent := p["allow_anonymous"]; sent {
		t.Error("allow_anonymous sent although left at the API default")
	}
}

func TestCreateInvoiceFiat(t *testing.T) {
	fake := startFake(t, fakecp.Options{})
	c := cryptopay.New(fake.URL(), testToken, nil)
	inv, err := c.CreateInvoice(ctxT(t), cryptopay.CreateInvoiceParams{
		CurrencyType:   cryptopay.CurrencyFiat,
		Fiat:           "USD",
		AcceptedAssets: []string{"USDT", "TON"},
		Amount:         "4.99",
		Payload:        "purchase:18",
	})
	if err != nil {
		t.Fatalf("CreateInvoice: %v", err)
	}
	if inv.CurrencyType != cryptopay.CurrencyFiat || inv.Fiat != "USD" || inv.Asset != "" {
		t.Errorf("currency = %s %q %q", inv.CurrencyType, inv.Fiat, inv.Asset)
	}
	if strings.Join(inv.AcceptedAssets, ",") != "USDT,TON" {
		t.Errorf("accepted assets = %v", inv.AcceptedAssets)
	}
	if !inv.ExpirationDate.IsZero() {
		t.Errorf("expiration date %v on an invoice without expires_in", inv.ExpirationDate)
	}
	if got := fake.Calls()[0].Params["accepted_assets"]; got != "USDT,TON" {
		t.Errorf("sent accepted_assets = %q", got)
	}

	// Paying in TON converts at the stand-in's rate (5.2 USD) and the
	// result, fee_amount included (a JSON number), reads back exactly.
	if err := fake.PayWith(inv.InvoiceID, fakecp.PayOptions{Asset: "TON"}); err != nil {
		t.Fatalf("pay: %v", err)
	}
	items, err := c.GetInvoices(ctxT(t), cryptopay.GetInvoicesParams{InvoiceIDs: []int64{inv.InvoiceID}})
	if err != nil || len(items) != 1 {
		t.Fatalf("GetInvoices = %v, %v", items, err)
	}
	paid := items[0]
	if paid.Status != cryptopay.StatusPaid || paid.PaidAsset != "TON" || paid.PaidAt.IsZero() {
		t.Errorf("paid invoice = %+v", paid)
	}
	if paid.PaidAmount != "0.95961538" || paid.PaidFiatRate != "5.20000000" || paid.PaidUSDRate != "5.20000000" {
		t.Errorf("paid amount/fiat rate/usd rate = %s/%s/%s", paid.PaidAmount, paid.PaidFiatRate, paid.PaidUSDRate)
	}
	if paid.FeeAsset != "TON" || paid.FeeAmount != "0.02878846" {
		t.Errorf("fee = %s %s", paid.FeeAmount, paid.FeeAsset)
	}
	if cents, err := paid.Amount.Minor(2); err != nil || cents != 499 {
		t.Errorf("amount in cents = %d, %v", cents, err)
	}
}

func TestCreateInvoiceRefusesBadParams(t *testing.T) {
	fake := startFake(t, fakecp.Options{})
	c := cryptopay.New(fake.URL(), testToken, nil)
	ok := cryptopay.CreateInvoiceParams{Asset: "USDT", Amount: "1"}
	tests := []struct {
		name   string
		change func(*cryptopay.CreateInvoiceParams)
	}{
		{"no asset", func(p *cryptopay.CreateInvoiceParams) { p.Asset = "" }},
		{"fiat without fiat", func(p *cryptopay.CreateInvoiceParams) { p.CurrencyType, p.Asset = cryptopay.CurrencyFiat, "" }},
		{"unknown currency type", func(p *cryptopay.CreateInvoiceParams) { p.CurrencyType = "barter" }},
		{"zero amount", func(p *cryptopay.CreateInvoiceParams) { p.Amount = "0.00" }},
		{"negative amount", func(p *cryptopay.CreateInvoiceParams) { p.Amount = "-1" }},
		{"float-looking amount", func(p *cryptopay.CreateInvoiceParams) { p.Amount = "1e2" }},
		{"payload over 4 KiB", func(p *cryptopay.CreateInvoiceParams) { p.Payload = strings.Repeat("x", 4097) }},
		{"description too long", func(p *cryptopay.CreateInvoiceParams) { p.Description = strings.Repeat("я", 1025) }},
		{"button without URL", func(p *cryptopay.CreateInvoiceParams) { p.PaidBtnName = cryptopay.ButtonOpenBot }},
		{"expiry too short", func(p *cryptopay.CreateInvoiceParams) { p.ExpiresIn = time.Millisecond }},
		{"expiry too long", func(p *cryptopay.CreateInvoiceParams) { p.ExpiresIn = 32 * 24 * time.Hour }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := ok
			tt.change(&p)
			_, err := c.CreateInvoice(ctxT(t), p)
			if !errors.Is(err, cryptopay.ErrInvalidParams) || cryptopay.IsRetryable(err) {
				t.Errorf("err = %v, want non-retryable ErrInvalidParams", err)
			}
		})
	}
	if n := len(fake.Calls()); n != 0 {
		t.Errorf("%d calls reached the API", n)
	}
	// A 4096-byte payload is within the limit.
	p := ok
	p.Payload = strings.Repeat("x", 4096)
	if _, err := c.CreateInvoice(ctxT(t), p); err != nil {
		t.Errorf("payload of exactly 4 KiB: %v", err)
	}
}

func TestCreateInvoiceAPIRejection(t *testing.T) {
	fake := startFake(t, fakecp.Options{})
	c := cryptopay.New(fake.URL(), testToken, nil)
	_, err := c.CreateInvoice(ctxT(t), cryptopay.CreateInvoiceParams{Asset: "DOGE", Amount: "1"})
	var apiErr *cryptopay.APIError
	if !errors.As(err, &apiErr) || apiErr.Status != 400 || apiErr.Name != "ASSET_INVALID" {
		t.Fatalf("err = %v, want APIError 400 ASSET_INVALID", err)
	}
	if cryptopay.IsRetryable(err) {
		t.Error("a rejected asset is retryable")
	}
}

func TestGetInvoices(t *testing.T) {
	fake := startFake(t, fakecp.Options{})
	c := cryptopay.New(fake.URL(), testToken, nil)
	ctx := ctxT(t)
	var ids []int64
	for i := range 5 {
		inv, err := c.CreateInvoice(ctx, cryptopay.CreateInvoiceParams{
			Asset: "USDT", Amount: cryptopay.FormatCents(int64(100 + i)), Payload: "p",
		})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, inv.InvoiceID)
	}
	if err := fake.Pay(ids[1]); err != nil {
		t.Fatal(err)
	}
	if err := fake.Pay(ids[3]); err != nil {
		t.Fatal(err)
	}

	got, err := c.GetInvoices(ctx, cryptopay.GetInvoicesParams{InvoiceIDs: []int64{ids[0], ids[3], 999}})
	if err != nil {
		t.Fatalf("by ids: %v", err)
	}
	if !sameIDs(got, ids[3], ids[0]) {
		t.Errorf("by ids = %v", invoiceIDs(got))
	}
	if got[0].Status != cryptopay.StatusPaid || got[1].Status != cryptopay.StatusActive {
		t.Errorf("statuses = %s, %s", got[0].Status, got[1].Status)
	}
	if fake.Calls()[len(fake.Calls())-1].Params["invoice_ids"] != "1,4,999" {
		t.Errorf("sent invoice_ids = %q", fake.Calls()[len(fake.Calls())-1].Params["invoice_ids"])
	}

	paid, err := c.GetInvoices(ctx, cryptopay.GetInvoicesParams{Status: cryptopay.StatusPaid})
	if err != nil || !sameIDs(paid, ids[3], ids[1]) {
		t.Errorf("paid = %v, %v", invoiceIDs(paid), err)
	}
	active, err := c.GetInvoices(ctx, cryptopay.GetInvoicesParams{Status: cryptopay.StatusActive})
	if err != nil || !sameIDs(active, ids[4], ids[2], ids[0]) {
		t.Errorf("active = %v, %v", invoiceIDs(active), err)
	}
	page, err := c.GetInvoices(ctx, cryptopay.GetInvoicesParams{Offset: 1, Count: 2})
	if err != nil || !sameIDs(page, ids[3], ids[2]) {
		t.Errorf("offset 1 count 2 = %v, %v", invoiceIDs(page), err)
	}
	none, err := c.GetInvoices(ctx, cryptopay.GetInvoicesParams{Asset: "TON"})
	if err != nil || len(none) != 0 {
		t.Errorf("asset TON = %v, %v; want none", invoiceIDs(none), err)
	}

	if _, err := c.GetInvoices(ctx, cryptopay.GetInvoicesParams{Count: 1001}); !errors.Is(err, cryptopay.ErrInvalidParams) {
		t.Errorf("count 1001: err = %v", err)
	}
}

func invoiceIDs(items []cryptopay.Invoice) []int64 {
	out := make([]int64, len(items))
	for i, inv := range items {
		out[i] = inv.InvoiceID
	}
	return out
}

func sameIDs(items []cryptopay.Invoice, want ...int64) bool {
	got := invoiceIDs(items)
	if len(got) != len(want) {
		return false
	}
	for i := range got {
		if got[i] != want[i] {
			return false
		}
	}
	return true
}

func TestExpiry(t *testing.T) {
	clk := &clock{t: time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)}
	fake := startFake(t, fakecp.Options{Now: clk.Now})
	c := cryptopay.New(fake.URL(), testToken, nil)
	ctx := ctxT(t)
	inv, err := c.CreateInvoice(ctx, cryptopay.CreateInvoiceParams{Asset: "TON", Amount: "1.5", ExpiresIn: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	clk.Advance(59 * time.Minute)
	items, err := c.GetInvoices(ctx, cryptopay.GetInvoicesParams{InvoiceIDs: []int64{inv.InvoiceID}})
	if err != nil || items[0].Status != cryptopay.StatusActive {
		t.Fatalf("before expiry: %v, %v", items, err)
	}
	clk.Advance(time.Minute)
	items, err = c.GetInvoices(ctx, cryptopay.GetInvoicesParams{InvoiceIDs: []int64{inv.InvoiceID}})
	if err != nil || items[0].Status != cryptopay.StatusExpired {
		t.Fatalf("at expiry: %v, %v", items, err)
	}
	if err := fake.Pay(inv.InvoiceID); !errors.Is(err, fakecp.ErrNotActive) {
		t.Errorf("paying an expired invoice: %v", err)
	}
}

func TestWrongToken(t *testing.T) {
	fake := startFake(t, fakecp.Options{})
	const wrong = "1111:AAwrongTokenValue"
	c := cryptopay.New(fake.URL(), wrong, nil)
	_, err := c.GetMe(ctxT(t))
	var apiErr *cryptopay.APIError
	if !errors.As(err, &apiErr) {
		t.Fatalf("err = %v, want *APIError", err)
	}
	want := cryptopay.APIError{Status: 401, Code: 401, Name: cryptopay.ErrNameUnauthorized}
	if *apiErr != want {
		t.Errorf("APIError = %+v, want %+v", *apiErr, want)
	}
	if cryptopay.IsRetryable(err) {
		t.Error("UNAUTHORIZED is retryable")
	}
	if strings.Contains(err.Error(), wrong) || strings.Contains(err.Error(), "AAwrong") {
		t.Errorf("error reveals the token: %v", err)
	}

	if _, err := cryptopay.New(fake.URL(), "", nil).GetMe(ctxT(t)); err == nil || cryptopay.IsRetryable(err) {
		t.Errorf("empty token: err = %v, want a non-retryable error", err)
	}
}

func TestServerErrorsAreRetryable(t *testing.T) {
	fake := startFake(t, fakecp.Options{})
	c := cryptopay.New(fake.URL(), testToken, nil)
	ctx := ctxT(t)
	for _, status := range []int{500, 502, 503, 429} {
		fake.FailNext(1, status)
		_, err := c.GetMe(ctx)
		var apiErr *cryptopay.APIError
		if !errors.As(err, &apiErr) || apiErr.Status != status {
			t.Errorf("status %d: err = %v", status, err)
		}
		if !cryptopay.IsRetryable(err) {
			t.Errorf("status %d: not retryable", status)
		}
	}
	if _, err := c.GetMe(ctx); err != nil {
		t.Errorf("after the failures: %v", err)
	}
}

func TestNonJSONErrorPage(t *testing.T) {
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(http.StatusBadGateway)
		_, _ = w.Write([]byte("<html><body>502 Bad Gateway</body></html>"))
	}))
	defer proxy.Close()
	_, err := cryptopay.New(proxy.URL+"/api", testToken, nil).GetMe(ctxT(t))
	var apiErr *cryptopay.APIError
	if !errors.As(err, &apiErr) || apiErr.Status != http.StatusBadGateway || !cryptopay.IsRetryable(err) {
		t.Errorf("err = %v, want retryable APIError 502", err)
	}
}

func TestTimeouts(t *testing.T) {
	fake := startFake(t, fakecp.Options{})
	fake.SetLatency(time.Hour) // the stand-in stops waiting when the client leaves
	c := cryptopay.New(fake.URL(), testToken, nil)

	t.Run("context deadline", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		_, err := c.GetMe(ctx)
		if !errors.Is(err, context.DeadlineExceeded) || !cryptopay.IsRetryable(err) {
			t.Errorf("err = %v, want retryable deadline exceeded", err)
		}
	})
	t.Run("client default", func(t *testing.T) {
		_, err := c.WithTimeout(50 * time.Millisecond).GetMe(context.Background())
		if !errors.Is(err, context.DeadlineExceeded) || !cryptopay.IsRetryable(err) {
			t.Errorf("err = %v, want retryable deadline exceeded", err)
		}
	})
	t.Run("cancelled", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		before := len(fake.Calls())
		go func() {
			// Cancel once the stand-in holds the request.
			for len(fake.Calls()) <= before {
				time.Sleep(time.Millisecond)
			}
			cancel()
		}()
		_, err := c.GetMe(ctx)
		if !errors.Is(err, context.Canceled) || cryptopay.IsRetryable(err) {
			t.Errorf("err = %v, want non-retryable cancellation", err)
		}
	})
}

func TestConnectionRefusedIsRetryable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	_, err = cryptopay.New("http://"+addr+"/api", testToken, nil).GetMe(ctxT(t))
	if err == nil || !cryptopay.IsRetryable(err) {
		t.Errorf("err = %v, want a retryable error", err)
	}
	if strings.Contains(err.Error(), testToken) {
		t.Errorf("error reveals the token: %v", err)
	}
}
