package botapp

import (
	"testing"
	"time"
)

func TestParseSandboxExpiry(t *testing.T) {
	for in, want := range map[string]time.Duration{
		"2m": 2 * time.Minute, " 1h30m ": 90 * time.Minute, "5": 5 * time.Minute, "24h": 24 * time.Hour, "60s": time.Minute,
	} {
		if got, err := parseSandboxExpiry(in); err != nil || got != want {
			t.Errorf("parseSandboxExpiry(%q) = %s, %v; want %s", in, got, err, want)
		}
	}
	for _, in := range []string{"", "soon", "30s", "0", "-2m", "25h", "1441", "99999999999999999999", "2m extra"} {
		if got, err := parseSandboxExpiry(in); err == nil {
			t.Errorf("parseSandboxExpiry(%q) = %s, want an error", in, got)
		}
	}
}
