package activities

import (
	"context"
	"strings"
	"testing"

	"vpnflow/internal/dev/testenv"
	"vpnflow/internal/store"
	"vpnflow/internal/telegram"
)

// The bot probe reads the bot's heartbeat from real PostgreSQL: missing,
// fresh, stuck and stale.
func TestCheckBotReadsItsHeartbeat(t *testing.T) {
	pool := testenv.Database(t)
	a := &Activities{Store: store.New(pool)}
	ctx := context.Background()
	if _, err := a.CheckBot(ctx, HealthProbe{}); err == nil || !strings.Contains(err.Error(), "never recorded a heartbeat") {
		t.Fatalf("no heartbeat yet: %v", err)
	}
	if err := a.Store.Beat(ctx, store.ProcessBot, "host:7", true, ""); err != nil {
		t.Fatal(err)
	}
	if res, err := a.CheckBot(ctx, HealthProbe{}); err != nil || !strings.Contains(res.Detail, "host:7") {
		t.Fatalf("fresh heartbeat: %+v %v", res, err)
	}
	if err := a.Store.Beat(ctx, store.ProcessBot, "host:7", false, "telegram-updates: no progress since 12:00"); err != nil {
		t.Fatal(err)
	}
	if _, err := a.CheckBot(ctx, HealthProbe{}); err == nil || !strings.Contains(err.Error(), "stuck") || !strings.Contains(err.Error(), "telegram-updates") {
		t.Fatalf("stuck bot: %v", err)
	}
	if _, err := pool.Exec(ctx, `UPDATE heartbeats SET healthy = true, beat_at = now() - interval '5 minutes' WHERE process = 'bot'`); err != nil {
		t.Fatal(err)
	}
	if _, err := a.CheckBot(ctx, HealthProbe{}); err == nil || !strings.Contains(err.Error(), "no heartbeat since") {
		t.Fatalf("silent bot: %v", err)
	}
}

// The Telegram probe is getMe against the stand-in; a wrong token fails.
func TestCheckTelegram(t *testing.T) {
	tg := testenv.Telegram(t)
	for _, tc := range []struct {
		token string
		ok    bool
	}{{tg.Token(), true}, {"1:wrong", false}} {
		c, err := telegram.New(tc.token, tg.URL(), nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		res, err := (&Activities{Telegram: c}).CheckTelegram(context.Background(), HealthProbe{})
		if (err == nil) != tc.ok {
			t.Errorf("token %q: %+v %v, want ok=%v", tc.token, res, err, tc.ok)
		}
	}
}
