package cryptopay_test

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"vpnflow/internal/cryptopay"
)

const (
	kvToken = "12345:AAzQcZWQqQAbsfgPnOLr4FHC8Dlc5kgUvG3"
	kvBody  = `{"update_id":7,"update_type":"invoice_paid","request_date":"2024-05-01T10:00:00.000Z","payload":{"invoice_id":42,"hash":"IVabc","status":"paid","amount":"4.99","payload":"purchase:17"}}`
	// kvSignature was computed outside Go (Python's hmac and hashlib) from
	// kvToken and kvBody.
	kvSignature = "02c15bb0e929449ae70af2fd0c492960eb803cb836a2bac52c15754c13fce488"
)

func TestSignKnownAnswer(t *testing.T) {
	if got := cryptopay.Sign(kvToken, []byte(kvBody)); got != kvSignature {
		t.Errorf("Sign = %s, want %s", got, kvSignature)
	}
	// The same vector spelled out with the standard library, as the
	// documentation describes it.
	key := sha256.Sum256([]byte(kvToken))
	mac := hmac.New(sha256.New, key[:])
	mac.Write([]byte(kvBody))
	if want := hex.EncodeToString(mac.Sum(nil)); want != kvSignature {
		t.Fatalf("documented construction gives %s, test vector says %s", want, kvSignature)
	}
}

func TestVerifySignature(t *testing.T) {
	body := []byte(kvBody)
	tampered := bytes.Replace(body, []byte(`"4.99"`), []byte(`"0.01"`), 1)
	tests := []struct {
		name  string
		token string
		body  []byte
		sig   string
		want  bool
	}{
		{"valid", kvToken, body, kvSignature, true},
		{"valid upper-case hex", kvToken, body, strings.ToUpper(kvSignature), true},
		{"other token", kvToken + "x", body, kvSignature, false},
		{"tampered body", kvToken, tampered, kvSignature, false},
		{"truncated signature", kvToken, body, kvSignature[:62], false},
		{"not hex", kvToken, body, strings.Repeat("zz", 32), false},
		{"empty signature", kvToken, body, "", false},
		{"empty token", "", body, cryptopay.Sign("", body), false},
		{"signature of token itself", kvToken, body, hex.EncodeToString([]byte(kvToken)), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := cryptopay.VerifySignature(tt.token, tt.body, tt.sig); got != tt.want {
				t.Errorf("VerifySignature = %v, want %v", got, tt.want)
			}
		})
	}
}

func webhookRequest(body, sig string) *http.Request {
	r := httptest.NewRequest(http.MethodPost, "/webhook/cryptopay", strings.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	if sig != "" {
		r.Header.Set("crypto-pay-api-signature", sig) // lower case, as sent
	}
	return r
}

func TestParseWebhookValid(t *testing.T) {
	u, err := cryptopay.ParseWebhook(kvToken, webhookRequest(kvBody, kvSignature), 1<<10)
	if err != nil {
		t.Fatalf("ParseWebhook: %v", err)
	}
	if u.UpdateID != 7 || u.UpdateType != cryptopay.UpdateInvoicePaid {
		t.Errorf("update id/type = %d/%q", u.UpdateID, u.UpdateType)
	}
	if want := time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC); !u.RequestDate.Equal(want) {
		t.Errorf("request date = %v, want %v", u.RequestDate, want)
	}
	inv := u.Payload
	if inv.InvoiceID != 42 || inv.Status != cryptopay.StatusPaid || inv.Amount != "4.99" || inv.Payload != "purchase:17" {
		t.Errorf("payload = %+v", inv)
	}
}

func TestParseWebhookRejects(t *testing.T) {
	signed := func(body string) string { return cryptopay.Sign(kvToken, []byte(body)) }
	tests := []struct {
		name    string
		body    string
		sig     string
		maxBody int64
		want    error
	}{
		{"missing signature", kvBody, "", 0, cryptopay.ErrBadSignature},
		{"wrong signature", kvBody, cryptopay.Sign("other", []byte(kvBody)), 0, cryptopay.ErrBadSignature},
		{"garbage signature", kvBody, "not-a-signature", 0, cryptopay.ErrBadSignature},
		{"over the cap", kvBody, kvSignature, int64(len(kvBody)) - 1, cryptopay.ErrBodyTooLarge},
		{"signed but not JSON", "{not json", signed("{not json"), 0, cryptopay.ErrMalformedUpdate},
		{"signed but no type", `{"update_id":1}`, signed(`{"update_id":1}`), 0, cryptopay.ErrMalformedUpdate},
		{"paid without invoice", `{"update_id":1,"update_type":"invoice_paid"}`,
			signed(`{"update_id":1,"update_type":"invoice_paid"}`), 0, cryptopay.ErrMalformedUpdate},
		{"bad date", `{"update_id":1,"update_type":"invoice_paid","request_date":"yesterday"}`,
			signed(`{"update_id":1,"update_type":"invoice_paid","request_date":"yesterday"}`), 0, cryptopay.ErrMalformedUpdate},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := cryptopay.ParseWebhook(kvToken, webhookRequest(tt.body, tt.sig), tt.maxBody)
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			if strings.Contains(err.Error(), kvToken) {
				t.Errorf("error reveals the token: %v", err)
			}
		})
	}
}

func TestParseWebhookBodyExactlyAtCap(t *testing.T) {
	if _, err := cryptopay.ParseWebhook(kvToken, webhookRequest(kvBody, kvSignature), int64(len(kvBody))); err != nil {
		t.Fatalf("body of exactly maxBody bytes: %v", err)
	}
}

// The cap holds however long the body is: a huge body is not read whole.
func TestParseWebhookReadsAtMostCap(t *testing.T) {
	const limit = 1 << 10
	src := &countingReader{n: 1 << 30}
	r := httptest.NewRequest(http.MethodPost, "/webhook", src)
	r.Header.Set(cryptopay.SignatureHeader, kvSignature)
	if _, err := cryptopay.ParseWebhook(kvToken, r, limit); !errors.Is(err, cryptopay.ErrBodyTooLarge) {
		t.Fatalf("err = %v, want ErrBodyTooLarge", err)
	}
	if src.read > limit+1 {
		t.Errorf("read %d bytes of the body, cap is %d", src.read, limit)
	}
}

// countingReader yields n bytes of spaces and counts what was taken.
type countingReader struct {
	n, read int
}

func (c *countingReader) Read(p []byte) (int, error) {
	if c.read >= c.n {
		return 0, errors.New("eof")
	}
	k := min(len(p), c.n-c.read)
	for i := range k {
		p[i] = ' '
	}
	c.read += k
	return k, nil
}
