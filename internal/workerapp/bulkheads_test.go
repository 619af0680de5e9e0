package workerapp

import (
	"testing"

	"vpnflow/internal/config"
	"vpnflow/internal/shop"
)

// The database bulkhead is sized to the pool, less the reserve for what
// uses the database outside it, so its activities never wait out their
// timeout for a connection; the others follow the configuration.
func TestSlotsFitThePool(t *testing.T) {
	cfg, err := config.LoadFrom(map[string]string{"WORKER_XRAY_SLOTS": "5", "WORKER_TELEGRAM_SLOTS": "7", "WORKER_CRYPTOPAY_SLOTS": "2"})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		pool int32
		db   int
	}{{10, 7}, {25, 22}, {4, 1}, {2, 1}} {
		s := Slots(cfg, tc.pool)
		if s[shop.BulkheadDB] != tc.db {
			t.Errorf("pool %d: database slots %d, want %d", tc.pool, s[shop.BulkheadDB], tc.db)
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
