package telegram

import (
	"encoding/json"
)

// Wire types: the JSON objects the Bot API documents, holding only the
// fields the stand-in produces.

type wireUser struct {
	ID           int64  `json:"id"`
	IsBot        bool   `json:"is_bot"`
	FirstName    string `json:"first_name"`
	LastName     string `json:"last_name,omitempty"`
	Username     string `json:"username,omitempty"`
	LanguageCode string `json:"language_code,omitempty"`
}

type wireBot struct {
	wireUser
	CanJoinGroups           bool `json:"can_join_groups"`
	CanReadAllGroupMessages bool `json:"can_read_all_group_messages"`
	SupportsInlineQueries   bool `json:"supports_inline_queries"`
	CanConnectToBusiness    bool `json:"can_connect_to_business"`
	HasMainWebApp           bool `json:"has_main_web_app"`
}

type wireChat struct {
	ID        int64  `json:"id"`
	Type      string `json:"type"`
	FirstName string `json:"first_name,omitempty"`
	LastName  string `json:"last_name,omitempty"`
	Username  string `json:"username,omitempty"`
}

type photoSize struct {
	FileID       string `json:"file_id"`
	FileUniqueID string `json:"file_unique_id"`
	Width        int    `json:"width"`
	Height       int    `json:"height"`
	FileSize     int    `json:"file_size,omitempty"`
}

type wireInvoice struct {
	Title          string `json:"title"`
	Description    string `json:"description"`
	StartParameter string `json:"start_parameter"`
	Currency       string `json:"currency"`
	TotalAmount    int    `json:"total_amount"`
}

type wirePayment struct {
	Currency                string `json:"currency"`
	TotalAmount             int    `json:"total_amount"`
	InvoicePayload          string `json:"invoice_payload"`
	TelegramPaymentChargeID string `json:"telegram_payment_charge_id"`
	ProviderPaymentChargeID string `json:"provider_payment_charge_id"`
}

type wireMarkup struct {
	InlineKeyboard [][]map[string]any `json:"inline_keyboard"`
}

type wireMessage struct {
	MessageID          int             `json:"message_id"`
	From               *wireUser       `json:"from,omitempty"`
	Chat               wireChat        `json:"chat"`
	Date               int64           `json:"date"`
	EditDate           int64           `json:"edit_date,omitempty"`
	Text               string          `json:"text,omitempty"`
	Entities           []MessageEntity `json:"entities,omitempty"`
	LinkPreviewOptions json.RawMessage `json:"link_preview_options,omitempty"`
	Photo              []photoSize     `json:"photo,omitempty"`
	Caption            string          `json:"caption,omitempty"`
	CaptionEntities    []MessageEntity `json:"caption_entities,omitempty"`
	Invoice            *wireInvoice    `json:"invoice,omitempty"`
	SuccessfulPayment  *wirePayment    `json:"successful_payment,omitempty"`
	RefundedPayment    *wirePayment    `json:"refunded_payment,omitempty"`
	ReplyMarkup        *wireMarkup     `json:"reply_markup,omitempty"`
}

type wireCallbackQuery struct {
	ID           string      `json:"id"`
	From         wireUser    `json:"from"`
	Message      wireMessage `json:"message"`
	ChatInstance string      `json:"chat_instance"`
	Data         string      `json:"data,omitempty"`
}

type wirePreCheckoutQuery struct {
	ID             string   `json:"id"`
	From           wireUser `json:"from"`
	Currency       string   `json:"currency"`
	TotalAmount    int      `json:"total_amount"`
	InvoicePayload string   `json:"invoice_payload"`
}

type wireChatMember struct {
	Status    string   `json:"status"`
	User      wireUser `json:"user"`
	UntilDate *int64   `json:"until_date,omitempty"`
}

type wireChatMemberUpdated struct {
	Chat          wireChat       `json:"chat"`
	From          wireUser       `json:"from"`
	Date          int64          `json:"date"`
	OldChatMember wireChatMember `json:"old_chat_member"`
	NewChatMember wireChatMember `json:"new_chat_member"`
}

