package circuit_test

import (
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"vpnflow/internal/circuit"
)

// TestTransportOpensOnServerErrorsOnly: answers a system gives (400, 429)
// never trip the breaker; Trips 5xx in a row do, and then requests fail
// without reaching the server.
func TestTransportOpensOnServerErrorsOnly(t *testing.T) {
	var hits atomic.Int64
	var status atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		hits.Add(1)
		w.WriteHeader(int(status.Load()))
	}))
	defer srv.Close()
	b := circuit.New("test", slog.New(slog.NewTextHandler(io.Discard, nil)), circuit.HTTPFailure)
	c := &http.Client{Transport: b.Transport(nil)}
	get := func() (int, error) {
		resp, err := c.Get(srv.URL)
		if err != nil {
			return 0, err
		}
		resp.Body.Close()
		return resp.StatusCode, nil
	}

	for _, code := range []int{400, 429, 400, 429, 400} {
		status.Store(int64(code))
		if got, err := get(); err != nil || got != code {
			t.Fatalf("answer %d came back as %d, %v", code, got, err)
		}
	}
	if b.State() != "closed" {
		t.Fatalf("state %s after refusals, want closed", b.State())
	}
	status.Store(503)
	for i := range circuit.Trips {
		if got, err := get(); err != nil || got != 503 {
			t.Fatalf("503 number %d came back as %d, %v: the caller must still read the answer", i, got, err)
		}
	}
	if b.State() != "open" {
		t.Fatalf("state %s after %d server errors, want open", b.State(), circuit.Trips)
	}
	before := hits.Load()
	_, err := get()
	if !errors.Is(err, circuit.ErrOpen) {
		t.Fatalf("request with the circuit open: %v, want ErrOpen", err)
	}
	if hits.Load() != before {
		t.Error("a request reached the server while the circuit was open")
	}
}
