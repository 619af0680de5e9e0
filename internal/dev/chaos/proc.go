package chaos

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"time"
)

// buildBinaries compiles the worker and the bot once into dir, so the suite
// kills the very programs that run in production.
func buildBinaries(ctx context.Context, dir string) (worker, bot string, err error) {
	worker, bot = filepath.Join(dir, "worker"), filepath.Join(dir, "bot")
	for pkg, out := range map[string]string{"vpnflow/worker": worker, "vpnflow/bot": bot} {
		b, err := exec.CommandContext(ctx, "go", "build", "-o", out, pkg).CombinedOutput()
		if err != nil {
			return "", "", fmt.Errorf("go build %s: %w\n%s", pkg, err, b)
		}
	}
	return worker, bot, nil
}

// proc is one of the shop's own processes (worker or bot), run from its
// binary with the stack's configuration as environment.
type proc struct {
	name, bin string
	env       []string
	logPath   string
	ready     func(context.Context) error // nil: no readiness wait

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
	log  *os.File
}

func newProc(name, bin, dir string, env map[string]string) *proc {
	p := &proc{name: name, bin: bin, logPath: filepath.Join(dir, name+".log")}
	for k, v := range env {
		p.env = append(p.env, k+"="+v)
	}
	p.env = append(p.env, "PATH="+os.Getenv("PATH"), "HOME="+os.Getenv("HOME"))
	return p
}

// start runs the binary and waits until it is ready.
func (p *proc) start(ctx context.Context) error {
	p.mu.Lock()
	log, err := os.OpenFile(p.logPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		p.mu.Unlock()
		return fmt.Errorf("open %s log: %w", p.name, err)
	}
	cmd := exec.Command(p.bin)
	cmd.Env = p.env
	cmd.Stdout, cmd.Stderr = log, log
	// It dies with the suite, even when the suite is killed.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		log.Close()
		p.mu.Unlock()
		return fmt.Errorf("start %s: %w", p.name, err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); log.Close(); close(done) }()
	p.cmd, p.done, p.log = cmd, done, log
	p.mu.Unlock()
	if p.ready == nil {
		return nil
	}
	if err := p.ready(ctx); err != nil {
		return fmt.Errorf("%s not ready: %w (log: %s)", p.name, err, p.logPath)
	}
	return nil
}

// pid is the running process's id, 0 when it is not running.
func (p *proc) pid() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil {
		return 0
	}
	return p.cmd.Process.Pid
}

// kill ends the process with SIGKILL, as a crash or an OOM kill would.
func (p *proc) kill() {
	p.mu.Lock()
	cmd, done := p.cmd, p.done
	p.cmd = nil
	p.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Kill()
	<-done
}

// stop ends the process politely (SIGTERM), then with SIGKILL.
func (p *proc) stop() {
	p.mu.Lock()
	cmd, done := p.cmd, p.done
	p.cmd = nil
	p.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-done:
	case <-time.After(15 * time.Second):
		_ = cmd.Process.Kill()
		<-done
	}
}

// httpReady waits until url answers 200.
func httpReady(url string, limit time.Duration) func(context.Context) error {
	return func(ctx context.Context) error {
		ctx, cancel := context.WithTimeout(ctx, limit)
		defer cancel()
		c := &http.Client{Timeout: 2 * time.Second}
		for {
			resp, err := c.Get(url)
			if err == nil {
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					return nil
				}
				err = fmt.Errorf("status %d", resp.StatusCode)
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("%s: %w (last: %v)", url, ctx.Err(), err)
			case <-time.After(100 * time.Millisecond):
			}
		}
	}
}
