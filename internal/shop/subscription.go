package shop

import (
	"strconv"
	"strings"
	"time"
)

// The Subscription workflow: one per user, for as long as the user exists.
// It owns the key's presence in Xray and the expiry timers.

// SubscriptionWorkflowID is the ID of a user's Subscription workflow.
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

// SubscriptionWorkflowType is the Subscription workflow's registered name.
const SubscriptionWorkflowType = "Subscription"

// The Subscription workflow's signals, updates and query.
const (
	SignalExtend = "extend"
	SignalBan    = "ban"
	// SignalExpireOverdue tells a Subscription workflow that the database
	// holds a live row whose expiry has passed (a missed timer): the workflow
	// expires it now, database first, then Xray, then the user.
	SignalExpireOverdue = "expire-overdue"
	// SignalMove moves the user off a node (Move): a node evacuation's
	// request, applied once; a user no longer on that node is left alone.
	SignalMove = "move"
	QueryState = "state"

	UpdateStartTrial   = "start-trial"
	UpdateReissue      = "reissue"
	UpdateSetAutoRenew = "set-auto-renew"
)

// TrialExtensionID is the dedup id of the trial's extension: a user has one
// trial. TrialPlanID is the plan a trial subscription shows in the workflow's
// state.
const (
	TrialExtensionID = "trial"
	TrialPlanID      = "trial"
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
	Moves   []Move `json:",omitempty"`
	// Messages queued for the user and not yet delivered.
	Outbox []Outgoing `json:",omitempty"`
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

// TrialRequest asks for the free trial (update-with-start from the bot).
type TrialRequest struct {
	Reply *Reply // set when the bot handed the request over (handover.go)
}

// AutoRenewRequest switches renewal from balance on or off.
type AutoRenewRequest struct {
	On    bool
	Reply *Reply
}

// ReissueRequest asks for a new key (update from the bot).
type ReissueRequest struct {
	Reply *Reply
}

// TrialResult is a started trial.
type TrialResult struct {
	ExpiresAt time.Time
}
