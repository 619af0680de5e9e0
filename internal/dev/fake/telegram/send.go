package telegram

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"
)

// chatLocked resolves chat_id to a private chat the bot may write to.
func (s *Server) chatLocked(p *params) (*account, error) {
	raw := strings.TrimSpace(p.str("chat_id"))
	if raw == "" {
		return nil, badRequest("chat_id is empty")
	}
	id, err := strconv.ParseInt(raw, 10, 64)
	a := s.users[id]
	if err != nil || a == nil {
		return nil, badRequest("chat not found")
	}
	if a.blocked {
		return nil, forbidden("bot was blocked by the user")
	}
	if !a.started {
		return nil, forbidden("bot can't initiate conversation with a user")
	}
	return a, nil
}

// applyMarkupLocked attaches reply_markup to a new message; a custom reply
// keyboard stays on the chat until removed.
func applyMarkupLocked(a *account, m *message, mk markup) {
	m.keyboard = mk.inline
	if mk.reply != nil {
		m.replyKeyboard = mk.reply
		a.replyKeyboard = mk.reply
	}
	if mk.removeReply {
		a.replyKeyboard = nil
	}
}

// linkPreview reads link_preview_options, or the older
// disable_web_page_preview, returning the JSON to echo and whether
// previews are off.
func linkPreview(p *params) ([]byte, bool, error) {
	var opts struct {
		IsDisabled bool `json:"is_disabled"`
	}
	present, err := p.json("link_preview_options", &opts)
	if err != nil {
		return nil, false, err
	}
	if present {
		return []byte(p.str("link_preview_options")), opts.IsDisabled, nil
	}
	disabled, err := p.boolean("disable_web_page_preview")
	if err != nil || !disabled {
		return nil, false, err
	}
	return []byte(`{"is_disabled":true}`), true, nil
}

func (s *Server) sendMessage(_ context.Context, p *params) (any, error) {
	text, ents, contentErr := formatText(p.str("text"), p.str("parse_mode"), p.str("entities"))
	if contentErr == nil {
		contentErr = checkLength(text, maxTextLength, "message text is empty", "message is too long")
	}
	mk, mkErr := parseMarkup(p)
	lp, lpOff, lpErr := linkPreview(p)

	s.mu.Lock()
	defer s.mu.Unlock()
	a, err := s.chatLocked(p)
	if err != nil {
		return nil, err
	}
	if err := firstError(contentErr, mkErr, lpErr); err != nil {
		return nil, err
	}
	m := a.newMessageLocked(true, s.now())
	m.text, m.entities, m.raw, m.parseMode = text, ents, p.str("text"), p.str("parse_mode")
	m.linkPreview, m.linkPreviewDisabled = lp, lpOff
	applyMarkupLocked(a, m, mk)
	s.messageChangedLocked(a, m)
	return s.wireMessageLocked(a, m), nil
}

func checkLength(text string, limit int, empty, tooLong string) error {
	if empty != "" && text == "" {
		return badRequest("%s", empty)
	}
	if utf16Len(text) > limit {
		return badRequest("%s", tooLong)
	}
	return nil
}

