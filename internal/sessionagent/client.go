package sessionagent

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"vpnflow/internal/xray"
)

// ErrUnavailable: the agent did not answer, or its node's Xray did not;
// trying again can help.
var ErrUnavailable = errors.New("session agent unavailable")

// ErrUnauthorized: the agent refused the worker's SESSION_AGENT_TOKEN (or
// the worker has none). An operator's to fix; trying again cannot help.
var ErrUnauthorized = errors.New("session agent refused the token")

// CallTimeout bounds one call when the caller's context does not: a sweep's
// page looks each key up in Xray before ending anything.
const CallTimeout = time.Minute

// Client calls one node's agent. It is safe for concurrent use.
type Client struct {
	base  string
	token string
	http  *http.Client
}

// NewClient is a client of the agent at base (http or https URL, no path:
// a node row's agent URL, checked when it was written) calling with token.
func NewClient(base, token string) (*Client, error) {
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("session agent url %q: not an http(s) URL", base)
	}
	return &Client{base: strings.TrimSuffix(base, "/"), token: token, http: &http.Client{}}, nil
}

// DisconnectUsers asks the agent to end the sessions of keys just removed
// from its node's Xray (xray.Client.DisconnectUsers there). Errors wrap
// xray.ErrDisconnectDenied, xray.ErrOnlineStatsOff or xray.ErrInvalidEmail
// as the local call's would, ErrUnauthorized, or ErrUnavailable.
func (c *Client) DisconnectUsers(ctx context.Context, emails []string) (xray.Disconnected, error) {
	body, err := json.Marshal(EndRequest{Emails: emails})
	if err != nil {
		return xray.Disconnected{}, fmt.Errorf("encode end-sessions request: %w", err)
	}
	var res EndResponse
	if err := c.call(ctx, http.MethodPost, PathEndSessions, body, &res); err != nil {
		return xray.Disconnected{}, fmt.Errorf("end sessions of %d keys through %s: %w", len(emails), c.base, err)
	}
	return xray.Disconnected{IPs: res.IPs, Connections: res.Connections, Present: res.Present}, nil
}

// CheckDisconnect asks whether the agent can end sessions on its node
// (xray.Client.CheckDisconnect there).
func (c *Client) CheckDisconnect(ctx context.Context) error {
	if err := c.call(ctx, http.MethodGet, PathCheck, nil, nil); err != nil {
		return fmt.Errorf("check session agent %s: %w", c.base, err)
	}
	return nil
}

func (c *Client) call(ctx context.Context, method, path string, body []byte, out any) error {
	if c.token == "" {
		return fmt.Errorf("%w: SESSION_AGENT_TOKEN is not set", ErrUnauthorized)
	}
	ctx, cancel := context.WithTimeout(ctx, CallTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		// The message names the URL, never the token (it is in a header).
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return fmt.Errorf("%w: read answer: %w", ErrUnavailable, err)
	}
	if resp.StatusCode == http.StatusOK {
		if out == nil {
			return nil
		}
		if err := json.Unmarshal(raw, out); err != nil {
			return fmt.Errorf("%w: answer is not JSON: %w", ErrUnavailable, err)
		}
		return nil
	}
	var f Failure
	if json.Unmarshal(raw, &f) != nil || f.Reason == "" {
		// Not the agent's own answer (a proxy's, a crash).
		return fmt.Errorf("%w: HTTP %d", ErrUnavailable, resp.StatusCode)
	}
	switch f.Reason {
	case ReasonUnauthorized:
		return ErrUnauthorized
	case ReasonDenied:
		return fmt.Errorf("%w: %s", xray.ErrDisconnectDenied, f.Error)
	case ReasonOnlineStatsOff:
		return fmt.Errorf("%w: %s", xray.ErrOnlineStatsOff, f.Error)
	case ReasonInvalid:
		return fmt.Errorf("%w: %s", xray.ErrInvalidEmail, f.Error)
	}
	if f.Retryable {
		return fmt.Errorf("%w: %s", ErrUnavailable, f.Error)
	}
	return fmt.Errorf("node's xray: %s", f.Error)
}
