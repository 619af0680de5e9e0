package config

import (
	"errors"
	"fmt"
	"reflect"
)

// Each process checks the part of the configuration it needs, so a process
// refuses to start without what it would fail on later.

// ForWorker checks what the worker needs on top of Load's format checks.
func (c Config) ForWorker() error {
	return c.require("DATABASE_URL", "XRAY_API_ADDR", "XRAY_INBOUND_TAG", "VLESS_HOST",
		"VLESS_REALITY_PUBLIC_KEY", "VLESS_REALITY_SNI", "TELEGRAM_BOT_TOKEN", "CRYPTOPAY_TOKEN",
		"SUBSCRIPTION_BASE_URL")
}

// ForBot checks what the Telegram-facing process needs.
func (c Config) ForBot() error {
	if err := c.require("DATABASE_URL", "TELEGRAM_BOT_TOKEN", "CRYPTOPAY_TOKEN", "SUBSCRIPTION_BASE_URL"); err != nil {
		return err
	}
	if c.TelegramMode == ModeWebhook {
		if err := c.require("TELEGRAM_WEBHOOK_URL", "TELEGRAM_WEBHOOK_SECRET"); err != nil {
			return fmt.Errorf("%w (required when TELEGRAM_MODE=webhook)", err)
		}
	}
	return nil
}

// MinSessionAgentToken is the shortest SESSION_AGENT_TOKEN accepted.
const MinSessionAgentToken = 32

// ForSessionAgent checks what a node's session agent needs: its Xray, and
// the secret the workers call it with.
func (c Config) ForSessionAgent() error {
	return c.require("XRAY_API_ADDR", "XRAY_INBOUND_TAG", "SESSION_AGENT_TOKEN")
}

// ForStarter checks what the operator CLI's database and Temporal commands need.
func (c Config) ForStarter() error {
	return c.require("DATABASE_URL")
}

func (c Config) require(names ...string) error {
	var errs []error
	v := reflect.ValueOf(c)
	for _, name := range names {
		f, ok := fieldByEnv(name)
		if !ok {
			panic("config: no field for " + name)
		}
		if v.FieldByIndex(f.Index).IsZero() {
			errs = append(errs, fmt.Errorf("%s: required but not set", name))
		}
	}
	if c.VLESSRealityShortID != "" && !isHex(c.VLESSRealityShortID) {
		errs = append(errs, fmt.Errorf("VLESS_REALITY_SHORT_ID: must be hex (up to 16 digits), got %q", c.VLESSRealityShortID))
	}
	return errors.Join(errs...)
}
