package shop

import "strings"

// Activities run on the task queue of the system they call, each served
// by a worker with its own concurrency limit, so a hung Xray or Telegram
// fills only its own slots and cannot delay the crediting of a payment.
// The workflows pick the queue (workflows/options.go); the worker serves
// every one of them (internal/workerapp).

// Bulkhead names a group of activities with a concurrency limit of its own.
type Bulkhead string

// The bulkheads. Activities that call no external system (signalling
// another workflow, reading the configuration) run on the workflows' own
// task queue.
const (
	BulkheadDB        Bulkhead = "db"
	BulkheadXray      Bulkhead = "xray"
	BulkheadTelegram  Bulkhead = "telegram"
	BulkheadCryptoPay Bulkhead = "cryptopay"
)

// Bulkheads lists every bulkhead, for the worker that serves them.
var Bulkheads = []Bulkhead{BulkheadDB, BulkheadXray, BulkheadTelegram, BulkheadCryptoPay}

// BulkheadQueue is the task queue of bulkhead b beside the workflows' task
// queue base: "vpnflow" has "vpnflow-db", "vpnflow-xray", and so on.
func BulkheadQueue(base string, b Bulkhead) string { return base + "-" + string(b) }

// opsSuffix names the operations queue beside the workflows' queue.
const opsSuffix = "-ops"

// OpsQueue is the task queue of the Schedules' workflows (revocation
// sweep, health check, reconciliation, Xray watch, traffic, payments
// sweep) beside the workflows' queue base. A task queue is first in, first
// out: in an expiry storm thousands of Subscription workflow tasks wait on
// base, and a sweep started there waited 57 s behind them. On their own
// queue, served by a worker of their own, they start at once; their
// activities still go to base's bulkheads.
func OpsQueue(base string) string { return base + opsSuffix }

// BaseQueue is the workflows' queue that queue belongs to: queue itself,
// or base for OpsQueue(base). Bulkhead queues derive from it.
func BaseQueue(queue string) string { return strings.TrimSuffix(queue, opsSuffix) }

// IsOpsQueue reports whether a configured task queue name would be taken
// for an operations queue; configuration refuses such names.
func IsOpsQueue(queue string) bool { return strings.HasSuffix(queue, opsSuffix) }
