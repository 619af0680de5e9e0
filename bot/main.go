// Command bot runs vpnflow's Telegram-facing process: updates by long
// polling or webhook, the Crypto Pay webhook, /healthz, /readyz and /metrics.
// Configuration comes from environment variables (see README).
package main

import (
	"vpnflow/internal/botapp"
	"vpnflow/internal/daemon"
)

func main() { daemon.Main("bot", botapp.Run) }
