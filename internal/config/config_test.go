package config

import (
	"strings"
	"testing"
	"time"
)

func valid() map[string]string {
	return map[string]string{
		"DATABASE_URL":             "postgres://vpnflow:secret@127.0.0.1:5432/vpnflow",
		"XRAY_INBOUND_TAG":         "vless-in",
		"VLESS_HOST":               "vpn.example.com",
		"VLESS_REALITY_PUBLIC_KEY": "pbk",
		"VLESS_REALITY_SNI":        "www.example.com",
		"TELEGRAM_BOT_TOKEN":       "123:abc",
		"CRYPTOPAY_TOKEN":          "cp-token",
		"SUBSCRIPTION_BASE_URL":    "https://vpn.example.com/",
	}
}

func with(env map[string]string, kv ...string) map[string]string {
	for i := 0; i < len(kv); i += 2 {
		env[kv[i]] = kv[i+1]
	}
	return env
}

func TestLoadDefaults(t *testing.T) {
	c, err := LoadFrom(valid())
	if err != nil {
		t.Fatal(err)
	}
	if err := c.ForWorker(); err != nil {
		t.Fatalf("worker: %v", err)
	}
	if err := c.ForBot(); err != nil {
		t.Fatalf("bot: %v", err)
	}
	if c.TaskQueue != "vpnflow" || c.TemporalNamespace != "default" || c.VLESSFlow != "xtls-rprx-vision" {
		t.Errorf("defaults: %+v", c)
	}
	if len(c.PlanList) != 3 || c.PlanList[0] != (Plan{ID: "1m", Days: 30, Price: 300, Stars: 150}) {
		t.Errorf("plans: %+v", c.PlanList)
	}
	if c.NodeFailoverAfter != 3*time.Minute || c.NodeFailoverCooldown != time.Hour || c.NodeFailoverRate != 1500 || c.NodeDrainRate != 60 {
		t.Errorf("failover defaults: after %s, cooldown %s, rates %d and %d", c.NodeFailoverAfter, c.NodeFailoverCooldown, c.NodeFailoverRate, c.NodeDrainRate)
	}
	// 0 turns failover off.
	if off, err := LoadFrom(with(valid(), "NODE_FAILOVER_AFTER", "0")); err != nil || off.NodeFailoverAfter != 0 {
		t.Errorf("NODE_FAILOVER_AFTER=0: %v, %s", err, off.NodeFailoverAfter)
	}
	if c.TelegramSendRate != 28 {
		t.Errorf("TELEGRAM_SEND_RATE default: %d", c.TelegramSendRate)
	}
	if c.SubscriptionURL("tok") != "https://vpn.example.com/sub/tok" || c.SubscriptionUpdate != 12*time.Hour || c.SubscriptionTitle != "vpnflow" {
		t.Errorf("subscription: %q every %s titled %q", c.SubscriptionURL("tok"), c.SubscriptionUpdate, c.SubscriptionTitle)
	}
	if c.ReferralMinor != 100 || c.ReferralPercent != 10 || len(c.PaidStages) != 3 || c.PaidStages[0] != 72*time.Hour {
		t.Errorf("derived: %d %v", c.ReferralMinor, c.PaidStages)
	}
}

