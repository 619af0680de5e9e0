package cryptopay_test

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"vpnflow/internal/cryptopay"
	fakecp "vpnflow/internal/dev/fake/cryptopay"
)

// rawCall sends a request by hand and decodes the envelope loosely, to
// check the wire format without the client's help.
func rawCall(t *testing.T, req *http.Request) (int, map[string]any) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatalf("decode envelope: %v", err)
	}
	return resp.StatusCode, body
}

func apiRequest(t *testing.T, s *fakecp.Server, method, path, contentType, body string) *http.Request {
	t.Helper()
	req, err := http.NewRequestWithContext(testCtx(t), method, s.URL()+"/"+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Crypto-Pay-API-Token", token)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	return req
}

func TestWireFormatOfAnInvoice(t *testing.T) {
	s := start(t, fakecp.Options{})
	status, body := rawCall(t, apiRequest(t, s, http.MethodPost, "createInvoice", "application/json",
		`{"asset":"TON","amount":"1.5","payload":"purchase:9","expires_in":600,"allow_anonymous":false}`))
	if status != http.StatusOK || body["ok"] != true {
		t.Fatalf("status %d, body %v", status, body)
	}
	inv := body["result"].(map[string]any)
	for field, want := range map[string]any{
		"currency_type": "crypto", "asset": "TON", "amount": "1.5", "status": "active",
		"payload": "purchase:9", "allow_comments": true, "allow_anonymous": false,
	} {
		if inv[field] != want {
			t.Errorf("%s = %#v, want %#v", field, inv[field], want)
		}
	}
	if _, ok := inv["invoice_id"].(float64); !ok {
		t.Errorf("invoice_id = %#v, want a number", inv["invoice_id"])
	}
	for _, field := range []string{"created_at", "expiration_date"} {
		v, _ := inv[field].(string)
		if _, err := time.Parse(time.RFC3339, v); err != nil {
			t.Errorf("%s = %#v, want an ISO 8601 string", field, inv[field])
		}
	}
	for _, field := range []string{"bot_invoice_url", "pay_url", "mini_app_invoice_url", "web_app_invoice_url", "hash"} {
		if v, _ := inv[field].(string); v == "" {
			t.Errorf("%s missing", field)
		}
	}
	if _, ok := inv["paid_at"]; ok {
		t.Error("paid_at present on an unpaid invoice")
	}

	id := int64(inv["invoice_id"].(float64))
	if err := s.Pay(id); err != nil {
		t.Fatal(err)
	}
	// GET with a query string works as well as POST.
	status, body = rawCall(t, apiRequest(t, s, http.MethodGet, "getInvoices?invoice_ids="+url.QueryEscape("1"), "", ""))
	if status != http.StatusOK {
		t.Fatalf("getInvoices status %d, body %v", status, body)
	}
	items := body["result"].(map[string]any)["items"].([]any)
	if len(items) != 1 {
		t.Fatalf("items = %v", items)
	}
	paid := items[0].(map[string]any)
	if _, ok := paid["fee_amount"].(float64); !ok {
		t.Errorf("fee_amount = %#v, want a JSON number", paid["fee_amount"])
	}
	if v, _ := paid["paid_amount"].(string); v != "1.5" {
		t.Errorf("paid_amount = %#v, want \"1.5\"", paid["paid_amount"])
	}
	if v, _ := paid["paid_at"].(string); v == "" {
		t.Errorf("paid_at = %#v", paid["paid_at"])
	}
}

func TestFormParameters(t *testing.T) {
	s := start(t, fakecp.Options{})
	form := url.Values{"currency_type": {"fiat"}, "fiat": {"EUR"}, "amount": {"3"}, "accepted_assets": {"USDT,BTC"}}
	status, body := rawCall(t, apiRequest(t, s, http.MethodPost, "createInvoice",
		"application/x-www-form-urlencoded", form.Encode()))
	if status != http.StatusOK {
		t.Fatalf("status %d, body %v", status, body)
	}
	inv := body["result"].(map[string]any)
	if inv["fiat"] != "EUR" || len(inv["accepted_assets"].([]any)) != 2 {
		t.Errorf("invoice = %v", inv)
	}
}

func TestAPIErrors(t *testing.T) {
	s := start(t, fakecp.Options{})
	tests := []struct {
		name   string
		req    func() *http.Request
		status int
		errorN string
	}{
		{"no token", func() *http.Request {
			r := apiRequest(t, s, http.MethodGet, "getMe", "", "")
			r.Header.Del("Crypto-Pay-API-Token")
			return r
		}, 401, "UNAUTHORIZED"},
		{"wrong token", func() *http.Request {
			r := apiRequest(t, s, http.MethodGet, "getMe", "", "")
			r.Header.Set("Crypto-Pay-API-Token", token+"x")
			return r
		}, 401, "UNAUTHORIZED"},
		{"unknown method", func() *http.Request { return apiRequest(t, s, http.MethodGet, "getCoffee", "", "") }, 405, "METHOD_NOT_FOUND"},
		{"bad JSON", func() *http.Request {
			return apiRequest(t, s, http.MethodPost, "createInvoice", "application/json", `{"asset":`)
		}, 400, "PARAMS_INVALID"},
		{"bad amount", func() *http.Request {
			return apiRequest(t, s, http.MethodPost, "createInvoice", "application/json", `{"asset":"USDT","amount":"ten"}`)
		}, 400, "AMOUNT_INVALID"},
		{"bad fiat", func() *http.Request {
			return apiRequest(t, s, http.MethodPost, "createInvoice", "application/json", `{"currency_type":"fiat","fiat":"XYZ","amount":"1"}`)
		}, 400, "FIAT_INVALID"},
		{"bad expiry", func() *http.Request {
			return apiRequest(t, s, http.MethodPost, "createInvoice", "application/json", `{"asset":"USDT","amount":"1","expires_in":2678401}`)
		}, 400, "EXPIRES_IN_INVALID"},
		{"long payload", func() *http.Request {
			return apiRequest(t, s, http.MethodPost, "createInvoice", "application/json",
				`{"asset":"USDT","amount":"1","payload":"`+strings.Repeat("x", 4097)+`"}`)
		}, 400, "PAYLOAD_TOO_LONG"},
		{"status filter expired", func() *http.Request { return apiRequest(t, s, http.MethodGet, "getInvoices?status=expired", "", "") }, 400, "STATUS_INVALID"},
		{"bad ids", func() *http.Request { return apiRequest(t, s, http.MethodGet, "getInvoices?invoice_ids=1,x", "", "") }, 400, "INVOICE_IDS_INVALID"},
		{"count too big", func() *http.Request { return apiRequest(t, s, http.MethodGet, "getInvoices?count=1001", "", "") }, 400, "COUNT_INVALID"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body := rawCall(t, tt.req())
			if status != tt.status || body["ok"] != false {
				t.Fatalf("status %d, body %v", status, body)
			}
			e := body["error"].(map[string]any)
			if e["name"] != tt.errorN || e["code"] != float64(tt.status) {
				t.Errorf("error = %v, want %d %s", e, tt.status, tt.errorN)
			}
		})
	}
	if n := len(s.Invoices()); n != 0 {
		t.Errorf("%d invoices created by rejected calls", n)
	}
	calls := s.Calls()
	if len(calls) != len(tests) || calls[0].Status != 401 || calls[0].Error != "UNAUTHORIZED" {
		t.Errorf("calls = %+v", calls)
	}
}

