package cryptopay_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"vpnflow/internal/cryptopay"
	fakecp "vpnflow/internal/dev/fake/cryptopay"
)

const token = "4242:AAfakeStandInToken"

func start(t *testing.T, opts fakecp.Options) *fakecp.Server {
	t.Helper()
	if opts.Token == "" {
		opts.Token = token
	}
	if opts.WebhookRetryInterval == 0 {
		opts.WebhookRetryInterval = 5 * time.Millisecond
	}
	s, err := fakecp.New(opts)
	if err != nil {
		t.Fatalf("new: %v", err)
	}
	if err := s.Start("127.0.0.1:0"); err != nil {
		t.Fatalf("start: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return s
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func client(s *fakecp.Server) *cryptopay.Client {
	return cryptopay.New(s.URL(), token, nil)
}

func newInvoice(t *testing.T, s *fakecp.Server, p cryptopay.CreateInvoiceParams) cryptopay.Invoice {
	t.Helper()
	if p.Asset == "" && p.CurrencyType == "" {
		p.Asset = "USDT"
	}
	if p.Amount == "" {
		p.Amount = "4.99"
	}
	inv, err := client(s).CreateInvoice(testCtx(t), p)
	if err != nil {
		t.Fatalf("create invoice: %v", err)
	}
	return inv
}

// receiver is our side of the webhook: it verifies each delivery with
// cryptopay.ParseWebhook and answers with the next scripted status (200
// once the script runs out).
type receiver struct {
	srv *httptest.Server

	mu       sync.Mutex
	script   []int
	updates  []cryptopay.Update
	rejected []error
}

func newReceiver(t *testing.T, secret string, script ...int) *receiver {
	rc := &receiver{script: script}
	rc.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, err := cryptopay.ParseWebhook(secret, r, 1<<16)
		rc.mu.Lock()
		defer rc.mu.Unlock()
		if err != nil {
			rc.rejected = append(rc.rejected, err)
			status := http.StatusBadRequest
			if errors.Is(err, cryptopay.ErrBadSignature) {
				status = http.StatusUnauthorized
			}
			w.WriteHeader(status)
			return
		}
		rc.updates = append(rc.updates, u)
		status := http.StatusOK
		if len(rc.script) > 0 {
			status, rc.script = rc.script[0], rc.script[1:]
		}
		w.WriteHeader(status)
	}))
	t.Cleanup(rc.srv.Close)
	return rc
}

func (rc *receiver) URL() string { return rc.srv.URL + "/webhook" }

func (rc *receiver) Updates() []cryptopay.Update {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]cryptopay.Update(nil), rc.updates...)
}

func (rc *receiver) Rejected() []error {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]error(nil), rc.rejected...)
}

func waitWebhooks(t *testing.T, s *fakecp.Server) {
	t.Helper()
	if err := s.WaitWebhooks(testCtx(t)); err != nil {
		t.Fatal(err)
	}
}

func statuses(ds []fakecp.Delivery) []int {
	out := make([]int, len(ds))
	for i, d := range ds {
		out[i] = d.Status
	}
	return out
}

// clock is a settable time source.
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
