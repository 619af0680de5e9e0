package telegram

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// AddUser creates a Telegram account that can talk to the bot; ID 0 picks
// a fresh id. As on Telegram, the bot can write to a user only after the
// user has written to it (SendText), otherwise sends fail with 403.
func (s *Server) AddUser(u User) (User, error) {
	if u.FirstName == "" {
		return User{}, errors.New("add user: first name is required")
	}
	if u.ID < 0 {
		return User{}, fmt.Errorf("add user %q: id %d is negative", u.FirstName, u.ID)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if u.ID == 0 {
		for s.users[s.nextUserID] != nil {
			s.nextUserID++
		}
		u.ID = s.nextUserID
		s.nextUserID++
	}
	if s.users[u.ID] != nil {
		return User{}, fmt.Errorf("add user %q: id %d is taken", u.FirstName, u.ID)
	}
	s.users[u.ID] = &account{User: u}
	s.userOrder = append(s.userOrder, u.ID)
	s.notifyLocked()
	return u, nil
}

// MarkStarted makes the user one who wrote to the bot before the stand-in
// knew them — users already in a kept or seeded database — so the bot may
// write to them. Unlike SendText, it sends the bot no update.
func (s *Server) MarkStarted(userID int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, err := s.activeUserLocked(userID)
	if err != nil {
		return fmt.Errorf("mark started: %w", err)
	}
	a.started = true
	return nil
}

// Users returns every user, in the order they were added.
func (s *Server) Users() []User {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]User, 0, len(s.userOrder))
	for _, id := range s.userOrder {
		out = append(out, s.users[id].User)
	}
	return out
}

// Blocked reports whether the user has blocked the bot.
func (s *Server) Blocked(userID int64) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.users[userID]
	return a != nil && a.blocked
}

// activeUserLocked finds a user who can act in their chat with the bot.
func (s *Server) activeUserLocked(userID int64) (*account, error) {
	a := s.users[userID]
	if a == nil {
		return nil, fmt.Errorf("user %d: %w", userID, ErrUnknownUser)
	}
	if a.blocked {
		return nil, fmt.Errorf("user %d: %w", userID, ErrBlocked)
	}
	return a, nil
}

// SendText sends a text message from the user to the bot. A leading
// /command (and any other) gets a bot_command entity, so command handlers
// match as they do on Telegram.
func (s *Server) SendText(userID int64, text string) (Message, error) {
	if !utf8.ValidString(text) {
		return Message{}, fmt.Errorf("send text from user %d: not valid UTF-8", userID)
	}
	text, _ = trimSpace(text, nil)
	if text == "" {
		return Message{}, fmt.Errorf("send text from user %d: message is empty", userID)
	}
	if utf16Len(text) > maxTextLength {
		return Message{}, fmt.Errorf("send text from user %d: message is longer than %d characters", userID, maxTextLength)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	a, err := s.activeUserLocked(userID)
	if err != nil {
		return Message{}, fmt.Errorf("send text: %w", err)
	}
	a.started = true
	m := a.newMessageLocked(false, s.now())
	m.text, m.raw = text, text
	m.entities = detectEntities(text, nil)
	if err := s.enqueueLocked("message", s.wireMessageLocked(a, m)); err != nil {
		return Message{}, err
	}
	s.messageChangedLocked(a, m)
	return s.snapshotLocked(m), nil
}

// BlockBot blocks or unblocks the bot for the user. Blocking makes every
// send to the user fail with 403 "Forbidden: bot was blocked by the user";
// both send the bot a my_chat_member update, as Telegram does.
func (s *Server) BlockBot(userID int64, blocked bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.users[userID]
	if a == nil {
		return fmt.Errorf("block bot for user %d: %w", userID, ErrUnknownUser)
	}
	if a.blocked == blocked {
		return nil
	}
	a.blocked = blocked
	member := wireChatMember{Status: "member", User: s.botWireUser()}
	var forever int64
	kicked := wireChatMember{Status: "kicked", User: s.botWireUser(), UntilDate: &forever}
	upd := wireChatMemberUpdated{Chat: chatOf(a), From: toWireUser(a.User), Date: s.now().Unix(), OldChatMember: member, NewChatMember: kicked}
	if !blocked {
		upd.OldChatMember, upd.NewChatMember = kicked, member
	}
	s.publishLocked(a.ID, event{name: "state", data: mustJSON(map[string]bool{"blocked": blocked})})
	return s.enqueueLocked("my_chat_member", upd)
}

// Messages returns the bot's messages in the chat, oldest first, with
// edits applied and deleted ones flagged.
func (s *Server) Messages(chatID int64) []Message {
	return s.messages(chatID, true)
}

// Conversation returns every message in the chat, the user's too.
func (s *Server) Conversation(chatID int64) []Message {
	return s.messages(chatID, false)
}

func (s *Server) messages(chatID int64, botOnly bool) []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.users[chatID]
	if a == nil {
		return nil
	}
	var out []Message
	for _, m := range a.messages {
		if botOnly && !m.fromBot {
			continue
		}
		out = append(out, s.snapshotLocked(m))
	}
	return out
}

// FirstSentSince is, for each of chats, the date of the bot's first
// message dated at or after since whose text or caption contains text;
// chats without one are absent. It reads every chat under one lock and
// copies no message, so a driver watching thousands of chats every second
// does not slow the sends it watches.
func (s *Server) FirstSentSince(chats []int64, since time.Time, text string) map[int64]time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[int64]time.Time, len(chats))
	for _, id := range chats {
		a := s.users[id]
		if a == nil {
			continue
		}
		for _, m := range a.messages {
			if m.fromBot && !m.date.Before(since) && (strings.Contains(m.text, text) || strings.Contains(m.caption, text)) {
				out[id] = m.date
				break
			}
		}
	}
	return out
}

// WaitForMessage waits until one of the bot's messages in the chat
// satisfies match (nil matches any), and returns the oldest such message.
// Messages already there count, so call it after the action that should
// produce the message without racing it.
func (s *Server) WaitForMessage(ctx context.Context, chatID int64, match func(Message) bool) (Message, error) {
	for {
		s.mu.Lock()
		var snaps []Message
		if a := s.users[chatID]; a != nil {
			for _, m := range a.messages {
				if m.fromBot {
					snaps = append(snaps, s.snapshotLocked(m))
				}
			}
		}
		ch := s.changed
		s.mu.Unlock()
		// match runs unlocked: it may call back into the server.
		for _, m := range snaps {
			if match == nil || match(m) {
				return m, nil
			}
		}
		if err := s.waitChange(ctx, ch, nil); err != nil {
			return Message{}, fmt.Errorf("wait for message in chat %d: %w", chatID, err)
		}
	}
}

// ReplyKeyboard returns the custom reply keyboard the chat shows, if any.
func (s *Server) ReplyKeyboard(chatID int64) [][]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.users[chatID]
	if a == nil {
		return nil
	}
	return cloneRows(a.replyKeyboard)
}

func cloneRows(rows [][]string) [][]string {
	var out [][]string
	for _, row := range rows {
		out = append(out, slices.Clone(row))
	}
	return out
}

// SkipUserIDs makes new users get ids above through, so a sandbox restarted
// over a kept database does not hand an old user's account to a new one.
func (s *Server) SkipUserIDs(through int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if through >= s.nextUserID {
		s.nextUserID = through + 1
	}
}
