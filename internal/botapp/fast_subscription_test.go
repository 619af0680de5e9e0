package botapp

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/temporal"

	"vpnflow/internal/accesskey"
	"vpnflow/internal/callback"
	faketg "vpnflow/internal/dev/fake/telegram"
	"vpnflow/internal/i18n"
	"vpnflow/internal/shop"
	"vpnflow/internal/store"
)

// liveSubscription gives the user a trial subscription straight in the
// database, as the Subscription workflow's activity would.
func (f *fastBot) liveSubscription(userID int64) store.Subscription {
	f.t.Helper()
	if _, err := f.store.UpsertNode(f.ctx(), store.Node{Name: "n1", APIAddr: "127.0.0.1:1", InboundTag: "vless-in", Host: "vpn.example.com", Port: 443}); err != nil {
		f.t.Fatal(err)
	}
	if _, err := f.store.StartTrial(f.ctx(), userID, 72*time.Hour, "vpnflow.test"); err != nil {
		f.t.Fatal(err)
	}
	sub, err := f.store.GetSubscription(f.ctx(), userID)
	if err != nil {
		f.t.Fatal(err)
	}
	return sub
}

// subscriberWithKeyMessage registers a user with a live subscription and
// returns them with the key message "/sub" showed them, whose buttons
// the tests press.
func (f *fastBot) subscriberWithKeyMessage(name string) (int64, faketg.Message) {
	f.t.Helper()
	u := f.newUser(name, "en")
	f.start(u, name, "en")
	f.liveSubscription(u)
	sent, err := f.tg.SendText(u, "/sub")
	if err != nil {
		f.t.Fatal(err)
	}
	return u, f.waitFor(u, "the key photo", func(m faketg.Message) bool { return m.ID > sent.ID && len(m.Photo) > 0 })
}

// TestFastMySubscriptionRendersFromDB: My subscription shows the stored
// subscription with its subscription URL, the URL's QR code and the
// vless:// key, and the menu offers Renew for a live one.
func TestFastMySubscriptionRendersFromDB(t *testing.T) {
	f := newFastBot(t, fastConfig(t))
	ann := f.newUser("Ann", "en")
	f.start(ann, "Ann", "en")
	sub := f.liveSubscription(ann)

	menu := f.send(ann, "/menu", f.T("en", "menu_text", map[string]any{"Name": "Ann"}))
	if !hasButton(menu, callback.Data{Action: callback.Renew}) || hasButton(menu, callback.Data{Action: callback.Buy}) {
		t.Errorf("menu with a live subscription: %+v, want Renew instead of Buy", menu.Keyboard)
	}
	f.press(ann, menu, callback.Data{Action: callback.MySub})
	key := f.waitFor(ann, "the key photo", func(m faketg.Message) bool { return len(m.Photo) > 0 })
	for _, want := range []string{
		f.T("en", "status_"+sub.Status, nil),
		i18n.FormatDate("en", sub.ExpiresAt),
		sub.XrayEmail,
		"vless://" + sub.VLESSUUID.String() + "@vpn.example.com",
		"https://sub.example.com/sub/" + sub.URLToken,
	} {
		if !strings.Contains(key.Caption, want) {
			t.Errorf("subscription caption lacks %q:\n%s", want, key.Caption)
		}
	}
	if qr, _ := accesskey.QR("https://sub.example.com/sub/" + sub.URLToken); !bytes.Equal(key.Photo, qr) {
		t.Error("the photo is not the QR code of the subscription URL")
	}
	for _, d := range []callback.Data{{Action: callback.Renew}, {Action: callback.Reissue}, {Action: callback.AutoRenew, On: true}} {
		if !hasButton(key, d) {
			t.Errorf("subscription message lacks the %s button", d.Action)
		}
	}
	if calls := f.temporal.Calls(""); len(calls) != 0 {
		t.Errorf("showing the subscription called Temporal: %+v", calls)
	}
}

