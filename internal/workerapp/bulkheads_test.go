package workerapp

import (
	"testing"

	"vpnflow/internal/config"
	"vpnflow/internal/shop"
)

// The database bulkhead and the local activities share half the pool, less
// the reserve for what uses the database outside them, so none waits out
// its timeout for a connection and a storm leaves half the pool free; the
// others follow the configuration.
func TestSlotsFitHalfThePool(t *testing.T) {
	cfg, err := config.LoadFrom(map[string]string{"WORKER_XRAY_SLOTS": "5", "WORKER_TELEGRAM_SLOTS": "7", "WORKER_CRYPTOPAY_SLOTS": "2"})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		pool      int32
		db, local int
	}{{PoolSize, 4, 3}, {50, 11, 11}, {10, 1, 1}, {4, 1, 1}, {2, 1, 1}} {
		s := Slots(cfg, tc.pool)
		if s[shop.BulkheadDB] != tc.db {
			t.Errorf("pool %d: database slots %d, want %d", tc.pool, s[shop.BulkheadDB], tc.db)
		}
		if l := LocalSlots(tc.pool); l != tc.local {
			t.Errorf("pool %d: local activity slots %d, want %d", tc.pool, l, tc.local)
		}
		if tc.pool >= 2*(dbReserve+2) && tc.db+tc.local+dbReserve > int(tc.pool)/2 {
			t.Errorf("pool %d: %d database and %d local slots and the reserve of %d take more than half the pool", tc.pool, tc.db, tc.local, dbReserve)
		}
		if s[shop.BulkheadXray] != 5 || s[shop.BulkheadTelegram] != 7 || s[shop.BulkheadCryptoPay] != 2 {
			t.Errorf("pool %d: %v does not follow the configuration", tc.pool, s)
		}
		if len(s) != len(shop.Bulkheads) {
			t.Errorf("pool %d: %d bulkheads sized, %d exist", tc.pool, len(s), len(shop.Bulkheads))
		}
	}
	if _, err := config.LoadFrom(map[string]string{"WORKER_XRAY_SLOTS": "0"}); err == nil {
		t.Error("WORKER_XRAY_SLOTS=0 accepted")
	}
}
