package store_test

import (
	"regexp"
	"testing"
	"time"

	"vpnflow/internal/store"
)

// TestFeedByTokenFollowsTheKey: a new subscription gets a token of its own;
// the token finds the user's key and node; a committed reissue gives a new
// token in the same transaction, and the old one then finds nothing.
func TestFeedByTokenFollowsTheKey(t *testing.T) {
	e := newEnv(t)
	e.user(1, "aaaaaa")
	e.user(2, "bbbbbb")
	sub, err := e.s.StartTrial(e.ctx, 1, 72*time.Hour, domain)
	if err != nil {
		t.Fatal(err)
	}
	other, err := e.s.StartTrial(e.ctx, 2, 72*time.Hour, domain)
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^[A-Za-z0-9_-]{43}$`).MatchString(sub.URLToken) || sub.URLToken == other.URLToken {
		t.Fatalf("tokens %q and %q: want two different 43-character base64url tokens", sub.URLToken, other.URLToken)
	}

	f, err := e.s.FeedByToken(e.ctx, sub.URLToken)
	if err != nil {
		t.Fatal(err)
	}
	if f.UserID != 1 || f.VLESSUUID != sub.VLESSUUID || f.Status != "trial" || !f.ExpiresAt.Equal(sub.ExpiresAt) || f.Language != "en" {
		t.Fatalf("feed %v uuid match %v, want user 1's trial", f, f.VLESSUUID == sub.VLESSUUID)
	}
	if len(f.Nodes) != 1 || f.Nodes[0].ID != e.node || f.Nodes[0].Host != "vpn.example" || f.Nodes[0].Port != 443 {
		t.Fatalf("nodes %+v, want the one node %d", f.Nodes, e.node)
	}
	if _, err := e.s.FeedByToken(e.ctx, store.NewURLToken()); !errorIs(err, store.ErrNotFound) {
		t.Fatalf("unknown token: err = %v, want ErrNotFound", err)
	}

	pending, err := e.s.BeginReissue(e.ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.s.CommitReissueAs(e.ctx, 1, "tg1-2@"+domain); err != nil {
		t.Fatal(err)
	}
	after, err := e.s.GetSubscription(e.ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	if after.URLToken == sub.URLToken {
		t.Fatal("the reissue kept the URL token")
	}
	if _, err := e.s.FeedByToken(e.ctx, sub.URLToken); !errorIs(err, store.ErrNotFound) {
		t.Fatalf("old token after the reissue: err = %v, want ErrNotFound", err)
	}
	f, err = e.s.FeedByToken(e.ctx, after.URLToken)
	if err != nil {
		t.Fatal(err)
	}
	if f.VLESSUUID != pending {
		t.Fatal("the new token does not serve the reissued key")
	}
	// A retried commit changes nothing, the token included.
	if err := e.s.CommitReissueAs(e.ctx, 1, "tg1-2@"+domain); err != nil {
		t.Fatal(err)
	}
	if again, _ := e.s.GetSubscription(e.ctx, 1); again.URLToken != after.URLToken {
		t.Fatal("a retried commit rotated the token again")
	}
}