// Every bad value stops the process with a line naming the variable.
func TestLoadNamesTheBadVariable(t *testing.T) {
	cases := []struct{ name, value, want string }{
		{"TEMPORAL_ADDRESS", "nohost", "TEMPORAL_ADDRESS: must be host:port"},
		{"VLESS_PORT", "70000", "VLESS_PORT: must be a port number"},
		{"VLESS_PORT", "https", "VLESS_PORT: cannot parse as an integer"},
		{"TELEGRAM_MODE", "push", `TELEGRAM_MODE: must be "polling" or "webhook"`},
		{"REFERRAL_PERCENT", "101", "REFERRAL_PERCENT: must be a percentage 0-100"},
		{"REFERRAL_PERCENT", "-1", "REFERRAL_PERCENT: must be a percentage 0-100"},
		{"CRYPTOPAY_INVOICE_TTL", "forever", "CRYPTOPAY_INVOICE_TTL: cannot parse as a duration"},
		{"CRYPTOPAY_INVOICE_TTL", "10s", "CRYPTOPAY_INVOICE_TTL: must be between"},
		{"PLANS", "1m:30d:3.00", "PLANS: entry \"1m:30d:3.00\" must be id:days:price:stars"},
		{"PLANS", "1m:30d:-3:1", "PLANS:"},
		{"PLANS", "1m:30d:3.001:1", "PLANS:"},
		{"REFERRAL_BONUS", "1,5", "REFERRAL_BONUS:"},
		{"ADMIN_IDS", "12,abc", "ADMIN_IDS: cannot parse"},
		{"ADMIN_IDS", "-5", "ADMIN_IDS: must be positive"},
		{"LOG_LEVEL", "loud", "LOG_LEVEL:"},
		{"TELEGRAM_API_URL", "ftp://x", "TELEGRAM_API_URL: must be an http(s) URL"},
		{"SHOP_CURRENCY", "usd", "SHOP_CURRENCY:"},
		{"REMINDERS_PAID", "72h,soon", "REMINDERS_PAID:"},
		{"VPNFLOW_SANDBOX", "true", "VPNFLOW_SANDBOX: the sandbox runs only against a local Telegram stand-in"},
		{"TELEGRAM_SEND_RATE", "0", "TELEGRAM_SEND_RATE: must be between 1 and 30"},
		{"TELEGRAM_SEND_RATE", "31", "TELEGRAM_SEND_RATE: must be between 1 and 30"},
		{"TELEGRAM_SEND_RATE", "28.5", "TELEGRAM_SEND_RATE: cannot parse as an integer"},
		{"TEMPORAL_TASK_QUEUE", "shop-ops", "TEMPORAL_TASK_QUEUE: \"shop-ops\" ends like the operations queue"},
		{"SUBSCRIPTION_BASE_URL", "vpn.example.com", "SUBSCRIPTION_BASE_URL: must be an http(s) URL"},
		{"SUBSCRIPTION_BASE_URL", "https://vpn.example.com/?x=1", "SUBSCRIPTION_BASE_URL: must be an http(s) URL without query"},
		{"SUBSCRIPTION_TITLE", "a title far longer than twenty-five", "SUBSCRIPTION_TITLE: must be 1-25 characters"},
		{"SUBSCRIPTION_TITLE", "two\nlines", "SUBSCRIPTION_TITLE: must be 1-25 characters on one line"},
		{"SUBSCRIPTION_UPDATE_INTERVAL", "90m", "SUBSCRIPTION_UPDATE_INTERVAL: must be whole hours"},
		{"SUBSCRIPTION_UPDATE_INTERVAL", "30m", "SUBSCRIPTION_UPDATE_INTERVAL: must be whole hours between 1h and 168h"},
		{"SUBSCRIPTION_UPDATE_INTERVAL", "200h", "SUBSCRIPTION_UPDATE_INTERVAL: must be whole hours between 1h and 168h"},
		{"SUBSCRIPTION_SUPPORT_URL", "@support", "SUBSCRIPTION_SUPPORT_URL: must be an http(s) URL"},
		{"SUBSCRIPTION_WEB_PAGE_URL", "ftp://x", "SUBSCRIPTION_WEB_PAGE_URL: must be an http(s) URL"},
		{"NODE_FAILOVER_AFTER", "10s", "NODE_FAILOVER_AFTER: must be between 30s and 24h0m0s"},
		{"NODE_FAILOVER_AFTER", "-1m", "NODE_FAILOVER_AFTER: must be between"},
		{"NODE_FAILOVER_COOLDOWN", "0", "NODE_FAILOVER_COOLDOWN: must be between 1m0s"},
		{"NODE_FAILOVER_RATE", "0", "NODE_FAILOVER_RATE: must be between 1 and 20000 users a minute"},
		{"NODE_DRAIN_RATE", "20001", "NODE_DRAIN_RATE: must be between 1 and 20000 users a minute"},
		{"SUBSCRIPTION_CLIENT_IP_HEADER", "X Real IP", "SUBSCRIPTION_CLIENT_IP_HEADER: must be an HTTP header name"},
	}
	for _, c := range cases {
		t.Run(c.name+"="+c.value, func(t *testing.T) {
			_, err := LoadFrom(with(valid(), c.name, c.value))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got %v, want an error containing %q", err, c.want)
			}
			if strings.Contains(err.Error(), "\n") && !strings.HasPrefix(err.Error(), c.name) {
				t.Errorf("error should lead with the variable: %q", err)
			}
		})
	}
}

