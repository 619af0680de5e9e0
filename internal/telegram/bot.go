package telegram

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/go-telegram/bot"
	"github.com/go-telegram/bot/models"
)

// allowedUpdates are the update kinds the bot asks Telegram for.
var allowedUpdates = []string{"message", "callback_query", "pre_checkout_query"}

// BotOptions configure the bot process's client, which also receives
// updates. Zero HTTPClient and PollTimeout give the production values: a
// one-minute long poll under a 75-second request bound.
type BotOptions struct {
	Token  string
	APIURL string
	// WebhookSecret, when set, is the secret Telegram sends with each
	// webhook update.
	WebhookSecret string
	// Handle receives every update.
	Handle func(ctx context.Context, u Update)
	// Errors receives the failures of polling and of handlers' requests
	// the library reports on its own.
	Errors      func(error)
	HTTPClient  *http.Client
	PollTimeout time.Duration
	// Polls hears how each getUpdates round ended.
	Polls PollObserver
}

// Bot is the bot process's client: it sends like Client and receives
// updates by long polling or webhook.
type Bot struct {
	*Client
}

// NewBot builds the bot's client. It does not call Telegram.
func NewBot(o BotOptions) (*Bot, error) {
	if o.HTTPClient == nil {
		o.HTTPClient = &http.Client{Timeout: 75 * time.Second}
	}
	if o.PollTimeout == 0 {
		o.PollTimeout = time.Minute
	}
	if o.Polls.Completed != nil || o.Polls.Conflict != nil {
		hc := *o.HTTPClient
		hc.Transport = observePolls(hc.Transport, o.Polls)
		o.HTTPClient = &hc
	}
	opts := []bot.Option{
		bot.WithServerURL(o.APIURL),
		bot.WithSkipGetMe(),
		bot.WithHTTPClient(o.PollTimeout, o.HTTPClient),
		bot.WithAllowedUpdates(bot.AllowedUpdates(allowedUpdates)),
	}
	if o.Handle != nil {
		opts = append(opts, bot.WithDefaultHandler(func(ctx context.Context, _ *bot.Bot, u *models.Update) { o.Handle(ctx, updateFrom(u)) }))
	}
	if o.Errors != nil {
		opts = append(opts, bot.WithErrorsHandler(o.Errors))
	}
	if o.WebhookSecret != "" {
		opts = append(opts, bot.WithWebhookSecretToken(o.WebhookSecret))
	}
	b, err := bot.New(o.Token, opts...)
	if err != nil {
		return nil, fmt.Errorf("telegram bot client for %s: %w", o.APIURL, err)
	}
	return &Bot{Client: &Client{api: b}}, nil
}

// SetWebhook points Telegram's updates at url, signed with secret.
func (b *Bot) SetWebhook(ctx context.Context, url, secret string) error {
	_, err := b.api.SetWebhook(ctx, &bot.SetWebhookParams{URL: url, SecretToken: secret, AllowedUpdates: allowedUpdates})
	return err
}

// DeleteWebhook removes a webhook, which would make long polling fail.
func (b *Bot) DeleteWebhook(ctx context.Context) error {
	_, err := b.api.DeleteWebhook(ctx, &bot.DeleteWebhookParams{})
	return err
}

// Poll receives updates by long polling until ctx ends.
func (b *Bot) Poll(ctx context.Context) { b.api.Start(ctx) }

// ServeWebhook hands the updates WebhookHandler receives to the handler
// until ctx ends.
func (b *Bot) ServeWebhook(ctx context.Context) { b.api.StartWebhook(ctx) }

// WebhookHandler receives webhook updates over HTTP.
func (b *Bot) WebhookHandler() http.Handler { return b.api.WebhookHandler() }
