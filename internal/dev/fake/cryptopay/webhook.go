package cryptopay

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"

	"vpnflow/internal/cryptopay"
)

// WebhookBehavior is how the stand-in delivers the update for a payment.
// The zero value delivers once, retrying until HTTP 200 like the real
// service.
type WebhookBehavior struct {
	// Drop never delivers the update, so the payment is visible only to
	// getInvoices polling.
	Drop bool
	// Copies delivers the same update (same update_id) this many times at
	// once, each with its own retries; below 2 means once.
	Copies int
}

// Delivery is one webhook attempt.
type Delivery struct {
	UpdateID  int64
	InvoiceID int64
	Copy      int    // which concurrent copy, from 1
	Attempt   int    // from 1
	Status    int    // HTTP status received; 0 when the request failed
	Err       string // why the request failed, when it did
	At        time.Time
}

// SetWebhookBehavior sets the behaviour for payments of invoices that have
// none of their own.
func (s *Server) SetWebhookBehavior(b WebhookBehavior) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.behavior = b
}

// SetInvoiceWebhookBehavior sets the behaviour for one invoice's payment.
func (s *Server) SetInvoiceWebhookBehavior(id int64, b WebhookBehavior) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	rec, ok := s.byID[id]
	if !ok {
		return fmt.Errorf("set webhook behaviour of invoice %d: %w", id, ErrNotFound)
	}
	rec.webhook = &b
	return nil
}

// WebhookDeliveries returns every webhook attempt so far, in the order
// they finished.
func (s *Server) WebhookDeliveries() []Delivery {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Delivery, len(s.deliveries))
	copy(out, s.deliveries)
	return out
}

// WaitWebhooks blocks until no delivery is running or waiting to retry,
// or ctx ends.
func (s *Server) WaitWebhooks(ctx context.Context) error {
	for {
		s.mu.Lock()
		n, idle := s.inflight, s.idle
		s.mu.Unlock()
		if n == 0 {
			return nil
		}
		select {
		case <-idle:
		case <-ctx.Done():
			return fmt.Errorf("wait for %d webhook deliveries: %w", n, ctx.Err())
		}
	}
}

// update is the webhook body.
type update struct {
	UpdateID    int64     `json:"update_id"`
	UpdateType  string    `json:"update_type"`
	RequestDate time.Time `json:"request_date"`
	Payload     Invoice   `json:"payload"`
}

// webhookJob is one update ready to send.
type webhookJob struct {
	url       string
	body      []byte
	signature string
	updateID  int64
	invoiceID int64
	copies    int
}

// newUpdateLocked builds the update for a paid invoice and reserves its
// deliveries; it returns a job with no copies when nothing is to be sent.
func (s *Server) newUpdateLocked(inv Invoice, b WebhookBehavior) (webhookJob, error) {
	s.nextUpdateID++
	u := update{
		UpdateID:    s.nextUpdateID,
		UpdateType:  "invoice_paid",
		RequestDate: s.now().UTC().Truncate(time.Millisecond),
		Payload:     inv,
	}
	body, err := json.Marshal(u)
	if err != nil {
		return webhookJob{}, fmt.Errorf("encode update: %w", err)
	}
	job := webhookJob{
		url:       s.webhookURL,
		body:      body,
		signature: cryptopay.Sign(s.opts.Token, body),
		updateID:  u.UpdateID,
		invoiceID: inv.InvoiceID,
		copies:    max(b.Copies, 1),
	}
	if b.Drop || job.url == "" || s.closed {
		job.copies = 0
	}
	s.inflight += job.copies
	return job, nil
}

// send starts the job's deliveries; each one releases its reservation in
// inflight when it ends.
func (s *Server) send(job webhookJob) {
	for c := 1; c <= job.copies; c++ {
		go s.deliver(job, c)
	}
}

// deliver posts one copy of an update until it gets HTTP 200, the attempts
// run out or the server closes.
func (s *Server) deliver(job webhookJob, copyN int) {
	defer s.deliveryDone()
	for attempt := 1; ; attempt++ {
		status, err := s.post(job)
		d := Delivery{
			UpdateID:  job.updateID,
			InvoiceID: job.invoiceID,
			Copy:      copyN,
			Attempt:   attempt,
			Status:    status,
			At:        s.now(),
		}
		if err != nil {
			d.Err = err.Error()
		}
		s.mu.Lock()
		s.deliveries = append(s.deliveries, d)
		s.mu.Unlock()
		if status == http.StatusOK || attempt >= s.opts.WebhookMaxAttempts {
			return
		}
		t := time.NewTimer(s.opts.WebhookRetryInterval)
		select {
		case <-t.C:
		case <-s.stopCtx.Done():
			t.Stop()
			return
		}
	}
}

func (s *Server) post(job webhookJob) (int, error) {
	ctx, cancel := context.WithTimeout(s.stopCtx, s.opts.WebhookTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, job.url, bytes.NewReader(job.body))
	if err != nil {
		return 0, fmt.Errorf("build webhook request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(cryptopay.SignatureHeader, job.signature)
	resp, err := s.hc.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) // lets the connection be reused
	return resp.StatusCode, nil
}

func (s *Server) deliveryDone() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.inflight--
	if s.inflight == 0 {
		close(s.idle)
		s.idle = make(chan struct{})
	}
}
