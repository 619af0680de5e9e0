// Package stack starts the real components vpnflow runs on — PostgreSQL, the
// Temporal dev server and Xray-core — as local child processes. The dev
// command and the integration tests share it, so what a developer runs is what
// CI tests.
package stack

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"time"
)

// Tool is a binary built from its Go module at a pinned version and cached
// outside the repository, so that later runs (and CI on the same machine)
// reuse it instead of rebuilding.
type Tool struct {
	Name    string // file name in the tools directory, without version
	Module  string // package path given to go install
	Version string
	Built   string // name go install gives the binary
	Tags    string // build tags, if the binary needs any
	// ColdBuild is how long a build from an empty module cache took here; it
	// is printed so nobody thinks a first run hung.
	ColdBuild time.Duration
}

// Pinned tools. Bumping a version gives a new file name, so the new binary is
// built on the next run while the old one stays untouched.
var (
	Temporal = Tool{Name: "temporal", Module: "github.com/temporalio/cli/cmd/temporal", Version: "v1.5.1", Built: "temporal", ColdBuild: 15 * time.Minute}
	Xray     = Tool{Name: "xray", Module: "github.com/xtls/xray-core/main", Version: "v1.260327.0", Built: "main", ColdBuild: 6 * time.Minute}
	// SingBox is a customer's sing-box, which runs the profile the
	// subscription URL serves sing-box's apps (internal/dev/singboxcheck).
	// REALITY needs its uTLS build.
	SingBox = Tool{Name: "sing-box", Module: "github.com/sagernet/sing-box/cmd/sing-box", Version: "v1.14.1", Built: "sing-box", Tags: "with_utls", ColdBuild: 3 * time.Minute}

	// The production profile: the Temporal server itself, on PostgreSQL,
	// and the tool that creates and upgrades its schema. They are the
	// server version the dev server above embeds (the CLI's go.mod pins
	// v1.29.1), so both profiles run the same server code; the server
	// module has no replace directives, so go install builds it as is.
	TemporalServerTool = Tool{Name: "temporal-server", Module: "go.temporal.io/server/cmd/server", Version: TemporalServerVersion, Built: "server", ColdBuild: 12 * time.Minute}
	TemporalSQLTool    = Tool{Name: "temporal-sql-tool", Module: "go.temporal.io/server/cmd/tools/sql", Version: TemporalServerVersion, Built: "sql", ColdBuild: 8 * time.Minute}
)

// TemporalServerVersion is the server module both server tools are built
// from; its schema files are read from the same module.
const TemporalServerVersion = "v1.29.1"

// DevTools are what `make dev` runs.
var DevTools = []Tool{Temporal, Xray}

// TestTools are what `make tools` builds: what `make dev` and `make test`
// run. The production profile's two are built by the commands that use it
// (`make dev TEMPORAL=postgres`, `make test-temporal-postgres`), so that a
// fresh CI machine does not spend minutes on a server its tests never start.
var TestTools = []Tool{Temporal, Xray, SingBox}

// PostgresProfileTools are what the production Temporal profile runs.
var PostgresProfileTools = []Tool{TemporalServerTool, TemporalSQLTool, Xray}

// ToolsDir is where pinned tools live: $VPNFLOW_TOOLS_DIR, or vpnflow/tools in
// the user's cache directory.
func ToolsDir() string {
	if d := os.Getenv("VPNFLOW_TOOLS_DIR"); d != "" {
		return d
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		cache = os.TempDir()
	}
	return filepath.Join(cache, "vpnflow", "tools")
}

// Path is where the tool's binary is (or will be) cached.
func (t Tool) Path() string {
	return filepath.Join(ToolsDir(), t.Name+"-"+t.Version)
}

// Find returns the cached binary or an error that says how to build it.
func (t Tool) Find() (string, error) {
	p := t.Path()
	if _, err := os.Stat(p); err != nil {
		return "", fmt.Errorf("%s %s is not built yet (%s missing): run `make tools` (about %s the first time)", t.Name, t.Version, p, t.ColdBuild)
	}
	return p, nil
}

// Ensure returns the cached binary, building it first if needed. Progress goes
// to progress (go install -v lists each package as it compiles).
func (t Tool) Ensure(ctx context.Context, progress io.Writer) (string, error) {
	if p, err := t.Find(); err == nil {
		return p, nil
	}
	if _, err := exec.LookPath("go"); err != nil {
		return "", errors.New("the go command is not on PATH; it is needed to build " + t.Name)
	}
	if err := os.MkdirAll(ToolsDir(), 0o755); err != nil {
		return "", fmt.Errorf("create tools dir: %w", err)
	}
	gobin, err := os.MkdirTemp(ToolsDir(), ".build-"+t.Name+"-")
	if err != nil {
		return "", fmt.Errorf("create build dir: %w", err)
	}
	defer os.RemoveAll(gobin)

	fmt.Fprintf(progress, "building %s %s from its Go module into %s (first run only, about %s on a cold module cache)...\n",
		t.Name, t.Version, ToolsDir(), t.ColdBuild)
	start := time.Now()
	args := []string{"install", "-v"}
	if t.Tags != "" {
		args = append(args, "-tags", t.Tags)
	}
	cmd := exec.CommandContext(ctx, "go", append(args, t.Module+"@"+t.Version)...)
	// Build outside any module so the project's go.mod cannot influence the
	// tool's dependency versions.
	cmd.Dir = gobin
	cmd.Env = append(os.Environ(), "GOBIN="+gobin, "GOFLAGS=-buildvcs=false", "GOWORK=off")
	cmd.Stdout = progress
	cmd.Stderr = progress
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("build %s %s: %w (the output above says why; check that the Go module proxy is reachable)", t.Name, t.Version, err)
	}
	if err := os.Rename(filepath.Join(gobin, t.Built), t.Path()); err != nil {
		return "", fmt.Errorf("install %s: %w", t.Name, err)
	}
	fmt.Fprintf(progress, "built %s %s in %s\n", t.Name, t.Version, time.Since(start).Round(time.Second))
	return t.Path(), nil
}
