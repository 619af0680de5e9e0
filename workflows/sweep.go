package workflows

import (
	"github.com/google/uuid"
	"go.temporal.io/sdk/workflow"

	"vpnflow/activities"
	"vpnflow/internal/schedules"
	"vpnflow/internal/shop"
)

// PaymentsSweepResult counts what a sweep did.
type PaymentsSweepResult struct {
	StarPages      int // getStarTransactions pages read
	StarsFound     int // charges Telegram lists that the database did not know
	StarsResent    int // recorded charges handed to their purchase again
	StarsRefunded  int // charges naming no purchase, refunded
	InvoicesPaid   int // paid invoices looked at
	InvoicesResent int // paid invoices the database had not credited, handed over
	Errors         int // provider calls that failed; the next run tries again
}

// sweepLimit bounds the unhandled Stars charges handed over per run.
const sweepLimit = 100

// PaymentsSweep makes sure that no payment is lost whatever crashed (the
// bot before it recorded a Stars payment, Temporal while the bot or the
// webhook signalled, a workflow that closed before the news came). On its
// schedule it:
//
//  1. reads Telegram's Stars transactions from where it stopped last time
//     and records every incoming charge the database does not know;
//  2. hands every recorded Stars charge left unhandled for StarGrace to
//     its purchase/<id> (signal-with-start: a closed purchase gets a late
//     run that credits or refunds it), and refunds a charge whose payload
//     names no purchase;
//  3. lists Crypto Pay's paid invoices created within InvoiceLookback and
//     hands each that the database has not credited to its purchase.
//
// Every hand-over is the same signal the bot and the webhook send, so a
// purchase is credited once however many of them arrive.
func PaymentsSweep(ctx workflow.Context, in schedules.PaymentsSweepInput) (PaymentsSweepResult, error) {
	in = in.WithDefaults()
	var res PaymentsSweepResult
	sweepStarList(ctx, in, &res)
	sweepUnhandledStars(ctx, in, &res)
	sweepPaidInvoices(ctx, in, &res)
	workflow.GetLogger(ctx).Info("payments sweep done", "result", res)
	return res, nil
}

func sweepStarList(ctx workflow.Context, in schedules.PaymentsSweepInput, res *PaymentsSweepResult) {
	var a *activities.Activities
	log := workflow.GetLogger(ctx)
	var cur activities.StarCursor
	if err := workflow.ExecuteActivity(withDB(ctx), a.LoadStarCursor, cur).Get(ctx, &cur); err != nil {
		log.Error("stars cursor not read", "error", err)
		res.Errors++
		return
	}
	for range in.MaxPages {
		var page activities.StarPage
		if err := workflow.ExecuteActivity(withTelegram(ctx), a.FetchStarTransactions, cur).Get(ctx, &page); err != nil {
			log.Error("getStarTransactions failed", "offset", cur.Offset, "error", err)
			res.Errors++
			return
		}
		res.StarPages++
		if page.Count == 0 {
			return
		}
		var rec activities.RecordStarPageResult
		if err := workflow.ExecuteActivity(withDB(ctx), a.RecordStarPage, activities.RecordStarPageInput{
			From: cur.Offset, To: cur.Offset + int64(page.Count), Charges: page.Charges,
		}).Get(ctx, &rec); err != nil {
			log.Error("stars page not recorded", "offset", cur.Offset, "error", err)
			res.Errors++
			return
		}
		if len(rec.Added) > 0 {
			// Each one is a payment the bot never recorded.
			log.Warn("stars charges found only in Telegram's list", "count", len(rec.Added))
			res.StarsFound += len(rec.Added)
		}
		cur.Offset += int64(page.Count)
		if page.Count < activities.StarPageSize {
			return
		}
	}
}

