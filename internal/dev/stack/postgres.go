package stack

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Names the local cluster is created with.
const (
	PostgresUser     = "vpnflow"
	PostgresDatabase = "vpnflow"
	// PostgresMajor is the major version the project is developed against;
	// newer installed majors are used when present.
	PostgresMajor = 15
)

// How long the server gets to come up (initdb excluded) and to shut down.
const (
	postgresStartTimeout = time.Minute
	postgresStopTimeout  = 30 * time.Second
)

// PostgresOptions says where and how to run a local PostgreSQL.
type PostgresOptions struct {
	// Dir holds the cluster (Dir/data), the socket directory (Dir/run) and
	// Dir/postgres.log. An existing cluster is reused, so a dev state
	// directory survives restarts.
	Dir string
	// Port on 127.0.0.1; 0 picks a free port.
	Port int
	// Fast trades durability for speed (fsync, synchronous commit and full
	// page writes off). For tests only: a crash can corrupt the cluster.
	Fast bool
	// Log, if set, also receives the server's log.
	Log io.Writer
}

// Postgres is a running local server.
type Postgres struct {
	URL      string // the vpnflow database as the vpnflow (superuser) role
	AdminURL string // the postgres maintenance database, for CREATE/DROP DATABASE
	Dir      string
	Port     int

	cmd      *exec.Cmd
	logFile  *os.File
	done     chan struct{}
	waitErr  error
	stopOnce sync.Once
	restart  func(ctx context.Context) (*Postgres, error) // starts the same cluster on the same port
}

// StartPostgres creates the cluster if Dir has none, starts the server and
// waits until the vpnflow database accepts connections. The server dies with
// this process.
func StartPostgres(ctx context.Context, opts PostgresOptions) (*Postgres, error) {
	if opts.Dir == "" {
		return nil, errors.New("start postgres: no state directory given")
	}
	dir, err := filepath.Abs(opts.Dir)
	if err != nil {
		return nil, fmt.Errorf("start postgres: %w", err)
	}
	data := filepath.Join(dir, "data")
	bin, err := postgresBinDir(clusterVersion(data))
	if err != nil {
		return nil, err
	}
	owner, err := postgresOwner()
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("create postgres dir: %w", err)
	}
	if err := owner.checkReachable(dir); err != nil {
		return nil, err
	}
	logFile, err := os.OpenFile(filepath.Join(dir, "postgres.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open postgres log: %w", err)
	}
	var logw io.Writer = logFile
	if opts.Log != nil {
		logw = io.MultiWriter(logFile, opts.Log)
	}
	fail := func(err error) (*Postgres, error) {
		logFile.Close()
		return nil, err
	}

	if err := initCluster(ctx, bin, data, owner, opts.Fast, logw); err != nil {
		return fail(err)
	}
	run := filepath.Join(dir, "run")
	if err := owner.mkdir(run); err != nil {
		return fail(err)
	}

	// A port picked here may be taken before the server binds it; pick again
	// a few times rather than failing a test run on that race.
	attempts := 1
	if opts.Port == 0 {
		attempts = 3
	}
	for i := 0; ; i++ {
		port := opts.Port
		if port == 0 {
			if port, err = FreePort(); err != nil {
				return fail(err)
			}
		}
		p, err := startServer(ctx, bin, dir, data, run, port, owner, opts.Fast, logw, logFile)
		if err == nil {
			p.restart = func(ctx context.Context) (*Postgres, error) {
				return startServer(ctx, bin, dir, data, run, port, owner, opts.Fast, logw, logFile)
			}
			return p, nil
		}
		if i+1 >= attempts || !errors.Is(err, errPortInUse) {
			return fail(err)
		}
	}
}

var errPortInUse = errors.New("port already in use")

func startServer(ctx context.Context, bin, dir, data, run string, port int, owner osUser, fast bool, logw io.Writer, logFile *os.File) (*Postgres, error) {
	args := []string{
		"-D", data,
		"-p", strconv.Itoa(port),
		"-c", "listen_addresses=127.0.0.1",
		"-c", "unix_socket_directories=" + run,
		// Tests open a pool per database; the default 100 is tight for a
		// package running several of them.
		"-c", "max_connections=200",
		"-c", "logging_collector=off",
		"-c", "timezone=UTC",
	}
	if fast {
		args = append(args, "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
			// Several test binaries run at once on small machines.
			"-c", "shared_buffers=32MB")
	}
	// The server is not bound to ctx: ctx bounds the start only, and Stop
	// shuts the server down cleanly.
	cmd := exec.Command(filepath.Join(bin, "postgres"), args...)
	cmd.Dir = dir
	cmd.Env = owner.env()
	cmd.SysProcAttr = owner.sysProcAttr()
	var tail tailBuffer
	cmd.Stdout = io.MultiWriter(logw, &tail)
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start postgres: %w", err)
	}
	p := &Postgres{
		URL:      localURL(port, PostgresDatabase),
		AdminURL: localURL(port, "postgres"),
		Dir:      dir,
		Port:     port,
		cmd:      cmd,
		logFile:  logFile,
		done:     make(chan struct{}),
	}
	go func() {
		p.waitErr = cmd.Wait()
		close(p.done)
	}()

	startCtx, cancel := context.WithTimeout(ctx, postgresStartTimeout)
	defer cancel()
	if err := p.waitReady(startCtx); err != nil {
		p.kill()
		out := tail.String()
		if strings.Contains(out, "Address already in use") || strings.Contains(out, "could not create any TCP/IP sockets") {
			return nil, fmt.Errorf("postgres on port %d: %w", port, errPortInUse)
		}
		return nil, fmt.Errorf("postgres did not start: %w\n%s(full log: %s)", err, out, filepath.Join(dir, "postgres.log"))
	}
	if err := p.EnsureDatabase(startCtx, PostgresDatabase); err != nil {
		p.kill()
		return nil, err
	}
	return p, nil
}