func TestDriver(t *testing.T) {
	clk := &clock{t: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)}
	s := start(t, fakecp.Options{Now: clk.Now})
	short := newInvoice(t, s, cryptopay.CreateInvoiceParams{ExpiresIn: time.Minute})
	other := newInvoice(t, s, cryptopay.CreateInvoiceParams{Payload: "x"})

	if got, ok := s.Invoice(short.InvoiceID); !ok || got.Status != fakecp.StatusActive || got.Hash != short.Hash {
		t.Fatalf("Invoice = %+v, %v", got, ok)
	}
	clk.Advance(time.Minute)
	if got, _ := s.Invoice(short.InvoiceID); got.Status != fakecp.StatusExpired {
		t.Errorf("after expires_in: status %s", got.Status)
	}
	if got, _ := s.Invoice(other.InvoiceID); got.Status != fakecp.StatusActive {
		t.Errorf("invoice without expiry: status %s", got.Status)
	}

	if err := s.Pay(999); !errors.Is(err, fakecp.ErrNotFound) {
		t.Errorf("pay unknown: %v", err)
	}
	if err := s.Pay(short.InvoiceID); !errors.Is(err, fakecp.ErrNotActive) {
		t.Errorf("pay expired: %v", err)
	}
	if err := s.PayWith(other.InvoiceID, fakecp.PayOptions{Asset: "BTC"}); err == nil {
		t.Error("paid a USDT invoice in BTC")
	}
	if err := s.PayWith(other.InvoiceID, fakecp.PayOptions{Comment: "thanks", Anonymous: true}); err != nil {
		t.Fatal(err)
	}
	if err := s.Pay(other.InvoiceID); !errors.Is(err, fakecp.ErrNotActive) {
		t.Errorf("pay twice: %v", err)
	}
	if err := s.Expire(other.InvoiceID); !errors.Is(err, fakecp.ErrNotActive) {
		t.Errorf("expire paid: %v", err)
	}
	got, _ := s.Invoice(other.InvoiceID)
	if got.Comment != "thanks" || got.PaidAnonymously == nil || !*got.PaidAnonymously || !got.PaidAt.Equal(clk.Now()) {
		t.Errorf("paid invoice = %+v", got)
	}

	third := newInvoice(t, s, cryptopay.CreateInvoiceParams{})
	if err := s.Expire(third.InvoiceID); err != nil {
		t.Fatal(err)
	}
	all := s.Invoices()
	if len(all) != 3 || all[2].Status != fakecp.StatusExpired || all[0].InvoiceID != short.InvoiceID {
		t.Errorf("Invoices = %+v", all)
	}
	// Returned invoices are copies.
	all[0].Status = "tampered"
	if got, _ := s.Invoice(short.InvoiceID); got.Status == "tampered" {
		t.Error("Invoices shares state with the stand-in")
	}
}

