package deploytest

import (
	"os/exec"
	"strings"
	"testing"
)

// telegramLibrary is the Bot API client library only internal/telegram,
// the one Telegram adapter, may import.
const telegramLibrary = "github.com/go-telegram/bot"

// TestOnlyTheAdapterImportsTheLibrary: no production package outside
// internal/telegram imports go-telegram/bot (test files and the dev tree,
// whose Telegram stand-in speaks the library's types, aside).
func TestOnlyTheAdapterImportsTheLibrary(t *testing.T) {
	cmd := exec.Command("go", "list", "-f", "{{.ImportPath}}{{range .Imports}} {{.}}{{end}}", "./...")
	cmd.Dir = repoRoot(t)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		pkg := f[0]
		if pkg == "vpnflow/internal/telegram" || strings.HasPrefix(pkg, "vpnflow/internal/dev/") {
			continue
		}
		for _, imp := range f[1:] {
			if imp == telegramLibrary || strings.HasPrefix(imp, telegramLibrary+"/") {
				t.Errorf("%s imports %s; send and render through vpnflow/internal/telegram", pkg, imp)
			}
		}
	}
}
