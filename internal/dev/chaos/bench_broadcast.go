package chaos

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	faketg "vpnflow/internal/dev/fake/telegram"
	"vpnflow/internal/shop"
)

// BroadcastRow is the broadcast burst's figures: the admin's /broadcast to
// every user, Seeded of them written straight into PostgreSQL, with the
// Telegram stand-in's flood control on.
type BroadcastRow struct {
	Seeded      int
	Recipients  int // every user not banned when it started, the earlier cases' included
	Limit       int // the stand-in's flood control, sends per second
	Delivered   int // recipients holding the message
	Lost, Dup   int // recipients without it; with it more than once
	Strays      int // users who got it and were not recipients
	PerSecond   float64
	RateLimited int           // sends the stand-in refused with 429 meanwhile
	LastAfter   time.Duration // the admin's command → the last recipient's message
	State       shop.BroadcastState
	History     chainHistory
	ServerCPU   float64
	WorkerCPU   float64
}

// broadcastBase numbers the seeded users' names after the other cases'.
const broadcastBase = 6_000_000

// benchFloodLimit is the Bot API's broadcast limit, about 30 messages a
// second to different chats.
const benchFloodLimit = 30

// broadcastCase adds n users to the stand-in as users who wrote to the bot
// before, writes them into the database with COPY, switches the stand-in's
// flood control on and has the admin send /broadcast, then waits for the
// workflow and checks the stand-in's record: every recipient got the text
// exactly once, and nobody else did.
func (s *system) broadcastCase(ctx context.Context, d *driver, n int, out io.Writer) (BroadcastRow, error) {
	row := BroadcastRow{Seeded: n, Limit: benchFloodLimit}
	ids := make([]int64, n)
	for i := range ids {
		u, err := d.tg.AddUser(benchUser(broadcastBase + i))
		if err == nil {
			err = d.tg.MarkStarted(u.ID)
		}
		if err != nil {
			return row, fmt.Errorf("seed broadcast recipients: %w", err)
		}
		ids[i] = u.ID
	}
	if err := copyUsers(ctx, s.pool, ids); err != nil {
		return row, err
	}

	d.tg.SetRateLimit(faketg.RateLimit{PerSecond: benchFloodLimit})
	defer d.tg.SetRateLimit(faketg.RateLimit{})
	text := fmt.Sprintf("Bench broadcast %d: scheduled maintenance tonight.", time.Now().UnixNano())
	server, work := s.stack.Temporal.Pid(), s.worker.pid()
	s0, w0, start := cpuTime(server), cpuTime(work), time.Now()
	if _, err := d.tg.SendText(d.admin.id, "/broadcast "+text); err != nil {
		return row, fmt.Errorf("admin's /broadcast: %w", err)
	}
	id, created, err := s.findBroadcast(ctx, text)
	if err != nil {
		return row, err
	}
	wid := shop.BroadcastWorkflowID(id)
	desc, err := s.temporal.DescribeWorkflowExecution(ctx, wid, "")
	if err != nil {
		return row, fmt.Errorf("describe %s: %w", wid, err)
	}
	firstRun := desc.GetWorkflowExecutionInfo().GetExecution().GetRunId() // 100 pages before it continues as new
	var recipients []int64
	rows, err := s.pool.Query(ctx, `SELECT telegram_id FROM users WHERE NOT banned AND created_at <= $1`, created)
	if err == nil {
		recipients, err = pgx.CollectRows(rows, pgx.RowTo[int64])
	}
	if err != nil {
		return row, fmt.Errorf("read recipients: %w", err)
	}
	row.Recipients = len(recipients)
	fmt.Fprintf(out, "bench: broadcast %s to %d users (%d seeded), flood control at %d/s\n", id, row.Recipients, n, benchFloodLimit)

	// The workflow's default pace is 20/s; the wait allows a quarter of it.
	wctx, cancel := context.WithTimeout(ctx, time.Duration(row.Recipients)*time.Second/5+5*time.Minute)
	defer cancel()
	err = s.temporal.GetWorkflow(wctx, wid, "").Get(wctx, &row.State)
	wall := time.Since(start).Seconds()
	row.ServerCPU = (cpuTime(server) - s0).Seconds() / wall
	row.WorkerCPU = (cpuTime(work) - w0).Seconds() / wall
	row.RateLimited = d.tg.RateLimited()
	if err != nil {
		return row, fmt.Errorf("broadcast %s: %w", wid, err)
	}
	if row.History, err = historyChain(ctx, s.temporal, wid, firstRun); err != nil {
		return row, err
	}

	if err := row.audit(d.tg, recipients, text, start); err != nil {
		return row, fmt.Errorf("broadcast %s: %w", wid, err)
	}
	return row, nil
}

