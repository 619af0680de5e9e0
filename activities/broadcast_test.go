package activities

import (
	"context"
	"errors"
	"github.com/jackc/pgx/v5/pgxpool"
	"strconv"
	"testing"
	"time"

	"github.com/google/uuid"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	faketg "vpnflow/internal/dev/fake/telegram"
	"vpnflow/internal/dev/testenv"
	"vpnflow/internal/i18n"
	"vpnflow/internal/store"
	"vpnflow/internal/telegram"
)

// broadcastEnv is the broadcast activities on a real database and the
// Telegram stand-in.
type broadcastEnv struct {
	t     *testing.T
	ctx   context.Context
	a     *Activities
	tg    *faketg.Server
	users []int64
	act   *testsuite.TestActivityEnvironment
	pool  *pgxpool.Pool
}

func newBroadcastEnv(t *testing.T, n int) *broadcastEnv {
	t.Helper()
	ctx := context.Background()
	pool := testenv.Database(t)
	st := store.New(pool)
	tg := testenv.Telegram(t)
	client, err := telegram.New(tg.Token(), tg.URL(), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	texts, err := i18n.New()
	if err != nil {
		t.Fatal(err)
	}
	e := &broadcastEnv{t: t, ctx: ctx, tg: tg, pool: pool, a: &Activities{Store: st, Telegram: client, Texts: texts}}
	for i := range n {
		u, err := tg.AddUser(faketg.User{FirstName: "user" + strconv.Itoa(i), LanguageCode: "en"})
		if err != nil {
			t.Fatal(err)
		}
		// On Telegram a bot may write only to users who wrote to it.
		if _, err := tg.SendText(u.ID, "/start"); err != nil {
			t.Fatal(err)
		}
		if _, _, err := st.UpsertUser(ctx, store.UpsertUserParams{TelegramID: u.ID, FirstName: u.FirstName}); err != nil {
			t.Fatal(err)
		}
		e.users = append(e.users, u.ID)
	}
	var suite testsuite.WorkflowTestSuite
	e.act = suite.NewTestActivityEnvironment()
	e.act.RegisterActivity(e.a)
	return e
}

func (e *broadcastEnv) page(in BroadcastPageInput) (BroadcastPageResult, error) {
	v, err := e.act.ExecuteActivity(e.a.SendBroadcastPage, in)
	if err != nil {
		return BroadcastPageResult{}, err
	}
	var res BroadcastPageResult
	if err := v.Get(&res); err != nil {
		e.t.Fatal(err)
	}
	return res, nil
}

// sends counts the broadcast messages each user got.
func (e *broadcastEnv) sends(text string) map[int64]int {
	out := map[int64]int{}
	for _, c := range e.tg.Calls("sendMessage") {
		if c.Status == 200 && c.Params["text"] == text {
			id, _ := strconv.ParseInt(c.Params["chat_id"], 10, 64)
			out[id]++
		}
	}
	return out
}

func TestSendBroadcastPageSkipsBlockedAndNeverResends(t *testing.T) {
	e := newBroadcastEnv(t, 6)
	blocked := e.users[2]
	if err := e.tg.BlockBot(blocked, true); err != nil {
		t.Fatal(err)
	}
	id := uuid.New()
	const text = "Maintenance tonight <b>not markup</b> & more"
	if _, err := e.a.CreateBroadcast(e.ctx, BroadcastStart{BroadcastID: id.String(), AdminID: e.users[0], Text: text}); err != nil {
		t.Fatal(err)
	}
	in := BroadcastPageInput{BroadcastID: id.String(), Limit: 4, Interval: 5 * time.Millisecond}
	first, err := e.page(in)
	if err != nil {
		t.Fatal(err)
	}
	if first.Handled != 4 || first.Sent != 3 || first.Skipped != 1 || first.End || first.LastUserID != e.users[3] {
		t.Fatalf("first page: %+v", first)
	}
	u, err := e.a.Store.GetUser(e.ctx, blocked)
	if err != nil || !u.BotBlocked {
		t.Fatalf("blocked user not marked: %+v %v", u, err)
	}

	// The same page again, as after a crash: outcomes come from the
	// database and nobody is messaged twice.
	again, err := e.page(in)
	if err != nil {
		t.Fatal(err)
	}
	if again.Sent != 3 || again.Skipped != 1 || again.LastUserID != first.LastUserID {
		t.Fatalf("repeated page: %+v", again)
	}
	in.AfterUserID = first.LastUserID
	last, err := e.page(in)
	if err != nil {
		t.Fatal(err)
	}
	if last.Handled != 2 || last.Sent != 2 || !last.End {
		t.Fatalf("last page: %+v", last)
	}
	got := e.sends(text)
	for _, u := range e.users {
		want := 1
		if u == blocked {
			want = 0
		}
		if got[u] != want {
			t.Errorf("user %d got the broadcast %d times, want %d", u, got[u], want)
		}
	}
	// Sent as plain text: what the admin typed is what users read.
	for _, m := range e.tg.Messages(e.users[0]) {
		if m.Text != "" && m.Text != text {
			t.Errorf("user saw %q", m.Text)
		}
	}
}

func TestSendBroadcastPageStopsOn429WithTelegramsDelay(t *testing.T) {
	e := newBroadcastEnv(t, 5)
	id := uuid.New()
	const text = "flood"
	if _, err := e.a.CreateBroadcast(e.ctx, BroadcastStart{BroadcastID: id.String(), AdminID: e.users[0], Text: text}); err != nil {
		t.Fatal(err)
	}
	e.tg.SetRateLimit(faketg.RateLimit{PerSecond: 2, RetryAfter: 7 * time.Second})
	in := BroadcastPageInput{BroadcastID: id.String(), Limit: 10, Interval: time.Millisecond}
	_, err := e.page(in)
	var appErr *temporal.ApplicationError
	if !errors.As(err, &appErr) || appErr.Type() != "RateLimited" || appErr.NonRetryable() {
		t.Fatalf("err = %v, want a retryable RateLimited error", err)
	}
	if d := appErr.NextRetryDelay(); d != 8*time.Second {
		t.Fatalf("next retry in %s, want retry_after+1 = 8s", d)
	}
	// The retry (after the flood wait, here lifted) finishes the page and
	// messages the two users who already got it no second time.
	e.tg.SetRateLimit(faketg.RateLimit{})
	res, err := e.page(in)
	if err != nil {
		t.Fatal(err)
	}
	if res.Sent != 5 || !res.End {
		t.Fatalf("retried page: %+v", res)
	}
	for _, u := range e.users {
		if n := e.sends(text)[u]; n != 1 {
			t.Errorf("user %d got it %d times", u, n)
		}
	}
}
