package cryptopay

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// CurrencyType says whether an invoice's amount is in a crypto asset or in
// a fiat currency converted at payment time.
type CurrencyType string

const (
	CurrencyCrypto CurrencyType = "crypto"
	CurrencyFiat   CurrencyType = "fiat"
)

// InvoiceStatus is where an invoice is in its life.
type InvoiceStatus string

const (
	StatusActive  InvoiceStatus = "active"
	StatusPaid    InvoiceStatus = "paid"
	StatusExpired InvoiceStatus = "expired"
)

// PaidButton names the button shown to the payer after payment.
type PaidButton string

const (
	ButtonViewItem    PaidButton = "viewItem"
	ButtonOpenChannel PaidButton = "openChannel"
	ButtonOpenBot     PaidButton = "openBot"
	ButtonCallback    PaidButton = "callback"
)

// API limits on invoice fields.
const (
	MaxPayloadBytes       = 4096
	MaxDescriptionRunes   = 1024
	MaxHiddenMessageRunes = 2048
	MaxExpiresIn          = 2678400 * time.Second
	MaxInvoicesPerPage    = 1000
)

// Invoice is an invoice as the API returns it.
type Invoice struct {
	InvoiceID    int64        `json:"invoice_id"`
	Hash         string       `json:"hash"`
	CurrencyType CurrencyType `json:"currency_type"`
	Asset        string       `json:"asset,omitempty"`
	Fiat         string       `json:"fiat,omitempty"`
	Amount       Decimal      `json:"amount"`

	PaidAsset      string   `json:"paid_asset,omitempty"`
	PaidAmount     Decimal  `json:"paid_amount,omitempty"`
	PaidFiatRate   Decimal  `json:"paid_fiat_rate,omitempty"`
	PaidUSDRate    Decimal  `json:"paid_usd_rate,omitempty"`
	AcceptedAssets []string `json:"accepted_assets,omitempty"`
	FeeAsset       string   `json:"fee_asset,omitempty"`
	FeeAmount      Decimal  `json:"fee_amount,omitempty"`

	BotInvoiceURL     string `json:"bot_invoice_url"`
	PayURL            string `json:"pay_url,omitempty"` // older name of BotInvoiceURL
	MiniAppInvoiceURL string `json:"mini_app_invoice_url,omitempty"`
	WebAppInvoiceURL  string `json:"web_app_invoice_url,omitempty"`

	Description     string        `json:"description,omitempty"`
	Status          InvoiceStatus `json:"status"`
	CreatedAt       time.Time     `json:"created_at"`
	ExpirationDate  time.Time     `json:"expiration_date,omitzero"`
	PaidAt          time.Time     `json:"paid_at,omitzero"`
	AllowComments   bool          `json:"allow_comments"`
	AllowAnonymous  bool          `json:"allow_anonymous"`
	PaidAnonymously bool          `json:"paid_anonymously,omitempty"`
	Comment         string        `json:"comment,omitempty"`
	HiddenMessage   string        `json:"hidden_message,omitempty"`
	Payload         string        `json:"payload,omitempty"`
	PaidBtnName     PaidButton    `json:"paid_btn_name,omitempty"`
	PaidBtnURL      string        `json:"paid_btn_url,omitempty"`
}

// URL is the link to send the payer: bot_invoice_url, or pay_url from
// responses that predate it.
func (inv Invoice) URL() string {
	if inv.BotInvoiceURL != "" {
		return inv.BotInvoiceURL
	}
	return inv.PayURL
}

// CreateInvoiceParams describes an invoice to create.
type CreateInvoiceParams struct {
	CurrencyType CurrencyType // empty means crypto
	Asset        string       // for crypto: USDT, TON, BTC, ...
	Fiat         string       // for fiat: USD, EUR, ...
	// AcceptedAssets limits what a fiat invoice may be paid in; empty means
	// every asset the app supports.
	AcceptedAssets []string
	Amount         string // decimal, e.g. FormatCents(499) = "4.99"
	Description    string
	HiddenMessage  string // shown to the payer after payment
	PaidBtnName    PaidButton
	PaidBtnURL     string
	Payload        string        // ours, echoed back; at most 4 KiB
	AllowComments  *bool         // nil keeps the API default (true)
	AllowAnonymous *bool         // nil keeps the API default (true)
	ExpiresIn      time.Duration // zero means never; whole seconds, at most 31 days
}

type createInvoiceRequest struct {
	CurrencyType   CurrencyType `json:"currency_type,omitempty"`
	Asset          string       `json:"asset,omitempty"`
	Fiat           string       `json:"fiat,omitempty"`
	AcceptedAssets string       `json:"accepted_assets,omitempty"`
	Amount         string       `json:"amount"`
	Description    string       `json:"description,omitempty"`
	HiddenMessage  string       `json:"hidden_message,omitempty"`
	PaidBtnName    PaidButton   `json:"paid_btn_name,omitempty"`
	PaidBtnURL     string       `json:"paid_btn_url,omitempty"`
	Payload        string       `json:"payload,omitempty"`
	AllowComments  *bool        `json:"allow_comments,omitempty"`
	AllowAnonymous *bool        `json:"allow_anonymous,omitempty"`
	ExpiresIn      int64        `json:"expires_in,omitempty"`
}

