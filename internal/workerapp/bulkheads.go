package workerapp

import (
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"

	"vpnflow/activities"
	"vpnflow/internal/config"
	"vpnflow/internal/shop"
	"vpnflow/workflows"
)

// PoolSize is the worker's database pool when DATABASE_URL sets no
// pool_max_conns. Its work is sized to take at most half of it (dbShare):
// a storm of expiries or purchases fills the slots, never the pool, so a
// connection is always free for what must not queue (the heartbeat, the
// health probe, a Schedule's page) and for the reconnects after a
// failover, which open new connections while the old ones time out.
const PoolSize = 20

// dbReserve is the part of the pool's working half kept for what uses the
// database outside the database bulkhead and the local activities: the
// heartbeat, the health probe, the reconcile and sweep pages, broadcast
// records, the configuration read.
const dbReserve = 3

// baseActivitySlots bounds the activities on the workflows' own queue:
// signalling workflows, reading the configuration, reconcile pages.
const baseActivitySlots = 32

// opsSlots bounds the workflow tasks and the activities of no bulkhead on
// the operations queue: a handful of scheduled workflows at a time.
const opsSlots = 8

// dbShare is how many connections the workflows' database steps take at
// most, local activities and the database bulkhead together: half the
// pool less the reserve, so that with the reserve in use too the pool is
// at most half full. At least 2, one for each.
func dbShare(poolSize int32) int {
	return max(int(poolSize)/2-dbReserve, 2)
}

// LocalSlots is how many local activities the workflows' worker runs at
// once in a process whose pool has poolSize connections: half the
// database's share. The workflows run their short database steps locally
// (workflows/local.go), outside the database bulkhead, so the bulkhead
// gives those connections up.
func LocalSlots(poolSize int32) int {
	return max(dbShare(poolSize)/2, 1)
}

// LocalCallSlots is how many of the local activity slots a user's Xray
// calls may hold at once (activities.admitXray), and as many the notices
// (admitTelegram): half of all but one each, so that even a hung node and
// a hung Telegram together leave the database steps a slot (with the
// default pool: 3 local slots, 1 for each). Each such call takes
// milliseconds, so one slot passes hundreds a second.
func LocalCallSlots(poolSize int32) int {
	return max((LocalSlots(poolSize)-1)/2, 1)
}

// Slots is how many activities each bulkhead runs at once in one worker
// process whose pool has poolSize connections. The database bulkhead gets
// the database's share less the local activities', so neither queues for
// a connection; the others come from the configuration.
func Slots(cfg config.Config, poolSize int32) map[shop.Bulkhead]int {
	db := max(dbShare(poolSize)-LocalSlots(poolSize), 1)
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
