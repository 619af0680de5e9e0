package shop

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
