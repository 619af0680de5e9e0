package workflows

import (
	"log/slog"
	"os"

	sdklog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/testsuite"
)

// newTestEnv is a test environment that logs warnings and above only.
func newTestEnv() *testsuite.TestWorkflowEnvironment {
	var s testsuite.WorkflowTestSuite
	s.SetLogger(sdklog.NewStructuredLogger(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))))
	return s.NewTestWorkflowEnvironment()
}

// counterFunc is a metrics counter that hands each increment to a function.
type counterFunc func(int64)

func (f counterFunc) Inc(n int64) { f(n) }
