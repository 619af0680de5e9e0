package telegram

import (
	"context"
	"slices"
)

const notModified = "message is not modified: specified new message content and reply markup are exactly the same as a current content and reply markup of the message"

// targetLocked finds the message an edit or delete names; verb goes into
// Telegram's "message to <verb> not found".
func (s *Server) targetLocked(p *params, verb string) (*account, *message, error) {
	if p.str("inline_message_id") != "" {
		return nil, nil, badRequest("MESSAGE_ID_INVALID") // no inline mode here
	}
	a, err := s.chatLocked(p)
	if err != nil {
		return nil, nil, err
	}
	id, ok, err := p.int("message_id")
	if err != nil {
		return nil, nil, err
	}
	if !ok {
		return nil, nil, badRequest("message identifier is not specified")
	}
	m := a.messageLocked(id)
	if m == nil || m.deleted {
		return nil, nil, badRequest("message to %s not found", verb)
	}
	if verb == "edit" && !m.fromBot {
		return nil, nil, badRequest("message can't be edited")
	}
	return a, m, nil
}

func isMedia(m *message) bool { return len(m.photo) > 0 || m.photoURL != "" }

func (s *Server) editMessageText(_ context.Context, p *params) (any, error) {
	text, ents, contentErr := formatText(p.str("text"), p.str("parse_mode"), p.str("entities"))
	if contentErr == nil {
		contentErr = checkLength(text, maxTextLength, "message text is empty", "message is too long")
	}
	mk, mkErr := parseMarkup(p)
	lp, lpOff, lpErr := linkPreview(p)

	s.mu.Lock()
	defer s.mu.Unlock()
	a, m, err := s.targetLocked(p, "edit")
	if err != nil {
		return nil, err
	}
	if isMedia(m) || m.invoice != nil || m.text == "" {
		return nil, badRequest("there is no text in the message to edit")
	}
	if err := firstError(contentErr, mkErr, lpErr); err != nil {
		return nil, err
	}
	// Omitting reply_markup removes the inline keyboard, as on Telegram.
	if m.text == text && slices.Equal(m.entities, ents) && keyboardsEqual(m.keyboard, mk.inline) {
		return nil, badRequest(notModified)
	}
	m.text, m.entities, m.raw, m.parseMode = text, ents, p.str("text"), p.str("parse_mode")
	if lp != nil {
		m.linkPreview, m.linkPreviewDisabled = lp, lpOff
	}
	m.keyboard = mk.inline
	m.editDate = s.now()
	s.messageChangedLocked(a, m)
	return s.wireMessageLocked(a, m), nil
}

func (s *Server) editMessageCaption(_ context.Context, p *params) (any, error) {
	caption, ents, contentErr := formatText(p.str("caption"), p.str("parse_mode"), p.str("caption_entities"))
	if contentErr == nil {
		contentErr = checkLength(caption, maxCaptionLength, "", "message caption is too long")
	}
	mk, mkErr := parseMarkup(p)

	s.mu.Lock()
	defer s.mu.Unlock()
	a, m, err := s.targetLocked(p, "edit")
	if err != nil {
		return nil, err
	}
	if !isMedia(m) {
		return nil, badRequest("there is no caption in the message to edit")
	}
	if err := firstError(contentErr, mkErr); err != nil {
		return nil, err
	}
	if m.caption == caption && slices.Equal(m.entities, ents) && keyboardsEqual(m.keyboard, mk.inline) {
		return nil, badRequest(notModified)
	}
	m.caption, m.entities, m.raw, m.parseMode = caption, ents, p.str("caption"), p.str("parse_mode")
	m.keyboard = mk.inline
	m.editDate = s.now()
	s.messageChangedLocked(a, m)
	return s.wireMessageLocked(a, m), nil
}

func (s *Server) editMessageReplyMarkup(_ context.Context, p *params) (any, error) {
	mk, mkErr := parseMarkup(p)
	s.mu.Lock()
	defer s.mu.Unlock()
	a, m, err := s.targetLocked(p, "edit")
	if err != nil {
		return nil, err
	}
	if mkErr != nil {
		return nil, mkErr
	}
	if keyboardsEqual(m.keyboard, mk.inline) {
		return nil, badRequest(notModified)
	}
	// Clients do not mark a message edited when only its buttons change.
	m.keyboard = mk.inline
	s.messageChangedLocked(a, m)
	return s.wireMessageLocked(a, m), nil
}

func (s *Server) deleteMessage(_ context.Context, p *params) (any, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, m, err := s.targetLocked(p, "delete")
	if err != nil {
		return nil, err
	}
	m.deleted = true
	s.messageChangedLocked(a, m)
	return true, nil
}
