package e2e

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"
)

const rateLimitedText = "Too many requests"

// TestFloodingUserDoesNotStarveOthers: one user sends 200 /menu at once.
// The bot serves a few, drops the rest with at most one notice per ten
// seconds, and meanwhile answers someone else.
func TestFloodingUserDoesNotStarveOthers(t *testing.T) {
	// The sandbox makes its first user an admin, and admins are not rate
	// limited: name someone else.
	s := startShop(t, map[string]string{"ADMIN_IDS": "1"})
	s.startBot() // the worker plays no part in answering messages

	mallory := s.register("Mallory")
	menusBefore := s.countMessages(mallory, "What would you like to do?")
	other := s.newUser("Olivia")
	const flood = 200
	for i := range flood {
		if i == flood/2 {
			s.say(other, "/start")
		}
		s.say(mallory, "/menu")
	}
	s.waitText(other, 0, "Olivia")

	// Every flooded update is either served (a menu) or refused (a log
	// line); wait until all 200 are accounted for.
	var served, refused int
	s.eventually("the bot to handle the whole flood", func() error {
		served = s.countMessages(mallory, "What would you like to do?") - menusBefore
		refused = len(s.userLogRecords("bot", "rate limited", mallory))
		if served+refused != flood {
			return fmt.Errorf("%d served + %d refused of %d", served, refused, flood)
		}
		return nil
	})
	if served == flood || refused == 0 {
		t.Fatalf("the bot served all %d messages of the flood", flood)
	}
	// The notices: at least one, and never two within ten seconds. A
	// notice is sent after its refusal is logged, so it may still be on
	// its way.
	var notices []time.Time
	s.eventually("the flooder to be told to slow down", func() error {
		notices = notices[:0]
		for _, m := range s.tg.Messages(mallory) {
			if strings.Contains(m.Text, rateLimitedText) {
				notices = append(notices, m.Date)
			}
		}
		if len(notices) == 0 {
			return fmt.Errorf("no %q message among %d", rateLimitedText, len(s.tg.Messages(mallory)))
		}
		return nil
	})
	for i := 1; i < len(notices); i++ {
		// Dates have whole seconds: ten seconds apart is at least 10 here.
		if gap := notices[i].Sub(notices[i-1]); gap < 10*time.Second {
			t.Fatalf("two rate-limit notices %s apart", gap)
		}
	}
	if n := s.countMessages(other, rateLimitedText); n != 0 {
		t.Fatalf("the other user got %d rate-limit notices", n)
	}
	t.Logf("flood of %d: %d served, %d refused, %d notices", flood, served, refused, len(notices))
}

// userLogRecords are the log records with msg about one user.
func (s *shopEnv) userLogRecords(component, msg string, userID int64) []map[string]any {
	var out []map[string]any
	for _, rec := range s.logRecords(component, msg) {
		if fmt.Sprint(rec["user_id"]) == strconv.FormatInt(userID, 10) {
			out = append(out, rec)
		}
	}
	return out
}