// waitReady polls until the server accepts a connection, it exits, or ctx ends.
func (p *Postgres) waitReady(ctx context.Context) error {
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	var last error
	for {
		attempt, cancel := context.WithTimeout(ctx, 2*time.Second)
		conn, err := pgx.Connect(attempt, p.AdminURL)
		cancel()
		if err == nil {
			conn.Close(context.Background())
			return nil
		}
		last = err
		select {
		case <-p.done:
			return fmt.Errorf("server exited: %v", p.waitErr)
		case <-ctx.Done():
			return fmt.Errorf("not accepting connections after %s: %w", postgresStartTimeout, last)
		case <-tick.C:
		}
	}
}

// EnsureDatabase creates database name unless it exists: the project's own
// database at every start, and Temporal's when it runs on this cluster.
func (p *Postgres) EnsureDatabase(ctx context.Context, name string) error {
	conn, err := pgx.Connect(ctx, p.AdminURL)
	if err != nil {
		return fmt.Errorf("connect to postgres: %w", err)
	}
	defer conn.Close(context.Background())
	var exists bool
	if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", name).Scan(&exists); err != nil {
		return fmt.Errorf("look up database %s: %w", name, err)
	}
	if exists {
		return nil
	}
	_, err = conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize())
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "42P04" { // duplicate_database
		return nil
	}
	if err != nil {
		return fmt.Errorf("create database %s: %w", name, err)
	}
	return nil
}

// Done is closed when the server process has exited, for whatever reason.
func (p *Postgres) Done() <-chan struct{} { return p.done }

// Stop shuts the server down (fast shutdown: sessions are ended, data is
// kept) and waits for it. Safe to call more than once.
func (p *Postgres) Stop() {
	p.stopOnce.Do(func() {
		if p.cmd.Process != nil {
			_ = p.cmd.Process.Signal(syscall.SIGINT)
			select {
			case <-p.done:
			case <-time.After(postgresStopTimeout):
				_ = p.cmd.Process.Kill()
				<-p.done
			}
		}
		p.logFile.Close()
	})
}

// Kill ends the server with SIGKILL at once, as a crash of its host or
// container would: the postmaster and every backend die together, and the
// next start runs crash recovery from the WAL. (Fast mode only skips fsync,
// which matters for a machine crash, not a process crash.)
func (p *Postgres) Kill() {
	if p.cmd.Process == nil {
		return
	}
	select {
	case <-p.done:
		return
	default:
	}
	// Backends are the postmaster's children; kill them first so none
	// outlives it holding the shared memory a restart needs.
	for _, pid := range childPids(p.cmd.Process.Pid) {
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
	_ = p.cmd.Process.Kill()
	<-p.done
}

// Restart starts the cluster again on the same data directory and port
// after Kill or Stop, and waits until it accepts connections.
func (p *Postgres) Restart(ctx context.Context) error {
	select {
	case <-p.done:
	default:
		return errors.New("restart postgres: the server is still running")
	}
	np, err := p.restart(ctx)
	if err != nil {
		return fmt.Errorf("restart postgres: %w", err)
	}
	// waitErr is only read during a start, which np did itself.
	p.cmd, p.done = np.cmd, np.done
	p.stopOnce = sync.Once{}
	return nil
}

// childPids lists the direct children of pid from /proc.
func childPids(pid int) []int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", pid, pid))
	if err != nil {
		return nil
	}
	var out []int
	for _, f := range strings.Fields(string(b)) {
		if n, err := strconv.Atoi(f); err == nil {
			out = append(out, n)
		}
	}
	return out
}

// kill ends a server that never became usable.
func (p *Postgres) kill() {
	_ = p.cmd.Process.Kill()
	<-p.done
}

func localURL(port int, database string) string {
	u := url.URL{
		Scheme:   "postgres",
		User:     url.User(PostgresUser),
		Host:     net.JoinHostPort("127.0.0.1", strconv.Itoa(port)),
		Path:     "/" + database,
		RawQuery: "sslmode=disable",
	}
	return u.String()
}

// tailBuffer keeps the last few KiB of the server's output for error messages.
type tailBuffer struct {
	mu  sync.Mutex
	buf []byte
}

const tailSize = 4 << 10

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if len(t.buf) > tailSize {
		t.buf = append([]byte(nil), t.buf[len(t.buf)-tailSize:]...)
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.buf)
}
