package store

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"vpnflow/internal/notice"
	"vpnflow/internal/shop"
)

// The reminder sweep writes reminders to the outbox from the database's
// rows, as the revocation sweep writes expiry notices. In a reminder storm
// (everyone who bought on launch day, a day before their expiry) each
// user's workflow wakes on its own timer and writes its reminder itself,
// but the Temporal server works through 10,000 timers firing at once for
// about 90 seconds before the first of those workflows runs. The sweep
// writes them within a claim of their moment, and the drain starts sending
// at once. The workflows still write theirs, and the dedup keeps one.
//
// The sweep only writes what the user's workflow would write, so it may
// write less, never more: a stage it skips is written by the workflow.

// ReminderRules are the reminder stages and the auto-renewal lead of the
// current policy (shop.Policy).
type ReminderRules struct {
	Trial, Paid   []time.Duration
	AutoRenewLead time.Duration
}

// RulesOf takes the reminder rules from a policy.
func RulesOf(p shop.Policy) ReminderRules {
	return ReminderRules{Trial: p.TrialReminders, Paid: p.PaidReminders, AutoRenewLead: p.AutoRenewLead}
}

// ReminderSweep asks for the reminders whose stage moment (the period end
// minus the stage's lead) fell in (From, Now], by the caller's clock.
type ReminderSweep struct {
	From, Now time.Time
	Rules     ReminderRules
}

// stages lists the sweep's stages as the query's two arrays: the status a
// stage applies to, and its lead in microseconds.
func (r ReminderRules) stages() (statuses []string, leads []int64) {
	for _, l := range r.Trial {
		statuses, leads = append(statuses, shop.StatusTrial), append(leads, l.Microseconds())
	}
	for _, l := range r.Paid {
		statuses, leads = append(statuses, shop.StatusActive), append(leads, l.Microseconds())
	}
	return statuses, leads
}

// dueRemindersFrom selects the live rows with a stage moment in ($3, $4],
// stage by stage ($1 statuses, $2 leads in µs), following the workflow's
// rules (workflows/subscription_timing.go):
//   - a stage whose moment had passed when the period began is skipped.
//     The database has no "period began" column; updated_at is written by
//     every change to the row, the extension that began the period among
//     them, so it is at or after the period's start, and a stage whose
//     moment is before it is left to the workflow;
//   - an active period renewing from the balance (auto_renew) renews at
//     $5 (µs) before its end, and a reminder at or after that moment is
//     moot if the renewal succeeds (at the same moment too: the renewal
//     comes first). The workflow reminds of those only if the renewal
//     failed, so they are left to it.
const dueRemindersFrom = `
	FROM unnest($1::text[], $2::bigint[]) AS st(status, lead_us)
	JOIN subscriptions s ON s.status IN ('trial', 'active') AND s.status = st.status
		AND s.expires_at >  $3::timestamptz + st.lead_us * interval '1 microsecond'
		AND s.expires_at <= $4::timestamptz + st.lead_us * interval '1 microsecond'
	WHERE s.updated_at < s.expires_at - st.lead_us * interval '1 microsecond'
	  AND NOT (s.status = 'active' AND s.auto_renew AND st.lead_us <= $5)`

// ReminderSweepMax bounds how far back a sweep looks: reminders older
// than this were due while no drain ran, and their workflows write them.
const ReminderSweepMax = 10 * time.Minute

func (sw ReminderSweep) args() []any {
	statuses, leads := sw.Rules.stages()
	from := sw.From
	if from.Before(sw.Now.Add(-ReminderSweepMax)) {
		from = sw.Now.Add(-ReminderSweepMax)
	}
	return []any{statuses, leads, from, sw.Now, sw.Rules.AutoRenewLead.Microseconds()}
}

func (sw ReminderSweep) valid() error {
	if sw.Now.IsZero() || sw.From.IsZero() {
		return fmt.Errorf("%w: a reminder sweep needs its window", ErrInvalid)
	}
	return nil
}

// enqueueDueReminders writes, within tx, the reminders sw finds due that
// are not in the outbox yet (the workflow's own write, or an earlier
// sweep's, is the same dedup); it returns how many it wrote. Each is the
// notice the workflow writes (notice.Reminder, its user set), with the
// time left from sw.Now.
func enqueueDueReminders(ctx context.Context, tx pgx.Tx, sw ReminderSweep) (int, error) {
	rows, err := tx.Query(ctx, `SELECT s.user_id, s.plan_id, s.expires_at, st.lead_us`+dueRemindersFrom+`
		ORDER BY s.expires_at - st.lead_us * interval '1 microsecond', s.user_id`, sw.args()...)
	if err != nil {
		return 0, fmt.Errorf("list due reminders: %w", err)
	}
	type due struct {
		UserID    int64     `db:"user_id"`
		PlanID    string    `db:"plan_id"`
		ExpiresAt time.Time `db:"expires_at"`
		LeadUS    int64     `db:"lead_us"`
	}
	list, err := pgx.CollectRows(rows, pgx.RowToStructByName[due])
	if err != nil || len(list) == 0 {
		return 0, wrap("list due reminders", err)
	}
	users, dedups, notices, ends := make([]int64, len(list)), make([]string, len(list)), make([]string, len(list)), make([]time.Time, len(list))
	for i, d := range list {
		lead := time.Duration(d.LeadUS) * time.Microsecond
		n := notice.Reminder(d.PlanID, d.ExpiresAt, d.ExpiresAt.Sub(sw.Now))
		n.UserID = d.UserID
		raw, err := json.Marshal(n)
		if err != nil {
			return 0, fmt.Errorf("encode reminder: %w", err)
		}
		users[i], dedups[i], notices[i], ends[i] = d.UserID, reminderDedup(d.UserID, d.ExpiresAt, lead), string(raw), d.ExpiresAt
	}
	tag, err := tx.Exec(ctx, `INSERT INTO notice_outbox (user_id, dedup, notice, while_expires)
		SELECT u, d, n::jsonb, w FROM unnest($1::bigint[], $2::text[], $3::text[], $4::timestamptz[]) AS t(u, d, n, w)
		ON CONFLICT (dedup) DO NOTHING`, users, dedups, notices, ends)
	if err != nil {
		return 0, fmt.Errorf("enqueue %d due reminders: %w", len(list), err)
	}
	return int(tag.RowsAffected()), nil
}

// remindersDue reports whether sw finds any reminder due (one indexed
// read per stage); it may say yes for one already written.
func remindersDue(ctx context.Context, q queryRower, sw ReminderSweep) (bool, error) {
	var due bool
	err := q.QueryRow(ctx, `SELECT EXISTS (SELECT 1`+dueRemindersFrom+`)`, sw.args()...).Scan(&due)
	return due, err
}

// queryRower is a pool or a transaction.
type queryRower interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}
