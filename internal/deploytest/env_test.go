package deploytest

import (
	"maps"
	"regexp"
	"slices"
	"strings"
	"testing"

	"vpnflow/internal/config"
)

// samples holds a valid value for every configuration variable without a
// default, so each one's absence can be tried on its own.
var samples = map[string]string{
	"DATABASE_URL":                  "postgres://u:p@db:5432/d",
	"TEMPORAL_UI_URL":               "http://127.0.0.1:8233",
	"VLESS_HOST":                    "vpn.example.com",
	"VLESS_REALITY_PUBLIC_KEY":      "pub",
	"VLESS_REALITY_SNI":             "www.example.com",
	"VLESS_REALITY_SHORT_ID":        "0123abcd",
	"XRAY_NODE_REGION":              "eu",
	"TELEGRAM_BOT_TOKEN":            "1:t",
	"TELEGRAM_WEBHOOK_URL":          "https://bot.example.com/webhooks/telegram",
	"TELEGRAM_WEBHOOK_SECRET":       "s",
	"CRYPTOPAY_TOKEN":               "c",
	"ADMIN_IDS":                     "1",
	"OTEL_EXPORTER_OTLP_ENDPOINT":   "http://otel:4317",
	"SUBSCRIPTION_BASE_URL":         "https://vpn.example.com",
	"SUBSCRIPTION_SUPPORT_URL":      "https://t.me/support",
	"SUBSCRIPTION_WEB_PAGE_URL":     "https://vpn.example.com/",
	"SUBSCRIPTION_CLIENT_IP_HEADER": "X-Forwarded-For",
	"SESSION_AGENT_TOKEN":           "0123456789abcdef0123456789abcdef",
}

// apps are the services running vpnflow's programs and the check each
// program applies to its configuration.
var apps = map[string]func(config.Config) error{
	"worker":  config.Config.ForWorker,
	"bot":     config.Config.ForBot,
	"migrate": config.Config.ForStarter,
}

func configNames() map[string]config.Var {
	out := map[string]config.Var{}
	for _, v := range config.Vars() {
		out[v.Name] = v
	}
	return out
}

func TestAppEnvironmentUsesOnlyConfigNames(t *testing.T) {
	p := mustLoad(t, nil)
	known := configNames()
	for name := range apps {
		for k := range service(t, p, name).Environment {
			if _, ok := known[k]; !ok && !strings.HasPrefix(k, "OTEL_") {
				t.Errorf("%s sets %s, which internal/config does not read", name, k)
			}
		}
	}
}

// required lists the variables without a default whose absence makes check
// fail, given everything else.
func required(t *testing.T, check func(config.Config) error) []string {
	t.Helper()
	full := map[string]string{}
	for _, v := range config.Vars() {
		if v.Default != "" {
			continue
		}
		s, ok := samples[v.Name]
		if !ok {
			t.Fatalf("config has a new variable %s without a default: add a valid sample value to samples", v.Name)
		}
		full[v.Name] = s
	}
	if cfg, err := config.LoadFrom(full); err != nil {
		t.Fatalf("sample values do not load: %v", err)
	} else if err := check(cfg); err != nil {
		t.Fatalf("sample values do not pass the check: %v", err)
	}
	var out []string
	for name := range full {
		env := maps.Clone(full)
		delete(env, name)
		cfg, err := config.LoadFrom(env)
		if err == nil {
			err = check(cfg)
		}
		if err != nil && strings.Contains(err.Error(), name) {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out
}

func TestAppEnvironmentSatisfiesConfig(t *testing.T) {
	p := mustLoad(t, nil)
	for name, check := range apps {
		env := envOf(service(t, p, name))
		for _, v := range required(t, check) {
			if env[v] == "" {
				t.Errorf("%s needs %s, but docker-compose.yml does not set it", name, v)
			}
		}
		cfg, err := config.LoadFrom(env)
		if err != nil {
			t.Errorf("%s's environment does not load: %v", name, err)
			continue
		}
		if err := check(cfg); err != nil {
			t.Errorf("%s's environment fails its check: %v", name, err)
		}
	}
}

// The bot in webhook mode needs two more variables; .env must reach it.
func TestBotWebhookSettingsPassThrough(t *testing.T) {
	p := mustLoad(t, map[string]string{
		"TELEGRAM_MODE":           config.ModeWebhook,
		"TELEGRAM_WEBHOOK_URL":    "https://bot.example.com/webhooks/telegram",
		"TELEGRAM_WEBHOOK_SECRET": "secret",
	})
	cfg, err := config.LoadFrom(envOf(service(t, p, "bot")))
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.ForBot(); err != nil {
		t.Fatalf("bot in webhook mode: %v", err)
	}
	if cfg.TelegramMode != config.ModeWebhook {
		t.Fatalf("TELEGRAM_MODE did not reach the bot: %q", cfg.TelegramMode)
	}
}

// The worker's Telegram send budget is set in .env (a slower rate for a
// second worker on the same token, say); it must reach the worker.
func TestWorkerSendRatePassesThrough(t *testing.T) {
	p := mustLoad(t, map[string]string{"TELEGRAM_SEND_RATE": "14"})
	cfg, err := config.LoadFrom(envOf(service(t, p, "worker")))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.TelegramSendRate != 14 {
		t.Fatalf("TELEGRAM_SEND_RATE did not reach the worker: %d", cfg.TelegramSendRate)
	}
}

// Optional settings left out of .env must stay unset in the containers, so
// the programs' own defaults apply instead of an empty string.
func TestUnsetOptionalSettingsStayUnset(t *testing.T) {
	p := mustLoad(t, nil)
	for name := range apps {
		env := envOf(service(t, p, name))
		for _, v := range []string{"PLANS", "LOG_LEVEL", "OTEL_EXPORTER_OTLP_ENDPOINT"} {
			if val, ok := env[v]; ok {
				t.Errorf("%s gets %s=%q although .env does not set it", name, v, val)
			}
		}
	}
	p = mustLoad(t, map[string]string{"LOG_LEVEL": "debug"})
	for name := range apps {
		if got := envOf(service(t, p, name))["LOG_LEVEL"]; got != "debug" {
			t.Errorf("%s: LOG_LEVEL from .env = %q, want debug", name, got)
		}
	}
}

var interpolationDefault = regexp.MustCompile(`\$\{([A-Z][A-Z0-9_]*):-([^}]*)\}`)

// Where docker-compose.yml needs a setting's value itself (a published port,
// the namespace to create), its fallback must be the program's default.
func TestComposeFallbacksMatchConfigDefaults(t *testing.T) {
	known := configNames()
	for _, m := range interpolationDefault.FindAllStringSubmatch(readFile(t, "docker-compose.yml"), -1) {
		if v, ok := known[m[1]]; ok && v.Default != m[2] {
			t.Errorf("docker-compose.yml falls back to %s=%q, internal/config to %q", m[1], m[2], v.Default)
		}
	}
}
