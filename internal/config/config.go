// Package config reads vpnflow's configuration from environment variables.
//
// Every process (worker, bot, starter) loads the same Config and then checks
// the part it needs with ForWorker, ForBot or ForStarter, so a mistake stops
// the process at start with one line that names the variable and the problem.
package config

import (
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"strings"
	"time"

	"github.com/caarlos0/env/v11"

	"vpnflow/internal/shop"
)

// Telegram update delivery modes.
const (
	ModePolling = "polling"
	ModeWebhook = "webhook"
)

// MaxTelegramSendRate is Telegram's limit on the messages a bot sends in a
// second to different chats; above it Telegram answers 429.
const MaxTelegramSendRate = 30

// MaxMoveRate bounds NODE_FAILOVER_RATE and NODE_DRAIN_RATE (users moved
// a minute): each move is a few workflow tasks and two Xray calls, and the
// server takes a few thousand of those a minute at most.
const MaxMoveRate = 20000

// Config is the whole configuration. Field tags are the contract documented
// in the README's configuration table; a test keeps the two in step.
type Config struct {
	DatabaseURL string `env:"DATABASE_URL"`

	TemporalAddress   string `env:"TEMPORAL_ADDRESS" envDefault:"127.0.0.1:7233"`
	TemporalNamespace string `env:"TEMPORAL_NAMESPACE" envDefault:"default"`
	TaskQueue         string `env:"TEMPORAL_TASK_QUEUE" envDefault:"vpnflow"`
	TemporalUIURL     string `env:"TEMPORAL_UI_URL"`

	XrayAPIAddr     string `env:"XRAY_API_ADDR" envDefault:"127.0.0.1:10085"`
	XrayInboundTag  string `env:"XRAY_INBOUND_TAG" envDefault:"vless-in"`
	XrayEmailDomain string `env:"XRAY_EMAIL_DOMAIN" envDefault:"vpnflow"`
	XrayNodeRegion  string `env:"XRAY_NODE_REGION"`
	// XrayEndSessions: when a key is revoked, its live sessions are ended
	// too (xray.Client.Disconnect), which needs the worker in Xray's
	// network namespace with CAP_NET_ADMIN. Off, a revoked user's open
	// connections go on until they close.
	XrayEndSessions bool `env:"XRAY_END_SESSIONS" envDefault:"true"`
	// SessionAgentToken is the secret a worker and the session agents of
	// nodes on other machines (`worker session-agent`, a node's agent URL)
	// share: the worker sends it, an agent answers only to it. At least
	// 32 characters; needed once a node has an agent.
	SessionAgentToken string `env:"SESSION_AGENT_TOKEN"`
	// SessionAgentAddr is where `worker session-agent` listens.
	SessionAgentAddr string `env:"SESSION_AGENT_ADDR" envDefault:"127.0.0.1:10086"`

	VLESSHost            string `env:"VLESS_HOST"`
	VLESSPort            int    `env:"VLESS_PORT" envDefault:"443"`
	VLESSRealityPubKey   string `env:"VLESS_REALITY_PUBLIC_KEY"`
	VLESSRealitySNI      string `env:"VLESS_REALITY_SNI"`
	VLESSRealityShortID  string `env:"VLESS_REALITY_SHORT_ID"`
	VLESSRealityFinger   string `env:"VLESS_REALITY_FINGERPRINT" envDefault:"chrome"`
	VLESSFlow            string `env:"VLESS_FLOW" envDefault:"xtls-rprx-vision"`
	VLESSLinkNamePrefix  string `env:"VLESS_LINK_NAME" envDefault:"vpnflow"`
	TelegramBotToken     string `env:"TELEGRAM_BOT_TOKEN"`
	TelegramAPIURL       string `env:"TELEGRAM_API_URL" envDefault:"https://api.telegram.org"`
	TelegramMode         string `env:"TELEGRAM_MODE" envDefault:"polling"`
	TelegramWebhookURL   string `env:"TELEGRAM_WEBHOOK_URL"`
	TelegramWebhookToken string `env:"TELEGRAM_WEBHOOK_SECRET"`

	CryptoPayToken      string        `env:"CRYPTOPAY_TOKEN"`
	CryptoPayAPIURL     string        `env:"CRYPTOPAY_API_URL" envDefault:"https://pay.crypt.bot/api"`
	CryptoPayInvoiceTTL time.Duration `env:"CRYPTOPAY_INVOICE_TTL" envDefault:"1h"`
	CryptoPayPoll       time.Duration `env:"CRYPTOPAY_POLL_INTERVAL" envDefault:"30s"`

	HTTPAddr          string `env:"HTTP_ADDR" envDefault:"127.0.0.1:8080"`
	WorkerMetricsAddr string `env:"WORKER_METRICS_ADDR" envDefault:"127.0.0.1:9091"`

	// The subscription URL each user imports into a VPN app
	// (internal/subfeed): <SubscriptionBaseURL>/sub/<token>, served by the
	// bot's HTTP server. The rest fill the headers the apps read
	// (subscription.go).
	SubscriptionBaseURL    string        `env:"SUBSCRIPTION_BASE_URL"`
	SubscriptionTitle      string        `env:"SUBSCRIPTION_TITLE" envDefault:"vpnflow"`
	SubscriptionUpdate     time.Duration `env:"SUBSCRIPTION_UPDATE_INTERVAL" envDefault:"12h"`
	SubscriptionSupportURL string        `env:"SUBSCRIPTION_SUPPORT_URL"`
	SubscriptionPageURL    string        `env:"SUBSCRIPTION_WEB_PAGE_URL"`
	SubscriptionIPHeader   string        `env:"SUBSCRIPTION_CLIENT_IP_HEADER"`

	AdminIDs []int64 `env:"ADMIN_IDS" envSeparator:","`

	Currency      string        `env:"SHOP_CURRENCY" envDefault:"USD"`
	Plans         string        `env:"PLANS" envDefault:"1m:30d:3.00:150,3m:90d:8.00:400,12m:365d:28.00:1500"`
	TrialDuration time.Duration `env:"TRIAL_DURATION" envDefault:"72h"`
	// A referrer earns ReferralPercent of what the friend paid for their
	// first plan, at most ReferralBonus (ReferralMinor once parsed).
	ReferralBonus   string        `env:"REFERRAL_BONUS" envDefault:"1.00"`
	ReferralPercent int           `env:"REFERRAL_PERCENT" envDefault:"10"`
	RemindersPaid   string        `env:"REMINDERS_PAID" envDefault:"72h,24h,1h"`
	RemindersTrial  string        `env:"REMINDERS_TRIAL" envDefault:"24h,1h"`
	AutoRenewLead   time.Duration `env:"AUTO_RENEW_LEAD" envDefault:"24h"`

	// Sandbox enables the sandbox-only commands (/sandbox_expire). `make dev`
	// sets it when it runs the Telegram stand-in; it is refused with a
	// non-loopback Telegram API here, and at start the bot and the worker
	// turn it off unless Telegram is the stand-in itself (sandboxgate).
	Sandbox bool `env:"VPNFLOW_SANDBOX" envDefault:"false"`

	LogLevel     string `env:"LOG_LEVEL" envDefault:"info"`
	OTLPEndpoint string `env:"OTEL_EXPORTER_OTLP_ENDPOINT"`

	// Temporal Schedules the worker keeps (internal/schedules): Xray
	// reconciliation, the Xray restart watch and the health check.
	ReconcileInterval   time.Duration `env:"RECONCILE_INTERVAL" envDefault:"10m"`
	XrayWatchInterval   time.Duration `env:"XRAY_WATCH_INTERVAL" envDefault:"30s"`
	HealthCheckInterval time.Duration `env:"HEALTH_CHECK_INTERVAL" envDefault:"1m"`

	// Failover and drain of Xray nodes (workflows/evacuation.go): a node
	// whose health probes have failed for NodeFailoverAfter (0: never) is
	// set to draining and its users are moved to healthy nodes at
	// NodeFailoverRate a minute; not again within NodeFailoverCooldown. An
	// operator's drain moves them at NodeDrainRate a minute.
	NodeFailoverAfter    time.Duration `env:"NODE_FAILOVER_AFTER" envDefault:"3m"`
	NodeFailoverCooldown time.Duration `env:"NODE_FAILOVER_COOLDOWN" envDefault:"1h"`
	NodeFailoverRate     int           `env:"NODE_FAILOVER_RATE" envDefault:"1500"`
	NodeDrainRate        int           `env:"NODE_DRAIN_RATE" envDefault:"60"`

	// Liveness (daemon.Liveness): a process whose loops (the bot's update
	// loop, the worker's pollers) complete no round for LivenessBound fails
	// /healthz, and exits after WatchdogLimit more so its supervisor
	// restarts it (0 turns the watchdog off).
	LivenessBound time.Duration `env:"LIVENESS_BOUND" envDefault:"3m"`

	// Bulkheads (shop.Bulkheads): how many activities of each external
	// system the worker runs at once. The database's share is the pool
	// size less a reserve (workerapp.Slots), so no activity waits out its
	// timeout for a connection.
	XraySlots      int           `env:"WORKER_XRAY_SLOTS" envDefault:"16"`
	TelegramSlots  int           `env:"WORKER_TELEGRAM_SLOTS" envDefault:"16"`
	CryptoPaySlots int           `env:"WORKER_CRYPTOPAY_SLOTS" envDefault:"8"`
	WatchdogLimit  time.Duration `env:"WATCHDOG_LIMIT" envDefault:"2m"`
	// TelegramLeaseTTL is how long a polling bot's claim on the token lasts
	// unrenewed (bot_lease): a second bot stands by until it lapses.
	TelegramLeaseTTL time.Duration `env:"TELEGRAM_LEASE_TTL" envDefault:"30s"`
	// TelegramSendRate is how many messages a second the worker sends to
	// Telegram, all its activities together (telegram.Pace). Telegram
	// refuses a bot more than about 30 a second with 429 and a flood
	// wait; the default leaves the bot's own replies, which are not
	// paced, about two a second.
	TelegramSendRate int `env:"TELEGRAM_SEND_RATE" envDefault:"28"`

	// Parsed forms of the string fields above, filled by Load.
	PlanList      []Plan          `env:"-"`
	ReferralMinor int64           `env:"-"`
	PaidStages    []time.Duration `env:"-"`
	TrialStages   []time.Duration `env:"-"`
	Level         slog.Level      `env:"-"`
}

