// Package cryptopay is a client for Crypto Pay, the payment API of
// @CryptoBot (https://help.crypt.bot/crypto-pay-api): creating invoices,
// reading them back, and verifying the webhooks it sends when one is paid.
//
// The API token authenticates both our calls and Crypto Pay's webhooks, so
// it never appears in an error or a log line.
package cryptopay

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

const (
	// MainnetURL and TestnetURL are the API roots of the real service.
	MainnetURL = "https://pay.crypt.bot/api"
	TestnetURL = "https://testnet-pay.crypt.bot/api"

	// DefaultTimeout bounds a request whose context has a later deadline or
	// none, so a stalled connection cannot hold an activity forever.
	DefaultTimeout = 15 * time.Second

	// TokenHeader carries the app's API token on every call.
	TokenHeader = "Crypto-Pay-API-Token"

	// maxResponseBytes caps what we read of a response: getInvoices returns
	// at most 1000 invoices of a few KiB each.
	maxResponseBytes = 16 << 20
)

// Client calls one Crypto Pay app. It is safe for concurrent use.
type Client struct {
	baseURL string
	token   string
	hc      *http.Client
	timeout time.Duration
}

// New returns a client for the API rooted at baseURL (MainnetURL,
// TestnetURL or a stand-in's URL) authenticated by token. A nil hc means
// http.DefaultClient; requests are bounded by DefaultTimeout either way.
func New(baseURL, token string, hc *http.Client) *Client {
	if hc == nil {
		hc = http.DefaultClient
	}
	return &Client{
		baseURL: strings.TrimRight(baseURL, "/"),
		token:   token,
		hc:      hc,
		timeout: DefaultTimeout,
	}
}

// WithTimeout returns a copy of c whose requests are bounded by d instead of
// DefaultTimeout. The context's deadline still applies when it is earlier.
func (c *Client) WithTimeout(d time.Duration) *Client {
	cp := *c
	if d > 0 {
		cp.timeout = d
	}
	return &cp
}

// Me describes the app the token belongs to.
type Me struct {
	AppID                        int64  `json:"app_id"`
	Name                         string `json:"name"`
	PaymentProcessingBotUsername string `json:"payment_processing_bot_username"`
}

// GetMe checks the token and returns the app it belongs to.
func (c *Client) GetMe(ctx context.Context) (Me, error) {
	var me Me
	if err := c.call(ctx, "getMe", nil, &me); err != nil {
		return Me{}, err
	}
	return me, nil
}

// envelope is the shape of every API response.
type envelope struct {
	OK     bool            `json:"ok"`
	Result json.RawMessage `json:"result"`
	Error  json.RawMessage `json:"error"`
}

// call invokes method: a GET when params is nil, otherwise a POST with
// params as JSON. The result is decoded into out when out is not nil.
func (c *Client) call(ctx context.Context, method string, params, out any) error {
	if err := c.do(ctx, method, params, out); err != nil {
		return fmt.Errorf("cryptopay %s: %w", method, err)
	}
	return nil
}

func (c *Client) do(ctx context.Context, method string, params, out any) error {
	if c.token == "" {
		return errors.New("no API token configured")
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()

	httpMethod := http.MethodGet
	var body io.Reader
	if params != nil {
		b, err := json.Marshal(params)
		if err != nil {
			return fmt.Errorf("encode params: %w", err)
		}
		httpMethod = http.MethodPost
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, httpMethod, c.baseURL+"/"+method, body)
	if err != nil {
		return fmt.Errorf("build request: %w", err)
	}
	req.Header.Set(TokenHeader, c.token)
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}

	resp, err := c.hc.Do(req)
	if err != nil {
		return &transportError{err: err}
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes+1))
	if err != nil {
		return &transportError{err: fmt.Errorf("read response: %w", err)}
	}
	if len(raw) > maxResponseBytes {
		return fmt.Errorf("response larger than %d bytes", maxResponseBytes)
	}

	var env envelope
	if err := json.Unmarshal(raw, &env); err != nil {
		if resp.StatusCode < 200 || resp.StatusCode > 299 {
			// A proxy's HTML error page, typically: the status says enough.
			return &APIError{Status: resp.StatusCode}
		}
		return fmt.Errorf("decode response (HTTP %d): %w", resp.StatusCode, err)
	}
	if !env.OK || resp.StatusCode < 200 || resp.StatusCode > 299 {
		return newAPIError(resp.StatusCode, env.Error)
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(env.Result, out); err != nil {
		return fmt.Errorf("decode result: %w", err)
	}
	return nil
}
