package chaos

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"go.temporal.io/api/workflowservice/v1"

	faketg "vpnflow/internal/dev/fake/telegram"

	"vpnflow/internal/shop"
)

// Check is one line of the audit: what was checked, over how many items,
// and the violations found (none means it passed).
type Check struct {
	Name       string
	Items      int
	Violations []string
	// converges marks a check that may fail for a while after the last
	// fault (Xray before reconcile, workflows still finishing).
	converges bool
}

// OK reports whether the check passed.
func (c Check) OK() bool { return len(c.Violations) == 0 }

// audit runs every check once. Checks that depend on convergence (Xray
// after reconcile, workflows finishing) are retried by the caller.
func (s *system) audit(ctx context.Context, users []*user, injs []injection) []Check {
	return []Check{
		s.checkFlows(users),
		s.checkCreditedOnce(ctx),
		s.checkChargesCredited(ctx),
		s.checkBalances(ctx),
		s.checkXray(ctx, users),
		s.checkMessages(users, injs),
		s.checkWorkflows(ctx),
	}
}

// checkFlows: every driven user got to the end of their flow.
func (s *system) checkFlows(users []*user) Check {
	c := Check{Name: "every user's flow completed", Items: len(users)}
	for _, u := range users {
		if u.err != nil {
			c.Violations = append(c.Violations, fmt.Sprintf("user %d (%s, webhook %s): %v", u.id, u.kind, u.webhook, u.err))
		}
	}
	return c
}

// checkCreditedOnce: every paid purchase has exactly one credit in the
// ledger (a payment from a provider, or a debit of the balance), and a
// top-up exactly one balance credit.
func (s *system) checkCreditedOnce(ctx context.Context) Check {
	c := Check{Name: "every paid purchase credited exactly once (ledger)"}
	rows, err := s.pool.Query(ctx, `SELECT p.id::text, p.kind, p.provider,
			(SELECT count(*) FROM ledger l WHERE l.reference = 'purchase:' || p.id AND l.kind IN ('payment', 'balance_debit')),
			(SELECT count(*) FROM ledger l WHERE l.reference = 'purchase:' || p.id AND l.kind = 'topup')
		FROM purchases p WHERE p.status IN ('paid', 'refunded')`)
	if err != nil {
		return failed(c, err)
	}
	defer rows.Close()
	for rows.Next() {
		var id, kind, provider string
		var credits, topups int
		if err := rows.Scan(&id, &kind, &provider, &credits, &topups); err != nil {
			return failed(c, err)
		}
		c.Items++
		wantTopups := 0
		if kind == shop.KindTopUp {
			wantTopups = 1
		}
		if credits != 1 || topups != wantTopups {
			c.Violations = append(c.Violations, fmt.Sprintf("purchase %s (%s %s): %d credits, %d top-up rows", id, kind, provider, credits, topups))
		}
	}
	if err := rows.Err(); err != nil {
		return failed(c, err)
	}
	return c
}

const chargesCheck = "no charge without a credit or a refund"

// checkChargesCredited: every payment a provider took (a paid Crypto Pay
// invoice, a Stars charge) belongs to a purchase that is paid or refunded,
// unless the provider refunded it.
func (s *system) checkChargesCredited(ctx context.Context) Check {
	c := Check{Name: chargesCheck, converges: true}
	settled := map[string]bool{} // provider + "/" + invoice or charge id
	rows, err := s.pool.Query(ctx, `SELECT provider, coalesce(provider_invoice_id, ''), coalesce(provider_charge_id, '')
		FROM purchases WHERE status IN ('paid', 'refunded')`)
	if err != nil {
		return failed(c, err)
	}
	for rows.Next() {
		var provider, invoice, charge string
		if err := rows.Scan(&provider, &invoice, &charge); err != nil {
			rows.Close()
			return failed(c, err)
		}
		settled[provider+"/inv/"+invoice] = true
		settled[provider+"/charge/"+charge] = true
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return failed(c, err)
	}
	for _, inv := range s.stack.CryptoPay.Invoices() {
		if inv.Status != "paid" {
			continue
		}
		c.Items++
		if !settled[shop.ProviderCryptoPay+"/inv/"+strconv.FormatInt(inv.InvoiceID, 10)] {
			c.Violations = append(c.Violations, fmt.Sprintf("crypto pay invoice %d (payload %s) paid, no paid purchase", inv.InvoiceID, inv.Payload))
		}
	}
	for _, ch := range s.stack.Telegram.Charges() {
		c.Items++
		if !ch.Refunded && !settled[shop.ProviderStars+"/charge/"+ch.ID] {
			c.Violations = append(c.Violations, fmt.Sprintf("stars charge %s of user %d (payload %s), no paid purchase", ch.ID, ch.UserID, ch.Payload))
		}
	}
	return c
}

