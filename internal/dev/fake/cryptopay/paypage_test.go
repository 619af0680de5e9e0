package cryptopay_test

import (
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"vpnflow/internal/cryptopay"
	fakecp "vpnflow/internal/dev/fake/cryptopay"
)

// noRedirect returns a client that hands redirects to the caller instead
// of following them.
func noRedirect() *http.Client {
	return &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

func fetch(t *testing.T, c *http.Client, method, u string, form url.Values) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(testCtx(t), method, u, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	if method == http.MethodPost {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(b)
}

// testID returns the text inside the element with data-testid=id, and
// whether there is one.
func testID(page, id string) (string, bool) {
	re := regexp.MustCompile(`data-testid="` + regexp.QuoteMeta(id) + `"[^>]*>([^<]*)<`)
	m := re.FindStringSubmatch(page)
	if m == nil {
		return "", strings.Contains(page, `data-testid="`+id+`"`)
	}
	return strings.TrimSpace(m[1]), true
}

func TestPayPageAndPayButton(t *testing.T) {
	rc := newReceiver(t, token)
	s := start(t, fakecp.Options{WebhookURL: rc.URL()})
	inv := newInvoice(t, s, cryptopay.CreateInvoiceParams{
		CurrencyType:   cryptopay.CurrencyFiat,
		Fiat:           "USD",
		AcceptedAssets: []string{"USDT", "TON"},
		Amount:         "4.99",
		Description:    `VPN 30 days <script>alert(1)</script>`,
		PaidBtnName:    cryptopay.ButtonOpenBot,
		PaidBtnURL:     "https://t.me/vpnflow_bot?start=paid",
	})

	resp, page := fetch(t, http.DefaultClient, http.MethodGet, inv.URL(), nil)
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("GET pay page: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	if got, _ := testID(page, "invoice-amount"); got != "4.99 USD" {
		t.Errorf("amount = %q", got)
	}
	if got, _ := testID(page, "invoice-status"); got != "active" {
		t.Errorf("status = %q", got)
	}
	if got, _ := testID(page, "invoice-description"); got != "VPN 30 days &lt;script&gt;alert(1)&lt;/script&gt;" {
		t.Errorf("description = %q, want it escaped", got)
	}
	for _, id := range []string{"pay-button", "expire-button", "drop-webhook", "duplicate-webhook", "asset-select"} {
		if _, ok := testID(page, id); !ok {
			t.Errorf("no %s on an active invoice's page", id)
		}
	}
	if strings.Contains(page, "src=") || strings.Contains(page, "<link") {
		t.Error("page loads external assets")
	}

	// The Pay button's form, as a browser would submit it.
	payURL, err := url.Parse(inv.URL())
	if err != nil {
		t.Fatal(err)
	}
	action := payURL.ResolveReference(&url.URL{Path: inv.Hash + "/pay"})
	resp, _ = fetch(t, noRedirect(), http.MethodPost, action.String(),
		url.Values{"asset": {"TON"}, "duplicate_webhook": {"1"}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("POST pay: status %d", resp.StatusCode)
	}
	back, err := resp.Location()
	if err != nil || back.String() != inv.URL() {
		t.Errorf("redirect to %v (%v), want %s", back, err, inv.URL())
	}

	_, page = fetch(t, http.DefaultClient, http.MethodGet, inv.URL(), nil)
	if got, _ := testID(page, "invoice-status"); got != "paid" {
		t.Errorf("status after paying = %q", got)
	}
	if !strings.Contains(page, `href="https://t.me/vpnflow_bot?start=paid" data-testid="return-link"`) {
		t.Error("no return link to paid_btn_url")
	}
	if _, ok := testID(page, "pay-button"); ok {
		t.Error("pay button still shown on a paid invoice")
	}
	got, _ := s.Invoice(inv.InvoiceID)
	if got.Status != fakecp.StatusPaid || got.PaidAsset != "TON" {
		t.Errorf("invoice = %+v", got)
	}
	waitWebhooks(t, s)
	if n := len(rc.Updates()); n != 3 {
		t.Errorf("%d webhooks after 'send 3 times', want 3", n)
	}

	// Paying again is refused on the page.
	resp, page = fetch(t, noRedirect(), http.MethodPost, action.String(), url.Values{})
	if resp.StatusCode != http.StatusConflict {
		t.Errorf("second pay: status %d", resp.StatusCode)
	}
	if _, ok := testID(page, "error"); !ok {
		t.Error("second pay shows no error")
	}
}

func TestPayPageDropAndExpire(t *testing.T) {
	rc := newReceiver(t, token)
	s := start(t, fakecp.Options{WebhookURL: rc.URL(), ReturnURL: "https://t.me/vpnflow_bot"})
	dropped := newInvoice(t, s, cryptopay.CreateInvoiceParams{})
	expiring := newInvoice(t, s, cryptopay.CreateInvoiceParams{})

	resp, page := fetch(t, http.DefaultClient, http.MethodPost, dropped.URL()+"/pay", url.Values{"drop_webhook": {"1"}})
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("pay with drop: %d", resp.StatusCode)
	}
	if got, _ := testID(page, "invoice-status"); got != "paid" {
		t.Errorf("status = %q", got)
	}
	if !strings.Contains(page, `href="https://t.me/vpnflow_bot" data-testid="return-link"`) {
		t.Error("no return link to Options.ReturnURL")
	}
	waitWebhooks(t, s)
	if n := len(s.WebhookDeliveries()); n != 0 {
		t.Errorf("%d deliveries of a dropped webhook", n)
	}

	resp, page = fetch(t, http.DefaultClient, http.MethodPost, expiring.URL()+"/expire", nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("expire: %d", resp.StatusCode)
	}
	if got, _ := testID(page, "invoice-status"); got != "expired" {
		t.Errorf("status = %q", got)
	}
	if _, ok := testID(page, "expired-note"); !ok {
		t.Error("no expired note")
	}
	if got, _ := s.Invoice(expiring.InvoiceID); got.Status != fakecp.StatusExpired {
		t.Errorf("invoice status %s", got.Status)
	}

	resp, _ = fetch(t, http.DefaultClient, http.MethodGet, strings.TrimSuffix(s.URL(), "/api")+"/pay/IVnope", nil)
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("unknown hash: %d", resp.StatusCode)
	}
}
