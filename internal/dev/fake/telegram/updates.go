package telegram

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"
)

// pendingUpdate is an update waiting for the bot, already in wire form.
type pendingUpdate struct {
	id   int64
	kind string
	body json.RawMessage
}

// optInUpdates are the kinds Telegram sends only when allowed_updates
// names them.
var optInUpdates = map[string]bool{"chat_member": true, "message_reaction": true, "message_reaction_count": true}

func (s *Server) allowsLocked(kind string) bool {
	if s.allowed == nil {
		return !optInUpdates[kind]
	}
	return s.allowed[kind]
}

// setAllowedLocked applies an allowed_updates parameter; absent keeps the
// previous setting and an empty list restores the default, as on Telegram.
func (s *Server) setAllowedLocked(p *params) error {
	if !p.has("allowed_updates") {
		return nil
	}
	var kinds []string
	if _, err := p.json("allowed_updates", &kinds); err != nil {
		return err
	}
	if len(kinds) == 0 {
		s.allowed = nil
		return nil
	}
	s.allowed = map[string]bool{}
	for _, k := range kinds {
		s.allowed[k] = true
	}
	return nil
}

func (s *Server) allowedListLocked() []string {
	var out []string
	for k := range s.allowed {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// enqueueLocked queues an update of the given kind for the bot, unless
// allowed_updates filters it out.
func (s *Server) enqueueLocked(kind string, payload any) error {
	if !s.allowsLocked(kind) {
		return nil
	}
	body, err := json.Marshal(payload)
	if err != nil {
		return fmt.Errorf("encode %s update: %w", kind, err)
	}
	id := s.nextUpdateID
	s.nextUpdateID++
	kindJSON, _ := json.Marshal(kind)
	raw := fmt.Appendf(nil, `{"update_id":%d,%s:%s}`, id, kindJSON, body)
	s.updates = append(s.updates, pendingUpdate{id: id, kind: kind, body: raw})
	s.notifyLocked()
	return nil
}

// confirmLocked applies a getUpdates offset: positive forgets updates
// before it, negative keeps only the last -offset updates.
func (s *Server) confirmLocked(offset int64) {
	switch {
	case offset > 0:
		i := 0
		for i < len(s.updates) && s.updates[i].id < offset {
			i++
		}
		s.updates = append(s.updates[:0:0], s.updates[i:]...)
	case offset < 0:
		if keep := int(-offset); keep < len(s.updates) {
			s.updates = append(s.updates[:0:0], s.updates[len(s.updates)-keep:]...)
		}
	}
}

var (
	errWebhookActive = conflict("can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first")
	errTerminated    = conflict("terminated by other getUpdates request; make sure that only one bot instance is running")
)

func (s *Server) getUpdates(ctx context.Context, p *params) (any, error) {
	offset, _, err := p.int64("offset")
	if err != nil {
		return nil, err
	}
	limit, hasLimit, err := p.int("limit")
	if err != nil {
		return nil, err
	}
	if !hasLimit || limit > 100 {
		limit = 100
	}
	limit = max(limit, 1)
	timeout, _, err := p.int("timeout")
	if err != nil {
		return nil, err
	}
	deadline := time.Now().Add(time.Duration(max(timeout, 0)) * time.Second)

	s.mu.Lock()
	defer s.mu.Unlock()
	if s.hook != nil {
		return nil, errWebhookActive
	}
	if err := s.setAllowedLocked(p); err != nil {
		return nil, err
	}
	s.pollGen++
	gen := s.pollGen
	s.notifyLocked() // an older long poll ends with a conflict
	s.confirmLocked(offset)
	for {
		if len(s.updates) > 0 || !time.Now().Before(deadline) || s.closed {
			n := min(limit, len(s.updates))
			out := make([]json.RawMessage, n)
			for i := range n {
				out[i] = s.updates[i].body
			}
			return out, nil
		}
		ch := s.changed
		s.mu.Unlock()
		timer := time.NewTimer(time.Until(deadline))
		err := s.waitChange(ctx, ch, timer.C)
		timer.Stop()
		s.mu.Lock()
		if errors.Is(err, ErrClosed) {
			return []json.RawMessage{}, nil
		}
		if err != nil {
			return nil, err
		}
		if s.hook != nil {
			return nil, errWebhookActive
		}
		if s.pollGen != gen {
			return nil, errTerminated
		}
	}
}

// PendingUpdates is how many updates wait for the bot to take them.
func (s *Server) PendingUpdates() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.updates)
}
