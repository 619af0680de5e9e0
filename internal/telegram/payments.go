package telegram

import (
	"context"
	"time"

	"github.com/go-telegram/bot"
	"github.com/go-telegram/bot/models"
)

// StarsInvoice is an invoice in Telegram Stars (XTR) for one item.
type StarsInvoice struct {
	ChatID         int64
	Title          string
	Description    string
	Payload        string // returned at pre-checkout and in the payment
	Label          string
	Stars          int
	StartParameter string
}

// SendStarsInvoice sends a Stars invoice and returns its message id.
func (c *Client) SendStarsInvoice(ctx context.Context, in StarsInvoice) (int, error) {
	done, err := c.pace.take(ctx)
	if err != nil {
		return 0, err
	}
	defer done()
	sent, err := c.api.SendInvoice(ctx, &bot.SendInvoiceParams{
		ChatID:         in.ChatID,
		Title:          in.Title,
		Description:    in.Description,
		Payload:        in.Payload,
		Currency:       "XTR",
		Prices:         []models.LabeledPrice{{Label: in.Label, Amount: in.Stars}},
		StartParameter: in.StartParameter,
	})
	if err != nil {
		return 0, err
	}
	return sent.ID, nil
}

// AnswerPreCheckout approves (ok) or refuses a pre-checkout query; a
// refusal shows reason to the user.
func (c *Client) AnswerPreCheckout(ctx context.Context, queryID string, ok bool, reason string) error {
	_, err := c.api.AnswerPreCheckoutQuery(ctx, &bot.AnswerPreCheckoutQueryParams{
		PreCheckoutQueryID: queryID, OK: ok, ErrorMessage: reason,
	})
	return err
}

// RefundStars returns a Stars payment to the user who made it.
func (c *Client) RefundStars(ctx context.Context, userID int64, chargeID string) error {
	_, err := c.api.RefundStarPayment(ctx, &bot.RefundStarPaymentParams{UserID: userID, TelegramPaymentChargeID: chargeID})
	return err
}

// StarTransaction is one entry of the bot's Stars ledger. FromUser is the
// paying user for an incoming payment from a user, else zero.
type StarTransaction struct {
	ID       string
	Amount   int
	Date     time.Time
	FromUser int64
	Payload  string // the invoice payload of a user's payment
}

// StarTransactions reads up to limit ledger entries from offset, oldest
// first.
func (c *Client) StarTransactions(ctx context.Context, offset, limit int) ([]StarTransaction, error) {
	res, err := c.api.GetStarTransactions(ctx, &bot.GetStarTransactionsParams{Offset: offset, Limit: limit})
	if err != nil {
		return nil, err
	}
	out := make([]StarTransaction, 0, len(res.Transactions))
	for _, tx := range res.Transactions {
		t := StarTransaction{ID: tx.ID, Amount: tx.Amount, Date: time.Unix(int64(tx.Date), 0).UTC()}
		if src := tx.Source; src != nil && src.Type == models.TransactionPartnerTypeUser && src.User != nil {
			t.FromUser, t.Payload = src.User.User.ID, src.User.InvoicePayload
		}
		out = append(out, t)
	}
	return out, nil
}
