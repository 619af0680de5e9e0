package testenv

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"vpnflow/internal/dev/stack"
)

var (
	xrayOnce sync.Once
	xraySrv  *stack.XrayServer
	xrayErr  error
)

// Xray returns this test binary's shared Xray, starting it on first use; Main
// stops it. Tests sharing it must use emails of their own and must not
// restart or kill it (NewXray gives a test its own).
//
// VPNFLOW_TEST_XRAY_API_ADDR reuses a running Xray instead, managing the
// inbound named by VPNFLOW_TEST_XRAY_TAG (default "vless-in"); the returned
// server then knows only its address and tag, not its keys or VLESS port.
func Xray(tb testing.TB) *stack.XrayServer {
	tb.Helper()
	xrayOnce.Do(func() {
		if addr := os.Getenv("VPNFLOW_TEST_XRAY_API_ADDR"); addr != "" {
			tag := os.Getenv("VPNFLOW_TEST_XRAY_TAG")
			if tag == "" {
				tag = "vless-in"
			}
			xraySrv = &stack.XrayServer{APIAddr: addr, InboundTag: tag}
			return
		}
		xraySrv, xrayErr = startXray(Dir(tb, "xray"), stack.XrayOptions{})
		if xrayErr == nil {
			atExit(xraySrv.Stop)
		}
	})
	if xrayErr != nil {
		fail(tb, "xray", xrayErr)
	}
	return xraySrv
}

// NewXray starts an Xray for this test alone, which the test may restart or
// kill; it is stopped when the test ends. opts.Dir is filled in.
func NewXray(tb testing.TB, opts ...stack.XrayOptions) *stack.XrayServer {
	tb.Helper()
	var o stack.XrayOptions
	if len(opts) > 0 {
		o = opts[0]
	}
	s, err := startXray(Dir(tb, "xray"), o)
	if err != nil {
		fail(tb, "xray", err)
	}
	tb.Cleanup(s.Stop)
	return s
}

func startXray(dir string, opts stack.XrayOptions) (*stack.XrayServer, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	opts.Dir = dir
	return stack.StartXray(ctx, opts)
}

// FreezeXray stops srv's process with SIGSTOP: Xray still holds its
// sockets, so connections stay open and calls hang instead of failing. The
// returned thaw resumes it (SIGCONT); it may be called more than once and
// runs at the test's end in any case, so a failed test never leaves Xray
// frozen.
func FreezeXray(tb testing.TB, srv *stack.XrayServer) (thaw func()) {
	tb.Helper()
	pid := srv.Pid()
	if pid == 0 {
		tb.Fatal("testenv: xray has no pid to freeze (not started by this test binary?)")
	}
	if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
		tb.Fatalf("testenv: freeze xray: %v", err)
	}
	// kill returns before every thread has stopped: a thread running on
	// another core can still answer a request sent right after. Wait until
	// the kernel reports each thread stopped.
	deadline := time.Now().Add(5 * time.Second)
	for !allThreadsStopped(pid) {
		if time.Now().After(deadline) {
			tb.Fatalf("testenv: xray (pid %d) not stopped 5 s after SIGSTOP", pid)
		}
		time.Sleep(time.Millisecond)
	}
	var once sync.Once
	thaw = func() { once.Do(func() { _ = syscall.Kill(pid, syscall.SIGCONT) }) }
	tb.Cleanup(thaw)
	return thaw
}

// allThreadsStopped reports whether every thread of pid is in state T
// (stopped by a signal), from /proc/<pid>/task/*/stat.
func allThreadsStopped(pid int) bool {
	stats, err := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/stat", pid))
	if err != nil || len(stats) == 0 {
		return false
	}
	for _, f := range stats {
		b, err := os.ReadFile(f)
		if err != nil {
			return false
		}
		// pid (comm) state ...: comm may hold spaces, so read after ')'.
		i := bytes.LastIndexByte(b, ')')
		if i < 0 || i+2 >= len(b) || b[i+2] != 'T' {
			return false
		}
	}
	return true
}
