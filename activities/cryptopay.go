package activities

import (
	"context"
	"fmt"
	"strconv"

	"vpnflow/internal/cryptopay"
	"vpnflow/internal/shop"
)

// CreateInvoice asks Crypto Pay for a fiat invoice. The payload carries our
// purchase id, which is how a webhook finds its purchase.
//
// Crypto Pay has no idempotency key: if a response is lost and the activity
// retried, a second invoice may exist. That is safe: either invoice's
// payment reaches the same purchase through its payload, and the purchase
// is credited at most once.
func (a *Activities) CreateInvoice(ctx context.Context, in CreateInvoiceInput) (Invoice, error) {
	desc := fmt.Sprintf("VPN %s", in.PlanID)
	if in.Kind == shop.KindTopUp {
		desc = "Balance top-up"
	}
	inv, err := a.CryptoPay.CreateInvoice(ctx, cryptopay.CreateInvoiceParams{
		CurrencyType: cryptopay.CurrencyFiat,
		Fiat:         in.Currency,
		Amount:       cryptopay.FormatCents(in.Amount),
		Description:  desc,
		Payload:      in.PurchaseID,
		ExpiresIn:    in.TTL,
	})
	if err != nil {
		return Invoice{}, cryptoPayError("create invoice for purchase "+in.PurchaseID, err)
	}
	return Invoice{InvoiceID: strconv.FormatInt(inv.InvoiceID, 10), PayURL: inv.URL(), ExpiresAt: inv.ExpirationDate}, nil
}

// CheckInvoice reads an invoice's status from Crypto Pay.
func (a *Activities) CheckInvoice(ctx context.Context, in CheckInvoiceInput) (InvoiceStatus, error) {
	id, err := strconv.ParseInt(in.InvoiceID, 10, 64)
	if err != nil {
		return InvoiceStatus{}, permanent("InvalidInput", fmt.Errorf("invoice id %q: %w", in.InvoiceID, err))
	}
	items, err := a.CryptoPay.GetInvoices(ctx, cryptopay.GetInvoicesParams{InvoiceIDs: []int64{id}})
	if err != nil {
		return InvoiceStatus{}, cryptoPayError("check invoice "+in.InvoiceID, err)
	}
	for _, inv := range items {
		if inv.InvoiceID == id {
			return InvoiceStatus{Status: string(inv.Status)}, nil
		}
	}
	return InvoiceStatus{}, permanent(shop.ErrNotFound, fmt.Errorf("check invoice %s: not returned by getInvoices", in.InvoiceID))
}

func cryptoPayError(op string, err error) error {
	err = fmt.Errorf("%s: %w", op, err)
	if !cryptopay.IsRetryable(err) {
		return permanent("CryptoPay", err)
	}
	return err
}
