// Package telegram is vpnflow's one adapter to the Telegram Bot API: the
// client, what it sends (text, photos, invoices, edits, answers), how its
// failures are classified, and the rendering of what the shop shows users
// (notices, keyboards, the key message with its QR code). No other
// production package speaks the go-telegram/bot types for sending.
package telegram

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/go-telegram/bot"
	"github.com/go-telegram/bot/models"
)

// Client sends to the Bot API.
type Client struct {
	api *bot.Bot
	// pace, when set, is the budget the messages it sends (and edits)
	// wait for; answers to callbacks and pre-checkouts never wait.
	pace *Pace
}

// New builds a client that only sends (the worker's): no getMe at start,
// and a 15-second bound on each request so a hung Telegram fails the
// activity attempt instead of holding it. transport carries its requests
// (nil: Go's default), so the worker can put a circuit breaker in front.
// Its messages wait for pace (nil: they never wait).
func New(token, apiURL string, transport http.RoundTripper, pace *Pace) (*Client, error) {
	b, err := bot.New(token, bot.WithServerURL(apiURL), bot.WithSkipGetMe(),
		bot.WithHTTPClient(30*time.Second, &http.Client{Timeout: 15 * time.Second, Transport: transport}))
	if err != nil {
		return nil, fmt.Errorf("telegram client for %s: %w", apiURL, err)
	}
	return &Client{api: b, pace: pace}, nil
}

// Wrap sends through a client built elsewhere: the bot process's, whose
// dispatcher also receives updates.
func Wrap(b *bot.Bot) *Client {
	return &Client{api: b}
}

// Button is one inline keyboard button: a callback or a link.
type Button struct {
	Text         string
	CallbackData string
	URL          string
}

// Keyboard is an inline keyboard, row by row; nil sends none.
type Keyboard [][]Button

func (k Keyboard) markup() models.ReplyMarkup {
	if k == nil {
		return nil
	}
	rows := make([][]models.InlineKeyboardButton, len(k))
	for i, row := range k {
		for _, b := range row {
			rows[i] = append(rows[i], models.InlineKeyboardButton{Text: b.Text, CallbackData: b.CallbackData, URL: b.URL})
		}
	}
	return &models.InlineKeyboardMarkup{InlineKeyboard: rows}
}

// Message is a text message. Its text is HTML unless Plain; NoPreview
// turns off the link preview.
type Message struct {
	ChatID    int64
	Text      string
	Keyboard  Keyboard
	Plain     bool
	NoPreview bool
}

func (m Message) parseMode() models.ParseMode {
	if m.Plain {
		return ""
	}
	return models.ParseModeHTML
}

func (m Message) preview() *models.LinkPreviewOptions {
	if !m.NoPreview {
		return nil
	}
	return &models.LinkPreviewOptions{IsDisabled: bot.True()}
}

// Send sends a text message and returns its id.
func (c *Client) Send(ctx context.Context, m Message) (int, error) {
	done, err := c.pace.take(ctx)
	if err != nil {
		return 0, err
	}
	defer done()
	sent, err := c.api.SendMessage(ctx, &bot.SendMessageParams{
		ChatID: m.ChatID, Text: m.Text, ParseMode: m.parseMode(), ReplyMarkup: m.Keyboard.markup(),
		LinkPreviewOptions: m.preview(),
	})
	if err != nil {
		return 0, err
	}
	return sent.ID, nil
}

// Edit replaces the text and keyboard of message msgID in m's chat.
func (c *Client) Edit(ctx context.Context, msgID int, m Message) error {
	done, err := c.pace.take(ctx)
	if err != nil {
		return err
	}
	defer done()
	_, err = c.api.EditMessageText(ctx, &bot.EditMessageTextParams{
		ChatID: m.ChatID, MessageID: msgID, Text: m.Text, ParseMode: m.parseMode(), ReplyMarkup: m.Keyboard.markup(),
		LinkPreviewOptions: m.preview(),
	})
	return err
}

// Photo is a PNG image with an HTML caption.
type Photo struct {
	ChatID   int64
	Filename string
	PNG      []byte
	Caption  string
	Keyboard Keyboard
}

// SendPhoto uploads and sends a photo.
func (c *Client) SendPhoto(ctx context.Context, p Photo) error {
	done, err := c.pace.take(ctx)
	if err != nil {
		return err
	}
	defer done()
	_, err = c.api.SendPhoto(ctx, &bot.SendPhotoParams{
		ChatID:  p.ChatID,
		Photo:   &models.InputFileUpload{Filename: p.Filename, Data: bytes.NewReader(p.PNG)},
		Caption: p.Caption, ParseMode: models.ParseModeHTML, ReplyMarkup: p.Keyboard.markup(),
	})
	return err
}

// AnswerCallback answers a button press; a non-empty text shows as a toast.
func (c *Client) AnswerCallback(ctx context.Context, queryID, text string) error {
	_, err := c.api.AnswerCallbackQuery(ctx, &bot.AnswerCallbackQueryParams{CallbackQueryID: queryID, Text: text})
	return err
}

// Username is the bot's @username, from getMe: it also proves that the Bot
// API answers and the token is valid.
func (c *Client) Username(ctx context.Context) (string, error) {
	me, err := c.api.GetMe(ctx)
	if err != nil {
		return "", err
	}
	return me.Username, nil
}
