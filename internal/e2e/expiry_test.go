package e2e

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"
)

// A subscription that ends is gone from Xray within a minute of its expiry
// instant, and the user is told, without anyone acting. The reminder and
// the expiry notice both went through the notice outbox, once each.
func TestExpiredKeyLeavesXrayAndUserIsTold(t *testing.T) {
	t.Parallel() // waits on the shop's clocks most of its time (harness: parallel)
	s := startShop(t, map[string]string{"TRIAL_DURATION": "15s", "REMINDERS_TRIAL": "5s"})
	s.runInProcess()
	ctx := context.Background()

	u := s.newUser("Brief")
	s.say(u, "/start")
	s.press(u, "trial")
	s.waitFor(u, 0, "the trial key", isKey)
	sub, err := s.store.GetSubscription(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok, err := s.inXray(sub.XrayEmail); err != nil || !ok {
		t.Fatalf("key not in xray after activation: %v", err)
	}

	reminder := s.waitText(u, 0, "⏰")
	expired := s.waitText(u, reminder.ID, "ended")
	if expired.Date.Before(sub.ExpiresAt.Truncate(time.Second)) {
		t.Errorf("expiry notice came before the expiry instant %s", sub.ExpiresAt)
	}
	s.eventually("the key leaves xray", func() error {
		_, ok, err := s.inXray(sub.XrayEmail)
		if err != nil {
			return err
		}
		if ok {
			return fmt.Errorf("%s still in xray", sub.XrayEmail)
		}
		return nil
	})
	gone := time.Now()
	t.Logf("key removed %s after the expiry instant (target: within 60 s)", gone.Sub(sub.ExpiresAt).Round(100*time.Millisecond))
	after, err := s.store.GetSubscription(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	if after.Status != "expired" {
		t.Errorf("status %s, want expired", after.Status)
	}
	if len(expired.Keyboard) == 0 {
		t.Errorf("the expiry notice offers no renew button: %s", keyboardSummary(expired))
	}
	// The outbox records a batch's sends just after they went out.
	s.eventually("the outbox records both notices sent", func() error {
		outbox, err := s.store.NoticesOf(ctx, u)
		if err != nil {
			return err
		}
		if len(outbox) != 2 || outbox[0].Message != "reminder" || !outbox[0].Sent ||
			outbox[1].Message != "subscription_expired" || !outbox[1].Sent {
			return fmt.Errorf("notice outbox %+v, want the reminder and the expiry notice, each sent", outbox)
		}
		return nil
	})
	// Recording the replay fixtures (make record-histories): the notice
	// outbox's first run, which sent both and is still draining.
	if os.Getenv(recordDir) != "" {
		s.replayHistories(map[string]string{"notice-outbox": s.runningRun("NoticeOutbox")})
	}
}
