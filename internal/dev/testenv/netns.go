package testenv

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Netns is a network namespace of the test's own, joined to the test's
// namespace by a veth pair: a node "on another machine" whose connections
// the test's process cannot see in its kernel tables, yet reaches over
// NodeIP as a worker reaches a remote node.
type Netns struct {
	Name   string
	HostIP string // the test's end of the pair
	NodeIP string // the namespace's end
}

// netnsPrefix names the namespaces tests make, so that one a killed test
// left behind can be told from an operator's.
const netnsPrefix = "vpnflow-test-"

// NewNetns makes a network namespace with its loopback up and a veth pair
// to this one on 10.213.N.0/24 (host .1, namespace .2), and deletes it
// when the test ends. It needs root (CAP_SYS_ADMIN and CAP_NET_ADMIN), as
// the session tests run in CI, and the ip command (iproute2); without
// them the test fails saying so.
func NewNetns(tb testing.TB) *Netns {
	tb.Helper()
	if _, err := exec.LookPath("ip"); err != nil {
		tb.Fatalf("testenv: a network namespace needs the ip command (Debian: apt-get install iproute2): %v", err)
	}
	// The namespace's name holds its subnet, so the name is the lock on
	// it: two test binaries never take the same subnet.
	var n *Netns
	for attempt := 0; n == nil; attempt++ {
		if attempt == 20 {
			tb.Fatal("testenv: no free 10.213.N.0/24 for a network namespace after 20 tries")
		}
		sub := 1 + rand.IntN(250)
		name := fmt.Sprintf("%s%d", netnsPrefix, sub)
		if err := ip("netns", "add", name); err != nil {
			if stale(name) {
				_ = ip("netns", "del", name)
			}
			continue
		}
		n = &Netns{Name: name, HostIP: fmt.Sprintf("10.213.%d.1", sub), NodeIP: fmt.Sprintf("10.213.%d.2", sub)}
		tb.Cleanup(func() { _ = ip("netns", "del", name) })
		host, peer := fmt.Sprintf("vfh%d", sub), fmt.Sprintf("vfn%d", sub)
		_ = ip("link", "del", host) // left by a killed test; its namespace is gone
		for _, args := range [][]string{
			{"link", "add", host, "type", "veth", "peer", "name", peer, "netns", name},
			{"addr", "add", n.HostIP + "/24", "dev", host},
			{"link", "set", host, "up"},
			{"-n", name, "addr", "add", n.NodeIP + "/24", "dev", peer},
			{"-n", name, "link", "set", peer, "up"},
			{"-n", name, "link", "set", "lo", "up"},
		} {
			if err := ip(args...); err != nil {
				tb.Fatalf("testenv: network namespace %s: %v (the tests run as root)", name, err)
			}
		}
	}
	return n
}

// Command is name run with args inside the namespace.
func (n *Netns) Command(name string, args ...string) *exec.Cmd {
	return exec.Command("ip", append([]string{"netns", "exec", n.Name, name}, args...)...)
}

// stale reports whether the test namespace name is one a killed test left
// behind: older than any test runs and holding no process. (A namespace
// just made holds none yet either.)
func stale(name string) bool {
	st, err := os.Stat(filepath.Join("/run/netns", name))
	if err != nil || time.Since(st.ModTime()) < time.Hour {
		return false
	}
	out, err := exec.Command("ip", "netns", "pids", name).Output()
	return err == nil && len(bytes.TrimSpace(out)) == 0
}

func ip(args ...string) error {
	out, err := exec.Command("ip", args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("ip %s: %w: %s", strings.Join(args, " "), err, bytes.TrimSpace(out))
	}
	return nil
}
