package notice

import "time"

// The notices of a subscription. The Subscription workflow fills in the
// user.

// Extended: the subscription now runs until expires.
func Extended(expires time.Time) Notice {
	return Notice{Message: "subscription_extended", Expires: expires}
}

// ActivationInProgress: the key is taking longer than usual to activate.
func ActivationInProgress() Notice {
	return Notice{Message: "activation_in_progress"}
}

// Reminder: the subscription to plan ends at expires, left from now.
func Reminder(planID string, expires time.Time, left time.Duration) Notice {
	return Notice{Message: "reminder", PlanID: planID, Expires: expires, Left: left, Buttons: []Button{ButtonRenew}}
}

// Expired: the subscription to plan has ended.
func Expired(planID string) Notice {
	return Notice{Message: "subscription_expired", PlanID: planID, Buttons: []Button{ButtonRenew}}
}

// Banned: an admin banned the user.
func Banned() Notice { return Notice{Message: "banned_notice"} }

// Unbanned: an admin lifted the ban.
func Unbanned() Notice { return Notice{Message: "unbanned_notice"} }

// ReissueFailed: a new key could not be made; the old one still works.
func ReissueFailed() Notice { return Notice{Message: "reissue_failed"} }

// AutoRenewDone: the subscription to plan was renewed for amount and now
// runs until expires.
func AutoRenewDone(planID string, expires time.Time, amount int64, currency string) Notice {
	return Notice{Message: "autorenew_done", PlanID: planID, Expires: expires, Amount: amount, Currency: currency}
}

// AutoRenewFailed: renewing plan failed; the subscription ends at
// periodEnd unless the user renews.
func AutoRenewFailed(planID string, periodEnd time.Time) Notice {
	return Notice{Message: "autorenew_failed", PlanID: planID, Expires: periodEnd, Buttons: []Button{ButtonRenew}}
}

// AutoRenewNeedsPlan: the plan is no longer sold; the user picks another.
func AutoRenewNeedsPlan() Notice {
	return Notice{Message: "autorenew_needs_plan", Buttons: []Button{ButtonRenew}}
}

// AutoRenewShortBalance: the balance does not cover the renewal's amount.
func AutoRenewShortBalance(amount int64, currency string, balance int64) Notice {
	return Notice{Message: "autorenew_short_balance", Amount: amount, Currency: currency, Balance: balance, Buttons: []Button{ButtonTopUp}}
}

// The answers to requests the bot handed over (shop.Reply).

// TrialStarted: the free trial runs for left; the key follows.
func TrialStarted(left time.Duration) Notice {
	return Notice{Message: "trial_started", Left: left}
}

// TrialUsed: the user had their trial already.
func TrialUsed() Notice {
	return Notice{Message: "trial_used", Buttons: []Button{ButtonMenu}}
}

// TrialNoCapacity: no server has room for a new user's trial.
func TrialNoCapacity() Notice {
	return Notice{Message: "trial_no_capacity", Buttons: []Button{ButtonMenu}}
}

// ReissueDone: the new key is sent and the old one switched off.
func ReissueDone() Notice { return Notice{Message: "reissue_done"} }

// AutoRenewSet: auto-renewal is now on or off.
func AutoRenewSet(on bool) Notice {
	if on {
		return Notice{Message: "autorenew_enabled"}
	}
	return Notice{Message: "autorenew_disabled"}
}

// Refused: the request cannot be done now; message is the catalogue id
// that says why (shop.Refusal.MessageID) and wait how long until it can.
func Refused(message string, wait time.Duration) Notice {
	return Notice{Message: message, Left: wait, Buttons: []Button{ButtonMenu}}
}

// RequestFailed: the request failed on our side; try again.
func RequestFailed() Notice {
	return Notice{Message: "error_generic", Buttons: []Button{ButtonMenu}}
}
