// Package activities holds vpnflow's side effects as Temporal activities:
// thin, typed adapters that each do one short thing — one database
// transaction, or one call to Xray, Crypto Pay, Telegram or Temporal — under
// a StartToClose timeout set by the workflow. None of them holds a database
// connection while it waits on the network: where an activity needs a stored
// value for a call (a user's VLESS UUID, their language) it reads it in one
// short query, releases the connection, and then calls.
package activities

import (
	"context"
	"errors"
	"fmt"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	"golang.org/x/sync/semaphore"

	"vpnflow/internal/config"
	"vpnflow/internal/cryptopay"
	"vpnflow/internal/i18n"
	"vpnflow/internal/shop"
	"vpnflow/internal/store"
	"vpnflow/internal/telegram"
	"vpnflow/internal/xray"
)

// Activities holds the clients activities use. Workflows refer to its
// methods through a nil *Activities, so names are checked by the compiler.
type Activities struct {
	Store *store.Store
	// Nodes holds a client per Xray node; every call for a user goes to
	// the node of their subscription row (nodes.go).
	Nodes     *xray.Registry
	CryptoPay *cryptopay.Client
	Telegram  *telegram.Client
	Temporal  client.Client
	Texts     *i18n.Catalog
	Config    config.Config
	// NodeID is the node the worker's environment describes: the node of
	// inputs recorded before there were several (a node id of 0).
	NodeID int16
	// Database answers the health check's ping (the store's pool).
	Database Pinger
	// LocalXray and LocalTelegram bound the Xray calls and the notices run
	// as local activities at once (local.go); nil runs none locally.
	LocalXray     *semaphore.Weighted
	LocalTelegram *semaphore.Weighted
}

// permanent marks an error that retrying cannot fix.
func permanent(errType string, err error) error {
	return temporal.NewNonRetryableApplicationError(err.Error(), errType, err)
}

// storeError turns the store's business outcomes into non-retryable errors
// of a type workflows branch on; anything else (a dropped connection, a
// timeout) stays retryable.
func storeError(op string, err error) error {
	if err == nil {
		return nil
	}
	err = fmt.Errorf("%s: %w", op, err)
	switch {
	case errors.Is(err, store.ErrInsufficientBalance):
		return permanent(ErrInsufficientBalance, err)
	case errors.Is(err, store.ErrTrialUsed):
		return permanent(shop.ErrTrialUsed, err)
	case errors.Is(err, store.ErrNoCapacity):
		return permanent(shop.ErrNoCapacity, err)
	case errors.Is(err, store.ErrHasSubscription):
		return permanent(shop.ErrActiveSubscription, err)
	case errors.Is(err, store.ErrPurchaseClosed), errors.Is(err, store.ErrPurchaseConflict),
		errors.Is(err, store.ErrDuplicateCharge), errors.Is(err, store.ErrInvoiceMismatch):
		return permanent(ErrPurchaseClosed, err)
	case errors.Is(err, store.ErrNotFound):
		return permanent(shop.ErrNotFound, err)
	case errors.Is(err, store.ErrInvalid), errors.Is(err, store.ErrBanned):
		return permanent("Invalid", err)
	}
	return err
}

// requestKey names the workflow run an activity works for. A retry of the
// activity has the same key and a new request (another run) a different
// one, so the store can tell "my own earlier attempt committed" from
// "someone did this before". Empty outside an activity.
func requestKey(ctx context.Context) string {
	if !activity.IsActivity(ctx) {
		return ""
	}
	info := activity.GetInfo(ctx)
	return info.WorkflowExecution.ID + "/" + info.WorkflowExecution.RunID
}
