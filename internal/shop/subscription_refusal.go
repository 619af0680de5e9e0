package shop

import (
	"errors"
	"time"

	"go.temporal.io/sdk/temporal"
)

// Reasons an update to a Subscription workflow is refused. Validators return
// them as application errors of that type, so the bot can tell the user why
// without parsing text.
const (
	RefusedNotActive = "NotActive"
	RefusedTooSoon   = "TooSoon"
	RefusedBanned    = "Banned"
	// RefusedNoPlan: auto-renewal asked for a subscription without a plan
	// to renew (trial, grant or promo).
	RefusedNoPlan = "NoPlan"
	// RefusedActive: the trial asked for while a subscription is active.
	RefusedActive = "Active"
)

// Refusal is a refused update as the bot sees it.
type Refusal struct {
	Type string
	Wait time.Duration // for RefusedTooSoon: how long until allowed
}

// RefusalFrom reads a refusal out of an update's error; an error that is not
// a refusal has an empty Type.
func RefusalFrom(err error) Refusal {
	var appErr *temporal.ApplicationError
	if !errors.As(err, &appErr) {
		return Refusal{}
	}
	r := Refusal{Type: appErr.Type()}
	if appErr.HasDetails() {
		_ = appErr.Details(&r.Wait)
	}
	return r
}

// Refused reports whether this is one of the refusals above, which a
// validator gives before the workflow does anything.
func (r Refusal) Refused() bool {
	switch r.Type {
	case RefusedNotActive, RefusedTooSoon, RefusedBanned, RefusedNoPlan, RefusedActive:
		return true
	}
	return false
}

// MessageID is the catalogue message that explains the refusal.
func (r Refusal) MessageID() string {
	switch r.Type {
	case RefusedNotActive:
		return "reissue_needs_active"
	case RefusedTooSoon:
		return "reissue_too_soon"
	case RefusedBanned:
		return "banned_notice"
	case RefusedNoPlan:
		return "autorenew_needs_plan"
	case RefusedActive:
		return "trial_active_sub"
	}
	return "error_generic"
}
