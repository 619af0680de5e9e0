package telegram

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"
)

// Live updates: the page subscribes to its chat's events.

type event struct {
	name          string   // upsert, answer, action or state
	message       *Message // upsert
	replyKeyboard [][]string
	data          json.RawMessage
}

// upsertJSON is an upsert event: a message and the chat's reply keyboard.
type upsertJSON struct {
	messageJSON
	ReplyKeyboard [][]string `json:"reply_keyboard"`
}

type subscriber struct {
	chatID int64
	events chan event
}

// publishLocked hands an event to the chat's subscribers; one that cannot
// keep up is dropped, and its page reconnects and reloads the chat.
func (s *Server) publishLocked(chatID int64, ev event) {
	for sub := range s.subs {
		if sub.chatID != chatID {
			continue
		}
		select {
		case sub.events <- ev:
		default:
			close(sub.events)
			delete(s.subs, sub)
		}
	}
}

func (s *Server) hasSubscribersLocked(chatID int64) bool {
	for sub := range s.subs {
		if sub.chatID == chatID {
			return true
		}
	}
	return false
}

func (s *Server) serveEvents(w http.ResponseWriter, r *http.Request) {
	id, ok := chatIDParam(w, r)
	if !ok {
		return
	}
	rc := http.NewResponseController(w)
	s.mu.Lock()
	a := s.users[id]
	if a == nil || s.closed {
		s.mu.Unlock()
		writeJSON(w, http.StatusNotFound, apiFailure{ErrUnknownUser.Error()})
		return
	}
	sub := &subscriber{chatID: id, events: make(chan event, 256)}
	s.subs[sub] = struct{}{}
	var backlog []event
	for _, m := range a.messages {
		snap := s.snapshotLocked(m)
		backlog = append(backlog, event{name: "upsert", message: &snap, replyKeyboard: cloneRows(a.replyKeyboard)})
	}
	backlog = append(backlog, event{name: "state", data: mustJSON(map[string]bool{"blocked": a.blocked})})
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		if _, ok := s.subs[sub]; ok {
			delete(s.subs, sub)
			close(sub.events)
		}
		s.mu.Unlock()
	}()

	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.Header().Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	if _, err := io.WriteString(w, "retry: 1000\n\n"); err != nil {
		return
	}
	for _, ev := range backlog {
		if s.writeEvent(w, ev) != nil {
			return
		}
	}
	if rc.Flush() != nil {
		return
	}
	ping := time.NewTicker(15 * time.Second)
	defer ping.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case <-s.stopCtx.Done():
			return
		case <-ping.C:
			if _, err := io.WriteString(w, ": ping\n\n"); err != nil {
				return
			}
		case ev, ok := <-sub.events:
			if !ok {
				return
			}
			if s.writeEvent(w, ev) != nil {
				return
			}
		}
		if rc.Flush() != nil {
			return
		}
	}
}

func (s *Server) writeEvent(w io.Writer, ev event) error {
	data := ev.data
	if ev.message != nil {
		mj, err := s.messageJSON(*ev.message)
		if err != nil {
			return err
		}
		if data, err = json.Marshal(upsertJSON{mj, ev.replyKeyboard}); err != nil {
			return fmt.Errorf("encode message %d: %w", mj.ID, err)
		}
	}
	_, err := fmt.Fprintf(w, "event: %s\ndata: %s\n\n", ev.name, data)
	return err
}
