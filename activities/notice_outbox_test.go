package activities

import (
	"testing"
	"time"

	"vpnflow/internal/store"
)

// TestOutboxNoticesReachTheirUsersOnce: expiry notices written to the
// outbox are claimed, sent through the Telegram stand-in in each user's
// language, and finished in PostgreSQL; a user who blocked the bot has
// theirs dropped (and is marked), and a retried attempt skips what its
// heartbeat says was sent.
func TestOutboxNoticesReachTheirUsersOnce(t *testing.T) {
	e := newBroadcastEnv(t, 3)
	ann, bob, cid := e.users[0], e.users[1], e.users[2]
	if _, err := e.a.Store.AddNode(e.ctx, store.Node{Name: "a", APIAddr: "127.0.0.1:20085", InboundTag: "vless-in",
		Host: "a.example", Port: 443, PublicKey: "Gh1QKQJvVh3j5dOdmV9n3p8q1oZr0RjqSAh6TNdIWSs", SNI: "www.example.com",
		Capacity: 10, State: store.NodeEnabled}); err != nil {
		t.Fatal(err)
	}
	for _, u := range e.users {
		if _, err := e.a.Store.StartTrial(e.ctx, u, time.Hour, "test.local"); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := e.pool.Exec(e.ctx, `UPDATE subscriptions SET expires_at = now() - interval '1 minute'`); err != nil {
		t.Fatal(err)
	}
	if _, err := e.a.Store.EnqueueExpiryNotices(e.ctx, time.Now().Add(time.Minute), e.users); err != nil {
		t.Fatal(err)
	}
	if err := e.tg.BlockBot(bob, true); err != nil {
		t.Fatal(err)
	}

	v, err := e.act.ExecuteActivity(e.a.ClaimNotices, ClaimNoticesInput{Limit: 10, Lease: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	var c store.Claimed
	if err := v.Get(&c); err != nil || len(c.Notices) != 3 {
		t.Fatalf("claimed %+v (err %v), want 3 notices", c, err)
	}
	// A retried attempt whose heartbeat says cid's notice went out.
	var cidNotice int64
	for _, n := range c.Notices {
		if n.UserID == cid {
			cidNotice = n.ID
		}
	}
	e.act.SetHeartbeatDetails([]int64{cidNotice})
	v, err = e.act.ExecuteActivity(e.a.SendNotices, c.Notices)
	if err != nil {
		t.Fatal(err)
	}
	var out store.NoticeOutcome
	if err := v.Get(&out); err != nil {
		t.Fatal(err)
	}
	if len(out.Sent) != 2 || len(out.Dropped) != 1 || len(out.Retry) != 0 {
		t.Fatalf("outcome %+v, want ann's and cid's sent, bob's dropped", out)
	}
	if _, err := e.act.ExecuteActivity(e.a.FinishNotices, out); err != nil {
		t.Fatal(err)
	}

	want := e.a.Texts.T("en", "subscription_expired", nil)
	count := func(u int64) int {
		n := 0
		for _, m := range e.tg.Messages(u) {
			if m.Raw == want {
				n++
			}
		}
		return n
	}
	if got := count(ann); got != 1 {
		t.Errorf("ann got %d expiry notices, want 1", got)
	}
	if got := count(cid); got != 0 {
		t.Errorf("cid got %d expiry notices from the retried attempt, want 0 (the first attempt sent it)", got)
	}
	if u, _ := e.a.Store.GetUser(e.ctx, bob); !u.BotBlocked {
		t.Error("bob blocked the bot, but is not marked so")
	}
	if due, _ := e.a.Store.NoticesDue(e.ctx, nil); due {
		t.Error("notices still due after the batch was finished")
	}
	if ns, _ := e.a.Store.NoticesOf(e.ctx, bob); len(ns) != 1 || ns[0].Dropped == nil {
		t.Errorf("bob's notice %+v, want dropped", ns)
	}
}
