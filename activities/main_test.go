package activities

import (
	"os"
	"testing"

	"vpnflow/internal/agentapp"
	"vpnflow/internal/daemon"
	"vpnflow/internal/dev/testenv"
)

// asSessionAgent, set in a child's environment, makes this test binary
// `worker session-agent` (the same daemon.Main and agentapp.Run), so a test
// can run the agent where the worker's process is not: inside another
// network namespace (sessionAgentIn).
const asSessionAgent = "VPNFLOW_TEST_AS_SESSION_AGENT"

func TestMain(m *testing.M) {
	if os.Getenv(asSessionAgent) == "1" {
		daemon.Main("session-agent", agentapp.Run)
		os.Exit(0)
	}
	testenv.Main(m)
}
