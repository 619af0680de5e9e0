package sandboxgate_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	faketg "vpnflow/internal/dev/fake/telegram"
	"vpnflow/internal/dev/testenv"
	"vpnflow/internal/sandboxgate"
)

func TestIsStandInToken(t *testing.T) {
	for token, want := range map[string]bool{
		"7123456789:AAH4k2lQvWzX9yT3bN8mP5rS1uV6wE0qJ7c": false,
		"123456:ABC-DEF1234ghIkl-zyx57W2v1u123ew11":      false,
		faketg.DefaultToken:                              true,
		"":                                               false,
		"sandbox":                                        false,
		"7000000001:sandbox/../x":                        false,
	} {
		if got := sandboxgate.IsStandInToken(token); got != want {
			t.Errorf("IsStandInToken(%q) = %v, want %v", token, got, want)
		}
	}
}

func TestCheck(t *testing.T) {
	fake := testenv.Telegram(t)
	if err := sandboxgate.Check(context.Background(), fake.URL(), fake.Token(), nil); err != nil {
		t.Errorf("the stand-in is refused: %v", err)
	}

	answer := func(status int, body string) *httptest.Server {
		return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(status)
			w.Write([]byte(body))
		}))
	}
	for name, srv := range map[string]*httptest.Server{
		"telegram's 404":    answer(404, `{"ok":false,"error_code":404,"description":"Not Found"}`),
		"another marker":    answer(200, `{"ok":true,"result":{"marker":"something else"}}`),
		"ok without marker": answer(200, `{"ok":true,"result":true}`),
		"not the bot api":   answer(200, `<html>hello</html>`),
	} {
		if err := sandboxgate.Check(context.Background(), srv.URL, fake.Token(), nil); err == nil {
			t.Errorf("%s: accepted as the stand-in", name)
		}
		srv.Close()
	}

	// Even the stand-in is refused with a token of a real bot's form.
	realLike, err := faketg.New(faketg.Options{Token: "7123456789:AAH4k2lQvWzX9yT3bN8mP5rS1uV6wE0qJ7c"})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(realLike.Handler())
	defer srv.Close()
	if err := sandboxgate.Check(context.Background(), srv.URL, realLike.Token(), nil); err == nil {
		t.Error("a real bot token's form is accepted")
	}
}

// A server that never answers does not hold the start-up for long.
func TestCheckIsBounded(t *testing.T) {
	stop := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { <-stop }))
	defer srv.Close()
	defer close(stop)
	start := time.Now()
	if err := sandboxgate.Check(context.Background(), srv.URL, faketg.DefaultToken, nil); err == nil {
		t.Fatal("a silent server is accepted")
	}
	if took := time.Since(start); took > sandboxgate.Timeout+2*time.Second {
		t.Errorf("the check took %s, bound %s", took, sandboxgate.Timeout)
	}
}
