package sessionagent_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"vpnflow/internal/sessionagent"
	"vpnflow/internal/xray"
)

// scripted answers as the node's Xray client would; the real client is
// exercised through the agent in activities' TestSessionsOfANodeWithAnAgentAreEndedThroughIt.
type scripted struct {
	err    error
	emails []string
}

func (s *scripted) DisconnectUsers(_ context.Context, emails []string) (xray.Disconnected, error) {
	s.emails = emails
	if s.err != nil {
		return xray.Disconnected{}, s.err
	}
	return xray.Disconnected{IPs: []netip.Addr{netip.MustParseAddr("203.0.113.7")}, Connections: 2, Present: []string{"b@vpnflow"}}, nil
}

func (s *scripted) CheckDisconnect(context.Context) error { return s.err }

const token = "0123456789abcdef0123456789abcdef"

// The worker's client and the agent agree on the wire: the result comes
// back whole, and each kind of failure comes back as the error the local
// call would give, so the worker sorts it the same way: the operator's
// (denied, online stats off, wrong token) or for now (Xray or the agent
// away).
func TestAgentAnswersAsTheLocalCallWould(t *testing.T) {
	x := &scripted{}
	srv := httptest.NewServer(sessionagent.NewServer(x, token, nil).Handler())
	t.Cleanup(srv.Close)
	c, err := sessionagent.NewClient(srv.URL, token)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	d, err := c.DisconnectUsers(ctx, []string{"a@vpnflow", "b@vpnflow"})
	if err != nil || d.Connections != 2 || len(d.IPs) != 1 || d.IPs[0].String() != "203.0.113.7" || len(d.Present) != 1 {
		t.Fatalf("DisconnectUsers = %+v, %v", d, err)
	}
	if strings.Join(x.emails, ",") != "a@vpnflow,b@vpnflow" {
		t.Fatalf("the agent was asked for %v", x.emails)
	}
	if err := c.CheckDisconnect(ctx); err != nil {
		t.Fatalf("CheckDisconnect: %v", err)
	}

	for _, tc := range []struct {
		name      string
		err       error
		is        error
		retryable bool
	}{
		{"no CAP_NET_ADMIN", fmt.Errorf("check: %w", xray.ErrDisconnectDenied), xray.ErrDisconnectDenied, false},
		{"online stats off", xray.ErrOnlineStatsOff, xray.ErrOnlineStatsOff, false},
		{"xray away", status.Error(codes.Unavailable, "connection refused"), sessionagent.ErrUnavailable, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			x.err = tc.err
			_, err := c.DisconnectUsers(ctx, []string{"a@vpnflow"})
			if !errors.Is(err, tc.is) || xray.IsRetryable(err) && !tc.retryable {
				t.Errorf("DisconnectUsers: %v, want %v", err, tc.is)
			}
			if err := c.CheckDisconnect(ctx); !errors.Is(err, tc.is) {
				t.Errorf("CheckDisconnect: %v, want %v", err, tc.is)
			}
		})
	}
	x.err = nil

	wrong, _ := sessionagent.NewClient(srv.URL, strings.Repeat("x", len(token)))
	if _, err := wrong.DisconnectUsers(ctx, []string{"a@vpnflow"}); !errors.Is(err, sessionagent.ErrUnauthorized) {
		t.Errorf("a wrong token: %v, want ErrUnauthorized", err)
	}
	none, _ := sessionagent.NewClient(srv.URL, "")
	if err := none.CheckDisconnect(ctx); !errors.Is(err, sessionagent.ErrUnauthorized) || !strings.Contains(err.Error(), "SESSION_AGENT_TOKEN") {
		t.Errorf("no token: %v, want ErrUnauthorized naming the variable", err)
	}
	if _, err := c.DisconnectUsers(ctx, nil); !errors.Is(err, xray.ErrInvalidEmail) {
		t.Errorf("no keys: %v, want a bad request", err)
	}
	for _, body := range []string{`{"emails": "a"}`, `{"emails": ["a"], "extra": 1}`, `not json`} {
		req, _ := http.NewRequest(http.MethodPost, srv.URL+sessionagent.PathEndSessions, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("body %s: HTTP %d, want 400", body, resp.StatusCode)
		}
	}

	// Something else answering on the agent's address (a proxy with the
	// agent down), or nothing at all: for now, tried again.
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "bad gateway", http.StatusBadGateway)
	}))
	t.Cleanup(proxy.Close)
	pc, _ := sessionagent.NewClient(proxy.URL, token)
	if err := pc.CheckDisconnect(ctx); !errors.Is(err, sessionagent.ErrUnavailable) {
		t.Errorf("a proxy's 502: %v, want ErrUnavailable", err)
	}
	srv.Close()
	if _, err := c.DisconnectUsers(ctx, []string{"a@vpnflow"}); !errors.Is(err, sessionagent.ErrUnavailable) || strings.Contains(err.Error(), token) {
		t.Errorf("the agent down: %v, want ErrUnavailable without the token", err)
	}
}
