package chaos

import (
	"bufio"
	"net"
	"testing"
	"time"
)

// TestSlowProxyDelaysEachRoundTrip: through the proxy an echo round trip
// takes at least two delays once one is set, and none before.
func TestSlowProxyDelaysEachRoundTrip(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				r := bufio.NewReader(c)
				for {
					line, err := r.ReadString('\n')
					if err != nil {
						c.Close()
						return
					}
					c.Write([]byte(line))
				}
			}()
		}
	}()
	p, err := startSlowProxy(ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	c, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	r := bufio.NewReader(c)
	roundTrip := func() time.Duration {
		start := time.Now()
		if _, err := c.Write([]byte("ping\n")); err != nil {
			t.Fatal(err)
		}
		if line, err := r.ReadString('\n'); err != nil || line != "ping\n" {
			t.Fatalf("echo = %q, %v", line, err)
		}
		return time.Since(start)
	}
	if d := roundTrip(); d > 100*time.Millisecond {
		t.Errorf("round trip without delay took %s", d)
	}
	p.SetDelay(60 * time.Millisecond)
	if d := roundTrip(); d < 120*time.Millisecond {
		t.Errorf("round trip with a 60 ms delay took %s, want at least 120 ms", d)
	}
	p.SetDelay(0)
	if d := roundTrip(); d > 100*time.Millisecond {
		t.Errorf("round trip after the delay was lifted took %s", d)
	}
}
