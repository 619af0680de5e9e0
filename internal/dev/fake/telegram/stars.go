package telegram

import (
	"context"
	"fmt"
	"time"
)

// starTx is one entry of the bot's Stars transaction history: a user's
// payment of an invoice, or its refund.
type starTx struct {
	charge string
	at     time.Time
	refund bool
}

// Wire format of getStarTransactions (Bot API: StarTransactions,
// StarTransaction, TransactionPartnerUser).
type wireStarTransactions struct {
	Transactions []wireStarTransaction `json:"transactions"`
}

type wireStarTransaction struct {
	ID       string         `json:"id"`
	Amount   int            `json:"amount"`
	Date     int64          `json:"date"`
	Source   *wireTxPartner `json:"source,omitempty"`
	Receiver *wireTxPartner `json:"receiver,omitempty"`
}

type wireTxPartner struct {
	Type            string   `json:"type"`
	TransactionType string   `json:"transaction_type"`
	User            wireUser `json:"user"`
	InvoicePayload  string   `json:"invoice_payload,omitempty"`
}

// getStarTransactions returns the bot's Stars transactions in
// chronological order, as the Bot API documents: offset skips that many,
// limit (1-100, default 100) caps the page. A payment has the user as its
// source; its refund has the same id and the user as its receiver.
func (s *Server) getStarTransactions(_ context.Context, p *params) (any, error) {
	offset, _, err := p.int("offset")
	if err != nil {
		return nil, err
	}
	limit, set, err := p.int("limit")
	if err != nil {
		return nil, err
	}
	if !set {
		limit = 100
	}
	if offset < 0 {
		return nil, badRequest("offset must be non-negative")
	}
	if limit < 1 || limit > 100 {
		return nil, badRequest("limit must be between 1 and 100")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	out := wireStarTransactions{Transactions: []wireStarTransaction{}}
	for i := offset; i < len(s.starLog) && len(out.Transactions) < limit; i++ {
		e := s.starLog[i]
		c := s.charges[e.charge]
		partner := &wireTxPartner{Type: "user", TransactionType: "invoice_payment", InvoicePayload: c.Payload}
		if a := s.users[c.UserID]; a != nil {
			partner.User = toWireUser(a.User)
		} else {
			partner.User = wireUser{ID: c.UserID}
		}
		tx := wireStarTransaction{ID: c.ID, Amount: c.Amount, Date: e.at.Unix()}
		if e.refund {
			tx.Receiver = partner
		} else {
			tx.Source = partner
		}
		out.Transactions = append(out.Transactions, tx)
	}
	return out, nil
}

// ForwardedInvoice reports what a forwarded copy of the bot's invoice in
// the message shows, as the Bot API documents sendInvoice's
// start_parameter: left empty, the copy keeps a working Pay button;
// set, the button becomes a deep link to the bot with that parameter
// (startLink), and the copy cannot be paid.
func (s *Server) ForwardedInvoice(userID int64, messageID int) (payable bool, startLink string, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, err := s.activeUserLocked(userID)
	if err != nil {
		return false, "", err
	}
	m := a.messageLocked(messageID)
	if m == nil || m.deleted || !m.fromBot || m.invoice == nil {
		return false, "", fmt.Errorf("forward invoice in message %d of chat %d: %w", messageID, userID, ErrNoMessage)
	}
	if m.invoice.StartParameter == "" {
		return true, "", nil
	}
	return false, "https://t.me/" + s.opts.BotUsername + "?start=" + m.invoice.StartParameter, nil
}
