package subfeed_test

import (
	"net/http"
	"testing"
	"time"

	"vpnflow/internal/subfeed"
	"vpnflow/internal/vless"
)

// TestExpiredOrBlockedGetsAnEmptyProfileSayingWhy: an expired or banned
// user's app gets 200, an empty list, all the headers, and a title in the
// user's language that says why; so does a row still marked live past its
// expiry (a missed expiry), whose key must not be served either.
func TestExpiredOrBlockedGetsAnEmptyProfileSayingWhy(t *testing.T) {
	e := newFeedEnv(t, testConfig(t), subfeed.Options{})
	expired, expiredRU, banned, overdue := e.trial(201, "en"), e.trial(202, "ru"), e.trial(203, "en"), e.trial(204, "en")
	for _, id := range []int64{201, 202} {
		if _, err := e.store.ExpireSubscription(e.ctx, id, time.Now().Add(100*time.Hour)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := e.store.SetBanned(e.ctx, 203, true); err != nil {
		t.Fatal(err)
	}
	if _, err := e.pool.Exec(e.ctx, `UPDATE subscriptions SET expires_at = now() - interval '1 minute' WHERE user_id = 204`); err != nil {
		t.Fatal(err)
	}

	for _, c := range []struct {
		name, token, title string
	}{
		{"expired", expired.URLToken, "Expired · vpnflow"},
		{"expired, in Russian", expiredRU.URLToken, "Истекла · vpnflow"},
		{"banned", banned.URLToken, "Blocked · vpnflow"},
		{"live past its expiry", overdue.URLToken, "Expired · vpnflow"},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := e.fetch(c.token)
			if r.status != http.StatusOK {
				t.Fatalf("status %d, want 200", r.status)
			}
			if got := links(t, r.body); len(got) != 0 {
				t.Fatalf("links %q, want none", got)
			}
			if got := title(t, r.header); got != c.title {
				t.Errorf("title %q, want %q", got, c.title)
			}
			userInfo(t, r.header) // present and well-formed
			for _, h := range []string{"profile-update-interval", "support-url", "profile-web-page-url", "content-disposition"} {
				if r.header.Get(h) == "" {
					t.Errorf("%s missing", h)
				}
			}
			if plain := e.get("/sub/"+c.token+"?format=plain", ""); plain.status != http.StatusOK || plain.body != "" {
				t.Errorf("format=plain: %d %q, want 200 and nothing", plain.status, plain.body)
			}
		})
	}
}

// TestReissueRotatesTheURL: after a key is reissued (the store's commit,
// as the Subscription workflow's activity runs it), the old URL is a 404
// and the new one serves the new key.
func TestReissueRotatesTheURL(t *testing.T) {
	e := newFeedEnv(t, testConfig(t), subfeed.Options{})
	old := e.trial(301, "en")
	if r := e.fetch(old.URLToken); r.status != http.StatusOK {
		t.Fatalf("before the reissue: %d", r.status)
	}
	newKey, err := e.store.BeginReissue(e.ctx, 301)
	if err != nil {
		t.Fatal(err)
	}
	// Until the commit the old URL serves the old key.
	if l := links(t, e.fetch(old.URLToken).body); len(l) != 1 || mustParse(t, l[0]).UUID != old.VLESSUUID.String() {
		t.Fatalf("during the reissue: %q", l)
	}
	if err := e.store.CommitReissueAs(e.ctx, 301, "tg301-2@"+domain); err != nil {
		t.Fatal(err)
	}
	if r := e.fetch(old.URLToken); r.status != http.StatusNotFound {
		t.Fatalf("old URL after the reissue: %d, want 404", r.status)
	}
	cur, err := e.store.GetSubscription(e.ctx, 301)
	if err != nil {
		t.Fatal(err)
	}
	r := e.fetch(cur.URLToken)
	if r.status != http.StatusOK {
		t.Fatalf("new URL: %d", r.status)
	}
	if l := links(t, r.body); len(l) != 1 || mustParse(t, l[0]).UUID != newKey.String() {
		t.Fatalf("new URL serves %q, want the reissued key", l)
	}
}

func mustParse(t *testing.T, link string) vless.Link {
	t.Helper()
	l, err := vless.Parse(link)
	if err != nil {
		t.Fatal(err)
	}
	return l
}
