package telegram

import (
	"context"
	"fmt"
	"strconv"
)

// callbackQuery is a button press waiting for, or given, its answer.
type callbackQuery struct {
	chatID   int64
	answered bool
	answer   CallbackAnswer
}

// PressButton presses the inline button with callbackData under the
// bot's message, sending the bot a callback_query update. It returns the
// query id, with which CallbackAnswer reports the bot's answer.
func (s *Server) PressButton(userID int64, messageID int, callbackData string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, err := s.activeUserLocked(userID)
	if err != nil {
		return "", err
	}
	m := a.messageLocked(messageID)
	if m == nil || m.deleted || !m.fromBot {
		return "", fmt.Errorf("press button on message %d in chat %d: %w", messageID, userID, ErrNoMessage)
	}
	if !hasCallbackButton(m.keyboard, callbackData) {
		return "", fmt.Errorf("press button %q on message %d in chat %d: the message has no such button: %w", callbackData, messageID, userID, ErrNoMessage)
	}
	id := newQueryID()
	s.callbacks[id] = &callbackQuery{chatID: a.ID}
	err = s.enqueueLocked("callback_query", wireCallbackQuery{
		ID:           id,
		From:         toWireUser(a.User),
		Message:      s.wireMessageLocked(a, m),
		ChatInstance: strconv.FormatInt(a.ID*7919+s.botID, 10),
		Data:         callbackData,
	})
	if err != nil {
		return "", err
	}
	return id, nil
}

func hasCallbackButton(kb [][]InlineButton, data string) bool {
	for _, row := range kb {
		for _, b := range row {
			if b.Kind == ButtonCallback && b.CallbackData == data {
				return true
			}
		}
	}
	return false
}

// CallbackAnswer reports whether the bot has answered the callback query
// and what it said.
func (s *Server) CallbackAnswer(queryID string) (CallbackAnswer, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	q, ok := s.callbacks[queryID]
	if !ok || !q.answered {
		return CallbackAnswer{}, false
	}
	return q.answer, true
}

// WaitForCallbackAnswer waits until the bot answers the callback query.
func (s *Server) WaitForCallbackAnswer(ctx context.Context, queryID string) (CallbackAnswer, error) {
	for {
		s.mu.Lock()
		q, ok := s.callbacks[queryID]
		var answer *CallbackAnswer
		if ok && q.answered {
			a := q.answer
			answer = &a
		}
		ch := s.changed
		s.mu.Unlock()
		if !ok {
			return CallbackAnswer{}, fmt.Errorf("wait for answer to callback query %s: unknown query", queryID)
		}
		if answer != nil {
			return *answer, nil
		}
		if err := s.waitChange(ctx, ch, nil); err != nil {
			return CallbackAnswer{}, fmt.Errorf("wait for answer to callback query %s: %w", queryID, err)
		}
	}
}

func (s *Server) answerCallbackQuery(_ context.Context, p *params) (any, error) {
	showAlert, err := p.boolean("show_alert")
	if err != nil {
		return nil, err
	}
	cacheTime, _, err := p.int("cache_time")
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	q, ok := s.callbacks[p.str("callback_query_id")]
	if !ok || q.answered {
		return nil, errQueryTooOld
	}
	q.answered = true
	q.answer = CallbackAnswer{Text: p.str("text"), ShowAlert: showAlert, URL: p.str("url"), CacheTime: cacheTime}
	if q.answer.Text != "" {
		s.publishLocked(q.chatID, event{name: "answer", data: mustJSON(map[string]any{"text": q.answer.Text, "show_alert": showAlert})})
	}
	s.notifyLocked()
	return true, nil
}
