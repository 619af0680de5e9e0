package telegram

import (
	"context"
	"errors"
	"fmt"
)

// preCheckout is a pre_checkout_query waiting for the bot's answer.
type preCheckout struct {
	answered bool
	ok       bool
	errMsg   string
}

// PayStarsInvoice pays the Telegram Stars invoice in the bot's message the
// way the Telegram client does: it sends the bot a pre_checkout_query,
// waits (at most Options.PreCheckoutTimeout) for answerPreCheckoutQuery,
// and when the bot says ok, posts a successful_payment message from the
// user. It returns the telegram_payment_charge_id, or
// *PaymentDeclinedError carrying the bot's error_message.
func (s *Server) PayStarsInvoice(ctx context.Context, userID int64, messageID int) (string, error) {
	s.mu.Lock()
	a, m, err := s.payableLocked(userID, messageID)
	if err != nil {
		s.mu.Unlock()
		return "", err
	}
	id := newQueryID()
	pc := &preCheckout{}
	s.preCheckouts[id] = pc
	err = s.enqueueLocked("pre_checkout_query", wirePreCheckoutQuery{
		ID:             id,
		From:           toWireUser(a.User),
		Currency:       m.invoice.Currency,
		TotalAmount:    m.invoice.TotalAmount,
		InvoicePayload: m.invoice.Payload,
	})
	s.mu.Unlock()
	if err != nil {
		return "", err
	}

	ctx, cancel := context.WithTimeoutCause(ctx, s.opts.PreCheckoutTimeout, ErrPreCheckoutTimeout)
	defer cancel()
	s.mu.Lock()
	defer s.mu.Unlock()
	for !pc.answered {
		ch := s.changed
		s.mu.Unlock()
		waitErr := s.waitChange(ctx, ch, nil)
		s.mu.Lock()
		if waitErr != nil && !pc.answered {
			delete(s.preCheckouts, id) // a late answer gets "query is too old"
			if errors.Is(context.Cause(ctx), ErrPreCheckoutTimeout) {
				waitErr = ErrPreCheckoutTimeout
			}
			return "", fmt.Errorf("pay invoice in message %d of chat %d: %w", messageID, userID, waitErr)
		}
	}
	delete(s.preCheckouts, id)
	if !pc.ok {
		return "", &PaymentDeclinedError{Message: pc.errMsg}
	}
	if _, _, err := s.payableLocked(userID, messageID); err != nil {
		return "", err
	}
	inv := m.invoice
	charge := &Charge{
		ID:        newChargeID(),
		UserID:    a.ID,
		MessageID: m.id,
		Currency:  inv.Currency,
		Amount:    inv.TotalAmount,
		Payload:   inv.Payload,
		Date:      s.now(),
	}
	inv.ChargeID = charge.ID
	s.starLog = append(s.starLog, starTx{charge: charge.ID, at: charge.Date})
	s.charges[charge.ID] = charge
	s.chargeOrder = append(s.chargeOrder, charge.ID)
	s.messageChangedLocked(a, m)

	paid := a.newMessageLocked(false, s.now())
	paid.payment = &Payment{Currency: inv.Currency, TotalAmount: inv.TotalAmount, InvoicePayload: inv.Payload, ChargeID: charge.ID}
	s.messageChangedLocked(a, paid)
	if err := s.enqueueLocked("message", s.wireMessageLocked(a, paid)); err != nil {
		return "", err
	}
	return charge.ID, nil
}

// payableLocked finds an unpaid Stars invoice the user can pay.
func (s *Server) payableLocked(userID int64, messageID int) (*account, *message, error) {
	a, err := s.activeUserLocked(userID)
	if err != nil {
		return nil, nil, err
	}
	m := a.messageLocked(messageID)
	if m == nil || m.deleted || !m.fromBot || m.invoice == nil {
		return nil, nil, fmt.Errorf("pay invoice in message %d of chat %d: %w", messageID, userID, ErrNoMessage)
	}
	if m.invoice.Currency != "XTR" {
		return nil, nil, fmt.Errorf("pay invoice in message %d of chat %d: currency %s is not Telegram Stars", messageID, userID, m.invoice.Currency)
	}
	if m.invoice.ChargeID != "" {
		return nil, nil, fmt.Errorf("pay invoice in message %d of chat %d: already paid", messageID, userID)
	}
	return a, m, nil
}

func (s *Server) answerPreCheckoutQuery(_ context.Context, p *params) (any, error) {
	if !p.has("ok") {
		return nil, badRequest("parameter \"ok\" is required")
	}
	ok, err := p.boolean("ok")
	if err != nil {
		return nil, err
	}
	errMsg := p.str("error_message")
	if !ok && errMsg == "" {
		return nil, badRequest("error_message must be non-empty if ok is false")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	pc := s.preCheckouts[p.str("pre_checkout_query_id")]
	if pc == nil || pc.answered {
		return nil, errQueryTooOld
	}
	pc.answered, pc.ok, pc.errMsg = true, ok, errMsg
	if s.onAnswer != nil {
		// Before the payment is taken and its update queued: a test can
		// change the world between the bot's approval and the payment.
		s.onAnswer(ok)
	}
	s.notifyLocked()
	return true, nil
}

// OnPreCheckoutAnswer makes f run each time the bot answers a
// pre_checkout_query, before the payment is taken. f runs with the
// server's lock held and must not call the server. nil removes it.
func (s *Server) OnPreCheckoutAnswer(f func(ok bool)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.onAnswer = f
}

func (s *Server) refundStarPayment(_ context.Context, p *params) (any, error) {
	userID, _, err := p.int64("user_id")
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.charges[p.str("telegram_payment_charge_id")]
	switch {
	case c == nil:
		return nil, badRequest("CHARGE_NOT_FOUND")
	case c.UserID != userID:
		return nil, badRequest("USER_ID_INVALID")
	case c.Refunded:
		return nil, badRequest("CHARGE_ALREADY_REFUNDED")
	}
	c.Refunded, c.RefundedAt = true, s.now()
	s.starLog = append(s.starLog, starTx{charge: c.ID, at: c.RefundedAt, refund: true})
	a := s.users[c.UserID]
	refund := a.newMessageLocked(false, s.now())
	refund.refund = &Payment{Currency: c.Currency, TotalAmount: c.Amount, InvoicePayload: c.Payload, ChargeID: c.ID}
	s.messageChangedLocked(a, refund)
	if err := s.enqueueLocked("message", s.wireMessageLocked(a, refund)); err != nil {
		return nil, err
	}
	return true, nil
}

// Charges returns the Stars payments taken so far, oldest first.
func (s *Server) Charges() []Charge {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Charge, 0, len(s.chargeOrder))
	for _, id := range s.chargeOrder {
		out = append(out, *s.charges[id])
	}
	return out
}