func TestNewNeedsToken(t *testing.T) {
	if _, err := fakecp.New(fakecp.Options{}); err == nil {
		t.Error("New without a token: want an error")
	}
}

// Mounted as a plain handler, the stand-in links to the host it was
// reached at, or to PublicURL when given.
func TestHandlerMounted(t *testing.T) {
	s, err := fakecp.New(fakecp.Options{Token: token})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	hs := httptest.NewServer(s.Handler())
	defer hs.Close()
	inv, err := cryptopay.New(hs.URL+"/api", token, nil).CreateInvoice(testCtx(t),
		cryptopay.CreateInvoiceParams{Asset: "USDT", Amount: "1"})
	if err != nil {
		t.Fatal(err)
	}
	if want := hs.URL + "/pay/" + inv.Hash; inv.BotInvoiceURL != want {
		t.Errorf("bot_invoice_url = %q, want %q", inv.BotInvoiceURL, want)
	}
	resp, err := http.Get(inv.BotInvoiceURL)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("pay page status %d", resp.StatusCode)
	}

	pub, err := fakecp.New(fakecp.Options{Token: token, PublicURL: "http://localhost:9999/"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = pub.Close() })
	if pub.URL() != "http://localhost:9999/api" {
		t.Errorf("URL = %q", pub.URL())
	}
}
