package testenv

import (
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// Process is a child process a test started (Start): its output goes to
// a log file kept with the test's state.
type Process struct {
	Log    string        // the log file's path
	Exited chan struct{} // closed when the process has exited
	err    error         // its exit, once Exited is closed
}

// processStop bounds the wait for a process to end after SIGTERM.
const processStop = 10 * time.Second

// Start runs cmd with its output in a log named name under the test's
// state, killed if the test binary dies (Pdeathsig). When the test ends
// it is sent SIGTERM, and SIGKILL if it has not exited within 10 s;
// stopped reports how it ended, for a test that checks its shutdown.
func Start(tb testing.TB, name string, cmd *exec.Cmd, stopped func(exit error, timedOut bool)) *Process {
	tb.Helper()
	p := &Process{Log: filepath.Join(Dir(tb, name), name+".log"), Exited: make(chan struct{})}
	logFile, err := os.Create(p.Log)
	if err != nil {
		tb.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		logFile.Close()
		tb.Fatalf("testenv: start %s: %v", name, err)
	}
	go func() { p.err = cmd.Wait(); close(p.Exited) }()
	tb.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		timedOut := false
		select {
		case <-p.Exited:
		case <-time.After(processStop):
			timedOut = true
			_ = cmd.Process.Kill()
			<-p.Exited
		}
		logFile.Close()
		if stopped != nil {
			stopped(p.err, timedOut)
		}
	})
	return p
}

// Err is how the process exited; nil while it runs.
func (p *Process) Err() error {
	select {
	case <-p.Exited:
		return p.err
	default:
		return nil
	}
}

// Output is the log so far, for a failure message.
func (p *Process) Output() string {
	b, _ := os.ReadFile(p.Log)
	return string(b)
}
