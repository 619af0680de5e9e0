// Package callback encodes and parses the data carried by inline keyboard
// buttons.
//
// Telegram returns a button's callback_data verbatim when it is pressed, up to
// 64 bytes. Buttons live on in chat history long after the code that drew them
// has changed, so every value starts with a version: "1|pay|1m|stars" is
// version 1, action pay, plan 1m, method stars. A button drawn by an older
// version parses to ErrStale, and the bot answers it with "this button is out
// of date" instead of guessing what it meant.
package callback

import "errors"

// Version prefixes every encoded value. Bump it when the meaning of an
// existing encoding changes; adding an action does not need a bump.
const Version = "1"

// MaxLen is Telegram's limit on callback_data, in bytes.
const MaxLen = 64

// MaxPlanIDLen matches the plan id limit config.ParsePlans enforces.
const MaxPlanIDLen = 16

var (
	// ErrStale means the data came from a button drawn by another version
	// of the bot (or by none): the user should be shown a fresh menu.
	ErrStale = errors.New("stale callback data")
	// ErrMalformed means the data has the current version but cannot be
	// understood; only a bug or a forged update produces it.
	ErrMalformed = errors.New("malformed callback data")
)

// Action is what a button asks the bot to do. Its value is the wire code.
type Action string

// The actions. The comment after each names the fields of Data it carries.
const (
	Menu      Action = "menu"    // main menu
	Buy       Action = "buy"     // list plans
	Plan      Action = "plan"    // Plan: plan chosen, list payment methods
	Pay       Action = "pay"     // Plan, Method: pay for the plan this way
	Trial     Action = "trial"   // start the free trial
	MySub     Action = "sub"     // show my subscription
	Balance   Action = "bal"     // show my balance
	TopUp     Action = "topup"   // Amount: top up by Amount minor units; 0 lists amounts
	Invite    Action = "invite"  // show my referral link
	Help      Action = "help"    // show help
	Language  Action = "lang"    // list languages
	SetLang   Action = "setlang" // Lang: switch to this language
	Renew     Action = "renew"   // list plans to extend the subscription
	Reissue   Action = "reissue" // replace my key with a new one
	AutoRenew Action = "auto"    // On: switch auto-renewal on or off
	Region    Action = "region"  // Then, Region: the user chose where their server is; go on to Then
)

// RegionAny is the Region of the "any (least busy)" choice.
const RegionAny = "any"

// Method is a way to pay for a plan.
type Method string

// The payment methods.
const (
	MethodCryptoPay Method = "cryptopay"
	MethodStars     Method = "stars"
	MethodBalance   Method = "balance"
)

// Data is one decoded button. Only the fields its Action carries may be set;
// Encode refuses the others so that every value has one encoding.
type Data struct {
	Action Action
	Plan   string // Plan, Pay
	Method Method // Pay
	Lang   string // SetLang: a two-letter lowercase code such as "en"
	Amount int64  // TopUp: minor units of the shop currency, 0 or positive
	On     bool   // AutoRenew
	Region string // Region: a node region label, or RegionAny
	Then   Action // Region: Trial or Buy, what the choice was asked for
}