func sweepUnhandledStars(ctx workflow.Context, in schedules.PaymentsSweepInput, res *PaymentsSweepResult) {
	var a *activities.Activities
	log := workflow.GetLogger(ctx)
	var list activities.UnhandledStarsResult
	// Grace 0 would hand over charges the bot is signalling right now;
	// harmless (a repeat is ignored), but the input's default avoids it.
	if err := workflow.ExecuteActivity(withDB(ctx), a.UnhandledStarPayments, activities.UnhandledStarsInput{
		Grace: in.StarGrace, Limit: sweepLimit,
	}).Get(ctx, &list); err != nil {
		log.Error("unhandled stars payments not listed", "error", err)
		res.Errors++
		return
	}
	for _, u := range list.Payments {
		pay := shop.Payment{Provider: shop.ProviderStars, ChargeID: u.ChargeID, Source: shop.SourceSweep, UserID: u.UserID, Amount: u.Amount}
		if u.PurchaseID == "" {
			orphan := &purchase{in: shop.PurchaseInput{NewPurchase: shop.NewPurchase{UserID: u.UserID, Amount: u.Amount, Currency: "XTR"}}}
			orphan.refundExtra(ctx, pay)
			res.StarsRefunded++
			continue
		}
		log.Warn("stars payment unhandled; handing it to its purchase again", "purchase_id", u.PurchaseID)
		if err := workflow.ExecuteActivity(withTemporal(ctx), a.DeliverPayment, activities.DeliverPaymentInput{
			PurchaseID: u.PurchaseID, Payment: pay,
		}).Get(ctx, nil); err != nil {
			log.Error("stars payment not handed over", "purchase_id", u.PurchaseID, "error", err)
			res.Errors++
			continue
		}
		res.StarsResent++
	}
}

// invoicePage is getInvoices' page size for the sweep.
const invoicePage = 100

func sweepPaidInvoices(ctx workflow.Context, in schedules.PaymentsSweepInput, res *PaymentsSweepResult) {
	var a *activities.Activities
	log := workflow.GetLogger(ctx)
	cutoff := workflow.Now(ctx).Add(-in.InvoiceLookback)
	offset := 0
	for range in.MaxPages {
		var page activities.PaidInvoicesResult
		if err := workflow.ExecuteActivity(withCryptoPay(ctx), a.FetchPaidInvoices, activities.PaidInvoicesInput{
			Offset: offset, Count: invoicePage,
		}).Get(ctx, &page); err != nil {
			log.Error("getInvoices(paid) failed", "offset", offset, "error", err)
			res.Errors++
			return
		}
		invoiceOf := map[string]string{}
		var ids activities.PurchaseIDs
		older := false
		for _, inv := range page.Invoices {
			if inv.CreatedAt.Before(cutoff) {
				older = true // newest first: the rest are older still
				break
			}
			id, err := uuid.Parse(inv.Payload)
			if err != nil {
				continue // not one of ours
			}
			res.InvoicesPaid++
			invoiceOf[id.String()] = inv.InvoiceID
			ids.IDs = append(ids.IDs, id.String())
		}
		if len(ids.IDs) > 0 {
			var left activities.PurchaseIDs
			if err := workflow.ExecuteActivity(withDB(ctx), a.UncreditedPurchases, ids).Get(ctx, &left); err != nil {
				log.Error("paid invoices not checked", "error", err)
				res.Errors++
				return
			}
			for _, id := range left.IDs {
				log.Warn("paid invoice not credited; handing it to its purchase", "purchase_id", id)
				if err := workflow.ExecuteActivity(withTemporal(ctx), a.DeliverPayment, activities.DeliverPaymentInput{
					PurchaseID: id,
					Payment:    shop.Payment{Provider: shop.ProviderCryptoPay, InvoiceID: invoiceOf[id], Source: shop.SourceSweep},
				}).Get(ctx, nil); err != nil {
					log.Error("paid invoice not handed over", "purchase_id", id, "error", err)
					res.Errors++
					continue
				}
				res.InvoicesResent++
			}
		}
		if older || len(page.Invoices) < invoicePage {
			return
		}
		offset += len(page.Invoices)
	}
}