// CreateInvoice creates an invoice. Parameters the API would refuse are
// refused here with ErrInvalidParams, which is not retryable.
func (c *Client) CreateInvoice(ctx context.Context, p CreateInvoiceParams) (Invoice, error) {
	req, err := p.request()
	if err != nil {
		return Invoice{}, fmt.Errorf("cryptopay createInvoice: %w", err)
	}
	var inv Invoice
	if err := c.call(ctx, "createInvoice", req, &inv); err != nil {
		return Invoice{}, err
	}
	return inv, nil
}

func (p CreateInvoiceParams) request() (createInvoiceRequest, error) {
	bad := func(format string, args ...any) (createInvoiceRequest, error) {
		return createInvoiceRequest{}, fmt.Errorf("%w: "+format, append([]any{ErrInvalidParams}, args...)...)
	}
	switch p.CurrencyType {
	case "", CurrencyCrypto:
		if p.Asset == "" {
			return bad("a crypto invoice needs an asset")
		}
		if p.Fiat != "" || len(p.AcceptedAssets) > 0 {
			return bad("fiat and accepted assets apply only to fiat invoices")
		}
	case CurrencyFiat:
		if p.Fiat == "" {
			return bad("a fiat invoice needs a fiat currency")
		}
		if p.Asset != "" {
			return bad("asset applies only to crypto invoices")
		}
	default:
		return bad("unknown currency type %q", p.CurrencyType)
	}
	if !isPositiveDecimal(p.Amount) {
		return bad("amount %q is not a positive decimal", p.Amount)
	}
	if n := len(p.Payload); n > MaxPayloadBytes {
		return bad("payload is %d bytes, limit %d", n, MaxPayloadBytes)
	}
	if n := utf8.RuneCountInString(p.Description); n > MaxDescriptionRunes {
		return bad("description is %d characters, limit %d", n, MaxDescriptionRunes)
	}
	if n := utf8.RuneCountInString(p.HiddenMessage); n > MaxHiddenMessageRunes {
		return bad("hidden message is %d characters, limit %d", n, MaxHiddenMessageRunes)
	}
	if (p.PaidBtnName == "") != (p.PaidBtnURL == "") {
		return bad("paid button name and URL go together")
	}
	if p.ExpiresIn != 0 && (p.ExpiresIn < time.Second || p.ExpiresIn > MaxExpiresIn) {
		return bad("expires in %s is outside 1s..%s", p.ExpiresIn, MaxExpiresIn)
	}
	return createInvoiceRequest{
		CurrencyType:   p.CurrencyType,
		Asset:          p.Asset,
		Fiat:           p.Fiat,
		AcceptedAssets: strings.Join(p.AcceptedAssets, ","),
		Amount:         p.Amount,
		Description:    p.Description,
		HiddenMessage:  p.HiddenMessage,
		PaidBtnName:    p.PaidBtnName,
		PaidBtnURL:     p.PaidBtnURL,
		Payload:        p.Payload,
		AllowComments:  p.AllowComments,
		AllowAnonymous: p.AllowAnonymous,
		ExpiresIn:      int64(p.ExpiresIn / time.Second),
	}, nil
}

// GetInvoicesParams filters getInvoices; the zero value lists the latest
// page of every invoice.
type GetInvoicesParams struct {
	Asset      string
	Fiat       string
	InvoiceIDs []int64
	Status     InvoiceStatus // the API filters by active or paid only
	Offset     int
	Count      int // 0 means the API default (100); at most 1000
}

type getInvoicesRequest struct {
	Asset      string        `json:"asset,omitempty"`
	Fiat       string        `json:"fiat,omitempty"`
	InvoiceIDs string        `json:"invoice_ids,omitempty"`
	Status     InvoiceStatus `json:"status,omitempty"`
	Offset     int           `json:"offset,omitempty"`
	Count      int           `json:"count,omitempty"`
}

// GetInvoices lists invoices matching p.
func (c *Client) GetInvoices(ctx context.Context, p GetInvoicesParams) ([]Invoice, error) {
	if p.Offset < 0 || p.Count < 0 || p.Count > MaxInvoicesPerPage {
		return nil, fmt.Errorf("cryptopay getInvoices: %w: offset %d, count %d (count must be 0..%d)",
			ErrInvalidParams, p.Offset, p.Count, MaxInvoicesPerPage)
	}
	ids := make([]string, len(p.InvoiceIDs))
	for i, id := range p.InvoiceIDs {
		ids[i] = strconv.FormatInt(id, 10)
	}
	req := getInvoicesRequest{
		Asset:      p.Asset,
		Fiat:       p.Fiat,
		InvoiceIDs: strings.Join(ids, ","),
		Status:     p.Status,
		Offset:     p.Offset,
		Count:      p.Count,
	}
	var res struct {
		Items []Invoice `json:"items"`
	}
	if err := c.call(ctx, "getInvoices", req, &res); err != nil {
		return nil, err
	}
	return res.Items, nil
}
