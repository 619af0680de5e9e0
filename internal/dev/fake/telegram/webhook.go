package telegram

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"syscall"
	"time"
)

// webhook is a setWebhook registration and its delivery state.
type webhook struct {
	url            string
	secret         string
	maxConnections int
	ipAddress      string
	stop           context.CancelFunc
	lastErrorDate  time.Time
	lastErrorMsg   string
}

func validSecretToken(t string) bool {
	if len(t) > 256 {
		return false
	}
	for _, c := range []byte(t) {
		if !(c == '_' || c == '-' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) {
			return false
		}
	}
	return true
}

func (s *Server) setWebhook(_ context.Context, p *params) (any, error) {
	raw := p.str("url")
	if raw == "" {
		return s.removeWebhook(p)
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, badRequest("bad webhook: An HTTPS URL must be provided for webhook")
	}
	secret := p.str("secret_token")
	if !validSecretToken(secret) {
		return nil, badRequest("secret token contains unallowed characters")
	}
	maxConn, _, err := p.int("max_connections")
	if err != nil {
		return nil, err
	}
	if maxConn == 0 {
		maxConn = 40
	}
	drop, err := p.boolean("drop_pending_updates")
	if err != nil {
		return nil, err
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.setAllowedLocked(p); err != nil {
		return nil, err
	}
	if drop {
		s.updates = nil
	}
	desc := "Webhook was set"
	if old := s.hook; old != nil {
		if old.url == raw && old.secret == secret {
			desc = "Webhook is already set"
		}
		old.stop()
	}
	ctx, stop := context.WithCancel(s.stopCtx)
	h := &webhook{url: raw, secret: secret, maxConnections: maxConn, ipAddress: p.str("ip_address"), stop: stop}
	s.hook = h
	s.notifyLocked() // long polls end with a conflict
	s.wg.Add(1)
	go s.deliver(ctx, h)
	return described{result: true, description: desc}, nil
}

func (s *Server) deleteWebhook(_ context.Context, p *params) (any, error) {
	return s.removeWebhook(p)
}

func (s *Server) removeWebhook(p *params) (any, error) {
	drop, err := p.boolean("drop_pending_updates")
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if drop {
		s.updates = nil
	}
	if s.hook == nil {
		return described{result: true, description: "Webhook is already deleted"}, nil
	}
	s.hook.stop()
	s.hook = nil
	s.notifyLocked()
	return described{result: true, description: "Webhook was deleted"}, nil
}

func (s *Server) getWebhookInfo(context.Context, *params) (any, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	info := wireWebhookInfo{PendingUpdateCount: len(s.updates)}
	if h := s.hook; h != nil {
		info.URL = h.url
		info.MaxConnections = h.maxConnections
		info.IPAddress = h.ipAddress
		info.AllowedUpdates = s.allowedListLocked()
		info.LastErrorMessage = h.lastErrorMsg
		if !h.lastErrorDate.IsZero() {
			info.LastErrorDate = h.lastErrorDate.Unix()
		}
	}
	return info, nil
}

// deliver pushes queued updates to the webhook one at a time, in order,
// until the webhook is replaced or removed.
func (s *Server) deliver(ctx context.Context, h *webhook) {
	defer s.wg.Done()
	attempts := 0
	for {
		s.mu.Lock()
		if s.hook != h {
			s.mu.Unlock()
			return
		}
		if len(s.updates) == 0 {
			ch := s.changed
			s.mu.Unlock()
			if s.waitChange(ctx, ch, nil) != nil {
				return
			}
			continue
		}
		upd := s.updates[0]
		s.mu.Unlock()

		err := s.post(ctx, h, upd.body)
		if ctx.Err() != nil {
			return
		}
		s.mu.Lock()
		if err == nil {
			attempts = 0
			s.dropUpdateLocked(upd.id)
			s.mu.Unlock()
			continue
		}
		attempts++
		h.lastErrorDate, h.lastErrorMsg = s.now(), err.Error()
		if attempts >= s.opts.WebhookMaxAttempts {
			attempts = 0
			s.dropUpdateLocked(upd.id) // Telegram gives up on an update eventually
		}
		s.mu.Unlock()
		backoff := s.opts.WebhookBackoff << min(max(attempts-1, 0), 16)
		timer := time.NewTimer(min(backoff, 5*time.Second))
		select {
		case <-ctx.Done():
			timer.Stop()
			return
		case <-timer.C:
		}
	}
}

func (s *Server) dropUpdateLocked(id int64) {
	if len(s.updates) > 0 && s.updates[0].id == id {
		s.updates = append(s.updates[:0:0], s.updates[1:]...)
		s.notifyLocked()
	}
}

// post sends one update; the error text is what getWebhookInfo reports as
// last_error_message.
func (s *Server) post(ctx context.Context, h *webhook, body []byte) error {
	ctx, cancel := context.WithTimeout(ctx, s.opts.WebhookTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, h.url, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("Failed to create request: %v", err)
	}
	req.Header.Set("Content-Type", "application/json")
	if h.secret != "" {
		req.Header.Set("X-Telegram-Bot-Api-Secret-Token", h.secret)
	}
	resp, err := s.hc.Do(req)
	if err != nil {
		var netErr net.Error
		switch {
		case errors.Is(err, syscall.ECONNREFUSED):
			return errors.New("Connection refused")
		case errors.Is(err, os.ErrDeadlineExceeded), errors.Is(err, context.DeadlineExceeded), errors.As(err, &netErr) && netErr.Timeout():
			return errors.New("Connection timed out")
		}
		return fmt.Errorf("Failed to connect: %v", err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("Wrong response from the webhook: %s", resp.Status)
	}
	return nil
}