// TestFastReissueAndAutoRenewUpdates: the reissue and auto-renew buttons
// show "working on it" and hand their updates to subscription/<user>,
// naming that message for the workflow's answer; each refusal of
// workflows/refusal.go, and a request Temporal did not take, the bot
// tells in place of the message itself.
func TestFastReissueAndAutoRenewUpdates(t *testing.T) {
	f := newFastBot(t, fastConfig(t))
	ann, key := f.subscriberWithKeyMessage("Ann")

	refused := func(kind string, wait time.Duration) tresult {
		return tresult{Err: temporal.NewApplicationError(kind, kind, wait)}
	}
	for _, tc := range []struct {
		press  callback.Data
		name   string
		on     bool
		answer tresult
		want   string // "": the workflow answers, the working message stays for it
		data   map[string]any
	}{
		{callback.Data{Action: callback.Reissue}, shop.UpdateReissue, false, tresult{}, "", nil},
		{callback.Data{Action: callback.Reissue}, shop.UpdateReissue, false, refused(shop.RefusedTooSoon, 90*time.Minute),
			"reissue_too_soon", map[string]any{"Wait": i18n.FormatDuration("en", 90*time.Minute)}},
		{callback.Data{Action: callback.Reissue}, shop.UpdateReissue, false, refused(shop.RefusedNotActive, 0), "reissue_needs_active", nil},
		{callback.Data{Action: callback.Reissue}, shop.UpdateReissue, false, refused(shop.RefusedBanned, 0), "banned_notice", nil},
		{callback.Data{Action: callback.Reissue}, shop.UpdateReissue, false, tresult{CallErr: errors.New("workflow not found")}, "busy_try_again", nil},
		{callback.Data{Action: callback.AutoRenew, On: true}, shop.UpdateSetAutoRenew, true, tresult{}, "", nil},
		{callback.Data{Action: callback.AutoRenew, On: true}, shop.UpdateSetAutoRenew, true, refused(shop.RefusedNoPlan, 0), "autorenew_needs_plan", nil},
	} {
		f.temporal.setAnswer(func(tcall) tresult { return tc.answer })
		n := len(f.temporal.Calls("update"))
		last := f.tg.Messages(ann)
		f.press(ann, key, tc.press)
		working := f.waitFor(ann, "working", func(m faketg.Message) bool {
			return m.ID > last[len(last)-1].ID
		})
		calls := f.waitCalls(n + 1)
		c := calls[n]
		var arg struct {
			On    bool
			Reply *shop.Reply
		}
		decode(t, c.Args[0], &arg)
		if c.WorkflowID != shop.SubscriptionWorkflowID(ann) || c.Name != tc.name || arg.On != tc.on ||
			arg.Reply == nil || arg.Reply.MessageID != working.ID {
			t.Errorf("%s: update %s %s %+v, want %s on %s naming message %d", tc.want, c.WorkflowID, c.Name, arg, tc.name,
				shop.SubscriptionWorkflowID(ann), working.ID)
		}
		if tc.want == "" {
			continue
		}
		data := tc.data
		if data == nil {
			data = map[string]any{"Wait": i18n.FormatDuration("en", 0)}
		}
		want := f.T("en", tc.want, data)
		f.waitFor(ann, tc.want, func(m faketg.Message) bool { return m.ID == working.ID && m.Edited && m.Raw == want })
	}
}

// TestFastUnansweredHandOverIsAskedAgainNotDenied: a hand-over whose call
// ran out of time may have reached the workflow, which may already have
// answered in the working message (the burst test caught the bot then
// overwriting "Your free trial is on" with "nothing was changed"). The bot
// asks again with the same request ID, which Temporal takes once; when
// that answers, the working message is left to the workflow. When it does
// not either, the bot says it cannot tell yet, in a new message, and
// still leaves the working message alone. With Temporal down (its health
// check fails too) nothing can be answering, and the bot says plainly in
// that message that the request was not passed on.
func TestFastUnansweredHandOverIsAskedAgainNotDenied(t *testing.T) {
	f := newFastBot(t, fastConfig(t))
	ann, key := f.subscriberWithKeyMessage("Ann")

	for _, tc := range []struct {
		name     string
		timeouts int    // how many calls run out of time before one answers
		down     bool   // Temporal's health check fails
		want     string // the bot's own message after the working one; "": none
	}{
		{"the second call answers", 1, false, ""},
		{"both calls time out", 2, false, "handover_unsure"},
		{"temporal is down", 1, true, "busy_try_again"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			left := tc.timeouts
			f.temporal.setAnswer(func(tcall) tresult {
				if left > 0 {
					left--
					return tresult{CallErr: fmt.Errorf("update workflow: %w", context.DeadlineExceeded)}
				}
				return tresult{}
			})
			f.temporal.setDown(tc.down)
			defer f.temporal.setDown(false)
			n := len(f.temporal.Calls("update"))
			last := f.tg.Messages(ann)
			f.press(ann, key, callback.Data{Action: callback.Reissue})
			working := f.waitFor(ann, "working", func(m faketg.Message) bool { return m.ID > last[len(last)-1].ID })
			if tc.down {
				want := f.T("en", tc.want, nil)
				f.waitFor(ann, tc.want, func(m faketg.Message) bool { return m.ID == working.ID && m.Edited && m.Raw == want })
				if got := len(f.temporal.Calls("update")); got != n+1 {
					t.Errorf("%d update calls with Temporal down, want 1", got-n)
				}
				return
			}
			calls := f.waitCalls(n + 2)[n:]
			if len(calls) != 2 || calls[0].UpdateID == "" || calls[0].UpdateID != calls[1].UpdateID {
				t.Fatalf("calls %+v, want two with one request ID", calls)
			}
			if tc.want != "" {
				want := f.T("en", tc.want, nil)
				f.waitFor(ann, tc.want, func(m faketg.Message) bool { return m.ID > working.ID && m.Raw == want })
			} else {
				time.Sleep(300 * time.Millisecond) // room for a wrong answer to show
			}
			for _, m := range f.tg.Messages(ann) {
				if m.ID == working.ID && m.Edited {
					t.Errorf("the bot edited the working message into %q; it is the workflow's to answer in", m.Raw)
				}
				if m.ID > working.ID && tc.want == "" {
					t.Errorf("the bot said %q after a hand-over the second call confirmed", m.Raw)
				}
			}
			if got := len(f.temporal.Calls("update")); got != n+2 {
				t.Errorf("%d update calls, want 2", got-n)
			}
		})
	}
}
