package cryptopay

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"
)

// SignatureHeader carries a webhook's signature.
const SignatureHeader = "Crypto-Pay-API-Signature"

// UpdateInvoicePaid is the update Crypto Pay sends when an invoice is paid.
const UpdateInvoicePaid = "invoice_paid"

// DefaultMaxWebhookBody is a generous cap for one update: an invoice with
// the largest payload, description and hidden message is under 16 KiB.
const DefaultMaxWebhookBody = 64 << 10

var (
	// ErrBadSignature means the webhook's signature is missing or does not
	// match the token: it did not come from Crypto Pay for our app.
	ErrBadSignature = errors.New("bad webhook signature")
	// ErrBodyTooLarge means the webhook body exceeded the size cap.
	ErrBodyTooLarge = errors.New("webhook body too large")
	// ErrMalformedUpdate means a correctly signed body is not an update.
	ErrMalformedUpdate = errors.New("malformed webhook update")
)

// Update is one webhook delivery.
type Update struct {
	UpdateID    int64     `json:"update_id"`
	UpdateType  string    `json:"update_type"`
	RequestDate time.Time `json:"request_date"`
	Payload     Invoice   `json:"payload"`
}

// Sign returns the signature Crypto Pay puts on body for the app with the
// given token: hex(HMAC-SHA256(key = SHA-256(token), body)).
func Sign(token string, body []byte) string {
	key := sha256.Sum256([]byte(token))
	mac := hmac.New(sha256.New, key[:])
	mac.Write(body)
	return hex.EncodeToString(mac.Sum(nil))
}

// VerifySignature reports whether signatureHex is body's signature for
// token, comparing in constant time. An empty token verifies nothing, so a
// missing configuration cannot let forged updates through.
func VerifySignature(token string, body []byte, signatureHex string) bool {
	if token == "" {
		return false
	}
	got, err := hex.DecodeString(signatureHex)
	if err != nil || len(got) != sha256.Size {
		return false
	}
	want, _ := hex.DecodeString(Sign(token, body)) // Sign always yields valid hex
	return hmac.Equal(got, want)
}

// ParseWebhook reads a webhook request of at most maxBody bytes (a
// non-positive maxBody means DefaultMaxWebhookBody), checks its signature
// and decodes the update. Errors wrap ErrBodyTooLarge, ErrBadSignature or
// ErrMalformedUpdate so the handler can pick a status; a caller should
// answer 200 only after the update is safely recorded, since Crypto Pay
// retries anything else.
func ParseWebhook(token string, r *http.Request, maxBody int64) (Update, error) {
	if maxBody <= 0 {
		maxBody = DefaultMaxWebhookBody
	}
	if r.Body == nil {
		return Update{}, fmt.Errorf("parse webhook: %w: empty body", ErrMalformedUpdate)
	}
	// One byte past the cap tells an oversized body from one exactly at it.
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil {
		return Update{}, fmt.Errorf("parse webhook: read body: %w", err)
	}
	if int64(len(body)) > maxBody {
		return Update{}, fmt.Errorf("parse webhook: %w: over %d bytes", ErrBodyTooLarge, maxBody)
	}
	sig := r.Header.Get(SignatureHeader)
	if sig == "" {
		return Update{}, fmt.Errorf("parse webhook: %w: no %s header", ErrBadSignature, SignatureHeader)
	}
	if !VerifySignature(token, body, sig) {
		return Update{}, fmt.Errorf("parse webhook: %w", ErrBadSignature)
	}
	var u Update
	if err := json.Unmarshal(body, &u); err != nil {
		return Update{}, fmt.Errorf("parse webhook: %w: %w", ErrMalformedUpdate, err)
	}
	if u.UpdateType == "" {
		return Update{}, fmt.Errorf("parse webhook: %w: no update_type", ErrMalformedUpdate)
	}
	if u.UpdateType == UpdateInvoicePaid && u.Payload.InvoiceID == 0 {
		return Update{}, fmt.Errorf("parse webhook: %w: invoice_paid without an invoice", ErrMalformedUpdate)
	}
	return u, nil
}
