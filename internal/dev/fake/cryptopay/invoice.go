package cryptopay

import (
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"time"
)

// Invoice is an invoice exactly as the stand-in puts it on the wire. It is
// spelled out here rather than borrowed from the client package, so a
// mistake in the client's field tags shows up in tests instead of being
// mirrored.
type Invoice struct {
	InvoiceID    int64  `json:"invoice_id"`
	Hash         string `json:"hash"`
	CurrencyType string `json:"currency_type"`
	Asset        string `json:"asset,omitempty"`
	Fiat         string `json:"fiat,omitempty"`
	Amount       string `json:"amount"`

	PaidAsset      string      `json:"paid_asset,omitempty"`
	PaidAmount     string      `json:"paid_amount,omitempty"`
	PaidFiatRate   string      `json:"paid_fiat_rate,omitempty"`
	PaidUSDRate    string      `json:"paid_usd_rate,omitempty"`
	AcceptedAssets []string    `json:"accepted_assets,omitempty"`
	FeeAsset       string      `json:"fee_asset,omitempty"`
	FeeAmount      json.Number `json:"fee_amount,omitempty"` // a number on the wire, unlike the others

	BotInvoiceURL     string `json:"bot_invoice_url"`
	PayURL            string `json:"pay_url"`
	MiniAppInvoiceURL string `json:"mini_app_invoice_url"`
	WebAppInvoiceURL  string `json:"web_app_invoice_url"`

	Description     string    `json:"description,omitempty"`
	Status          string    `json:"status"`
	CreatedAt       time.Time `json:"created_at"`
	ExpirationDate  time.Time `json:"expiration_date,omitzero"`
	PaidAt          time.Time `json:"paid_at,omitzero"`
	AllowComments   bool      `json:"allow_comments"`
	AllowAnonymous  bool      `json:"allow_anonymous"`
	PaidAnonymously *bool     `json:"paid_anonymously,omitempty"`
	Comment         string    `json:"comment,omitempty"`
	HiddenMessage   string    `json:"hidden_message,omitempty"`
	Payload         string    `json:"payload,omitempty"`
	PaidBtnName     string    `json:"paid_btn_name,omitempty"`
	PaidBtnURL      string    `json:"paid_btn_url,omitempty"`
}

// Invoice statuses.
const (
	StatusActive  = "active"
	StatusPaid    = "paid"
	StatusExpired = "expired"
)

var (
	// ErrNotFound means no invoice has the given id or hash.
	ErrNotFound = errors.New("invoice not found")
	// ErrNotActive means the invoice is already paid or expired.
	ErrNotActive = errors.New("invoice is not active")
)

// record is an invoice and the stand-in's private state about it.
type record struct {
	inv     Invoice
	webhook *WebhookBehavior // overrides the global behaviour when set
}

func (inv Invoice) clone() Invoice {
	inv.AcceptedAssets = slices.Clone(inv.AcceptedAssets)
	return inv
}

// assetUSD and fiatUSD give the price in USD of one unit, as exact
// decimals. They are made up but plausible, so conversions look like real
// ones.
func assetUSD() map[string]string {
	return map[string]string{
		"USDT": "1", "USDC": "1", "TON": "5.2", "BTC": "65000", "ETH": "3200",
		"LTC": "80", "BNB": "580", "TRX": "0.12",
	}
}

func fiatUSD() map[string]string {
	return map[string]string{
		"USD": "1", "EUR": "1.08", "GBP": "1.27", "RUB": "0.011", "UAH": "0.024",
		"KZT": "0.0021", "BYN": "0.31", "UZS": "0.00008", "GEL": "0.37", "TRY": "0.031",
	}
}

// feePercent is the share Crypto Pay keeps of each payment.
const feePercent = 3

// usdRate is the price of one unit of code in USD from table.
func usdRate(table map[string]string, code string) (*big.Rat, error) {
	r, ok := new(big.Rat).SetString(table[code])
	if !ok {
		return nil, fmt.Errorf("no rate for %q", code)
	}
	return r, nil
}

// newHash returns an invoice hash shaped like the real ones ("IV" + 12).
func newHash() string {
	return "IV" + rand.Text()[:12]
}

// refreshLocked turns active invoices whose expiration date has passed
// into expired ones, as the real service shows them on the next read.
func (s *Server) refreshLocked() {
	now := s.now()
	for _, rec := range s.invoices {
		inv := &rec.inv
		if inv.Status == StatusActive && !inv.ExpirationDate.IsZero() && !now.Before(inv.ExpirationDate) {
			inv.Status = StatusExpired
		}
	}
}

// Invoices returns every invoice, oldest first.
func (s *Server) Invoices() []Invoice {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.refreshLocked()
	out := make([]Invoice, len(s.invoices))
	for i, rec := range s.invoices {
		out[i] = rec.inv.clone()
	}
	return out
}

// Invoice returns one invoice by id.
func (s *Server) Invoice(id int64) (Invoice, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.refreshLocked()
	rec, ok := s.byID[id]
	if !ok {
		return Invoice{}, false
	}
	return rec.inv.clone(), true
}

