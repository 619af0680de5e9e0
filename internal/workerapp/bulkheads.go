package workerapp

import (
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"

	"vpnflow/activities"
	"vpnflow/internal/config"
	"vpnflow/internal/shop"
	"vpnflow/workflows"
)

// dbReserve is the part of the pool kept for what uses the database
// outside the database bulkhead: the heartbeat, the health probe, the
// reconcile and sweep pages, broadcast records, the configuration read.
const dbReserve = 3

// baseActivitySlots bounds the activities on the workflows' own queue:
// signalling workflows, reading the configuration, reconcile pages.
const baseActivitySlots = 32

// opsSlots bounds the workflow tasks and the activities of no bulkhead on
// the operations queue: a handful of scheduled workflows at a time.
const opsSlots = 8

// LocalSlots is how many local activities the workflows' worker runs at
// once in a process whose pool has poolSize connections: half the
// database's share of the pool. The workflows run their short database
// steps locally (workflows/local.go), outside the database bulkhead, so
// the bulkhead gives those connections up.
func LocalSlots(poolSize int32) int {
	return max((int(poolSize)-dbReserve)/2, 1)
}

// Slots is how many activities each bulkhead runs at once in one worker
// process whose pool has poolSize connections. The database bulkhead gets
// the pool less the reserve and the local activities' share, so neither
// queues for a connection; the others come from the configuration.
func Slots(cfg config.Config, poolSize int32) map[shop.Bulkhead]int {
	db := max(int(poolSize)-dbReserve-LocalSlots(poolSize), 1)
	return map[shop.Bulkhead]int{
		shop.BulkheadDB:        db,
		shop.BulkheadXray:      cfg.XraySlots,
		shop.BulkheadTelegram:  cfg.TelegramSlots,
		shop.BulkheadCryptoPay: cfg.CryptoPaySlots,
	}
}

// BulkheadQueues is every bulkhead's task queue beside cfg.TaskQueue, and
// the operations queue, whose activity loops liveness watches too.
func BulkheadQueues(cfg config.Config) []string {
	qs := []string{shop.OpsQueue(cfg.TaskQueue)}
	for _, b := range shop.Bulkheads {
		qs = append(qs, shop.BulkheadQueue(cfg.TaskQueue, b))
	}
	return qs
}

// NewWorkers makes the worker of cfg.TaskQueue, which runs the workflows
// with their local activities and the activities of no bulkhead, and one
// activity worker per bulkhead with its limit. Every worker registers
// every activity: the workflows choose the queue (workflows/options.go),
// and a misrouted activity still runs.
func NewWorkers(tc client.Client, cfg config.Config, acts *activities.Activities, poolSize int32) []worker.Worker {
	base := worker.New(tc, cfg.TaskQueue, worker.Options{
		MaxConcurrentActivityExecutionSize:      baseActivitySlots,
		MaxConcurrentLocalActivityExecutionSize: LocalSlots(poolSize),
	})
	workflows.Register(base)
	base.RegisterActivity(acts)
	// The Schedules' workflows have a queue and a worker of their own, so
	// a backlog of user workflows cannot delay them (shop.OpsQueue).
	ops := worker.New(tc, shop.OpsQueue(cfg.TaskQueue), worker.Options{
		MaxConcurrentWorkflowTaskExecutionSize: opsSlots,
		MaxConcurrentActivityExecutionSize:     opsSlots,
		MaxConcurrentWorkflowTaskPollers:       2,
		MaxConcurrentActivityTaskPollers:       2,
	})
	workflows.Register(ops)
	ops.RegisterActivity(acts)
	ws := []worker.Worker{base, ops}
	slots := Slots(cfg, poolSize)
	for _, b := range shop.Bulkheads {
		w := worker.New(tc, shop.BulkheadQueue(cfg.TaskQueue, b), worker.Options{
			DisableWorkflowWorker:              true,
			MaxConcurrentActivityExecutionSize: slots[b],
			// A few pollers per queue: the limit is the slots, and idle
			// long polls cost the server.
			MaxConcurrentActivityTaskPollers: 2,
		})
		w.RegisterActivity(acts)
		ws = append(ws, w)
	}
	return ws
}
