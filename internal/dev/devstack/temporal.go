package devstack

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"vpnflow/internal/dev/stack"
)

// Which Temporal server the stack runs.
const (
	// TemporalDev is the Temporal CLI's dev server: one binary, history in
	// SQLite (or memory for tests), a web UI. The default.
	TemporalDev = "dev"
	// TemporalPostgres is the production profile: the Temporal server
	// itself with its state in the stack's PostgreSQL cluster (databases
	// temporal and temporal_visibility), as deployments run it. No UI.
	TemporalPostgres = "postgres"
)

// TemporalEnv chooses the server for stacks started without
// Options.Temporal, which is how the end-to-end tests, the chaos suite and
// the benchmarks start theirs: setting it runs all of them on the
// production profile without a change to their code. testenv.Temporal
// reads the same variable.
const TemporalEnv = "VPNFLOW_TEST_TEMPORAL"

// temporalKind resolves Options.Temporal.
func temporalKind(opt string) (string, error) {
	kind := opt
	if kind == "" {
		kind = os.Getenv(TemporalEnv)
	}
	switch kind {
	case "", TemporalDev:
		return TemporalDev, nil
	case TemporalPostgres:
		return TemporalPostgres, nil
	}
	return "", fmt.Errorf("unknown Temporal server %q (want %q or %q)", kind, TemporalDev, TemporalPostgres)
}

// startTemporal starts the chosen server, its output going to log.
func (s *Stack) startTemporal(ctx context.Context, opts Options, p Ports, log io.Writer, step func(string, ...any)) error {
	kind, err := temporalKind(opts.Temporal)
	if err != nil {
		return err
	}
	if kind == TemporalPostgres {
		if s.Postgres == nil {
			return errors.New("the PostgreSQL-backed Temporal server keeps its databases in the local cluster, which DATABASE_URL replaces: unset one of them")
		}
		step("Temporal server %s on PostgreSQL (databases temporal, temporal_visibility): starting", stack.TemporalServerVersion)
		s.Temporal, err = stack.StartTemporalPostgres(ctx, stack.TemporalPostgresOptions{
			Postgres: s.Postgres, Dir: filepath.Join(opts.Dir, "temporal-server"), Port: p.Temporal, Log: log,
		})
		return err
	}
	tOpts := stack.TemporalOptions{Port: p.Temporal, UIPort: p.TemporalUI, Log: log}
	if opts.Persistent {
		tOpts.DBFile = filepath.Join(opts.Dir, "temporal.db")
	}
	step("Temporal dev server %s: starting", stack.Temporal.Version)
	s.Temporal, err = stack.StartTemporal(ctx, tOpts)
	return err
}
