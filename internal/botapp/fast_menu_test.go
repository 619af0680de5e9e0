package botapp

import (
	"strconv"
	"strings"
	"testing"

	"vpnflow/internal/callback"
	faketg "vpnflow/internal/dev/fake/telegram"
	"vpnflow/internal/i18n"
	"vpnflow/internal/telegram"
)

// TestFastStartRegistersUser: /start registers the user with Telegram's
// name and language and shows the menu with its buttons.
func TestFastStartRegistersUser(t *testing.T) {
	f := newFastBot(t, fastConfig(t))
	ann := f.newUser("Ann", "ru")
	menu := f.start(ann, "Ann", "ru")
	for _, a := range []callback.Action{callback.Buy, callback.Trial, callback.MySub, callback.Balance, callback.Invite, callback.Help, callback.Language} {
		if !hasButton(menu, callback.Data{Action: a}) {
			t.Errorf("menu lacks the %s button: %+v", a, menu.Keyboard)
		}
	}
	u, err := f.store.GetUser(f.ctx(), ann)
	if err != nil {
		t.Fatalf("user row after /start: %v", err)
	}
	if u.FirstName != "Ann" || u.Language != "ru" || u.ReferrerID != 0 || u.RefCode == "" {
		t.Errorf("user row = %+v, want Ann, ru, no referrer, a referral code", u)
	}
	if calls := f.temporal.Calls(""); len(calls) != 0 {
		t.Errorf("/start called Temporal: %+v", calls)
	}
}

// TestFastStartWithReferralCode: /start ref_<code> records the referrer
// once, on first contact; a later /start with another code changes nothing,
// and a code nobody has registers the user without a referrer.
func TestFastStartWithReferralCode(t *testing.T) {
	f := newFastBot(t, fastConfig(t))
	ann, bob, eve := f.newUser("Ann", "en"), f.newUser("Bob", "en"), f.newUser("Eve", "en")
	f.start(ann, "Ann", "en")
	f.start(eve, "Eve", "en")
	annRow, err := f.store.GetUser(f.ctx(), ann)
	if err != nil {
		t.Fatal(err)
	}
	eveRow, err := f.store.GetUser(f.ctx(), eve)
	if err != nil {
		t.Fatal(err)
	}
	menuText := f.T("en", "menu_text", map[string]any{"Name": "Bob"})
	f.send(bob, "/start ref_"+annRow.RefCode, menuText)
	bobRow := f.registered(bob)
	if bobRow.ReferrerID != ann {
		t.Fatalf("referrer = %d, want Ann %d", bobRow.ReferrerID, ann)
	}
	// Only the first contact counts.
	f.send(bob, "/start ref_"+eveRow.RefCode, menuText)
	if bobRow, _ = f.store.GetUser(f.ctx(), bob); bobRow.ReferrerID != ann {
		t.Errorf("referrer after a second /start = %d, want still Ann %d", bobRow.ReferrerID, ann)
	}
	// An unknown code still registers the user.
	zed := f.newUser("Zed", "en")
	f.send(zed, "/start ref_nosuchcode", f.T("en", "menu_text", map[string]any{"Name": "Zed"}))
	if z := f.registered(zed); z.ReferrerID != 0 {
		t.Errorf("user with an unknown referral code: %+v; want registered without referrer", z)
	}
	// The invite screen shows the link with the user's own code.
	menu := f.send(ann, "/menu", f.T("en", "menu_text", map[string]any{"Name": "Ann"}))
	f.press(ann, menu, callback.Data{Action: callback.Invite})
	f.waitFor(ann, "the invite link", func(m faketg.Message) bool {
		return strings.Contains(m.Raw, "https://t.me/"+f.tg.Bot().Username+"?start=ref_"+annRow.RefCode)
	})
}