// checkBalances: each user's balance is the sum of their balance entries in
// the ledger, so no top-up was credited twice or a debit lost.
func (s *system) checkBalances(ctx context.Context) Check {
	c := Check{Name: "every balance equals its ledger entries"}
	rows, err := s.pool.Query(ctx, `SELECT u.telegram_id, u.balance, coalesce(sum(l.amount) FILTER (WHERE l.kind IN
			('topup', 'balance_debit', 'referral_bonus', 'balance_refund', 'topup_reversal', 'referral_reversal')), 0)
		FROM users u LEFT JOIN ledger l ON l.user_id = u.telegram_id GROUP BY u.telegram_id, u.balance`)
	if err != nil {
		return failed(c, err)
	}
	defer rows.Close()
	for rows.Next() {
		var id, balance, sum int64
		if err := rows.Scan(&id, &balance, &sum); err != nil {
			return failed(c, err)
		}
		c.Items++
		if balance != sum {
			c.Violations = append(c.Violations, fmt.Sprintf("user %d: balance %d, ledger says %d", id, balance, sum))
		}
	}
	if err := rows.Err(); err != nil {
		return failed(c, err)
	}
	return c
}

// checkXray: every live subscription's key is in Xray with its uuid, and
// Xray serves no other key (an expired or banned user's, or a stranger's).
func (s *system) checkXray(ctx context.Context, driven []*user) Check {
	c := Check{Name: "live keys in Xray, no expired/banned/other key there", converges: true}
	banned := map[int64]bool{}
	for _, u := range driven {
		banned[u.id] = u.banned
	}
	users, err := s.xray.ListUsers(ctx)
	if err != nil {
		return failed(c, err)
	}
	inXray := map[string]string{}
	for _, u := range users {
		inXray[strings.ToLower(u.Email)] = u.UUID
	}
	rows, err := s.pool.Query(ctx, `SELECT user_id, lower(xray_email), vless_uuid::text, status, expires_at > now() FROM subscriptions`)
	if err != nil {
		return failed(c, err)
	}
	defer rows.Close()
	for rows.Next() {
		var id int64
		var email, uuid, status string
		var ahead bool
		if err := rows.Scan(&id, &email, &uuid, &status, &ahead); err != nil {
			return failed(c, err)
		}
		c.Items++
		live := (status == shop.StatusActive || status == shop.StatusTrial) && ahead
		if banned[id] && status != shop.StatusBanned {
			c.Violations = append(c.Violations, fmt.Sprintf("user %d: banned by the admin, subscription %s", id, status))
		}
		got, there := inXray[email]
		delete(inXray, email)
		switch {
		case live && !there:
			c.Violations = append(c.Violations, fmt.Sprintf("user %d (%s): key missing from Xray", id, status))
		case live && got != uuid:
			c.Violations = append(c.Violations, fmt.Sprintf("user %d (%s): Xray serves another uuid", id, status))
		case !live && there:
			c.Violations = append(c.Violations, fmt.Sprintf("user %d (%s, expiry ahead %v): key still in Xray", id, status, ahead))
		}
	}
	if err := rows.Err(); err != nil {
		return failed(c, err)
	}
	for email := range inXray {
		c.Violations = append(c.Violations, fmt.Sprintf("%s in Xray without a subscription", email))
	}
	return c
}

// checkMessages: every user who paid (or took the trial) got exactly one
// key message, and a top-up exactly one confirmation.
//
// One exception is the documented at-least-once of Telegram messages: a
// send whose response was lost is retried, and the Bot API has no
// idempotency key. A hung Telegram produces exactly that (the worker's
// request times out, is retried, and the hung one is delivered when the
// hang ends), and so does a worker killed right after a send (its
// activity is retried on the next worker). A second copy of the same key
// in either case (lostResponseCopies) is listed in the check's name count
// but not a violation. Anything else is.
func (s *system) checkMessages(users []*user, injs []injection) Check {
	c := Check{Name: "every paying user got exactly one key (and top-up confirmation)"}
	explained := 0
	for _, u := range users {
		if u.id == 0 {
			continue
		}
		c.Items++
		var keys, topupMsgs []faketg.Message
		for _, m := range s.stack.Telegram.Messages(u.id) {
			if isKey(m) {
				keys = append(keys, m)
			}
			if strings.Contains(m.Text, "topped up") {
				topupMsgs = append(topupMsgs, m)
			}
		}
		topups := len(topupMsgs)
		wantTopups := 0
		if u.kind == KindBalance {
			wantTopups = 1
		}
		extraKeysOK := len(keys) > 1 && lostResponseCopies(keys, injs)
		extraTopupsOK := len(topupMsgs) > 1 && wantTopups == 1 && lostResponseCopies(topupMsgs, injs)
		if extraKeysOK || extraTopupsOK {
			explained++
		}
		badKeys := (u.err == nil && len(keys) == 0) || (len(keys) > 1 && !extraKeysOK)
		badTopups := (topups > wantTopups && !extraTopupsOK) || (u.err == nil && topups < wantTopups)
		if badKeys || badTopups {
			c.Violations = append(c.Violations, fmt.Sprintf("user %d (%s): %d key messages, %d top-up confirmations", u.id, u.kind, len(keys), topups))
		}
	}
	if explained > 0 {
		c.Name += fmt.Sprintf(" [%d repeated after a Telegram hang or a worker killed mid-send]", explained)
	}
	return c
}

