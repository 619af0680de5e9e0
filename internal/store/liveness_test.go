package store_test

import (
	"errors"
	"testing"
	"time"

	"vpnflow/internal/store"
)

func TestBotLeaseOneHolderAtATime(t *testing.T) {
	e := newEnv(t)
	const token = "hash-of-token"
	l, ok, err := e.s.TakeBotLease(e.ctx, token, "bot-a", time.Minute)
	if err != nil || !ok || l.Holder != "bot-a" {
		t.Fatalf("first take: %+v %v %v, want bot-a holds it", l, ok, err)
	}
	l, ok, err = e.s.TakeBotLease(e.ctx, token, "bot-b", time.Minute)
	if err != nil || ok || l.Holder != "bot-a" || time.Until(l.ExpiresAt) < 50*time.Second {
		t.Fatalf("second bot: %+v %v %v, want refused, held by bot-a for about a minute", l, ok, err)
	}
	// The holder renews (also twice in a row: a retried renewal).
	for range 2 {
		if _, ok, err := e.s.TakeBotLease(e.ctx, token, "bot-a", time.Minute); err != nil || !ok {
			t.Fatalf("renewal: %v %v", ok, err)
		}
	}
	// Released, the other takes it at once; expired, likewise.
	if err := e.s.ReleaseBotLease(e.ctx, token, "bot-b"); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := e.s.TakeBotLease(e.ctx, token, "bot-b", time.Minute); ok {
		t.Fatal("a release by a non-holder freed the lease")
	}
	if err := e.s.ReleaseBotLease(e.ctx, token, "bot-a"); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := e.s.TakeBotLease(e.ctx, token, "bot-b", 100*time.Millisecond); err != nil || !ok {
		t.Fatalf("after release: %v %v, want bot-b takes it", ok, err)
	}
	time.Sleep(150 * time.Millisecond)
	if _, ok, err := e.s.TakeBotLease(e.ctx, token, "bot-a", time.Minute); err != nil || !ok {
		t.Fatalf("after expiry: %v %v, want bot-a takes it", ok, err)
	}
}

func TestHeartbeats(t *testing.T) {
	e := newEnv(t)
	if _, err := e.s.LastBeat(e.ctx, store.ProcessBot); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("no beat yet: %v, want ErrNotFound", err)
	}
	if err := e.s.Beat(e.ctx, store.ProcessBot, "host:1", true, ""); err != nil {
		t.Fatal(err)
	}
	if err := e.s.Beat(e.ctx, store.ProcessBot, "host:2", false, "telegram-updates stalled"); err != nil {
		t.Fatal(err)
	}
	h, err := e.s.LastBeat(e.ctx, store.ProcessBot)
	if err != nil || h.Instance != "host:2" || h.Healthy || h.Detail != "telegram-updates stalled" || h.Age < 0 || h.Age > 5*time.Second {
		t.Fatalf("last beat: %+v %v", h, err)
	}
	if err := e.s.Beat(e.ctx, "cron", "x", true, ""); err == nil {
		t.Error("a heartbeat of an unknown process role was accepted")
	}
}
