package testenv_test

import (
	"context"
	"testing"

	"vpnflow/internal/dev/testenv"
	"vpnflow/internal/xray"
)

func uptime(t *testing.T, addr, tag string) error {
	t.Helper()
	c, err := xray.Dial(addr, tag, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_, err = c.Uptime(context.Background())
	return err
}

func TestXrayIsSharedAndAnswers(t *testing.T) {
	a, b := testenv.Xray(t), testenv.Xray(t)
	if a != b {
		t.Fatal("Xray started a second shared instance")
	}
	if err := uptime(t, a.APIAddr, a.InboundTag); err != nil {
		t.Fatalf("shared Xray API: %v", err)
	}
}

func TestNewXrayIsOwnAndStoppedAfterTest(t *testing.T) {
	var addr string
	t.Run("own", func(t *testing.T) {
		s := testenv.NewXray(t)
		if s == testenv.Xray(t) || s.APIAddr == testenv.Xray(t).APIAddr {
			t.Fatal("NewXray returned the shared instance")
		}
		addr = s.APIAddr
		if err := uptime(t, addr, s.InboundTag); err != nil {
			t.Fatalf("own Xray API: %v", err)
		}
	})
	if err := uptime(t, addr, "vless-in"); err == nil {
		t.Fatal("the test's own Xray still answers after the test ended")
	} else if !xray.IsRetryable(err) {
		t.Fatalf("a stopped Xray gave a non-retryable error: %v", err)
	}
}
