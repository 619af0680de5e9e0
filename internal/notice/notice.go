// Package notice names the messages workflows send users. Each constructor
// is one situation; the catalogue id and the keyboard it carries are
// chosen here and nowhere else. It is pure data (no I/O), so workflows can
// build notices deterministically; internal/telegram renders them in the
// user's language.
package notice

import "time"

// Button names a keyboard the renderer attaches to a notice.
type Button string

// Buttons a notice can carry.
const (
	ButtonMenu  Button = "menu"
	ButtonRenew Button = "renew"
	ButtonTopUp Button = "topup"
)

// Notice is a message to a user, rendered in the user's language from the
// catalogue. Values are typed so the renderer can format them per
// language. Its fields are the Notify activity's input as recorded in
// workflow histories: names and meanings stay.
type Notice struct {
	UserID   int64
	Message  string // catalogue id
	PlanID   string
	Amount   int64
	Currency string
	Balance  int64
	Bonus    int64 // a referral bonus paid, in the shop's currency
	Expires  time.Time
	Left     time.Duration
	Buttons  []Button
	// Replace is a message of the bot's to edit into this notice (its
	// "working on it" message for a request it handed over); 0 sends a
	// new message, as does an edit Telegram refuses.
	Replace int
}

// Replacing returns n as the edit of message id (0: a new message).
func (n Notice) Replacing(id int) Notice {
	n.Replace = id
	return n
}

// The notices of a purchase.

// Busy: the payment provider did not answer; try again later.
func Busy() Notice {
	return Notice{Message: "busy_try_again", Buttons: []Button{ButtonMenu}}
}

// PurchaseExpired: the invoice for plan went unpaid.
func PurchaseExpired(planID string) Notice {
	return Notice{Message: "purchase_expired", PlanID: planID, Buttons: []Button{ButtonMenu}}
}

// InsufficientBalance: paying amount from the balance was refused.
func InsufficientBalance(amount int64, currency string) Notice {
	return Notice{Message: "insufficient_balance", Amount: amount, Currency: currency, Buttons: []Button{ButtonTopUp}}
}

// TopUpDone: amount was added; balance is the new balance.
func TopUpDone(amount int64, currency string, balance int64) Notice {
	return Notice{Message: "topup_done", Amount: amount, Currency: currency, Balance: balance, Buttons: []Button{ButtonMenu}}
}

// ReferralBonus tells referrer that a friend's purchase earned them bonus.
func ReferralBonus(referrer, bonus int64) Notice {
	return Notice{UserID: referrer, Message: "referral_bonus", Bonus: bonus}
}

// StarsExtraRefunded tells user that a surplus Stars payment of amount
// was given back.
func StarsExtraRefunded(user, amount int64) Notice {
	return Notice{UserID: user, Message: "stars_extra_refunded", Amount: amount, Currency: "XTR"}
}

// RefundDone tells user that an admin refunded amount.
func RefundDone(user, amount int64, currency string) Notice {
	return Notice{UserID: user, Message: "refund_done", Amount: amount, Currency: currency}
}
