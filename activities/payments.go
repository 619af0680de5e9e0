package activities

import (
	"context"

	"github.com/google/uuid"

	"vpnflow/internal/i18n"
	"vpnflow/internal/shop"
	"vpnflow/internal/store"
)

// Payment alert events: money that needed more than the normal path.
const (
	PaymentExtraRefunded   = "extra_refunded"    // a second Stars charge was given back
	PaymentRefundFailed    = "refund_failed"     // a charge to give back could not be: refund by hand
	PaymentLateCredited    = "late_credited"     // a payment after the purchase closed was credited
	PaymentUnknownPurchase = "unknown_purchase"  // a paid invoice names no purchase we know
	PaymentClosedPurchase  = "closed_purchase"   // paid for a failed or refunded purchase
	PaymentUncreditable    = "credit_impossible" // the credit was refused: act by hand
)

// StarsRefundRecord is a Stars charge that paid for nothing and was given
// back (or could not be: Failed).
type StarsRefundRecord struct {
	ChargeID   string
	UserID     int64
	PurchaseID string // "" if the payload named no purchase
	Amount     int64
	Failed     bool
}

// RecordStarsRefund books a refunded (or unrefundable) extra Stars charge:
// star_payments row and ledger rows, in one transaction that a retry
// repeats harmlessly.
func (a *Activities) RecordStarsRefund(ctx context.Context, in StarsRefundRecord) error {
	var pid *uuid.UUID
	if id, err := uuid.Parse(in.PurchaseID); err == nil {
		pid = &id
	}
	err := a.Store.RecordStarRefund(ctx, store.StarRefund{
		StarPayment: store.StarPayment{
			ChargeID: in.ChargeID, UserID: in.UserID, PurchaseID: pid, Amount: in.Amount, Currency: "XTR",
		},
		Failed: in.Failed,
	})
	return storeError("record stars refund "+in.ChargeID, err)
}

// PaymentAlert tells the admins about a payment outside the normal path.
type PaymentAlert struct {
	Event      string // Payment* above
	UserID     int64
	PurchaseID string
	ChargeID   string // Stars charge or Crypto Pay invoice id
	Amount     int64
	Currency   string
	Detail     string
}

// AlertPayment sends a payment alert to every admin in their language. It
// fails only when nobody was told, so a retry never repeats a delivered
// alert to everyone.
func (a *Activities) AlertPayment(ctx context.Context, in PaymentAlert) (AdminAlertResult, error) {
	return a.tellAdmins(ctx, "payment alert "+in.Event, func(lang string) string {
		return a.Texts.T(lang, "admin_payment_alert", map[string]any{
			"Event": in.Event, "User": in.UserID, "Purchase": in.PurchaseID, "Charge": in.ChargeID,
			"Amount": i18n.FormatMoney(lang, in.Amount, in.Currency), "Detail": in.Detail,
		})
	})
}

// DeliverPaymentInput is a payment the payments sweep found unhandled.
type DeliverPaymentInput struct {
	PurchaseID string
	Payment    shop.Payment
}

// DeliverPayment signal-with-starts the payment's purchase (shop.SendPayment).
func (a *Activities) DeliverPayment(ctx context.Context, in DeliverPaymentInput) error {
	return shop.SendPayment(ctx, a.Temporal, a.Config.TaskQueue, in.PurchaseID, in.Payment)
}

// PaymentReportInput is a payment reported to the admins instead of
// credited (store.PaymentReport).
type PaymentReportInput struct {
	Provider   string
	Reference  string
	PurchaseID string
	Reason     string
}

// RecordPaymentReport writes the durable record of a reported payment, so
// the payments sweep does not report it again.
func (a *Activities) RecordPaymentReport(ctx context.Context, in PaymentReportInput) error {
	var pid *uuid.UUID
	if id, err := uuid.Parse(in.PurchaseID); err == nil {
		pid = &id
	}
	err := a.Store.RecordPaymentReport(ctx, store.PaymentReport{Provider: in.Provider, Reference: in.Reference, PurchaseID: pid, Reason: in.Reason})
	return storeError("record payment report "+in.Reference, err)
}