// TestFastMenuButtons: each menu button edits the menu into its screen, and
// Back returns to the menu.
func TestFastMenuButtons(t *testing.T) {
	f := newFastBot(t, fastConfig(t))
	ann := f.newUser("Ann", "en")
	menu := f.start(ann, "Ann", "en")

	f.press(ann, menu, callback.Data{Action: callback.Help})
	help := f.waitText(ann, f.T("en", "help_text", nil))
	if help.ID != menu.ID || !help.Edited {
		t.Errorf("help came as message %d (edited %v), want the menu %d edited in place", help.ID, help.Edited, menu.ID)
	}
	f.press(ann, help, callback.Data{Action: callback.Menu})
	menu = f.waitFor(ann, "the menu again", func(m faketg.Message) bool {
		return m.ID == menu.ID && m.Raw == f.T("en", "menu_text", map[string]any{"Name": "Ann"})
	})

	f.press(ann, menu, callback.Data{Action: callback.Balance})
	bal := f.waitText(ann, f.T("en", "balance_text", map[string]any{"Balance": i18n.FormatMoney("en", 0, f.app.cfg.Currency)})+
		"\n\n"+f.T("en", "topup_choose", nil))
	for _, amt := range topUpAmounts {
		if !hasButton(bal, callback.Data{Action: callback.TopUp, Amount: amt}) {
			t.Errorf("balance screen lacks the top-up of %d", amt)
		}
	}
	f.press(ann, bal, callback.Data{Action: callback.Menu})
	menu = f.waitFor(ann, "the menu again", func(m faketg.Message) bool {
		return m.Raw == f.T("en", "menu_text", map[string]any{"Name": "Ann"}) && hasButton(m, callback.Data{Action: callback.Language})
	})

	// Switching language is stored and the menu comes back in it.
	f.press(ann, menu, callback.Data{Action: callback.Language})
	langs := f.waitText(ann, f.T("en", "language_choose", nil))
	f.press(ann, langs, callback.Data{Action: callback.SetLang, Lang: "ru"})
	f.waitText(ann, f.T("ru", "language_set", nil))
	f.waitText(ann, f.T("ru", "menu_text", map[string]any{"Name": "Ann"}))
	if u, err := f.store.GetUser(f.ctx(), ann); err != nil || u.Language != "ru" {
		t.Errorf("language after choosing ru: %+v, %v", u, err)
	}

	// My subscription without one offers buying or the trial.
	none := f.send(ann, "/sub", f.T("ru", "sub_none", nil))
	if !hasButton(none, callback.Data{Action: callback.Buy}) || !hasButton(none, callback.Data{Action: callback.Trial}) {
		t.Errorf("no-subscription screen lacks Buy or Trial: %+v", none.Keyboard)
	}
}

// TestFastUnknownInputGetsPoliteReply: an unknown command, a button the
// bot cannot read (from an older version, say) and an oversize message each
// get a polite answer, and nothing reaches Temporal.
func TestFastUnknownInputGetsPoliteReply(t *testing.T) {
	f := newFastBot(t, fastConfig(t))
	ann := f.newUser("Ann", "en")
	f.start(ann, "Ann", "en")

	unknown := f.send(ann, "/frobnicate", f.T("en", "unknown_command", nil))
	// ... followed by the menu.
	f.waitFor(ann, "the menu after an unknown command", func(m faketg.Message) bool {
		return m.ID > unknown.ID && m.Raw == f.T("en", "menu_text", map[string]any{"Name": "Ann"})
	})

	// A message whose button carries data no version of the bot wrote.
	oldID, err := f.app.tg.Send(f.ctx(), oldMessage(ann, "old menu", "9|teleport"))
	if err != nil {
		t.Fatal(err)
	}
	msgs := f.tg.Messages(ann)
	var oldMsg faketg.Message
	for _, m := range msgs {
		if m.ID == oldID {
			oldMsg = m
		}
	}
	ans := f.pressRaw(ann, oldMsg, "9|teleport")
	if want := f.T("en", "stale_button", nil); ans.Text != want {
		t.Errorf("answer to an unreadable button = %q, want %q", ans.Text, want)
	}
	// ... and a fresh menu below.
	f.waitFor(ann, "the menu after the unreadable button", func(m faketg.Message) bool {
		return m.ID > oldMsg.ID && m.Raw == f.T("en", "menu_text", map[string]any{"Name": "Ann"})
	})
	before := len(f.tg.Messages(ann))
	// Over Telegram's own limit, so fed to the handler directly.
	f.update(telegram.Update{ID: 1, Message: &telegram.Incoming{
		ID: 10_000, From: &telegram.User{ID: ann, FirstName: "Ann", LanguageCode: "en"},
		ChatType: "private", Text: strings.Repeat("я", maxCommandText+1),
	}})
	f.waitText(ann, f.T("en", "message_too_long", nil))
	if after := len(f.tg.Messages(ann)); after != before+1 {
		t.Errorf("oversize message: %d bot messages, want exactly the refusal", after-before)
	}
	if calls := f.temporal.Calls(""); len(calls) != 0 {
		t.Errorf("unknown input reached Temporal: %+v", calls)
	}
}

