package e2e

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"vpnflow/internal/accesskey"
	faketg "vpnflow/internal/dev/fake/telegram"
	"vpnflow/internal/vless"
)

// subURL finds the subscription URL in a key message.
var subURL = regexp.MustCompile(`https?://\S+/sub/[A-Za-z0-9_-]{43}`)

// TestSubscriptionURLServesTheKeyXrayServes: a user takes the trial in the
// chat; the key message carries a subscription URL whose QR code is the
// photo; fetched like an app fetches it, the URL gives a vless:// link
// whose UUID is the one Xray serves for the user, and the headers apps
// read. After "New key" the old URL is gone and the new key message's URL
// serves the new key.
func TestSubscriptionURLServesTheKeyXrayServes(t *testing.T) {
	s := startShop(t, nil)
	s.runInProcess()
	ctx := context.Background()

	u := s.register("Uma")
	s.press(u, "trial")
	first := s.waitFor(u, 0, "the trial key", isKey)
	url := subURL.FindString(first.Caption)
	if url == "" || !strings.HasPrefix(url, s.cfg.SubscriptionBaseURL+"/sub/") {
		t.Fatalf("no subscription URL under %s in the key message:\n%s", s.cfg.SubscriptionBaseURL, first.Caption)
	}
	if qr, _ := accesskey.QR(url); !bytes.Equal(first.Photo, qr) {
		t.Error("the key message's photo is not the QR code of its subscription URL")
	}

	id := s.fetchKey(url)
	sub, err := s.store.GetSubscription(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	s.eventually("xray serves the key the URL gives", func() error { return s.xrayServes(sub.XrayEmail, id) })
	if !strings.Contains(first.Caption, "vless://"+id+"@") {
		t.Errorf("the key message's vless:// link is not the key the URL serves")
	}

	// A new key: the old URL stops, the new one serves the new key.
	s.say(u, "/sub")
	s.waitFor(u, first.ID, "My subscription", isKey)
	before := s.lastID(u)
	s.press(u, "New key")
	second := s.waitFor(u, before, "the reissued key", func(m faketg.Message) bool {
		return isKey(m) && strings.Contains(m.Caption, "key is ready")
	})
	newURL := subURL.FindString(second.Caption)
	if newURL == "" || newURL == url {
		t.Fatalf("the reissued key message's URL %q, want a new one", newURL)
	}
	if status, _ := s.fetch(url); status != http.StatusNotFound {
		t.Errorf("the old URL after the reissue: %d, want 404", status)
	}
	newID := s.fetchKey(newURL)
	if newID == id {
		t.Fatal("the new URL serves the old key")
	}
	sub, err = s.store.GetSubscription(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	s.eventually("xray serves the reissued key", func() error { return s.xrayServes(sub.XrayEmail, newID) })
}

// fetch GETs a subscription URL as an app does.
func (s *shopEnv) fetch(url string) (int, http.Header) {
	s.t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, resp.Header
}

// fetchKey GETs a subscription URL, checks the headers apps read, decodes
// the base64 list and returns the UUID of its one link.
func (s *shopEnv) fetchKey(url string) string {
	s.t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		s.t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		s.t.Fatalf("GET %s: %d %s", url, resp.StatusCode, body)
	}
	for _, h := range []string{"subscription-userinfo", "profile-update-interval", "profile-title"} {
		if resp.Header.Get(h) == "" {
			s.t.Errorf("GET %s: no %s header", url, h)
		}
	}
	raw, err := base64.StdEncoding.DecodeString(string(body))
	if err != nil {
		s.t.Fatalf("GET %s: body is not base64: %v", url, err)
	}
	lines := strings.Split(string(raw), "\n")
	if len(lines) != 1 {
		s.t.Fatalf("GET %s: %d links, want the one node's", url, len(lines))
	}
	l, err := vless.Parse(lines[0])
	if err != nil {
		s.t.Fatal(err)
	}
	if l.Host != s.cfg.VLESSHost || l.Port != s.cfg.VLESSPort || l.PublicKey != s.cfg.VLESSRealityPubKey {
		s.t.Errorf("link points at %s:%d (pbk %s), want the stack's Xray %s:%d", l.Host, l.Port, l.PublicKey, s.cfg.VLESSHost, s.cfg.VLESSPort)
	}
	return l.UUID
}

// xrayServes says whether Xray holds the UUID under the email.
func (s *shopEnv) xrayServes(email, id string) error {
	users, err := s.xray.ListUsers(context.Background())
	if err != nil {
		return err
	}
	for _, u := range users {
		if u.Email == email {
			if u.UUID != id {
				return fmt.Errorf("xray serves another key under %s", email)
			}
			return nil
		}
	}
	return fmt.Errorf("%s not in xray", email)
}