// Load reads the process environment.
func Load() (Config, error) {
	return load(env.Options{})
}

// LoadFrom reads the given variables instead of the process environment; tests
// and the dev stack use it.
func LoadFrom(vars map[string]string) (Config, error) {
	return load(env.Options{Environment: vars})
}

func load(opts env.Options) (Config, error) {
	var c Config
	if err := env.ParseWithOptions(&c, opts); err != nil {
		return c, friendly(err)
	}
	var errs []error
	add := func(name string, err error) {
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", name, err))
		}
	}
	var err error
	c.PlanList, err = ParsePlans(c.Plans)
	add("PLANS", err)
	c.ReferralMinor, err = ParseMoney(c.ReferralBonus)
	add("REFERRAL_BONUS", err)
	if c.ReferralPercent < 0 || c.ReferralPercent > 100 {
		add("REFERRAL_PERCENT", fmt.Errorf("must be a percentage 0-100, got %d", c.ReferralPercent))
	}
	c.PaidStages, err = parseDurations(c.RemindersPaid)
	add("REMINDERS_PAID", err)
	c.TrialStages, err = parseDurations(c.RemindersTrial)
	add("REMINDERS_TRIAL", err)
	add("LOG_LEVEL", c.Level.UnmarshalText([]byte(c.LogLevel)))
	add("TEMPORAL_ADDRESS", hostPort(c.TemporalAddress))
	add("XRAY_API_ADDR", hostPort(c.XrayAPIAddr))
	add("HTTP_ADDR", hostPort(c.HTTPAddr))
	add("WORKER_METRICS_ADDR", hostPort(c.WorkerMetricsAddr))
	add("SESSION_AGENT_ADDR", hostPort(c.SessionAgentAddr))
	if c.SessionAgentToken != "" && len(c.SessionAgentToken) < MinSessionAgentToken {
		add("SESSION_AGENT_TOKEN", fmt.Errorf("must be at least %d characters (e.g. openssl rand -hex 32)", MinSessionAgentToken))
	}
	add("TELEGRAM_API_URL", httpURL(c.TelegramAPIURL))
	add("CRYPTOPAY_API_URL", httpURL(c.CryptoPayAPIURL))
	if c.TemporalUIURL != "" {
		add("TEMPORAL_UI_URL", httpURL(c.TemporalUIURL))
	}
	if c.VLESSPort < 1 || c.VLESSPort > 65535 {
		add("VLESS_PORT", fmt.Errorf("must be a port number 1-65535, got %d", c.VLESSPort))
	}
	if c.TelegramMode != ModePolling && c.TelegramMode != ModeWebhook {
		add("TELEGRAM_MODE", fmt.Errorf("must be %q or %q, got %q", ModePolling, ModeWebhook, c.TelegramMode))
	}
	if c.CryptoPayInvoiceTTL < time.Minute || c.CryptoPayInvoiceTTL > 48*time.Hour {
		add("CRYPTOPAY_INVOICE_TTL", fmt.Errorf("must be between 1m and 48h (Crypto Pay's limit is 2678400 s, but a purchase should not wait that long), got %s", c.CryptoPayInvoiceTTL))
	}
	if c.CryptoPayPoll < time.Second || c.CryptoPayPoll > 10*time.Minute {
		add("CRYPTOPAY_POLL_INTERVAL", fmt.Errorf("must be between 1s and 10m, got %s", c.CryptoPayPoll))
	}
	if c.TrialDuration <= 0 {
		add("TRIAL_DURATION", errors.New("must be positive"))
	}
	if len(c.Currency) != 3 || strings.ToUpper(c.Currency) != c.Currency {
		add("SHOP_CURRENCY", fmt.Errorf("must be a three-letter ISO code such as USD, got %q", c.Currency))
	}
	if strings.ContainsAny(c.XrayEmailDomain, "@ ") || c.XrayEmailDomain == "" {
		add("XRAY_EMAIL_DOMAIN", fmt.Errorf("must be a bare domain such as vpnflow, got %q", c.XrayEmailDomain))
	}
	if c.XrayNodeRegion != "" && (!regionPattern.MatchString(c.XrayNodeRegion) || c.XrayNodeRegion == "any") {
		add("XRAY_NODE_REGION", fmt.Errorf(`must be 1-32 of a-z 0-9 - (not starting with -) and not "any", got %q`, c.XrayNodeRegion))
	}
	checkSlots := func(name string, n int) {
		if n < 1 || n > 1000 {
			add(name, fmt.Errorf("must be between 1 and 1000, got %d", n))
		}
	}
	checkSlots("WORKER_XRAY_SLOTS", c.XraySlots)
	checkSlots("WORKER_TELEGRAM_SLOTS", c.TelegramSlots)
	checkSlots("WORKER_CRYPTOPAY_SLOTS", c.CryptoPaySlots)
	if c.TelegramSendRate < 1 || c.TelegramSendRate > MaxTelegramSendRate {
		add("TELEGRAM_SEND_RATE", fmt.Errorf("must be between 1 and %d messages a second (Telegram's limit for a bot), got %d", MaxTelegramSendRate, c.TelegramSendRate))
	}
	checkInterval := func(name string, d, lo, hi time.Duration) {
		if d < lo || d > hi {
			add(name, fmt.Errorf("must be between %s and %s, got %s", lo, hi, d))
		}
	}
	if shop.IsOpsQueue(c.TaskQueue) {
		add("TEMPORAL_TASK_QUEUE", fmt.Errorf("%q ends like the operations queue beside a task queue (%s); choose another name", c.TaskQueue, shop.OpsQueue("<queue>")))
	}
	checkInterval("RECONCILE_INTERVAL", c.ReconcileInterval, time.Minute, 24*time.Hour)
	checkInterval("XRAY_WATCH_INTERVAL", c.XrayWatchInterval, 10*time.Second, 10*time.Minute)
	checkInterval("HEALTH_CHECK_INTERVAL", c.HealthCheckInterval, 10*time.Second, time.Hour)
	if c.NodeFailoverAfter != 0 {
		checkInterval("NODE_FAILOVER_AFTER", c.NodeFailoverAfter, 30*time.Second, 24*time.Hour)
	}
	checkInterval("NODE_FAILOVER_COOLDOWN", c.NodeFailoverCooldown, time.Minute, 7*24*time.Hour)
	checkRate := func(name string, n int) {
		if n < 1 || n > MaxMoveRate {
			add(name, fmt.Errorf("must be between 1 and %d users a minute, got %d", MaxMoveRate, n))
		}
	}
	checkRate("NODE_FAILOVER_RATE", c.NodeFailoverRate)
	checkRate("NODE_DRAIN_RATE", c.NodeDrainRate)
	checkInterval("LIVENESS_BOUND", c.LivenessBound, 2*time.Second, time.Hour)
	checkInterval("TELEGRAM_LEASE_TTL", c.TelegramLeaseTTL, 3*time.Second, 10*time.Minute)
	if c.WatchdogLimit != 0 {
		checkInterval("WATCHDOG_LIMIT", c.WatchdogLimit, time.Second, time.Hour)
	}
	c.checkSubscription(add)
	if c.Sandbox && !isLoopbackURL(c.TelegramAPIURL) {
		add("VPNFLOW_SANDBOX", fmt.Errorf("the sandbox runs only against a local Telegram stand-in, but TELEGRAM_API_URL is %s", c.TelegramAPIURL))
	}
	for _, id := range c.AdminIDs {
		if id <= 0 {
			add("ADMIN_IDS", fmt.Errorf("must be positive Telegram user ids, got %d", id))
		}
	}
	return c, errors.Join(errs...)
}

// Plan finds a plan by id.
func (c Config) Plan(id string) (Plan, bool) {
	for _, p := range c.PlanList {
		if p.ID == id {
			return p, true
		}
	}
	return Plan{}, false
}

// IsAdmin reports whether a Telegram user id is in ADMIN_IDS.
func (c Config) IsAdmin(id int64) bool {
	for _, a := range c.AdminIDs {
		if a == id {
			return true
		}
	}
	return false
}

// Vars lists every variable Config reads, in declaration order, with its
// default; the README table and the compose test are checked against it.
func Vars() []Var {
	var out []Var
	t := reflect.TypeOf(Config{})
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("env"), ",")
		if name == "" || name == "-" {
			continue
		}
		out = append(out, Var{Name: name, Default: f.Tag.Get("envDefault")})
	}
	return out
}

// Var is one environment variable.
type Var struct {
	Name    string
	Default string
}
