// Package sandboxgate decides whether the sandbox-only commands may run:
// only against vpnflow's own Telegram stand-in (internal/dev/fake/telegram),
// never against Telegram or a Bot API server speaking for a real bot. A
// loopback URL is not enough — a legitimate local Bot API server is on
// loopback too — so the bot token must have the stand-in's form, and the
// server must answer a method no real Bot API server has.
//
// Processes decide once, at start, with a bounded wait, and log why when
// they refuse.
package sandboxgate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"
)

// Method is the Bot API method only the stand-in serves.
const Method = "vpnflowSandbox"

// Marker is the stand-in's answer to Method.
const Marker = "vpnflow-telegram-stand-in"

// Answer is the result the stand-in returns for Method.
type Answer struct {
	Marker string `json:"marker"`
}

// Timeout bounds the whole check.
const Timeout = 5 * time.Second

// standInToken is the form of the stand-in's tokens: "<bot id>:" and a
// secret that says it is a sandbox token (internal/dev/fake/telegram's
// DefaultToken is one). The secret of a token @BotFather issues is random;
// it does not spell "sandbox".
var standInToken = regexp.MustCompile(`^[0-9]+:[A-Za-z0-9_-]*sandbox[A-Za-z0-9_-]*$`)

// IsStandInToken reports whether token has the stand-in's form.
func IsStandInToken(token string) bool { return standInToken.MatchString(token) }

// Check returns nil when the Bot API at apiURL is vpnflow's stand-in, and
// otherwise why not. It never takes longer than Timeout.
func Check(ctx context.Context, apiURL, token string, hc *http.Client) error {
	if !IsStandInToken(token) {
		return errors.New("the bot token is not a stand-in token (<id>:…sandbox…); it may be a real bot's")
	}
	if hc == nil {
		hc = http.DefaultClient
	}
	ctx, cancel := context.WithTimeout(ctx, Timeout)
	defer cancel()
	endpoint := strings.TrimRight(apiURL, "/") + "/bot" + token + "/" + Method
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, strings.NewReader("{}"))
	if err != nil {
		return fmt.Errorf("build %s request: %w", Method, err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := hc.Do(req)
	if err != nil {
		// The request URL holds the token; say where without it.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return fmt.Errorf("ask %s for %s: %w", apiURL, Method, err)
	}
	defer resp.Body.Close()
	var body struct {
		OK          bool   `json:"ok"`
		Description string `json:"description"`
		Result      Answer `json:"result"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 64<<10)).Decode(&body); err != nil {
		return fmt.Errorf("%s at %s: status %d, not a Bot API answer", Method, apiURL, resp.StatusCode)
	}
	if !body.OK {
		return fmt.Errorf("%s at %s: status %d, %q: not the vpnflow stand-in", Method, apiURL, resp.StatusCode, body.Description)
	}
	if body.Result.Marker != Marker {
		return fmt.Errorf("%s at %s: marker %q, want %q", Method, apiURL, body.Result.Marker, Marker)
	}
	return nil
}
