package shop

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
)

// The Purchase workflow: one per purchase, from the invoice to the
// delivered extension.

// PurchaseWorkflowID is the ID of a purchase's Purchase workflow. Workflow
// IDs are the locks: Temporal runs at most one open workflow per ID.
func PurchaseWorkflowID(purchaseID string) string { return "purchase/" + purchaseID }

// PurchaseWorkflowType is the Purchase workflow's registered name.
const PurchaseWorkflowType = "Purchase"

// The Purchase workflow's signal and update.
const (
	SignalPayment         = "payment"
	UpdateApproveCheckout = "approve-checkout"
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

// PurchaseExtensionID is the dedup id of the extension a purchase delivers.
func PurchaseExtensionID(purchaseID string) string { return "purchase:" + purchaseID }

// NewPurchase is what the bot asked for: the purchase part of the Purchase
// workflow's input.
type NewPurchase struct {
	PurchaseID string
	UserID     int64
	Kind       string // KindSubscription or KindTopUp
	PlanID     string
	Days       int
	Amount     int64  // minor units of Currency
	Currency   string // ISO code, or XTR for Stars
	Provider   string // one of the Provider* values
}

// PurchaseInput starts a Purchase workflow.
type PurchaseInput struct {
	NewPurchase
	// InvoiceTTL is how long the user has to pay.
	InvoiceTTL time.Duration
	// PollEvery is the first interval of the Crypto Pay polling fallback;
	// it doubles up to lastPoll. Zero means firstPoll.
	PollEvery time.Duration
	// Late marks a run started by a payment that found no open run of
	// purchase/<id> (signal-with-start from the bot, the webhook or the
	// payments sweep). Only PurchaseID is set then; the purchase is read
	// from the database (workflows/purchase_late.go).
	Late bool `json:",omitempty"`
	// Renewal marks a balance purchase that auto-renews a subscription,
	// started by the Subscription workflow as its child. Its extension is
	// delivered as a renewal, and the parent, not the purchase, tells the
	// user the outcome (workflows/subscription_autorenew.go).
	Renewal bool `json:",omitempty"`
}

// PurchaseState is the purchase as the workflow sees it: its state query's
// answer and its result.
type PurchaseState struct {
	PurchaseID       string
	UserID           int64
	Kind             string
	PlanID           string
	Provider         string
	Amount           int64
	Currency         string
	Status           string
	InvoiceID        string
	InvoiceExpiresAt time.Time
	PaidVia          string // webhook, poll or telegram
	ExpiresAt        time.Time
	Failure          string
}

// CheckoutRequest is Telegram's pre_checkout_query for a Stars invoice, which
// the bot must answer within 10 seconds.
type CheckoutRequest struct {
	UserID   int64
	Amount   int64
	Currency string
}

// Validate checks a new purchase's input; the Purchase workflow fails a
// run whose input does not pass.
func (in PurchaseInput) Validate() error {
	switch {
	case in.PurchaseID == "":
		return errors.New("purchase id is empty")
	case in.UserID <= 0:
		return errors.New("user id must be positive")
	case in.Amount <= 0:
		return errors.New("amount must be positive")
	case in.Kind != KindSubscription && in.Kind != KindTopUp:
		return fmt.Errorf("unknown purchase kind %q", in.Kind)
	case in.Kind == KindSubscription && in.Days <= 0:
		return errors.New("a subscription purchase needs days")
	case in.Provider != ProviderCryptoPay && in.Provider != ProviderStars && in.Provider != ProviderBalance:
		return fmt.Errorf("unknown provider %q", in.Provider)
	case in.Provider != ProviderBalance && in.InvoiceTTL <= 0:
		return errors.New("invoice TTL must be positive")
	}
	return nil
}

// StarsStartParameter is the start_parameter of a purchase's Stars
// invoice: unique per purchase, within Telegram's 1-64 characters of
// A-Z, a-z, 0-9, _ and -.
func StarsStartParameter(purchaseID string) string {
	return "pay_" + strings.ReplaceAll(purchaseID, "-", "")
}

// StartPurchase starts a new purchase's workflow. The purchase id is new,
// so a duplicate id is refused rather than joined.
func StartPurchase(ctx context.Context, c client.Client, taskQueue string, in PurchaseInput) error {
	_, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID:                    PurchaseWorkflowID(in.PurchaseID),
		TaskQueue:             taskQueue,
		WorkflowIDReusePolicy: enumspb.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE,
		TypedSearchAttributes: temporal.NewSearchAttributes(
			AttrTelegramUserID.ValueSet(in.UserID),
			AttrPurchaseStatus.ValueSet(PurchasePending),
			AttrPaymentProvider.ValueSet(in.Provider),
		),
	}, PurchaseWorkflowType, in)
	if err != nil {
		return fmt.Errorf("start purchase %s: %w", in.PurchaseID, err)
	}
	return nil
}

// latePurchaseInput is the start input of a Purchase run started by a
// payment: it decodes as a PurchaseInput with only PurchaseID and Late set.
type latePurchaseInput struct {
	PurchaseID string
	Late       bool
}

// PaymentStartOptions are the signal-with-start options a payment uses:
// an open run of purchase/<id> gets the signal, and a closed one is
// followed by a new, late run.
func PaymentStartOptions(taskQueue, purchaseID string) client.StartWorkflowOptions {
	return client.StartWorkflowOptions{
		ID:                       PurchaseWorkflowID(purchaseID),
		TaskQueue:                taskQueue,
		WorkflowIDReusePolicy:    enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE,
		WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING,
	}
}

// SendPayment hands a payment to its purchase: the one path the bot, the
// Crypto Pay webhook and the payments sweep all use. It returns once
// Temporal has durably accepted the signal.
func SendPayment(ctx context.Context, c client.Client, taskQueue, purchaseID string, pay Payment) error {
	_, err := c.SignalWithStartWorkflow(ctx, PurchaseWorkflowID(purchaseID), SignalPayment, pay,
		PaymentStartOptions(taskQueue, purchaseID), PurchaseWorkflowType,
		latePurchaseInput{PurchaseID: purchaseID, Late: true})
	if err != nil {
		return fmt.Errorf("signal payment (%s) to purchase %s: %w", pay.Source, purchaseID, err)
	}
	return nil
}
