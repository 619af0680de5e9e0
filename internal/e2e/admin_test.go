package e2e

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"vpnflow/internal/dev/devstack"
	faketg "vpnflow/internal/dev/fake/telegram"
	"vpnflow/internal/shop"
	"vpnflow/internal/store"
)

// adminSays sends an admin command and returns the bot's next message
// containing want.
func (s *shopEnv) adminSays(adminID int64, cmd, want string) faketg.Message {
	s.t.Helper()
	after := s.lastID(adminID)
	s.say(adminID, cmd)
	return s.waitText(adminID, after, want)
}

// inXray reports whether Xray serves the key under email, and with which
// uuid.
func (s *shopEnv) inXray(email string) (string, bool, error) {
	users, err := s.xray.ListUsers(context.Background())
	if err != nil {
		return "", false, err
	}
	for _, u := range users {
		if u.Email == email {
			return u.UUID, true, nil
		}
	}
	return "", false, nil
}

func TestAdminCommands(t *testing.T) {
	s := startShop(t, nil)
	s.runInProcess()
	ctx := context.Background()

	admin := s.register("Admin")
	if admin != devstack.SandboxAdminID {
		t.Fatalf("first user is %d, want the sandbox admin %d", admin, devstack.SandboxAdminID)
	}
	bob := s.register("Bob")
	bobID := strconv.FormatInt(bob, 10)

	// The same commands from a non-admin: the normal answer, a log line,
	// and no effect.
	for _, cmd := range []string{"/stats", "/grant " + bobID + " 30", "/ban " + strconv.FormatInt(admin, 10)} {
		after := s.lastID(bob)
		s.say(bob, cmd)
		s.waitText(bob, after, "I don't know that command")
		s.waitFor(bob, after, "the menu", func(m faketg.Message) bool { return strings.Contains(keyboardSummary(m), "Buy") })
		name := strings.TrimPrefix(strings.Fields(cmd)[0], "/")
		s.waitLog("bot", "admin command from a non-admin", map[string]string{"user_id": bobID, "command": name})
	}
	if _, err := s.store.GetSubscription(ctx, bob); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("a non-admin's /grant did something: %v", err)
	}
	if u, err := s.store.GetUser(ctx, admin); err != nil || u.Banned {
		t.Fatalf("a non-admin's /ban did something: %+v %v", u, err)
	}

	// Malformed arguments get the usage, unknown users "not found".
	m := s.adminSays(admin, "/grant "+bobID+" lots", "Usage")
	if !strings.Contains(m.Text, "/grant <id | @username> <days>") {
		t.Errorf("usage text: %q", m.Text)
	}
	s.adminSays(admin, "/promo SALE 120% 5", "Usage")
	s.adminSays(admin, "/user 999", "Not found")
	s.adminSays(admin, "/refund 0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b", "Not found")

	// Grant: the key appears in Xray and the user gets it.
	s.adminSays(admin, "/grant "+bobID+" 7", "access extended by")
	sub := s.assertActive(bob, 7)
	if left := time.Until(sub.ExpiresAt); left > 7*24*time.Hour+time.Hour {
		t.Fatalf("granted 7 days, subscription has %s", left)
	}
	m = s.adminSays(admin, "/stats", "Stats")
	for _, want := range []string{"Users: 2", "Active subscriptions: 1", "Xray users: 1", "active in DB: 1"} {
		if !strings.Contains(m.Text, want) {
			t.Errorf("/stats lacks %q:\n%s", want, m.Text)
		}
	}
	m = s.adminSays(admin, "/user "+bobID, "User "+bobID)
	for _, want := range []string{"subscription/" + bobID, sub.XrayEmail, "Active"} {
		if !strings.Contains(m.Text, want) {
			t.Errorf("/user lacks %q:\n%s", want, m.Text)
		}
	}

	// Ban takes the key out of Xray; unban puts the same key back.
	after := s.lastID(bob)
	s.adminSays(admin, "/ban "+bobID, "is blocked")
	s.eventually("the banned key leaves xray", func() error {
		if _, ok, err := s.inXray(sub.XrayEmail); err != nil || ok {
			return fmt.Errorf("still in xray (%v)", err)
		}
		return nil
	})
	if got, err := s.store.GetSubscription(ctx, bob); err != nil || got.Status != shop.StatusBanned {
		t.Fatalf("after ban: %v %v", got, err)
	}
	s.waitText(bob, after, "blocked by the administrator")
	s.adminSays(admin, "/unban "+bobID, "is unblocked")
	s.eventually("the unbanned key is back in xray", func() error {
		uuid, ok, err := s.inXray(sub.XrayEmail)
		switch {
		case err != nil:
			return err
		case !ok:
			return errors.New("not in xray")
		case uuid != sub.VLESSUUID.String():
			return errors.New("back with another uuid")
		}
		return nil
	})
	if got, err := s.store.GetSubscription(ctx, bob); err != nil || got.Status != shop.StatusActive {
		t.Fatalf("after unban: %v %v", got, err)
	}

	// Refund of a Stars purchase, asked for twice: one refundStarPayment,
	// one ledger row, and the purchased days taken back.
	after = s.lastID(bob)
	s.say(bob, "/buy")
	s.press(bob, "30 days")
	s.press(bob, "Telegram Stars")
	inv := s.waitFor(bob, after, "the Stars invoice", func(m faketg.Message) bool { return m.Invoice != nil })
	charge, err := s.tg.PayStarsInvoice(ctx, bob, inv.ID)
	if err != nil {
		t.Fatalf("pay: %v\n%s", err, s.conversation(bob))
	}
	p := s.waitPurchaseStatus(s.latestPurchase(bob), shop.PurchasePaid)
	s.eventually("the purchase extends the subscription", func() error {
		got, err := s.store.GetSubscription(ctx, bob)
		if err != nil {
			return err
		}
		if time.Until(got.ExpiresAt) < 36*24*time.Hour {
			return fmt.Errorf("expires in %s", time.Until(got.ExpiresAt))
		}
		return nil
	})

	bobAfter := s.lastID(bob)
	after = s.lastID(admin)
	s.say(admin, "/refund "+p.ID.String())
	s.say(admin, "/refund "+p.ID.String())
	s.eventually("both refund commands answered", func() error {
		n := 0
		for _, m := range s.tg.Messages(admin) {
			if m.ID > after && strings.Contains(m.Text, p.ID.String()) && strings.Contains(m.Text, "refunded") {
				n++
			}
		}
		if n < 2 {
			return fmt.Errorf("%d answers", n)
		}
		return nil
	})
	if calls := s.tg.Calls("refundStarPayment"); len(calls) != 1 || calls[0].Status != 200 || calls[0].Params["telegram_payment_charge_id"] != charge {
		t.Fatalf("refundStarPayment calls: %+v", calls)
	}
	for _, c := range s.tg.Charges() {
		if c.ID == charge && !c.Refunded {
			t.Fatal("the stand-in's charge is not refunded")
		}
	}
	if n := s.ledgerRows(bob, store.LedgerRefund); n != 1 {
		t.Fatalf("%d refund ledger rows, want 1", n)
	}
	if got, err := s.store.GetPurchase(ctx, p.ID); err != nil || got.Status != shop.PurchaseRefunded {
		t.Fatalf("purchase after refund: %+v %v", got, err)
	}
	got, err := s.store.GetSubscription(ctx, bob)
	if left := time.Until(got.ExpiresAt); err != nil || left > 7*24*time.Hour+time.Hour || left < 6*24*time.Hour {
		t.Fatalf("after the refund the subscription has %s left (%v), want the 7 granted days", left, err)
	}
	s.waitText(bob, bobAfter, "You have been refunded")
}
