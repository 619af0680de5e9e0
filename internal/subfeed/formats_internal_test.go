package subfeed

import (
	"testing"

	"vpnflow/internal/vless"
)

// The profiles' selector takes the subscription's title unless a server
// or a name Clash and sing-box reserve has it.
func TestGroupNameIsNeverAServersOrReserved(t *testing.T) {
	links := []vless.Link{{Name: "vpnflow-42"}, {Name: "vpnflow-42 servers"}}
	for title, want := range map[string]string{
		"vpnflow":    "vpnflow",
		"vpnflow-42": "vpnflow-42 servers servers",
		"DIRECT":     "DIRECT servers",
		"reject":     "reject servers",
		"":           " servers",
	} {
		if got := groupName(title, links); got != want {
			t.Errorf("groupName(%q) = %q, want %q", title, got, want)
		}
	}
}
