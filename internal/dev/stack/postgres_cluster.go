package stack

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// initCluster runs initdb unless data already holds a cluster. It builds the
// cluster next to data and renames it into place, so an interrupted initdb
// never leaves a half-made cluster that later runs would try to use.
func initCluster(ctx context.Context, bin, data string, owner osUser, fast bool, logw io.Writer) error {
	if have := clusterVersion(data); have != "" {
		if want := filepath.Base(filepath.Dir(bin)); isNumber(want) && have != want {
			return fmt.Errorf("the cluster in %s was made by PostgreSQL %s but the binaries in %s are %s: remove that directory to start afresh (its data is lost) or install postgresql-%s", data, have, bin, want, have)
		}
		return nil
	}
	if entries, err := os.ReadDir(data); err == nil && len(entries) > 0 {
		return fmt.Errorf("%s is not empty but holds no PostgreSQL cluster (no PG_VERSION): move it away", data)
	}
	tmp := data + ".init"
	if err := os.RemoveAll(tmp); err != nil {
		return fmt.Errorf("clear %s: %w", tmp, err)
	}
	if err := owner.mkdir(tmp); err != nil {
		return err
	}
	args := []string{
		"-D", tmp,
		"-U", PostgresUser,
		"--auth=trust",
		"--encoding=UTF8",
		"--locale=C",
	}
	if fast {
		args = append(args, "--no-sync")
	}
	cmd := exec.CommandContext(ctx, filepath.Join(bin, "initdb"), args...)
	cmd.Env = owner.env()
	cmd.SysProcAttr = owner.sysProcAttr()
	var out bytes.Buffer
	cmd.Stdout = io.MultiWriter(logw, &out)
	cmd.Stderr = cmd.Stdout
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("initdb %s: %w\n%s", tmp, err, out.String())
	}
	_ = os.Remove(data) // an empty leftover directory
	if err := os.Rename(tmp, data); err != nil {
		return fmt.Errorf("move new cluster into place: %w", err)
	}
	return nil
}

// clusterVersion is the major version of the cluster in data, or "" if there
// is none yet.
func clusterVersion(data string) string {
	v, err := os.ReadFile(filepath.Join(data, "PG_VERSION"))
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(v))
}

// postgresBinDir finds the server binaries: those of the existing cluster's
// major version if installed, else the newest installed.
func postgresBinDir(clusterMajor string) (string, error) {
	const root = "/usr/lib/postgresql"
	var dirs []string
	if isNumber(clusterMajor) {
		dirs = append(dirs, filepath.Join(root, clusterMajor, "bin"))
	}
	if matches, _ := filepath.Glob(filepath.Join(root, "*", "bin")); len(matches) > 0 {
		sort.Slice(matches, func(i, j int) bool { return versionOf(matches[i]) > versionOf(matches[j]) })
		dirs = append(dirs, matches...)
	}
	if out, err := exec.Command("pg_config", "--bindir").Output(); err == nil {
		dirs = append(dirs, strings.TrimSpace(string(out)))
	}
	for _, d := range dirs {
		if isExecutable(filepath.Join(d, "postgres")) && isExecutable(filepath.Join(d, "initdb")) {
			return d, nil
		}
	}
	return "", fmt.Errorf("PostgreSQL %d server binaries (initdb, postgres) not found under %s or by pg_config: apt-get install postgresql-%d", PostgresMajor, root, PostgresMajor)
}

func versionOf(binDir string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(binDir)))
	return n
}

func isNumber(s string) bool {
	_, err := strconv.Atoi(s)
	return err == nil
}

func isExecutable(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0
}
