// Command worker runs vpnflow's Temporal worker: every workflow and activity.
// Configuration comes from environment variables (see README).
package main

import (
	"vpnflow/internal/daemon"
	"vpnflow/internal/workerapp"
)

func main() { daemon.Main("worker", workerapp.Run) }
