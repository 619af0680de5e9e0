package chaos

import (
	"context"
	"fmt"
	"io"
	"slices"
	"time"

	faketg "vpnflow/internal/dev/fake/telegram"
)

// Texts the storms watch for in the users' chats (the English catalogue).
const (
	expiredText  = "has ended"
	reminderText = "ends in"
)

// ReminderRow is the reminder storm's figures: every storm user's last
// trial reminder due at the same second.
type ReminderRow struct {
	Users    int
	Lead     time.Duration // the reminder's stage: this long before the expiry
	AllSent  time.Duration // the instant → the last user reminded (0: not all within the wait)
	PerSec   float64       // reminders a second, from the first to the last
	Steady   float64       // over the middle 90% of them (steadyPace)
	Peak     int           // the most in any one second
	Limited  int           // sends answered 429 from the instant on
	KeysLeft int           // storm keys still in Xray once all were reminded: all of them, or a reminder cost a key
	Pool     poolPeak
	Sends    sendTimes // the worker's send pace meanwhile
}

func (r ReminderRow) String() string {
	all := "not all within the wait"
	if r.AllSent > 0 {
		all = r.AllSent.Round(100 * time.Millisecond).String()
	}
	return fmt.Sprintf("reminder storm: %d trials' %s reminder due at the same second; every user reminded after %s, %.1f/s from the first to the last (%.1f/s over the middle 90%%), at most %d in one second; %d sends answered 429 (flood control at 30/s); %d of %d keys still in Xray; worker's database pool: %s; %s",
		r.Users, r.Lead, all, r.PerSec, r.Steady, r.Peak, r.Limited, r.KeysLeft, r.Users, r.Pool, r.Sends)
}

// reminderStorm moves the users' expiries to the trial's last reminder
// stage after one instant, so that every workflow's reminder falls due at
// that instant (the earlier stages are already past for the new period,
// and so skipped), and watches them go out under Telegram's flood control.
// Everyone who bought on launch day is reminded in the same minute; the
// reminders must keep to Telegram's pace and never touch a key.
func (s *system) reminderStorm(ctx context.Context, d *driver, users []*user, emails map[string]bool, out io.Writer) (ReminderRow, error) {
	stages := s.stack.Config.TrialStages
	if len(stages) == 0 {
		return ReminderRow{}, fmt.Errorf("REMINDERS_TRIAL sets no stage")
	}
	lead := slices.Min(stages)
	n := len(users)
	at := time.Now().Add(stormLead(n)).Truncate(time.Second).Add(time.Second)
	fmt.Fprintf(out, "bench: reminder storm: %d reminders due at %s\n", n, at.UTC().Format(time.TimeOnly))
	if err := s.moveExpiries(ctx, users, at.Add(lead), at, true, out); err != nil {
		return ReminderRow{}, err
	}
	sleep(ctx, time.Until(at))
	row := ReminderRow{Users: n, Lead: lead}
	s.stack.Telegram.SetRateLimit(faketg.RateLimit{PerSecond: 30, RetryAfter: 5 * time.Second})
	defer s.stack.Telegram.SetRateLimit(faketg.RateLimit{})
	pool := startPoolWatch(ctx, "http://"+s.stack.Config.WorkerMetricsAddr+"/metrics", "worker")
	defer pool.stop()
	sends := s.readSends(ctx)
	for deadline := at.Add(stormWait); time.Now().Before(deadline); sleep(ctx, time.Second) {
		if sentSince(d, users, at, reminderText) == n {
			row.AllSent = time.Since(at)
			break
		}
	}
	row.Pool = pool.stop()
	row.Sends = sendsBetween(sends, s.readSends(ctx))
	row.Limited = s.stack.Telegram.RateLimited()
	row.PerSec, row.Peak = noticePace(d, users, at, reminderText)
	row.Steady = steadyPace(d, users, at, reminderText)
	left, err := s.keysLeft(ctx, emails)
	if err != nil {
		return row, fmt.Errorf("keys after the reminders: %w", err)
	}
	row.KeysLeft = left
	fmt.Fprintf(out, "bench: %s\n", row)
	if row.AllSent == 0 {
		return row, fmt.Errorf("%d of %d users reminded %s after the instant", sentSince(d, users, at, reminderText), n, stormWait)
	}
	return row, nil
}