func firstError(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

func (s *Server) sendPhoto(_ context.Context, p *params) (any, error) {
	caption, ents, contentErr := formatText(p.str("caption"), p.str("parse_mode"), p.str("caption_entities"))
	if contentErr == nil {
		contentErr = checkLength(caption, maxCaptionLength, "", "message caption is too long")
	}
	mk, mkErr := parseMarkup(p)
	src, srcErr := photoSource(p)

	s.mu.Lock()
	defer s.mu.Unlock()
	a, err := s.chatLocked(p)
	if err != nil {
		return nil, err
	}
	if err := firstError(srcErr, contentErr, mkErr); err != nil {
		return nil, err
	}
	sizes, photoURL, err := s.storePhotoLocked(src)
	if err != nil {
		return nil, err
	}
	m := a.newMessageLocked(true, s.now())
	m.photo, m.photoURL = sizes, photoURL
	m.caption, m.entities, m.raw, m.parseMode = caption, ents, p.str("caption"), p.str("parse_mode")
	applyMarkupLocked(a, m, mk)
	s.messageChangedLocked(a, m)
	return s.wireMessageLocked(a, m), nil
}

func (s *Server) sendInvoice(_ context.Context, p *params) (any, error) {
	inv, invErr := parseInvoice(p)
	mk, mkErr := parseMarkup(p)
	if mkErr == nil && len(mk.inline) > 0 && mk.inline[0][0].Kind != ButtonPay {
		mkErr = badRequest("first button in the inline keyboard must be a Pay button")
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	a, err := s.chatLocked(p)
	if err != nil {
		return nil, err
	}
	if err := firstError(invErr, mkErr); err != nil {
		return nil, err
	}
	m := a.newMessageLocked(true, s.now())
	m.invoice = inv
	applyMarkupLocked(a, m, mk)
	s.messageChangedLocked(a, m)
	return s.wireMessageLocked(a, m), nil
}

func parseInvoice(p *params) (*Invoice, error) {
	inv := &Invoice{
		Title:          p.str("title"),
		Description:    p.str("description"),
		Payload:        p.str("payload"),
		Currency:       strings.ToUpper(p.str("currency")),
		StartParameter: p.str("start_parameter"),
		ProviderToken:  p.str("provider_token"),
	}
	if n := utf16Len(inv.Title); n == 0 || n > 32 {
		return nil, badRequest("invoice title must be 1-32 characters long")
	}
	if n := utf16Len(inv.Description); n == 0 || n > 255 {
		return nil, badRequest("invoice description must be 1-255 characters long")
	}
	if n := len(inv.Payload); n == 0 || n > 128 {
		return nil, badRequest("invoice payload must be 1-128 bytes long")
	}
	if len(inv.Currency) != 3 {
		return nil, badRequest("CURRENCY_INVALID")
	}
	if _, err := p.json("prices", &inv.Prices); err != nil {
		return nil, badRequest("can't parse prices JSON object")
	}
	if len(inv.Prices) == 0 {
		return nil, badRequest("prices must be non-empty")
	}
	for _, price := range inv.Prices {
		inv.TotalAmount += price.Amount
	}
	if inv.TotalAmount <= 0 {
		return nil, badRequest("CURRENCY_TOTAL_AMOUNT_INVALID")
	}
	if inv.Currency == "XTR" {
		if inv.ProviderToken != "" {
			return nil, badRequest("provider_token must be empty for payments in Telegram Stars")
		}
		if len(inv.Prices) != 1 {
			return nil, badRequest("prices must contain exactly one item for payments in Telegram Stars")
		}
	} else if inv.ProviderToken == "" {
		return nil, badRequest("PAYMENT_PROVIDER_INVALID")
	}
	return inv, nil
}

// chatActions are the actions sendChatAction accepts.
var chatActions = map[string]bool{
	"typing": true, "upload_photo": true, "record_video": true, "upload_video": true,
	"record_voice": true, "upload_voice": true, "upload_document": true, "choose_sticker": true,
	"find_location": true, "record_video_note": true, "upload_video_note": true,
}

func (s *Server) sendChatAction(_ context.Context, p *params) (any, error) {
	action := p.str("action")
	s.mu.Lock()
	defer s.mu.Unlock()
	a, err := s.chatLocked(p)
	if err != nil {
		return nil, err
	}
	if !chatActions[action] {
		return nil, badRequest("wrong parameter action in request")
	}
	s.publishLocked(a.ID, event{name: "action", data: mustJSON(map[string]string{"action": action})})
	return true, nil
}

func mustJSON(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		return json.RawMessage(`null`)
	}
	return b
}

// messageChangedLocked tells the page and the waiters about a new or
// changed message.
func (s *Server) messageChangedLocked(a *account, m *message) {
	if s.hasSubscribersLocked(a.ID) {
		snap := s.snapshotLocked(m)
		s.publishLocked(a.ID, event{name: "upsert", message: &snap, replyKeyboard: cloneRows(a.replyKeyboard)})
	}
	s.notifyLocked()
}
