// Package shop holds the vocabulary that workflows, activities and the bot
// share: workflow IDs, the messages that pass between workflows, and the
// statuses operators see in the Temporal UI. It has no behaviour and no I/O,
// so every layer can import it.
package shop

import (
	"strconv"
	"strings"
	"time"
)

// Workflow IDs. They are the locks: Temporal runs at most one open workflow
// per ID, which is what the legacy bot's advisory locks tried to be.
func PurchaseWorkflowID(purchaseID string) string { return "purchase/" + purchaseID }

func SubscriptionWorkflowID(userID int64) string {
	return "subscription/" + strconv.FormatInt(userID, 10)
}

// ParseSubscriptionWorkflowID is SubscriptionWorkflowID's inverse.
func ParseSubscriptionWorkflowID(id string) (int64, bool) {
	rest, ok := strings.CutPrefix(id, "subscription/")
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseInt(rest, 10, 64)
	return n, err == nil && n > 0
}

// Workflow type names, for starting workflows from places that cannot import
// the workflows package (activities).
const (
	SubscriptionWorkflowType = "Subscription"
	PurchaseWorkflowType     = "Purchase"
)

// Purchase kinds, payment providers and purchase statuses, as stored in the
// database (purchases.kind, provider, status) and shown in the
// PurchaseStatus / PaymentProvider search attributes. The values are stored:
// never change one.
const (
	KindSubscription = "subscription" // buys Days of access
	KindTopUp        = "topup"        // adds Amount to the balance

	ProviderCryptoPay = "cryptopay"
	ProviderStars     = "stars"
	ProviderBalance   = "balance" // paid from users.balance

	// pending → invoiced → paid → refunded; pending or invoiced → expired
	// or failed. A provider that reports payment of an expired or failed
	// purchase still gets it credited.
	PurchasePending  = "pending"
	PurchaseInvoiced = "invoiced"
	PurchasePaid     = "paid"
	PurchaseExpired  = "expired"
	PurchaseFailed   = "failed"
	PurchaseRefunded = "refunded"
)

// Subscription statuses (SubscriptionStatus search attribute). The
// database's subscriptions.status holds trial, active, expired or banned:
// trial and active keys belong in Xray, the others do not. None and
// expiring exist only in the workflow's state.
const (
	StatusNone     = "none"
	StatusTrial    = "trial"
	StatusActive   = "active"
	StatusExpiring = "expiring"
	StatusExpired  = "expired"
	StatusBanned   = "banned"
)

// Signal, query and update names.
const (
	SignalPayment = "payment"
	SignalExtend  = "extend"
	SignalBan     = "ban"
	// SignalExpireOverdue tells a Subscription workflow that the database
	// holds a live row whose expiry has passed (a missed timer): the workflow
	// expires it now, database first, then Xray, then the user.
	SignalExpireOverdue = "expire-overdue"
	QueryState          = "state"

	UpdateApproveCheckout = "approve-checkout"
	UpdateStartTrial      = "start-trial"
	UpdateReissue         = "reissue"
	UpdateSetAutoRenew    = "set-auto-renew"
)

// Payment tells a Purchase workflow that the provider says it is paid. It may
// arrive several times (webhook retries, polling); the first one counts.
type Payment struct {
	Provider  string
	InvoiceID string
	ChargeID  string // Telegram's telegram_payment_charge_id for Stars
	Source    string // one of the Source* values: for the history reader
	// UserID and Amount are the Stars payer and amount as Telegram reported
	// them: a charge that must be refunded is refunded to them even when
	// the purchase it names is unknown.
	UserID int64 `json:",omitempty"`
	Amount int64 `json:",omitempty"`
}

// Payment sources (Payment.Source): where a payment signal came from. They
// are carried in workflow histories and the purchase state: never change one.
const (
	SourceWebhook  = "webhook"  // Crypto Pay's webhook
	SourcePoll     = "poll"     // the Purchase workflow asked Crypto Pay
	SourceTelegram = "telegram" // the bot received Telegram's successful_payment
	SourceSweep    = "sweep"    // the payment sweep found it
	SourceBalance  = "balance"  // paid from the user's balance
)

// Extension kinds (Extension.Kind). They are carried in workflow histories:
// never change one.
const (
	ExtensionPurchase = "purchase" // a paid purchase
	ExtensionRenewal  = "renewal"  // an auto-renewal from the balance
	ExtensionTrial    = "trial"    // the free trial
	ExtensionGrant    = "grant"    // an admin's gift, or the sandbox moving the expiry
	ExtensionPromo    = "promo"    // a promo code's days
	ExtensionRefund   = "refund"   // time taken back after a refund
)