func TestRequiredPerProcess(t *testing.T) {
	env := valid()
	delete(env, "VLESS_HOST")
	delete(env, "CRYPTOPAY_TOKEN")
	c, err := LoadFrom(env)
	if err != nil {
		t.Fatal(err)
	}
	err = c.ForWorker()
	if err == nil || !strings.Contains(err.Error(), "VLESS_HOST: required but not set") || !strings.Contains(err.Error(), "CRYPTOPAY_TOKEN: required") {
		t.Fatalf("worker: %v", err)
	}
	env = valid()
	delete(env, "SUBSCRIPTION_BASE_URL")
	c, _ = LoadFrom(env)
	for name, check := range map[string]func() error{"worker": c.ForWorker, "bot": c.ForBot} {
		if err := check(); err == nil || !strings.Contains(err.Error(), "SUBSCRIPTION_BASE_URL: required but not set") {
			t.Errorf("%s without SUBSCRIPTION_BASE_URL: %v", name, err)
		}
	}
	c, _ = LoadFrom(with(valid(), "TELEGRAM_MODE", "webhook"))
	if err := c.ForBot(); err == nil || !strings.Contains(err.Error(), "TELEGRAM_WEBHOOK_URL") {
		t.Fatalf("webhook mode without URL: %v", err)
	}
}

func TestSecretsStayOutOfLogs(t *testing.T) {
	c, err := LoadFrom(with(valid(), "TELEGRAM_WEBHOOK_SECRET", "hook-secret"))
	if err != nil {
		t.Fatal(err)
	}
	out := c.String() + c.LogValue().String()
	for _, secret := range []string{"123:abc", "cp-token", "secret@", "hook-secret"} {
		if strings.Contains(out, secret) {
			t.Errorf("%q leaks into %s", secret, out)
		}
	}
	if !strings.Contains(out, "xxxxx") {
		t.Errorf("database password should show as masked: %s", out)
	}
}

// pgx also takes a keyword/value DATABASE_URL ("host=… password=…"); its
// password must not reach the logs either.
func TestKeywordDatabaseURLPasswordStaysOutOfLogs(t *testing.T) {
	c, err := LoadFrom(with(valid(), "DATABASE_URL", "host=db user=vpnflow password=hunter2 dbname=vpnflow"))
	if err != nil {
		t.Fatal(err)
	}
	if out := c.String() + c.LogValue().String(); strings.Contains(out, "hunter2") {
		t.Errorf("the password leaks into %s", out)
	}
}

func TestSandboxAllowedWithLocalStandIn(t *testing.T) {
	if _, err := LoadFrom(with(valid(), "VPNFLOW_SANDBOX", "true", "TELEGRAM_API_URL", "http://127.0.0.1:8088")); err != nil {
		t.Fatal(err)
	}
}

func TestMoney(t *testing.T) {
	for in, want := range map[string]int64{"3": 300, "3.5": 350, "3.05": 305, "0.99": 99, "1000": 100000} {
		got, err := ParseMoney(in)
		if err != nil || got != want {
			t.Errorf("ParseMoney(%q) = %d, %v; want %d", in, got, err, want)
		}
		if back, _ := ParseMoney(FormatMoney(got)); back != got {
			t.Errorf("round trip of %d", got)
		}
	}
}
