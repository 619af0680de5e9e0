package telegram

import (
	"errors"
	"fmt"
	"time"
)

// User is a Telegram account that talks to the bot. Its private chat with
// the bot has the same id, as on Telegram.
type User struct {
	ID           int64  `json:"id"`
	FirstName    string `json:"first_name"`
	LastName     string `json:"last_name,omitempty"`
	Username     string `json:"username,omitempty"`
	LanguageCode string `json:"language_code,omitempty"`
}

// MessageEntity marks a span of message text, in UTF-16 code units as the
// Bot API counts them.
type MessageEntity struct {
	Type          string `json:"type"`
	Offset        int    `json:"offset"`
	Length        int    `json:"length"`
	URL           string `json:"url,omitempty"`
	Language      string `json:"language,omitempty"`
	CustomEmojiID string `json:"custom_emoji_id,omitempty"`
}

// Button kinds an inline keyboard button can have.
const (
	ButtonCallback = "callback_data"
	ButtonURL      = "url"
	ButtonPay      = "pay"
	ButtonCopyText = "copy_text"
	ButtonWebApp   = "web_app"
	ButtonLoginURL = "login_url"
)

// InlineButton is one button of an inline keyboard as the bot sent it.
// Kind is one of the Button constants, or the Bot API field name of a
// rarer kind (switch_inline_query, callback_game, ...).
type InlineButton struct {
	Text         string
	Kind         string
	CallbackData string
	URL          string // url, web_app.url or login_url.url
	CopyText     string

	rawValue string // the JSON value of a rarer kind, echoed back as sent
}

// LabeledPrice is one line of an invoice.
type LabeledPrice struct {
	Label  string `json:"label"`
	Amount int    `json:"amount"`
}

// Invoice is what sendInvoice put in the chat.
type Invoice struct {
	Title          string
	Description    string
	Payload        string
	Currency       string
	Prices         []LabeledPrice
	TotalAmount    int
	StartParameter string
	ProviderToken  string
	// ChargeID is the telegram_payment_charge_id once the invoice is paid.
	ChargeID string
}

// Payment is a successful_payment or refunded_payment service message.
type Payment struct {
	Currency       string
	TotalAmount    int
	InvoicePayload string
	ChargeID       string
}

// Message is a chat message as the user sees it.
type Message struct {
	ID      int
	ChatID  int64
	FromBot bool
	Date    time.Time
	// Text and Caption are what the user reads: markup already parsed into
	// Entities and surrounding whitespace trimmed, as Telegram does.
	Text     string
	Caption  string
	Entities []MessageEntity // of Text, or of Caption for media
	// Raw is the text or caption exactly as the bot sent it, and ParseMode
	// the parse_mode it came with.
	Raw       string
	ParseMode string

	Keyboard      [][]InlineButton // inline keyboard; nil when none
	ReplyKeyboard [][]string       // custom reply keyboard sent with it

	Photo       []byte // uploaded photo bytes; nil when sent by URL
	PhotoFileID string // file_id of the largest size
	PhotoURL    string // when the bot sent the photo by URL

	Invoice           *Invoice
	SuccessfulPayment *Payment
	RefundedPayment   *Payment

	LinkPreviewDisabled bool
	Edited              bool
	EditDate            time.Time
	Deleted             bool
}

// Call is one Bot API request the stand-in answered.
type Call struct {
	Time   time.Time
	Method string
	// Params holds every parameter as text; objects such as reply_markup
	// are their JSON text, as they arrive in form bodies.
	Params map[string]string
	// Files maps the form field of each uploaded file to its file name.
	Files       map[string]string
	Status      int // HTTP status of the answer
	Description string
}

// CallbackAnswer is what the bot said in answerCallbackQuery.
type CallbackAnswer struct {
	Text      string
	ShowAlert bool
	URL       string
	CacheTime int
}

// Charge is a Telegram Stars payment the stand-in took.
type Charge struct {
	ID        string // telegram_payment_charge_id
	UserID    int64
	MessageID int
	Currency  string
	Amount    int
	Payload   string
	Refunded  bool
	// Date is when the user paid; RefundedAt when refundStarPayment gave
	// it back (zero if it has not).
	Date       time.Time
	RefundedAt time.Time
}

// BotCommand is an entry of the bot's command menu.
type BotCommand struct {
	Command     string `json:"command"`
	Description string `json:"description"`
}

// Outage selects how the whole Bot API misbehaves.
type Outage int

const (
	OutageNone  Outage = iota
	OutageError        // every request answers 502 Bad Gateway
	OutageHang         // every request hangs until the client gives up or the outage ends
)

// RateLimit makes sending methods answer 429 like Telegram's flood control.
type RateLimit struct {
	// PerSecond is how many sends are allowed in any one-second window;
	// zero switches the limit off.
	PerSecond int
	// RetryAfter is the flood wait imposed once the limit is exceeded,
	// during which every send is refused; zero means one second.
	RetryAfter time.Duration
}

var (
	// ErrUnknownUser: the driver named a user that AddUser never created.
	ErrUnknownUser = errors.New("unknown sandbox user")
	// ErrBlocked: the user has blocked the bot and cannot talk to it.
	ErrBlocked = errors.New("user has blocked the bot")
	// ErrNoMessage: no such message, or not one the action applies to.
	ErrNoMessage = errors.New("no such message")
	// ErrPreCheckoutTimeout: the bot did not answer a pre_checkout_query in
	// time, so Telegram would cancel the payment.
	ErrPreCheckoutTimeout = errors.New("bot did not answer the pre-checkout query in time")
	// ErrClosed: the server has been closed.
	ErrClosed = errors.New("telegram stand-in closed")
)

// PaymentDeclinedError is the bot refusing a payment in
// answerPreCheckoutQuery; Message is its error_message.
type PaymentDeclinedError struct {
	Message string
}

func (e *PaymentDeclinedError) Error() string {
	return fmt.Sprintf("payment declined by the bot: %s", e.Message)
}
