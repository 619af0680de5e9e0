package deploytest

import (
	"strings"
	"testing"

	"vpnflow/internal/dev/stack"
)

// What `make test-temporal-postgres` proves must be what compose deploys:
// the Temporal server and its admin tools at the version the pinned server
// tool is built from. A tag moved on one side only fails here.
func TestComposeRunsTheTemporalVersionTestedHere(t *testing.T) {
	p := mustLoad(t, nil)
	want := strings.TrimPrefix(stack.TemporalServerVersion, "v")
	for name, image := range map[string]string{
		"temporal":        "temporalio/server:",
		"temporal-schema": "temporalio/admin-tools:",
		"temporal-setup":  "temporalio/admin-tools:",
	} {
		got := service(t, p, name).Image
		tag, ok := strings.CutPrefix(got, image)
		if !ok {
			t.Errorf("%s runs %q, want an image of %s", name, got, strings.TrimSuffix(image, ":"))
			continue
		}
		// admin-tools is published for a server release only under its
		// long tag, <server>-tctl-<tctl>-cli-<cli>.
		if tag != want && !strings.HasPrefix(tag, want+"-") {
			t.Errorf("%s runs %s, but the server tested here is %s (stack.TemporalServerVersion)", name, got, stack.TemporalServerVersion)
		}
	}
}
