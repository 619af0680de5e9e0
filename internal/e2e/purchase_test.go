package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	faketg "vpnflow/internal/dev/fake/telegram"
	"vpnflow/internal/shop"
	"vpnflow/internal/store"
	"vpnflow/internal/xray"
)

func isKey(m faketg.Message) bool { return strings.Contains(m.Caption, "vless://") && len(m.Photo) > 0 }

// keyMessages counts the key messages a user received.
func (s *shopEnv) keyMessages(userID int64) int {
	n := 0
	for _, m := range s.tg.Messages(userID) {
		if isKey(m) {
			n++
		}
	}
	return n
}

// assertActive checks the three places a paid key lives: the chat, Xray
// and the database.
func (s *shopEnv) assertActive(userID int64, minDays int) store.Subscription {
	s.t.Helper()
	ctx := context.Background()
	// The key message comes last: after the credit and the Xray call.
	key := s.waitFor(userID, 0, "the key message", isKey)
	sub, err := s.store.GetSubscription(ctx, userID)
	if err != nil {
		s.t.Fatalf("subscription of %d: %v", userID, err)
	}
	if !sub.Live() {
		s.t.Fatalf("subscription of %d is %s", userID, sub.Status)
	}
	if left := time.Until(sub.ExpiresAt); left < time.Duration(minDays)*24*time.Hour-time.Hour {
		s.t.Fatalf("subscription of %d expires in %s, want about %d days", userID, left, minDays)
	}
	s.eventually("xray serves the user's key", func() error {
		users, err := s.xray.ListUsers(ctx)
		if err != nil {
			return err
		}
		for _, u := range users {
			if u.Email == sub.XrayEmail {
				if u.UUID != sub.VLESSUUID.String() {
					return fmt.Errorf("xray has %s with another uuid", u.Email)
				}
				return nil
			}
		}
		return fmt.Errorf("%s not in xray", sub.XrayEmail)
	})
	// The key the user got is the key Xray serves.
	if !strings.Contains(key.Caption, "vless://"+sub.VLESSUUID.String()+"@") {
		s.t.Fatalf("key message does not carry the stored uuid:\n%s", key.Caption)
	}
	return sub
}

func TestBuyWithCryptoPayCreditsReferrerOnce(t *testing.T) {
	s := startShop(t, nil)
	s.runInProcess()
	ctx := context.Background()

	alice := s.register("Alice") // waits for her row: the menu can come first
	aliceUser, err := s.store.GetUser(ctx, alice)
	if err != nil {
		t.Fatal(err)
	}

	bob := s.newUser("Bob")
	s.say(bob, "/start ref_"+aliceUser.RefCode)
	s.waitText(bob, 0, "Bob")
	s.press(bob, "Buy")
	s.press(bob, "30 days")
	s.press(bob, "Crypto")
	inv := s.invoiceFor(bob)
	// The invoice reached the chat with a pay button pointing at it.
	s.waitFor(bob, 0, "the invoice message", func(m faketg.Message) bool {
		return strings.Contains(keyboardSummary(m), "Pay") && len(m.Keyboard) > 0 && m.Keyboard[0][0].URL == inv.BotInvoiceURL
	})
	if err := s.cp.Pay(inv.InvoiceID); err != nil {
		t.Fatal(err)
	}

	sub := s.assertActive(bob, 30)
	if sub.XrayEmail != xray.UserEmail(bob, s.cfg.XrayEmailDomain) {
		t.Errorf("email %s, want %s", sub.XrayEmail, xray.UserEmail(bob, s.cfg.XrayEmailDomain))
	}
	ps, err := s.store.RecentPurchases(ctx, bob, 5)
	if err != nil {
		t.Fatal(err)
	}
	if len(ps) != 1 || ps[0].Status != shop.PurchasePaid || ps[0].Amount != 300 || ps[0].Currency != "USD" {
		t.Fatalf("purchases: %+v", ps)
	}
	s.eventually("the referrer's bonus", func() error {
		u, err := s.store.GetUser(ctx, alice)
		if err != nil {
			return err
		}
		// REFERRAL_PERCENT's default 10% of the 3.00 Bob paid.
		if u.Balance != 30 {
			return fmt.Errorf("alice's balance is %d, want 30", u.Balance)
		}
		return nil
	})
	var bonuses int
	if err := s.pool.QueryRow(ctx, `SELECT count(*) FROM ledger WHERE kind = 'referral_bonus' AND user_id = $1`, alice).Scan(&bonuses); err != nil {
		t.Fatal(err)
	}
	if bonuses != 1 {
		t.Fatalf("%d referral bonus rows, want 1", bonuses)
	}
	s.waitText(alice, 0, "0.30") // the referrer is told the bonus paid
	if n := s.keyMessages(bob); n != 1 {
		t.Fatalf("%d key messages, want 1", n)
	}
}
