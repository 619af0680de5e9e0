package activities

import (
	"time"

	"vpnflow/internal/shop"
)

// Every activity takes one input struct and returns one result struct, so a
// field can be added without breaking a running workflow's history.

// UserRef names a user. Activities that need the user's VLESS UUID look it up
// from this reference: the UUID is a bearer secret and never enters workflow
// history.
type UserRef struct {
	UserID int64
}

// RecordPurchaseResult is the purchase as stored.
type RecordPurchaseResult struct {
	Status string
}

// CreateInvoiceInput asks Crypto Pay for an invoice.
type CreateInvoiceInput struct {
	PurchaseID string
	Kind       string
	PlanID     string
	Amount     int64
	Currency   string
	TTL        time.Duration
}

// Invoice is a provider invoice as the workflow needs it.
type Invoice struct {
	InvoiceID string
	PayURL    string
	ExpiresAt time.Time
}

// SaveInvoiceInput records the invoice against the purchase.
type SaveInvoiceInput struct {
	PurchaseID string
	Invoice    Invoice
}

// CheckInvoiceInput asks Crypto Pay for an invoice's status: the polling
// fallback for lost webhooks.
type CheckInvoiceInput struct {
	InvoiceID string
}

// InvoiceStatus is Crypto Pay's view of the invoice.
type InvoiceStatus struct {
	Status string // active, paid, expired
}

// CreditInput credits a paid purchase.
type CreditInput struct {
	PurchaseID string
	ChargeID   string
}

// CreditResult is the credited purchase. It is the same whether this call
// or an earlier attempt booked the payment: a retry after the commit must
// not tell the workflow anything different.
type CreditResult struct {
	Kind              string
	ExpiresAt         time.Time // new subscription expiry, for subscription purchases
	Balance           int64     // balance after, for top-ups and balance payments
	ReferrerID        int64
	ReferralBonusPaid bool
	ReferralBonus     int64 // minor units of the shop's currency, when paid
}

// PurchaseRef names a purchase.
type PurchaseRef struct {
	PurchaseID string
}

// DeliverExtensionInput hands an extension to the user's Subscription workflow.
type DeliverExtensionInput struct {
	UserID    int64
	Extension shop.Extension
}

// InvoiceMessage sends the user a Crypto Pay invoice with a pay button.
type InvoiceMessage struct {
	UserID     int64
	PurchaseID string
	Kind       string
	PlanID     string
	Amount     int64
	Currency   string
	PayURL     string
	TTL        time.Duration
}

// StarsInvoice sends a Telegram Stars invoice (currency XTR).
type StarsInvoice struct {
	UserID     int64
	PurchaseID string
	PlanID     string
	Days       int
	Stars      int64
}

// SendKeyInput delivers the user's current key (link and QR code).
type SendKeyInput struct {
	UserID int64
	Reason string // activated, extended, reissued
}

// ExpireInput asks to expire a user's subscription if its time is up at At,
// the workflow's time: one clock decides. Its UserID field keeps it
// readable from a UserRef, the input older workflows send (At zero: the
// database's clock).
type ExpireInput struct {
	UserID int64
	At     time.Time
	// Tell writes the "subscription expired" notice to the outbox in the
	// expiry's transaction (runs from leanOutbox on); the NoticeOutbox
	// workflow sends it.
	Tell bool `json:",omitempty"`
}

// ExpireResult says whether the subscription really expired: a renewal that
// raced the timer wins, and ExpiresAt is then the new expiry. Status is the
// row's status afterwards ("" if there is no row).
type ExpireResult struct {
	Expired   bool
	ExpiresAt time.Time
	Status    string
}

// ReissuePlan names the old and new key of a reissue; the keys themselves
// stay in the database.
type ReissuePlan struct {
	OldEmail string
	NewEmail string
}

// KeyRef names one of a user's keys in Xray by its email.
type KeyRef struct {
	UserID int64
	Email  string
}

// AutoRenewInput renews a subscription from the balance for the period
// ending at PeriodEnd; the pair is the renewal's idempotency key.
type AutoRenewInput struct {
	UserID    int64
	PlanID    string
	PeriodEnd time.Time
}

// AutoRenewResult says what the renewal did.
type AutoRenewResult struct {
	Renewed   bool
	ExpiresAt time.Time
	Price     int64
	Currency  string
	Balance   int64 // when not renewed for lack of balance
	NoPlan    bool  // the plan is no longer sold
}

// AutoRenewSetting switches auto-renewal.
type AutoRenewSetting struct {
	UserID int64
	On     bool
}
