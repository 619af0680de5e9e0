package activities

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/google/uuid"

	"vpnflow/internal/cryptopay"
	"vpnflow/internal/store"
)

// The payments sweep's activities: each one Telegram or Crypto Pay call,
// or one database transaction (see workflows/sweep.go).

// StarCursorName names the getStarTransactions cursor in
// payment_sweep_cursors.
const StarCursorName = "telegram_stars"

// StarPageSize is getStarTransactions' largest page.
const StarPageSize = 100

// StarCursor is where the last sweep stopped in Telegram's Stars list.
type StarCursor struct {
	Offset int64
}

// LoadStarCursor reads the cursor.
func (a *Activities) LoadStarCursor(ctx context.Context, _ StarCursor) (StarCursor, error) {
	pos, err := a.Store.StarCursor(ctx, StarCursorName)
	return StarCursor{Offset: pos}, storeError("load stars cursor", err)
}

// StarCharge is an incoming Stars payment as Telegram lists it.
type StarCharge struct {
	ChargeID string
	UserID   int64
	Amount   int64
	Payload  string
	Date     time.Time
}

// StarPage is one page of getStarTransactions: how many transactions it
// held (the cursor moves by that) and the incoming invoice payments among
// them.
type StarPage struct {
	Count   int
	Charges []StarCharge
}

// FetchStarTransactions reads one page of the bot's Stars transactions,
// oldest first, from the cursor.
func (a *Activities) FetchStarTransactions(ctx context.Context, in StarCursor) (StarPage, error) {
	txs, err := a.Telegram.StarTransactions(ctx, int(in.Offset), StarPageSize)
	if err != nil {
		return StarPage{}, fmt.Errorf("get star transactions at %d: %w", in.Offset, err)
	}
	page := StarPage{Count: len(txs)}
	for _, tx := range txs {
		// An incoming payment from a user; a refund has the user as its
		// receiver instead.
		if tx.FromUser == 0 || tx.Amount <= 0 {
			continue
		}
		page.Charges = append(page.Charges, StarCharge{
			ChargeID: tx.ID, UserID: tx.FromUser, Amount: int64(tx.Amount), Payload: tx.Payload, Date: tx.Date,
		})
	}
	return page, nil
}

// RecordStarPageInput is a page to record and the cursor move it makes.
type RecordStarPageInput struct {
	From, To int64
	Charges  []StarCharge
}

// RecordStarPageResult lists the charges the database did not know.
type RecordStarPageResult struct {
	Added []string
}

// RecordStarPage records the page's unknown charges and moves the cursor,
// in one transaction (store.RecordStarTransactions: a retry after the
// commit changes nothing).
func (a *Activities) RecordStarPage(ctx context.Context, in RecordStarPageInput) (RecordStarPageResult, error) {
	rows := make([]store.StarPayment, 0, len(in.Charges))
	for _, c := range in.Charges {
		p := store.StarPayment{ChargeID: c.ChargeID, UserID: c.UserID, Amount: c.Amount, Currency: "XTR", ReceivedAt: c.Date}
		if id, err := uuid.Parse(c.Payload); err == nil {
			p.PurchaseID = &id
		}
		rows = append(rows, p)
	}
	added, err := a.Store.RecordStarTransactions(ctx, StarCursorName, in.From, in.To, rows)
	if err != nil {
		return RecordStarPageResult{}, storeError("record stars page", err)
	}
	return RecordStarPageResult{Added: added}, nil
}

// UnhandledStarsInput asks for charges left unhandled longer than Grace.
type UnhandledStarsInput struct {
	Grace time.Duration
	Limit int
}

// UnhandledStar is a recorded Stars charge no workflow settled.
type UnhandledStar struct {
	ChargeID   string
	UserID     int64
	PurchaseID string // "" if the payload named no purchase
	Amount     int64
}

// UnhandledStarsResult lists them, oldest first.
type UnhandledStarsResult struct {
	Payments []UnhandledStar
}

// UnhandledStarPayments marks settled charges handled and lists the rest
// older than Grace.
func (a *Activities) UnhandledStarPayments(ctx context.Context, in UnhandledStarsInput) (UnhandledStarsResult, error) {
	rows, err := a.Store.UnhandledStarPayments(ctx, in.Grace, in.Limit)
	if err != nil {
		return UnhandledStarsResult{}, storeError("list unhandled stars payments", err)
	}
	var out UnhandledStarsResult
	for _, r := range rows {
		u := UnhandledStar{ChargeID: r.ChargeID, UserID: r.UserID, Amount: r.Amount}
		if r.PurchaseID != nil {
			u.PurchaseID = r.PurchaseID.String()
		}
		out.Payments = append(out.Payments, u)
	}
	return out, nil
}

// PaidInvoicesInput is one page of Crypto Pay's paid invoices, newest
// first.
type PaidInvoicesInput struct {
	Offset int
	Count  int
}

// PaidInvoice is a paid Crypto Pay invoice.
type PaidInvoice struct {
	InvoiceID string
	Payload   string
	CreatedAt time.Time
}

// PaidInvoicesResult is the page.
type PaidInvoicesResult struct {
	Invoices []PaidInvoice
}

// FetchPaidInvoices reads one page of getInvoices(status=paid).
func (a *Activities) FetchPaidInvoices(ctx context.Context, in PaidInvoicesInput) (PaidInvoicesResult, error) {
	items, err := a.CryptoPay.GetInvoices(ctx, cryptopay.GetInvoicesParams{
		Status: cryptopay.StatusPaid, Offset: in.Offset, Count: in.Count,
	})
	if err != nil {
		return PaidInvoicesResult{}, cryptoPayError(fmt.Sprintf("list paid invoices at %d", in.Offset), err)
	}
	var out PaidInvoicesResult
	for _, inv := range items {
		out.Invoices = append(out.Invoices, PaidInvoice{
			InvoiceID: strconv.FormatInt(inv.InvoiceID, 10), Payload: inv.Payload, CreatedAt: inv.CreatedAt,
		})
	}
	return out, nil
}

// PurchaseIDs is a list of purchase ids.
type PurchaseIDs struct {
	IDs []string
}

// UncreditedPurchases returns those of the ids that the database does not
// have paid or refunded (unknown ones included).
func (a *Activities) UncreditedPurchases(ctx context.Context, in PurchaseIDs) (PurchaseIDs, error) {
	ids := make([]uuid.UUID, 0, len(in.IDs))
	for _, s := range in.IDs {
		id, err := purchaseUUID(s)
		if err != nil {
			return PurchaseIDs{}, err
		}
		ids = append(ids, id)
	}
	left, err := a.Store.UncreditedPurchases(ctx, ids)
	if err != nil {
		return PurchaseIDs{}, storeError("list uncredited purchases", err)
	}
	out := PurchaseIDs{IDs: make([]string, 0, len(left))}
	for _, id := range left {
		out.IDs = append(out.IDs, id.String())
	}
	return out, nil
}
