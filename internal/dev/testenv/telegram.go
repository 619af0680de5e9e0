package testenv

import (
	"testing"

	faketg "vpnflow/internal/dev/fake/telegram"
)

// Telegram starts a Telegram stand-in of the test's own on a free loopback
// port (its URL is the Bot API base, its Token the bot's); it stops when
// the test ends.
func Telegram(tb testing.TB) *faketg.Server {
	tb.Helper()
	srv, err := faketg.New(faketg.Options{})
	if err != nil {
		tb.Fatalf("telegram stand-in: %v", err)
	}
	if err := srv.Start("127.0.0.1:0"); err != nil {
		tb.Fatalf("telegram stand-in: %v", err)
	}
	tb.Cleanup(func() { srv.Close() })
	return srv
}