// InvoiceByHash returns one invoice by its hash, as in a pay page URL.
func (s *Server) InvoiceByHash(hash string) (Invoice, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.refreshLocked()
	rec, ok := s.byHash[hash]
	if !ok {
		return Invoice{}, false
	}
	return rec.inv.clone(), true
}

// Expire makes an active invoice expired now.
func (s *Server) Expire(id int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.refreshLocked()
	rec, ok := s.byID[id]
	if !ok {
		return fmt.Errorf("expire invoice %d: %w", id, ErrNotFound)
	}
	if rec.inv.Status != StatusActive {
		return fmt.Errorf("expire invoice %d (%s): %w", id, rec.inv.Status, ErrNotActive)
	}
	rec.inv.Status = StatusExpired
	return nil
}

// PayOptions shapes a payment made through PayWith.
type PayOptions struct {
	// Asset is what a fiat invoice is paid in; it must be accepted by the
	// invoice. Empty means the first accepted asset.
	Asset     string
	Comment   string
	Anonymous bool
	// Webhook overrides the invoice's and the global webhook behaviour for
	// this payment.
	Webhook *WebhookBehavior
}

// Pay pays an active invoice as a user would and sends the webhook.
func (s *Server) Pay(id int64) error {
	return s.PayWith(id, PayOptions{})
}

// PayWith pays an active invoice with the given options and sends the
// webhook according to the behaviour in force.
func (s *Server) PayWith(id int64, o PayOptions) error {
	s.mu.Lock()
	s.refreshLocked()
	rec, ok := s.byID[id]
	if !ok {
		s.mu.Unlock()
		return fmt.Errorf("pay invoice %d: %w", id, ErrNotFound)
	}
	if rec.inv.Status != StatusActive {
		s.mu.Unlock()
		return fmt.Errorf("pay invoice %d (%s): %w", id, rec.inv.Status, ErrNotActive)
	}
	if o.Comment != "" && !rec.inv.AllowComments {
		s.mu.Unlock()
		return fmt.Errorf("pay invoice %d: comments are not allowed", id)
	}
	if o.Anonymous && !rec.inv.AllowAnonymous {
		s.mu.Unlock()
		return fmt.Errorf("pay invoice %d: anonymous payment is not allowed", id)
	}
	if err := settle(&rec.inv, o.Asset); err != nil {
		s.mu.Unlock()
		return fmt.Errorf("pay invoice %d: %w", id, err)
	}
	anon := o.Anonymous
	rec.inv.Status = StatusPaid
	rec.inv.PaidAt = s.now().UTC().Truncate(time.Millisecond)
	rec.inv.PaidAnonymously = &anon
	rec.inv.Comment = o.Comment

	behavior := s.behavior
	if rec.webhook != nil {
		behavior = *rec.webhook
	}
	if o.Webhook != nil {
		behavior = *o.Webhook
	}
	job, err := s.newUpdateLocked(rec.inv, behavior)
	s.mu.Unlock()
	if err != nil {
		return fmt.Errorf("pay invoice %d: %w", id, err)
	}
	s.send(job)
	return nil
}

// settle fills in what was paid, converting a fiat amount at the made-up
// rates with exact arithmetic.
func settle(inv *Invoice, asset string) error {
	amount, ok := new(big.Rat).SetString(inv.Amount)
	if !ok {
		return fmt.Errorf("amount %q is not a number", inv.Amount)
	}
	switch inv.CurrencyType {
	case "crypto":
		if asset != "" && asset != inv.Asset {
			return fmt.Errorf("a %s invoice cannot be paid in %s", inv.Asset, asset)
		}
		inv.PaidAsset = inv.Asset
		inv.PaidAmount = inv.Amount
	default:
		if asset == "" && len(inv.AcceptedAssets) > 0 {
			asset = inv.AcceptedAssets[0]
		}
		if !slices.Contains(inv.AcceptedAssets, asset) {
			return fmt.Errorf("asset %q is not accepted (accepted: %v)", asset, inv.AcceptedAssets)
		}
		assetRate, err := usdRate(assetUSD(), asset)
		if err != nil {
			return err
		}
		fiatRate, err := usdRate(fiatUSD(), inv.Fiat)
		if err != nil {
			return err
		}
		rate := new(big.Rat).Quo(assetRate, fiatRate) // price of one asset unit in the fiat
		inv.PaidAsset = asset
		inv.PaidFiatRate = rate.FloatString(8)
		amount.Quo(amount, rate)
		inv.PaidAmount = amount.FloatString(8)
	}
	usd, err := usdRate(assetUSD(), inv.PaidAsset)
	if err != nil {
		return err
	}
	fee := new(big.Rat).Mul(amount, big.NewRat(feePercent, 100))
	inv.PaidUSDRate = usd.FloatString(8)
	inv.FeeAsset = inv.PaidAsset
	inv.FeeAmount = json.Number(fee.FloatString(8))
	return nil
}
