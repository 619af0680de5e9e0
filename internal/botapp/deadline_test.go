package botapp

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"vpnflow/internal/db"
	"vpnflow/internal/dev/testenv"
	"vpnflow/internal/store"
	"vpnflow/internal/telegram"
)

// TestLangOfHasItsOwnDeadline: after a Stars payment the handler strips its
// context's deadline (the payment must be handed on whatever happens) and
// then looks up the user's language. With the pool exhausted — PostgreSQL
// slow or every connection busy — that lookup must give up by itself and
// fall back to Telegram's language code, not wait forever.
func TestLangOfHasItsOwnDeadline(t *testing.T) {
	ctx := context.Background()
	cfg, err := db.Config(testenv.DatabaseURL(t))
	if err != nil {
		t.Fatal(err)
	}
	cfg.MaxConns = 1
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	st := store.New(pool)
	if _, _, err := st.UpsertUser(ctx, store.UpsertUserParams{TelegramID: 42, FirstName: "Ann", Language: "ru"}); err != nil {
		t.Fatal(err)
	}
	a := &App{store: st, log: slog.New(slog.DiscardHandler)}
	from := &telegram.User{ID: 42, LanguageCode: "en"}
	if got := a.langOf(ctx, from); got != "ru" {
		t.Fatalf("langOf with the database free = %q, want the stored ru", got)
	}

	held, err := pool.Acquire(ctx) // the pool's only connection
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan string, 1)
	start := time.Now()
	go func() { done <- a.langOf(context.WithoutCancel(ctx), from) }()
	select {
	case got := <-done:
		if got != "en" {
			t.Errorf("langOf with the pool exhausted = %q, want the fallback en", got)
		}
		if took := time.Since(start); took > dbLookupTimeout+2*time.Second {
			t.Errorf("langOf took %s, bound is %s", took, dbLookupTimeout)
		}
	case <-time.After(dbLookupTimeout + 10*time.Second):
		t.Error("langOf given a context without a deadline waited on the database with none")
	}
	held.Release()
}