// TrialExtensionID is the dedup id of the trial's extension: a user has one
// trial. TrialPlanID is the plan a trial subscription shows in the workflow's
// state.
const (
	TrialExtensionID = "trial"
	TrialPlanID      = "trial"
)

// Grant kinds, as stored with each grant of time without payment (the
// grant's dedup key is user, kind and reference). Never change one.
const (
	GrantAdmin  = "admin"  // reference: the admin command's unique id
	GrantPromo  = "promo"  // reference: the promo code
	GrantRefund = "refund" // reference: the refunded purchase's id
)

// Extension moves a subscription's expiry. ID deduplicates it: a purchase,
// trial, grant or promo is applied once however often it is delivered.
type Extension struct {
	ID        string // "purchase:<id>", "trial", "grant:<ref>", "promo:<code>"
	Kind      string // one of the Extension* kinds
	PlanID    string
	ExpiresAt time.Time // the database's new expiry: the source of truth
	Trial     bool
	// Replace sets the expiry to ExpiresAt even if that is earlier (an
	// admin correction, or the sandbox's "expire in 2 minutes"); otherwise
	// an extension only ever moves the expiry later.
	Replace bool
}

// Ban bans (or unbans) a user: their key leaves Xray and stays out until
// an unban, whatever they pay meanwhile.
type Ban struct {
	Banned bool
	By     int64 // the admin's Telegram id, for the history reader
}

// Overdue is the payload of SignalExpireOverdue: the row as the database
// sweep found it.
type Overdue struct {
	ExpiresAt time.Time
	PlanID    string
	Status    string // the row's status when found (active or trial)
}

// SubscriptionInput starts (or continues) a user's Subscription workflow.
type SubscriptionInput struct {
	UserID int64
	Policy Policy
	// State carries everything over a continue-as-new; nil on first start.
	State *SubscriptionState
	// Work that had arrived but was not done yet when the run continued as
	// new (a step stuck in retry): the next run does it first.
	Pending []Extension
	Bans    []Ban
	Overdue *Overdue
}

// Policy is the shop's timing configuration a Subscription workflow follows.
// It travels in the input; the workflow reads the current one (through an
// activity) at the start of each run and of each period, so a changed
// configuration reaches existing users.
type Policy struct {
	PaidReminders  []time.Duration // before expiry, e.g. 72h, 24h, 1h
	TrialReminders []time.Duration // e.g. 24h, 1h
	AutoRenewLead  time.Duration   // renew from balance this long before expiry
	ReissueEvery   time.Duration   // at most one key reissue per this period
}

// SubscriptionState is what the Subscription workflow remembers and what its
// state query returns. It never holds the VLESS UUID: that is a bearer secret
// and stays in the database.
type SubscriptionState struct {
	UserID      int64
	Status      string
	PlanID      string
	ExpiresAt   time.Time
	Trial       bool
	AutoRenew   bool
	InXray      bool     // the user's key is known to be in Xray
	Applied     []string // extension ids already applied, newest last
	Reminded    []string // reminder stages sent for the current period
	KeyVersion  int      // bumped by each reissue
	LastReissue time.Time
	// Stuck names the step being retried after an error retrying cannot
	// fix (say, a wrong inbound tag); "" when nothing is stuck.
	Stuck string
	// Cleanup is leftover work of a reissue cut short by a continue-as-new:
	// "key:<email>" removes that key from Xray, "abort-reissue" drops the
	// pending key from the database.
	Cleanup []string
}

// MaxApplied bounds the dedup list carried across continue-as-new. Repeats
// come from retries within minutes, so the last few hundred ids are plenty.
const MaxApplied = 256

// HasApplied reports whether an extension id was already applied.
func (s *SubscriptionState) HasApplied(id string) bool {
	for _, a := range s.Applied {
		if a == id {
			return true
		}
	}
	return false
}

// MarkApplied records an extension id, dropping the oldest past MaxApplied.
func (s *SubscriptionState) MarkApplied(id string) {
	s.Applied = append(s.Applied, id)
	if len(s.Applied) > MaxApplied {
		s.Applied = append([]string(nil), s.Applied[len(s.Applied)-MaxApplied:]...)
	}
}

// PurchaseExtensionID is the dedup id of the extension a purchase delivers.
func PurchaseExtensionID(purchaseID string) string { return "purchase:" + purchaseID }
