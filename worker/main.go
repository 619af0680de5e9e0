// Command worker runs vpnflow's Temporal worker: every workflow and activity.
// Configuration comes from environment variables (see README).
//
// `worker session-agent` runs instead the session agent of a node on
// another machine (internal/agentapp, internal/sessionagent): beside that node's Xray, it
// ends revoked keys' open connections on the worker's behalf.
package main

import (
	"os"

	"vpnflow/internal/agentapp"
	"vpnflow/internal/daemon"
	"vpnflow/internal/workerapp"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "session-agent" {
		daemon.Main("session-agent", agentapp.Run)
		return
	}
	daemon.Main("worker", workerapp.Run)
}
