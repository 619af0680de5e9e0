package telegram

import "github.com/go-telegram/bot/models"

// Update is what the bot receives from Telegram, reduced to the parts the
// bot reads. At most one of its pointers is set.
type Update struct {
	ID               int64
	Message          *Incoming
	CallbackQuery    *CallbackQuery
	PreCheckoutQuery *PreCheckoutQuery
}

// User is a Telegram user as an update names them.
type User struct {
	ID           int64
	IsBot        bool
	Username     string
	FirstName    string
	LanguageCode string
}

// Incoming is a message a user sent. From may be nil (a channel post).
type Incoming struct {
	ID                int
	From              *User
	ChatType          string // "private", "group", …; empty when Telegram left it out
	Text              string
	SuccessfulPayment *SuccessfulPayment
}

// Private reports a message from a private chat; a chat of unknown type
// counts as private.
func (m *Incoming) Private() bool {
	return m.ChatType == "" || m.ChatType == string(models.ChatTypePrivate)
}

// SuccessfulPayment is Telegram's receipt of a paid invoice.
type SuccessfulPayment struct {
	TelegramPaymentChargeID string
	InvoicePayload          string
	Currency                string
	TotalAmount             int
}

// CallbackQuery is a press of an inline button. MessageID is the message
// the button is on, 0 when Telegram no longer shows it.
type CallbackQuery struct {
	ID        string
	From      User
	MessageID int
	Data      string
}

// PreCheckoutQuery asks the bot to approve a payment before Telegram
// charges the user.
type PreCheckoutQuery struct {
	ID             string
	From           *User
	InvoicePayload string
	Currency       string
	TotalAmount    int
}

func userFrom(u *models.User) *User {
	if u == nil {
		return nil
	}
	return &User{ID: u.ID, IsBot: u.IsBot, Username: u.Username, FirstName: u.FirstName, LanguageCode: u.LanguageCode}
}

// updateFrom reads the library's update.
func updateFrom(u *models.Update) Update {
	out := Update{ID: u.ID}
	if m := u.Message; m != nil {
		out.Message = &Incoming{ID: m.ID, From: userFrom(m.From), ChatType: string(m.Chat.Type), Text: m.Text}
		if p := m.SuccessfulPayment; p != nil {
			out.Message.SuccessfulPayment = &SuccessfulPayment{
				TelegramPaymentChargeID: p.TelegramPaymentChargeID, InvoicePayload: p.InvoicePayload,
				Currency: p.Currency, TotalAmount: p.TotalAmount,
			}
		}
	}
	if q := u.CallbackQuery; q != nil {
		out.CallbackQuery = &CallbackQuery{ID: q.ID, From: *userFrom(&q.From), Data: q.Data}
		if q.Message.Message != nil {
			out.CallbackQuery.MessageID = q.Message.Message.ID
		}
	}
	if q := u.PreCheckoutQuery; q != nil {
		out.PreCheckoutQuery = &PreCheckoutQuery{
			ID: q.ID, From: userFrom(q.From), InvoicePayload: q.InvoicePayload, Currency: q.Currency, TotalAmount: q.TotalAmount,
		}
	}
	return out
}
