package botapp

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/google/uuid"
	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"

	"vpnflow/internal/config"
	"vpnflow/internal/cryptopay"
)

// With Temporal unreachable, a valid Crypto Pay webhook gets a 5xx, so
// Crypto Pay delivers it again later: a payment is never acknowledged
// before it is durably recorded.
func TestCryptoPayWebhookAsksForRetryWhileTemporalIsDown(t *testing.T) {
	// A port with nothing behind it.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := l.Addr().String()
	l.Close()
	tc, err := client.NewLazyClient(client.Options{HostPort: dead, Logger: sdklog.NewStructuredLogger(slog.New(slog.DiscardHandler))})
	if err != nil {
		t.Fatal(err)
	}
	defer tc.Close()
	const token = "cp-token"
	a := &App{cfg: config.Config{CryptoPayToken: token}, log: slog.New(slog.DiscardHandler), temporal: tc}

	body := []byte(`{"update_id":1,"update_type":"invoice_paid","request_date":"2026-11-27T10:00:00Z","payload":{"invoice_id":7,"hash":"h","currency_type":"fiat","fiat":"USD","amount":"3.00","status":"paid","created_at":"2026-11-27T09:59:00Z","payload":"` + uuid.NewString() + `"}}`)
	post := func(sig string) int {
		req := httptest.NewRequest(http.MethodPost, "/webhooks/cryptopay", bytes.NewReader(body))
		if sig != "" {
			req.Header.Set(cryptopay.SignatureHeader, sig)
		}
		ctx, cancel := context.WithTimeout(req.Context(), 20*time.Second)
		defer cancel()
		rec := httptest.NewRecorder()
		a.cryptoPayWebhook(rec, req.WithContext(ctx))
		return rec.Code
	}

	if code := post(cryptopay.Sign(token, body)); code < 500 {
		t.Fatalf("signed webhook with Temporal down: status %d, want 5xx", code)
	}
	// The signature is checked before anything else: no retry invitation
	// for a forgery.
	if code := post(cryptopay.Sign("other-token", body)); code != http.StatusUnauthorized {
		t.Fatalf("forged webhook: status %d, want 401", code)
	}
}
