package botapp

import (
	"context"
	"strconv"
	"testing"
	"time"

	"vpnflow/internal/callback"
	faketg "vpnflow/internal/dev/fake/telegram"
	"vpnflow/internal/i18n"
)

// TestFastStartAnswersBeforeTheUserIsWritten: a newcomer's /start shows the
// menu while their row cannot be written yet (the users table locked
// against inserts, reads still served), and a button pressed on that menu
// is carried out once the row exists, with the referrer the /start gave.
// The bot used to write the row first, so the menu waited for the lock.
func TestFastStartAnswersBeforeTheUserIsWritten(t *testing.T) {
	f := newFastBot(t, fastConfig(t))
	ann, bob := f.newUser("Ann", "en"), f.newUser("Bob", "en")
	f.start(ann, "Ann", "en")
	annRow, err := f.store.GetUser(f.ctx(), ann)
	if err != nil {
		t.Fatal(err)
	}

	lock, err := f.app.pool.Begin(f.ctx())
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Rollback(context.Background())
	if _, err := lock.Exec(f.ctx(), `LOCK TABLE users IN SHARE MODE`); err != nil {
		t.Fatal(err)
	}
	menu := f.send(bob, "/start ref_"+annRow.RefCode, f.T("en", "menu_text", map[string]any{"Name": "Bob"}))
	if _, err := f.store.GetUser(f.ctx(), bob); err == nil {
		t.Fatal("Bob's row exists while the users table is locked against inserts: the test locks nothing")
	}
	f.press(bob, menu, callback.Data{Action: callback.Balance})
	if err := lock.Rollback(f.ctx()); err != nil {
		t.Fatal(err)
	}

	f.waitEdit(bob, menu.ID, f.T("en", "balance_text", map[string]any{"Balance": i18n.FormatMoney("en", 0, f.app.cfg.Currency)})+
		"\n\n"+f.T("en", "topup_choose", nil))
	bobRow, err := f.store.GetUser(f.ctx(), bob)
	if err != nil {
		t.Fatalf("Bob's row after the lock: %v", err)
	}
	if bobRow.ReferrerID != ann || bobRow.FirstName != "Bob" || bobRow.Language != "en" {
		t.Errorf("Bob's row = %+v, want Bob, en, referred by Ann %d", bobRow, ann)
	}
}

// TestFastStartTellsWhenTheUserCannotBeWritten: when a newcomer's row
// cannot be written, the menu they were shown is followed by the apology,
// and their next /start registers them.
func TestFastStartTellsWhenTheUserCannotBeWritten(t *testing.T) {
	f := newFastBot(t, fastConfig(t))
	zed := f.newUser("Zed", "en")
	refuse := `CREATE FUNCTION refuse_zed() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN RAISE EXCEPTION 'no newcomers today'; END $$;
		CREATE TRIGGER refuse_zed BEFORE INSERT ON users FOR EACH ROW
		WHEN (NEW.telegram_id = ` + strconv.FormatInt(zed, 10) + `) EXECUTE FUNCTION refuse_zed()`
	if _, err := f.app.pool.Exec(f.ctx(), refuse); err != nil {
		t.Fatal(err)
	}
	menu := f.send(zed, "/start", f.T("en", "menu_text", map[string]any{"Name": "Zed"}))
	apology := f.waitFor(zed, "the apology", func(m faketg.Message) bool {
		return m.ID > menu.ID && m.Raw == f.T("en", "error_generic", nil)
	})
	if _, err := f.store.GetUser(f.ctx(), zed); err == nil {
		t.Fatal("Zed's row was written although the trigger refuses it")
	}

	if _, err := f.app.pool.Exec(f.ctx(), `DROP TRIGGER refuse_zed ON users`); err != nil {
		t.Fatal(err)
	}
	if again := f.start(zed, "Zed", "en"); again.ID < apology.ID {
		t.Fatalf("menu %d before the apology %d", again.ID, apology.ID)
	}
}

// TestRegistrationsReleaseTheirWaiters: a registration in flight admits no
// second one for the same user, and its waiters go on once it finishes.
func TestRegistrationsReleaseTheirWaiters(t *testing.T) {
	var r registrations
	reg := r.begin(7)
	if reg == nil {
		t.Fatal("no registration of user 7 in flight, yet begin refused")
	}
	if r.begin(7) != nil {
		t.Fatal("a second registration of user 7 began beside the first")
	}
	r.wait(context.Background(), 8) // nobody else's: returns at once

	waited := make(chan struct{})
	go func() {
		r.wait(context.Background(), 7)
		close(waited)
	}()
	select {
	case <-waited:
		t.Fatal("wait returned while the registration was in flight")
	case <-time.After(50 * time.Millisecond):
	}
	r.finish(7, reg, reg.user, true, nil)
	<-waited
	if r.begin(7) == nil {
		t.Error("a finished registration still blocks the next")
	}
}