type wireWebhookInfo struct {
	URL                  string   `json:"url"`
	HasCustomCertificate bool     `json:"has_custom_certificate"`
	PendingUpdateCount   int      `json:"pending_update_count"`
	IPAddress            string   `json:"ip_address,omitempty"`
	LastErrorDate        int64    `json:"last_error_date,omitempty"`
	LastErrorMessage     string   `json:"last_error_message,omitempty"`
	MaxConnections       int      `json:"max_connections,omitempty"`
	AllowedUpdates       []string `json:"allowed_updates,omitempty"`
}

func toWireUser(u User) wireUser {
	return wireUser{ID: u.ID, FirstName: u.FirstName, LastName: u.LastName, Username: u.Username, LanguageCode: u.LanguageCode}
}

func (s *Server) botWireUser() wireUser {
	return wireUser{ID: s.botID, IsBot: true, FirstName: s.opts.BotName, Username: s.opts.BotUsername}
}

func chatOf(a *account) wireChat {
	return wireChat{ID: a.ID, Type: "private", FirstName: a.FirstName, LastName: a.LastName, Username: a.Username}
}

func wirePaymentOf(p *Payment) *wirePayment {
	if p == nil {
		return nil
	}
	return &wirePayment{
		Currency:                p.Currency,
		TotalAmount:             p.TotalAmount,
		InvoicePayload:          p.InvoicePayload,
		TelegramPaymentChargeID: p.ChargeID,
	}
}

// wireMessageLocked renders a message the way the Bot API returns it.
func (s *Server) wireMessageLocked(a *account, m *message) wireMessage {
	w := wireMessage{
		MessageID:          m.id,
		Chat:               chatOf(a),
		Date:               m.date.Unix(),
		Text:               m.text,
		Photo:              m.photo,
		Caption:            m.caption,
		LinkPreviewOptions: m.linkPreview,
		SuccessfulPayment:  wirePaymentOf(m.payment),
		RefundedPayment:    wirePaymentOf(m.refund),
	}
	if m.fromBot {
		bot := s.botWireUser()
		w.From = &bot
	} else {
		u := toWireUser(a.User)
		w.From = &u
	}
	if !m.editDate.IsZero() {
		w.EditDate = m.editDate.Unix()
	}
	if len(m.photo) > 0 || m.photoURL != "" {
		w.CaptionEntities = m.entities
	} else {
		w.Entities = m.entities
	}
	if m.invoice != nil {
		w.Invoice = &wireInvoice{
			Title:          m.invoice.Title,
			Description:    m.invoice.Description,
			StartParameter: m.invoice.StartParameter,
			Currency:       m.invoice.Currency,
			TotalAmount:    m.invoice.TotalAmount,
		}
	}
	if m.keyboard != nil {
		w.ReplyMarkup = wireKeyboard(m.keyboard)
	}
	return w
}

func wireKeyboard(kb [][]InlineButton) *wireMarkup {
	out := &wireMarkup{InlineKeyboard: make([][]map[string]any, len(kb))}
	for i, row := range kb {
		out.InlineKeyboard[i] = make([]map[string]any, len(row))
		for j, b := range row {
			obj := map[string]any{"text": b.Text}
			switch b.Kind {
			case ButtonCallback:
				obj[b.Kind] = b.CallbackData
			case ButtonURL:
				obj[b.Kind] = b.URL
			case ButtonPay:
				obj[b.Kind] = true
			case ButtonCopyText:
				obj[b.Kind] = map[string]string{"text": b.CopyText}
			case ButtonWebApp, ButtonLoginURL:
				obj[b.Kind] = map[string]string{"url": b.URL}
			default:
				obj[b.Kind] = json.RawMessage(b.rawValue)
			}
			out.InlineKeyboard[i][j] = obj
		}
	}
	return out
}
