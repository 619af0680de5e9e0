// Package testenv gives integration tests the real components: PostgreSQL,
// the Temporal dev server and Xray-core. Each test binary starts what it asks
// for once (through internal/dev/stack) and stops it when the tests finish; a
// component that cannot start fails the test loudly, it is never skipped.
//
// Packages that use it declare
//
//	func TestMain(m *testing.M) { testenv.Main(m) }
//
// Components given from outside through environment variables are reused
// instead of started (see each component's file).
package testenv

import (
	"os"
	"path/filepath"
	"sync"
	"testing"
)

var (
	mu      sync.Mutex
	stops   []func()
	rootDir string
)

// Main runs the package's tests and then stops every component they started.
func Main(m *testing.M) {
	code := m.Run()
	mu.Lock()
	for i := len(stops) - 1; i >= 0; i-- {
		stops[i]()
	}
	if rootDir != "" && code == 0 {
		os.RemoveAll(rootDir)
	}
	mu.Unlock()
	os.Exit(code)
}

// atExit registers f to run when Main finishes. Callers hold no lock.
func atExit(f func()) {
	mu.Lock()
	defer mu.Unlock()
	stops = append(stops, f)
}

// Dir returns a fresh directory under this test binary's state directory,
// kept after a failed run so its logs can be read.
func Dir(tb testing.TB, name string) string {
	tb.Helper()
	mu.Lock()
	defer mu.Unlock()
	if rootDir == "" {
		d, err := os.MkdirTemp("", "vpnflow-test-")
		if err != nil {
			tb.Fatalf("testenv: create state dir: %v", err)
		}
		// PostgreSQL runs as the postgres user and must be able to enter it.
		if err := os.Chmod(d, 0o755); err != nil {
			tb.Fatalf("testenv: chmod state dir: %v", err)
		}
		rootDir = d
	}
	d, err := os.MkdirTemp(rootDir, name+"-")
	if err != nil {
		tb.Fatalf("testenv: create %s dir: %v", name, err)
	}
	if err := os.Chmod(d, 0o755); err != nil {
		tb.Fatalf("testenv: chmod %s dir: %v", name, err)
	}
	return d
}

// fail reports a component that could not start, with where to look.
func fail(tb testing.TB, component string, err error) {
	tb.Helper()
	tb.Fatalf("testenv: cannot start %s: %v\n(state and logs under %s)", component, err, filepath.Clean(rootDir))
}