// TestFastAdminCommandsRefusedForNonAdmins: admin commands from anyone not
// in ADMIN_IDS are unknown commands: the user gets the menu, nothing is
// started or changed. The same /stats from an admin is served.
func TestFastAdminCommandsRefusedForNonAdmins(t *testing.T) {
	cfg := fastConfig(t)
	const adminID = 7_999_000_111 // above the stand-in's first user ids
	cfg.AdminIDs = []int64{adminID}
	f := newFastBot(t, cfg)
	ann := f.newUser("Ann", "en")
	f.start(ann, "Ann", "en")
	for _, cmd := range []string{"/stats", "/grant " + strconv.FormatInt(ann, 10) + " 30", "/ban " + strconv.FormatInt(ann, 10), "/broadcast hello all", "/refund 0190a8e2-7c3b-7def-8000-000000000001"} {
		unknown := f.send(ann, cmd, f.T("en", "unknown_command", nil))
		f.waitFor(ann, "the menu after "+cmd, func(m faketg.Message) bool {
			return m.ID > unknown.ID && m.Raw == f.T("en", "menu_text", map[string]any{"Name": "Ann"})
		})
	}
	// Creating a promo code is the admins'; a user gets the redeem usage.
	f.send(ann, "/promo FREE days 7", f.T("en", "promo_usage", nil))
	if calls := f.temporal.Calls(""); len(calls) != 0 {
		t.Errorf("a non-admin's commands reached Temporal: %+v", calls)
	}
	if u, _ := f.store.GetUser(f.ctx(), ann); u.Banned {
		t.Error("a non-admin banned a user")
	}

	// An admin's /stats counts Xray's users through a workflow (answered
	// by the fake) and the rest from the database.
	f.tg.SkipUserIDs(adminID - 1)
	root := f.newUser("Root", "en")
	if root != adminID {
		t.Fatalf("stand-in gave the admin id %d, want %d", root, adminID)
	}
	f.temporal.setAnswer(func(c tcall) tresult { return tresult{Value: int64(7)} })
	zero := i18n.FormatMoney("en", 0, cfg.Currency)
	f.send(root, "/stats", f.T("en", "admin_stats", map[string]any{
		"Users": 2, "Active": 0, "Trials": 0, "RevenueToday": zero, "Revenue30": zero, "XrayUsers": "7", "DBActive": 0,
	}))
	starts := f.temporal.Calls("start")
	if len(starts) != 1 || starts[0].Workflow != "XrayUsers" || starts[0].Options.TaskQueue != cfg.TaskQueue {
		t.Errorf("admin /stats started %+v, want one XrayUsers on %s", starts, cfg.TaskQueue)
	}
}

// oldMessage is a plain bot message with one button carrying data.
func oldMessage(chatID int64, text, data string) telegram.Message {
	return telegram.Message{ChatID: chatID, Text: text, Plain: true, Keyboard: telegram.Keyboard{{{Text: "old", CallbackData: data}}}}
}