// lostResponse bounds how long after a Telegram hang a repeated send can
// still land. A send Telegram held through the hang is carried out when
// it ends, although the worker gave it up (its 15 s timeout); the retry
// that then delivers the same message again comes after the activity's
// backoff (up to a minute) and the circuit breaker's open spell (10 s).
// Telegram has no idempotency key, so such a copy is the documented cost
// of at-least-once delivery, counted in the check's name.
const lostResponse = 2 * time.Minute

// killedMidSend bounds how long before a worker is killed a send can
// have left without its activity completing: the activity's last step is
// the send, and the kill must come between the two.
const killedMidSend = 2 * time.Second

// lostResponseCopies reports whether every message after the first
// repeats the first one and is a documented at-least-once copy: it
// arrived within lostResponse of the end of a Telegram hang, or the first
// was sent just before the worker was killed (killedMidSend), so its
// activity never completed and was retried on the restarted worker after
// its timeout (chaos seed 1796615642503480135: a trial's SendKey, attempt
// 2 after a StartToClose timeout, 16 s after the first copy).
func lostResponseCopies(keys []faketg.Message, injs []injection) bool {
	for _, m := range keys[1:] {
		if m.Caption != keys[0].Caption || m.Text != keys[0].Text {
			return false
		}
		near := false
		for _, in := range injs {
			switch in.Fault {
			case HangTelegram:
				near = near || !m.Date.Before(in.From) && m.Date.Before(in.To.Add(lostResponse))
			case KillWorker:
				first := keys[0].Date
				near = near || !first.After(in.From) && first.After(in.From.Add(-killedMidSend)) &&
					m.Date.After(in.From) && m.Date.Before(in.To.Add(lostResponse))
			}
		}
		if !near {
			return false
		}
	}
	return true
}

// stuckQueries are visibility queries that must match no workflow.
var stuckQueries = []struct{ what, query string }{
	{"failed", "ExecutionStatus = 'Failed'"},
	{"timed out", "ExecutionStatus = 'TimedOut'"},
	{"terminated", "ExecutionStatus = 'Terminated'"},
	{"stuck subscription", "SubscriptionStuck = true"},
}

// checkWorkflows: no workflow failed, timed out or was terminated, no
// Subscription workflow says it is stuck, and no Purchase of a paid
// purchase is still running.
func (s *system) checkWorkflows(ctx context.Context) Check {
	c := Check{Name: "no workflow failed or stuck", converges: true}
	ns := s.stack.Config.TemporalNamespace
	for _, q := range stuckQueries {
		ids, err := s.listWorkflows(ctx, ns, q.query)
		if err != nil {
			return failed(c, err)
		}
		for _, id := range ids {
			c.Violations = append(c.Violations, fmt.Sprintf("%s: %s", q.what, id))
		}
	}
	running, err := s.listWorkflows(ctx, ns, fmt.Sprintf("WorkflowType = '%s' AND ExecutionStatus = 'Running'", shop.PurchaseWorkflowType))
	if err != nil {
		return failed(c, err)
	}
	for _, id := range running {
		var status string
		pid := strings.TrimPrefix(id, "purchase/")
		if err := s.pool.QueryRow(ctx, `SELECT status FROM purchases WHERE id::text = $1`, pid).Scan(&status); err != nil {
			continue // not recorded yet: an unpaid purchase still starting
		}
		if status == shop.PurchasePaid {
			c.Violations = append(c.Violations, fmt.Sprintf("paid purchase still running: %s", id))
		}
	}
	all, err := s.temporal.CountWorkflow(ctx, &workflowservice.CountWorkflowExecutionsRequest{Namespace: ns})
	if err != nil {
		return failed(c, err)
	}
	c.Items = int(all.GetCount())
	return c
}

func (s *system) listWorkflows(ctx context.Context, ns, query string) ([]string, error) {
	var ids []string
	var token []byte
	for {
		resp, err := s.temporal.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{
			Namespace: ns, Query: query, PageSize: 1000, NextPageToken: token,
		})
		if err != nil {
			return nil, fmt.Errorf("list workflows %q: %w", query, err)
		}
		for _, e := range resp.GetExecutions() {
			ids = append(ids, e.GetExecution().GetWorkflowId()+" ("+e.GetType().GetName()+")")
		}
		if token = resp.GetNextPageToken(); len(token) == 0 {
			return ids, nil
		}
	}
}

func failed(c Check, err error) Check {
	c.Violations = append(c.Violations, "could not check: "+err.Error())
	return c
}

// checkRecovery turns the injections into a check: every fault was
// injected and healed, and a probe bought a key afterwards.
func checkRecovery(injs []injection) Check {
	c := Check{Name: "recovered after every fault", Items: len(injs)}
	for _, in := range injs {
		if in.Err != nil {
			c.Violations = append(c.Violations, fmt.Sprintf("%s at %s: %v", in.Fault, in.At.Round(time.Second), in.Err))
		}
	}
	return c
}

// sortedViolations keeps a report stable across runs of one seed.
func sortedViolations(c Check) []string {
	v := append([]string(nil), c.Violations...)
	sort.Strings(v)
	return v
}
