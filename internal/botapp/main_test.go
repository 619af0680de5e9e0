package botapp

import (
	"testing"

	"vpnflow/internal/dev/testenv"
)

// Tests that need the database get a real PostgreSQL from testenv.
func TestMain(m *testing.M) { testenv.Main(m) }
