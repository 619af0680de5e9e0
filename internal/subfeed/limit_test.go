package subfeed

import (
	"net/http/httptest"
	"testing"
	"time"
)

// TestLimiterMemoryIsBounded: a flood of distinct keys never holds more
// buckets than the cap, and a key's bucket still empties and refills.
func TestLimiterMemoryIsBounded(t *testing.T) {
	l := newKeyedLimiter(Rate{Every: time.Minute, Burst: 1}, 10)
	now := time.Unix(1_000_000, 0)
	for i := range 1000 {
		l.allow(string(rune('a'+i%26))+string(rune(i)), now)
		if len(l.buckets) > 10 {
			t.Fatalf("%d buckets after %d keys, cap 10", len(l.buckets), i+1)
		}
	}
	if ok, _ := l.allow("k", now); !ok {
		t.Fatal("first request of a key refused")
	}
	ok, wait := l.allow("k", now)
	if ok || wait <= 0 || wait > time.Minute {
		t.Fatalf("second request: allowed %v, wait %s; want refused for up to a minute", ok, wait)
	}
	if ok, _ := l.allow("k", now.Add(time.Minute)); !ok {
		t.Fatal("refused after the bucket refilled")
	}
}

func TestClientKey(t *testing.T) {
	for _, c := range []struct {
		header, value, remote, want string
	}{
		{"", "", "192.0.2.7:5555", "192.0.2.7"},
		{"", "", "[2001:db8:a:b:c::1]:443", "2001:db8:a:b::/64"},
		{"", "", "[::ffff:192.0.2.9]:443", "192.0.2.9"},
		{"X-Forwarded-For", "10.0.0.1, 198.51.100.4", "127.0.0.1:1", "198.51.100.4"},
		{"X-Forwarded-For", "", "127.0.0.1:1", "127.0.0.1"},
		{"X-Real-Ip", "2001:db8::5", "127.0.0.1:1", "2001:db8::/64"},
	} {
		r := httptest.NewRequest("GET", "/sub/x", nil)
		r.RemoteAddr = c.remote
		if c.value != "" {
			r.Header.Set(c.header, c.value)
		}
		if got := clientKey(r, c.header); got != c.want {
			t.Errorf("%s: %q from %s: key %q, want %q", c.header, c.value, c.remote, got, c.want)
		}
	}
}
