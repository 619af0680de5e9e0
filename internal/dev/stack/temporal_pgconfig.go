package stack

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"strconv"

	"go.yaml.in/yaml/v3"
)

// temporalPorts are the ports of the four services the server runs in one
// process: each has a gRPC port and a membership (ringpop) port.
type temporalPorts struct {
	Frontend, History, Matching, Worker                 int
	FrontendRing, HistoryRing, MatchingRing, WorkerRing int
}

// pickTemporalPorts lays the services out around the frontend port. A fixed
// frontend port (make dev's 7233) gets Temporal's standard layout (history
// +1, matching +2, worker +6, membership ports 300 below), so that a restart
// of `make dev` finds the same addresses in the membership table instead of
// trying to join the previous run's members for up to 30 s. A zero port
// (tests) picks every port free.
func pickTemporalPorts(frontend int) (temporalPorts, error) {
	if frontend != 0 {
		return temporalPorts{
			Frontend: frontend, History: frontend + 1, Matching: frontend + 2, Worker: frontend + 6,
			FrontendRing: frontend - 300, HistoryRing: frontend - 299, MatchingRing: frontend - 298, WorkerRing: frontend - 294,
		}, nil
	}
	var p temporalPorts
	for _, port := range []*int{&p.Frontend, &p.History, &p.Matching, &p.Worker} {
		n, err := FreePort()
		if err != nil {
			return p, err
		}
		*port = n
	}
	for _, port := range []*int{&p.FrontendRing, &p.HistoryRing, &p.MatchingRing, &p.WorkerRing} {
		n, err := freeLowPort()
		if err != nil {
			return p, err
		}
		*port = n
	}
	return p, nil
}

// freeLowPort finds a free loopback port below 32768. The membership table
// keeps a member's port in a PostgreSQL smallint, and the kernel's own
// picks (the ephemeral range, 32768 and up) are out of its range: the
// server dies at start-up on one. Ports are tried at random in 20000-32767,
// clear of the well-known ones and of Temporal's standard layout.
func freeLowPort() (int, error) {
	for range 100 {
		port := 20000 + rand.IntN(32768-20000)
		l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		if err == nil {
			l.Close()
			return port, nil
		}
	}
	return 0, errors.New("no free port found below 32768 in 100 tries")
}

// temporalConfigEnv names the config file: the server loads
// <root>/<config>/<env>.yaml.
const temporalConfigEnv = "vpnflow"

// writeTemporalConfig writes the server's config and dynamic config into
// dir/config and returns the arguments that start the server on them. The
// files are rewritten at every start, so a changed port or database takes
// effect; the databases keep the state.
func writeTemporalConfig(dir string, pg *Postgres, dbs temporalDatabases, ports temporalPorts) ([]string, error) {
	confDir := filepath.Join(dir, "config")
	if err := os.MkdirAll(confDir, 0o755); err != nil {
		return nil, fmt.Errorf("create %s: %w", confDir, err)
	}
	dynPath := filepath.Join(confDir, "dynamicconfig.yaml")
	if err := writeYAML(dynPath, temporalDynamicConfig()); err != nil {
		return nil, err
	}
	if err := writeYAML(filepath.Join(confDir, temporalConfigEnv+".yaml"), temporalServerConfig(pg, dbs, ports, dynPath)); err != nil {
		return nil, err
	}
	return []string{"--root", dir, "--config", "config", "--env", temporalConfigEnv, "--allow-no-auth", "start"}, nil
}

// temporalServerConfig is the smallest config that runs all four services
// in one process on two PostgreSQL databases, after the server's own
// config/development-postgres12.yaml.
func temporalServerConfig(pg *Postgres, dbs temporalDatabases, ports temporalPorts, dynPath string) map[string]any {
	const ip = "127.0.0.1"
	// Four services each open a pool per store. 4×20 + 4×5 stays well
	// inside the cluster's max_connections (200) beside the shop's pool.
	store := func(db string, maxConns int) map[string]any {
		return map[string]any{"sql": map[string]any{
			"pluginName":      "postgres12",
			"databaseName":    db,
			"connectAddr":     net.JoinHostPort(ip, strconv.Itoa(pg.Port)),
			"connectProtocol": "tcp",
			"user":            PostgresUser,
			"password":        "", // the local cluster trusts loopback connections
			"maxConns":        maxConns,
			"maxIdleConns":    maxConns,
			"maxConnLifetime": "1h",
		}}
	}
	service := func(grpc, ring int) map[string]any {
		return map[string]any{"rpc": map[string]any{"grpcPort": grpc, "membershipPort": ring, "bindOnIP": ip}}
	}
	disabled := map[string]any{"state": "disabled"}
	return map[string]any{
		"log": map[string]any{"stdout": true, "level": "warn", "format": "json"},
		"persistence": map[string]any{
			"defaultStore":    "default",
			"visibilityStore": "visibility",
			// Fixed for the life of the databases. One node needs few;
			// each shard is a row lock and a cache, so fewer start faster.
			"numHistoryShards": 4,
			"datastores": map[string]any{
				"default":    store(dbs.Main, 20),
				"visibility": store(dbs.Visibility, 5),
			},
		},
		"global": map[string]any{
			"membership": map[string]any{"maxJoinDuration": "30s", "broadcastAddress": ip},
			"pprof":      map[string]any{"port": 0},
		},
		"services": map[string]any{
			"frontend": service(ports.Frontend, ports.FrontendRing),
			"history":  service(ports.History, ports.HistoryRing),
			"matching": service(ports.Matching, ports.MatchingRing),
			"worker":   service(ports.Worker, ports.WorkerRing),
		},
		"clusterMetadata": map[string]any{
			"enableGlobalNamespace":    false,
			"failoverVersionIncrement": 10,
			"masterClusterName":        "active",
			"currentClusterName":       "active",
			"clusterInformation": map[string]any{"active": map[string]any{
				"enabled":                true,
				"initialFailoverVersion": 1,
				"rpcName":                "frontend",
				"rpcAddress":             net.JoinHostPort(ip, strconv.Itoa(ports.Frontend)),
			}},
		},
		"dcRedirectionPolicy": map[string]any{"policy": "noop"},
		"archival":            map[string]any{"history": disabled, "visibility": disabled},
		"namespaceDefaults": map[string]any{"archival": map[string]any{
			"history": disabled, "visibility": disabled,
		}},
		"dynamicConfigClient": map[string]any{"filepath": dynPath, "pollInterval": "10s"},
	}
}

// temporalDynamicConfig is what differs from the server's defaults. Only
// what this machine needs: the rest stays as production runs it.
func temporalDynamicConfig() map[string]any {
	value := func(v any) []map[string]any { return []map[string]any{{"value": v}} }
	return map[string]any{
		// The server would otherwise call Temporal's version service over
		// the internet at start-up; here there is none, and no reason to.
		"frontend.enableServerVersionCheck": value(false),
	}
}

func writeYAML(path string, v any) error {
	b, err := yaml.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode %s: %w", path, err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
