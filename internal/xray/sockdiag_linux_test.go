package xray

import (
	"errors"
	"io"
	"net"
	"net/netip"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// TestDestroyTCPEndsOnlyMatchingConnections checks the kernel side of
// Disconnect on plain sockets: only server-side connections on the given
// port from the given peer end; the listener, other peers and other ports
// stay. The dual-stack listener
// sees IPv4 peers as IPv4-mapped IPv6 addresses, which must match too.
func TestDestroyTCPEndsOnlyMatchingConnections(t *testing.T) {
	for _, network := range []string{"tcp4", "tcp"} {
		t.Run(network, func(t *testing.T) {
			ln := listen(t, network)
			other := listen(t, network)
			port := uint16(ln.Addr().(*net.TCPAddr).Port)

			victim := connect(t, ln, "127.0.0.2")
			sameIPOtherPort := connect(t, other, "127.0.0.2")
			otherIP := connect(t, ln, "127.0.0.3")

			n, err := destroyTCP([]uint16{port}, []netip.Addr{netip.MustParseAddr("127.0.0.2")})
			if err != nil {
				t.Fatalf("destroyTCP: %v", err)
			}
			if n != 1 {
				t.Errorf("destroyTCP ended %d connections, want 1", n)
			}
			// The kernel resets the peer of the destroyed socket.
			victim.SetReadDeadline(time.Now().Add(5 * time.Second))
			if _, err := victim.Read(make([]byte, 1)); !errors.Is(err, syscall.ECONNRESET) && !errors.Is(err, io.EOF) {
				t.Errorf("the matching connection's client read %v, want a reset", err)
			}
			for name, c := range map[string]net.Conn{"same peer, other port": sameIPOtherPort, "other peer": otherIP} {
				if err := echo(c); err != nil {
					t.Errorf("%s: %v", name, err)
				}
			}
			if err := echo(connect(t, ln, "127.0.0.2")); err != nil {
				t.Errorf("the listener does not take new connections: %v", err)
			}
		})
	}
}

// listen accepts connections and echoes what they send.
func listen(t *testing.T, network string) net.Listener {
	t.Helper()
	addr := "127.0.0.1:0"
	if network == "tcp" {
		addr = "[::]:0" // dual stack
	}
	ln, err := net.Listen(network, addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			t.Cleanup(func() { c.Close() })
			go io.Copy(c, c)
		}
	}()
	return ln
}

// connect dials ln from the loopback address from and waits for the echo,
// so the server side is accepted before the test goes on.
func connect(t *testing.T, ln net.Listener, from string) net.Conn {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}, Timeout: 5 * time.Second}
	c, err := d.Dial("tcp4", net.JoinHostPort("127.0.0.1", strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if err := echo(c); err != nil {
		t.Fatal(err)
	}
	return c
}

func echo(c net.Conn) error {
	c.SetDeadline(time.Now().Add(5 * time.Second))
	defer c.SetDeadline(time.Time{})
	if _, err := c.Write([]byte("x")); err != nil {
		return err
	}
	_, err := io.ReadFull(c, make([]byte, 1))
	return err
}

// TestDestroyTCPEndsIPv6Connections: a native IPv6 connection, which the
// library's SocketDestroy does not take, is ended too.
func TestDestroyTCPEndsIPv6Connections(t *testing.T) {
	ln, err := net.Listen("tcp6", "[::1]:0")
	if err != nil {
		t.Skipf("no IPv6 loopback: %v", err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			t.Cleanup(func() { c.Close() })
			go io.Copy(c, c)
		}
	}()
	c, err := net.DialTimeout("tcp6", ln.Addr().String(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if err := echo(c); err != nil {
		t.Fatal(err)
	}
	n, err := destroyTCP([]uint16{uint16(ln.Addr().(*net.TCPAddr).Port)}, []netip.Addr{netip.IPv6Loopback()})
	if err != nil || n != 1 {
		t.Fatalf("destroyTCP = %d, %v; want 1 connection ended", n, err)
	}
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Read(make([]byte, 1)); !errors.Is(err, syscall.ECONNRESET) && !errors.Is(err, io.EOF) {
		t.Errorf("the client read %v, want a reset", err)
	}
}

// TestDestroyTCPRefusesWithoutListener: a port nothing listens on means
// the caller is not in Xray's network namespace, which must not pass for
// "no session to end".
func TestDestroyTCPRefusesWithoutListener(t *testing.T) {
	ln := listen(t, "tcp4")
	port := uint16(ln.Addr().(*net.TCPAddr).Port)
	ln.Close()
	_, err := destroyTCP([]uint16{port}, []netip.Addr{netip.MustParseAddr("127.0.0.2")})
	if !errors.Is(err, ErrDisconnectDenied) {
		t.Fatalf("destroyTCP on a port nothing listens on: %v, want ErrDisconnectDenied", err)
	}
}
