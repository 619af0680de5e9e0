package telegram

import (
	"slices"
	"time"
)

// message is the stand-in's record of one chat message.
type message struct {
	id       int
	chatID   int64
	fromBot  bool
	date     time.Time
	editDate time.Time

	text      string
	caption   string
	entities  []MessageEntity
	raw       string
	parseMode string

	linkPreview         []byte // link_preview_options JSON as sent, echoed back
	linkPreviewDisabled bool

	keyboard      [][]InlineButton
	replyKeyboard [][]string

	photo    []photoSize
	photoURL string
	invoice  *Invoice
	payment  *Payment
	refund   *Payment
	deleted  bool
}

func (a *account) newMessageLocked(fromBot bool, date time.Time) *message {
	a.nextMessageID++
	m := &message{id: a.nextMessageID, chatID: a.ID, fromBot: fromBot, date: date}
	a.messages = append(a.messages, m)
	return m
}

func (a *account) messageLocked(id int) *message {
	i, ok := slices.BinarySearchFunc(a.messages, id, func(m *message, id int) int { return m.id - id })
	if !ok {
		return nil
	}
	return a.messages[i]
}

// snapshotLocked copies a message for callers outside the lock.
func (s *Server) snapshotLocked(m *message) Message {
	out := Message{
		ID:                  m.id,
		ChatID:              m.chatID,
		FromBot:             m.fromBot,
		Date:                m.date,
		Text:                m.text,
		Caption:             m.caption,
		Entities:            slices.Clone(m.entities),
		Raw:                 m.raw,
		ParseMode:           m.parseMode,
		Keyboard:            cloneKeyboard(m.keyboard),
		PhotoURL:            m.photoURL,
		LinkPreviewDisabled: m.linkPreviewDisabled,
		Edited:              !m.editDate.IsZero(),
		EditDate:            m.editDate,
		Deleted:             m.deleted,
	}
	out.ReplyKeyboard = cloneRows(m.replyKeyboard)
	if len(m.photo) > 0 {
		largest := m.photo[len(m.photo)-1]
		out.PhotoFileID = largest.FileID
		if f, ok := s.files[largest.FileID]; ok {
			out.Photo = slices.Clone(f.data)
		}
	}
	if m.invoice != nil {
		inv := *m.invoice
		inv.Prices = slices.Clone(inv.Prices)
		out.Invoice = &inv
	}
	if m.payment != nil {
		p := *m.payment
		out.SuccessfulPayment = &p
	}
	if m.refund != nil {
		p := *m.refund
		out.RefundedPayment = &p
	}
	return out
}

func cloneKeyboard(kb [][]InlineButton) [][]InlineButton {
	if kb == nil {
		return nil
	}
	out := make([][]InlineButton, len(kb))
	for i, row := range kb {
		out[i] = slices.Clone(row)
	}
	return out
}
