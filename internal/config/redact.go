package config

import (
	"log/slog"

	"vpnflow/internal/db"
)

// LogValue keeps secrets out of logs: tokens are dropped and the database
// password is masked.
func (c Config) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("database", redactURL(c.DatabaseURL)),
		slog.String("temporal", c.TemporalAddress+"/"+c.TemporalNamespace),
		slog.String("task_queue", c.TaskQueue),
		slog.String("xray", c.XrayAPIAddr+"#"+c.XrayInboundTag),
		slog.Bool("session_agent_token_set", c.SessionAgentToken != ""),
		slog.String("telegram_api", c.TelegramAPIURL),
		slog.String("telegram_mode", c.TelegramMode),
		slog.Int("telegram_send_rate", c.TelegramSendRate),
		slog.Bool("telegram_token_set", c.TelegramBotToken != ""),
		slog.String("cryptopay_api", c.CryptoPayAPIURL),
		slog.Bool("cryptopay_token_set", c.CryptoPayToken != ""),
		slog.String("http_addr", c.HTTPAddr),
		slog.String("subscription_base_url", c.SubscriptionBaseURL),
		slog.Int("plans", len(c.PlanList)),
		slog.Int("admins", len(c.AdminIDs)),
	)
}

// String is the same redacted form, so fmt never prints a token either.
func (c Config) String() string { return c.LogValue().String() }

// redactURL hides a URL's password (internal/db.Redact), keeping an empty
// one empty so that an unset variable logs as unset.
func redactURL(s string) string {
	if s == "" {
		return ""
	}
	return db.Redact(s)
}
