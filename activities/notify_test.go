package activities

import (
	"testing"

	"vpnflow/internal/notice"
	"vpnflow/internal/telegram"
)

// TestNotifyReplacesTheWorkingMessage: a notice answering a handed-over
// request edits the bot's "working on it" message into the outcome; when
// that message cannot be edited (deleted, say) it comes as a new message.
func TestNotifyReplacesTheWorkingMessage(t *testing.T) {
	e := newBroadcastEnv(t, 1)
	ann := e.users[0]
	working, err := e.a.Telegram.Send(e.ctx, telegram.Message{ChatID: ann, Text: "⏳ Working on it…"})
	if err != nil {
		t.Fatal(err)
	}
	before := len(e.tg.Messages(ann))
	answer := func(n notice.Notice, replace int) notice.Notice {
		n = n.Replacing(replace)
		n.UserID = ann
		return n
	}
	if _, err := e.act.ExecuteActivity(e.a.Notify, answer(notice.AutoRenewSet(true), working)); err != nil {
		t.Fatal(err)
	}
	want := e.a.Texts.T("en", "autorenew_enabled", nil)
	msgs := e.tg.Messages(ann)
	if len(msgs) != before {
		t.Fatalf("the answer came as a new message: %d messages, want %d", len(msgs), before)
	}
	if last := msgs[len(msgs)-1]; last.ID != working || !last.Edited || last.Raw != want {
		t.Errorf("working message after the answer = %+v, want it edited into %q", last, want)
	}

	if _, err := e.act.ExecuteActivity(e.a.Notify, answer(notice.AutoRenewSet(false), working+100)); err != nil {
		t.Fatal(err)
	}
	msgs = e.tg.Messages(ann)
	if last := msgs[len(msgs)-1]; len(msgs) != before+1 || last.Edited || last.Raw != e.a.Texts.T("en", "autorenew_disabled", nil) {
		t.Errorf("an answer whose message is gone: last %+v of %d messages, want a new message", last, len(msgs))
	}
}