// findBroadcast waits for the bot to have started the broadcast of text
// and returns its id and creation time.
func (s *system) findBroadcast(ctx context.Context, text string) (string, time.Time, error) {
	var (
		id      string
		created time.Time
	)
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); sleep(ctx, 100*time.Millisecond) {
		err := s.pool.QueryRow(ctx, `SELECT id::text, created_at FROM broadcasts WHERE text = $1`, text).Scan(&id, &created)
		if err == nil {
			return id, created, nil
		}
		if !errors.Is(err, pgx.ErrNoRows) {
			return "", time.Time{}, fmt.Errorf("find the broadcast: %w", err)
		}
	}
	return "", time.Time{}, errors.New("the admin's /broadcast started no broadcast within a minute")
}

// audit reads the stand-in's chats: every recipient holds the text once,
// nobody else holds it, and the workflow counted the same.
func (r *BroadcastRow) audit(tg *faketg.Server, recipients []int64, text string, start time.Time) error {
	want := make(map[int64]bool, len(recipients))
	for _, id := range recipients {
		want[id] = true
	}
	var first, last time.Time
	for _, u := range tg.Users() {
		got := 0
		for _, m := range tg.Messages(u.ID) {
			if m.Text != text {
				continue
			}
			got++
			if first.IsZero() || m.Date.Before(first) {
				first = m.Date
			}
			if m.Date.After(last) {
				last = m.Date
			}
		}
		switch {
		case !want[u.ID] && got > 0:
			r.Strays++
		case got == 0:
			if want[u.ID] {
				r.Lost++
			}
		default:
			r.Delivered++
			if got > 1 {
				r.Dup++
			}
		}
		delete(want, u.ID)
	}
	r.Lost += len(want) // recipients the stand-in does not even know
	if r.Delivered > 1 {
		r.PerSecond = float64(r.Delivered-1) / last.Sub(first).Seconds()
	}
	r.LastAfter = last.Sub(start)
	var wrong []string
	if r.Lost > 0 || r.Dup > 0 || r.Strays > 0 {
		wrong = append(wrong, fmt.Sprintf("%d recipients never got it, %d got it more than once, %d non-recipients got it", r.Lost, r.Dup, r.Strays))
	}
	if st := r.State; st.Total != len(recipients) || st.Sent != len(recipients) || st.Skipped != 0 || st.Failed != 0 {
		wrong = append(wrong, fmt.Sprintf("the workflow counted %d recipients, %d sent, %d skipped, %d failed; %d were due",
			st.Total, st.Sent, st.Skipped, st.Failed, len(recipients)))
	}
	if len(wrong) > 0 {
		return errors.New(strings.Join(wrong, "; "))
	}
	return nil
}

// print writes the case's line, in the storm's style.
func (r *BroadcastRow) print(w io.Writer) {
	fmt.Fprintf(w, "\nbroadcast: %d recipients (%d seeded) with the stand-in's flood control at %d sends/s; %d delivered (lost %d, duplicated %d), %.1f messages/s from the first to the last, the last %s after the admin's command; %d answered 429; %d history events in %d runs, longest page activity %s; server %.2f cores, worker %.2f\n",
		r.Recipients, r.Seeded, r.Limit, r.Delivered, r.Lost, r.Dup, r.PerSecond, r.LastAfter.Round(100*time.Millisecond),
		r.RateLimited, r.History.Events, r.History.Runs, r.History.Activity["SendBroadcastPage"].Round(time.Millisecond),
		r.ServerCPU, r.WorkerCPU)
}
