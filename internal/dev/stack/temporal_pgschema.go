package stack

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"time"
)

// temporalDatabases are the two databases the server keeps its state in:
// history, tasks and namespaces in Main, the list/search index in
// Visibility, as Temporal's deployments separate them.
type temporalDatabases struct {
	Main, Visibility string
}

// Default database names, the ones Temporal's own docs and images use.
var defaultTemporalDatabases = temporalDatabases{Main: "temporal", Visibility: "temporal_visibility"}

// prepareTemporalDatabases creates both databases if missing and brings
// their schemas to the version the pinned server expects. Every step is
// idempotent, so it runs at every start: a new server version's schema
// changes are applied the first time it starts on old databases, as
// production upgrades do.
func prepareTemporalDatabases(ctx context.Context, pg *Postgres, dbs temporalDatabases, log io.Writer) error {
	tool, err := TemporalSQLTool.Find()
	if err != nil {
		return err
	}
	schemaRoot, err := temporalSchemaDir(ctx)
	if err != nil {
		return err
	}
	for _, db := range []struct{ name, schema string }{
		{dbs.Main, "temporal"},
		{dbs.Visibility, "visibility"},
	} {
		if err := pg.EnsureDatabase(ctx, db.name); err != nil {
			return err
		}
		base := []string{"--ep", "127.0.0.1", "--port", strconv.Itoa(pg.Port), "--user", PostgresUser,
			"--plugin", "postgres12", "--db", db.name, "--quiet"}
		// setup-schema -v 0.0 only creates the version tables (IF NOT
		// EXISTS) and records 0.0 unless a later version is recorded;
		// update-schema then applies every versioned step above the
		// recorded one, nothing when it is current.
		steps := [][]string{
			append(append([]string{}, base...), "setup-schema", "--version", "0.0"),
			append(append([]string{}, base...), "update-schema", "--schema-dir", filepath.Join(schemaRoot, db.schema, "versioned")),
		}
		for _, args := range steps {
			if err := runSQLTool(ctx, tool, args, log); err != nil {
				return fmt.Errorf("temporal schema in database %s: %w", db.name, err)
			}
		}
	}
	return nil
}

func runSQLTool(ctx context.Context, tool string, args []string, log io.Writer) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, tool, args...)
	var tail tailBuffer
	cmd.Stdout = &tail
	if log != nil {
		cmd.Stdout = io.MultiWriter(log, &tail)
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s %v: %w\n%s", filepath.Base(tool), args, err, tail.String())
	}
	return nil
}

// temporalSchemaDir is schema/postgresql/v12 in the pinned server module's
// source. `go mod download` finds it in the module cache (where building
// the tools put it) or fetches it from the module proxy; the files are the
// same ones the server release embeds. It runs outside any module, so the
// project's go.mod plays no part.
func temporalSchemaDir(ctx context.Context) (string, error) {
	tmp, err := os.MkdirTemp("", "vpnflow-modlookup-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp)
	mod := "go.temporal.io/server@" + TemporalServerVersion
	cmd := exec.CommandContext(ctx, "go", "mod", "download", "-json", mod)
	cmd.Dir = tmp
	cmd.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	var info struct{ Dir, Error string }
	if jerr := json.Unmarshal(out, &info); jerr == nil && info.Error != "" {
		return "", fmt.Errorf("locate %s: %s", mod, info.Error)
	}
	if err != nil {
		return "", fmt.Errorf("locate %s (go mod download): %w\n%s", mod, err, stderr.String())
	}
	dir := filepath.Join(info.Dir, "schema", "postgresql", "v12")
	if _, err := os.Stat(filepath.Join(dir, "temporal", "versioned")); err != nil {
		return "", fmt.Errorf("temporal schema files not found in the module source: %w", err)
	}
	return dir, nil
}
