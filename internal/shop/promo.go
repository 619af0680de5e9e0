package shop

import (
	"context"
	"strconv"
	"strings"
	"time"

	"go.temporal.io/sdk/client"
)

// The PromoRedemption workflow: one user redeeming one promo code.

// PromoWorkflowType is the PromoRedemption workflow's registered name.
const PromoWorkflowType = "PromoRedemption"

// PromoWorkflowID is the ID of a user's redemption of a code: one per user
// and code.
func PromoWorkflowID(code string, userID int64) string {
	return "promo/" + NormalizePromoCode(code) + "/" + strconv.FormatInt(userID, 10)
}

// Promo kinds.
const (
	PromoDays    = "days"    // Value days of access (apply with GrantTime)
	PromoPercent = "percent" // Value percent off the next purchase
)

// NormalizePromoCode is how codes are stored and matched: trimmed, upper case.
func NormalizePromoCode(code string) string {
	return strings.ToUpper(strings.TrimSpace(code))
}

// PromoRequest is a user entering a promo code.
type PromoRequest struct {
	Code   string
	UserID int64
}

// PromoOutcome is the redeemed code.
type PromoOutcome struct {
	Code            string
	Kind            string // PromoDays or PromoPercent
	Value           int
	AlreadyRedeemed bool
	ExpiresAt       time.Time // for a days code
}

// StartPromoRedemption starts a redemption, or joins the one running for
// the user and code.
func StartPromoRedemption(ctx context.Context, c client.Client, taskQueue string, in PromoRequest) (client.WorkflowRun, error) {
	return startAction(ctx, c, actionOptions(taskQueue, PromoWorkflowID(in.Code, in.UserID), in.UserID, true), PromoWorkflowType, in)
}
