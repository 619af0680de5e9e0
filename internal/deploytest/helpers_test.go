package deploytest

import (
	"context"
	"maps"
	"os"
	"path/filepath"
	"testing"

	"github.com/compose-spec/compose-go/v2/loader"
	"github.com/compose-spec/compose-go/v2/types"
)

// secrets are the variables docker-compose.yml requires (${NAME:?...}); with
// these alone the project must load.
var secrets = map[string]string{
	"POSTGRES_PASSWORD":        "pg-super",
	"VPNFLOW_DB_PASSWORD":      "pg-app",
	"TEMPORAL_DB_PASSWORD":     "pg-temporal",
	"TELEGRAM_BOT_TOKEN":       "123456:telegram-token",
	"CRYPTOPAY_TOKEN":          "1234:cryptopay-token",
	"XRAY_REALITY_PRIVATE_KEY": "reality-private-key",
	"VLESS_REALITY_PUBLIC_KEY": "reality-public-key",
	"VLESS_HOST":               "vpn.example.com",
	"VLESS_REALITY_SNI":        "www.example.com",
	"SUBSCRIPTION_BASE_URL":    "https://vpn.example.com",
}

// Services by role.
var (
	oneShots    = []string{"temporal-schema", "temporal-setup", "migrate"}
	longRunning = []string{"postgres", "temporal", "temporal-ui", "xray", "worker", "bot"}
)

func repoRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the test's directory")
		}
		dir = parent
	}
}

func readFile(t *testing.T, rel string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot(t), rel))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// load reads docker-compose.yml the way `docker compose` does, with env as
// the only environment (the .env file's contents, in real use).
func load(t *testing.T, env map[string]string) (*types.Project, error) {
	t.Helper()
	return loadFile(t, "docker-compose.yml", env)
}

// loadFile loads the compose file at rel (from the repository's root) as
// `docker compose -f rel` does: relative paths from its directory.
func loadFile(t *testing.T, rel string, env map[string]string) (*types.Project, error) {
	t.Helper()
	file := filepath.Join(repoRoot(t), rel)
	details := types.ConfigDetails{
		WorkingDir:  filepath.Dir(file),
		ConfigFiles: []types.ConfigFile{{Filename: file}},
		Environment: env,
	}
	return loader.LoadWithContext(context.Background(), details)
}

// mustLoad loads with the required secrets plus extra.
func mustLoad(t *testing.T, extra map[string]string) *types.Project {
	t.Helper()
	env := maps.Clone(secrets)
	maps.Copy(env, extra)
	p, err := load(t, env)
	if err != nil {
		t.Fatalf("docker-compose.yml does not load: %v", err)
	}
	return p
}

func service(t *testing.T, p *types.Project, name string) types.ServiceConfig {
	t.Helper()
	s, ok := p.Services[name]
	if !ok {
		t.Fatalf("docker-compose.yml has no %s service", name)
	}
	return s
}

// envOf is the environment a service's container gets: variables passed
// through from an unset .env entry are absent.
func envOf(s types.ServiceConfig) map[string]string {
	out := map[string]string{}
	for k, v := range s.Environment {
		if v != nil {
			out[k] = *v
		}
	}
	return out
}
