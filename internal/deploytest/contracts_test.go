package deploytest

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestWorkflowsStartOnlyThroughContracts: a workflow's start options (ID,
// reuse and conflict policies, search attributes, timeouts) are part of its
// contract, so they are built in internal/shop's start helpers only. A
// starter elsewhere would be a second place to keep in step with them.
// The stand-ins and tests under internal/dev, and _test.go files, may
// start what they like.
func TestWorkflowsStartOnlyThroughContracts(t *testing.T) {
	root := repoRoot(t)
	allowed := []string{"internal/shop/", "internal/dev/"}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel := filepath.ToSlash(strings.TrimPrefix(path, root+string(filepath.Separator)))
		if d.IsDir() {
			if strings.HasPrefix(d.Name(), ".") && path != root {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(rel, ".go") || strings.HasSuffix(rel, "_test.go") {
			return nil
		}
		for _, a := range allowed {
			if strings.HasPrefix(rel, a) {
				return nil
			}
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, opts := range []string{"StartWorkflowOptions{", "UpdateWithStartWorkflowOptions{"} {
			if strings.Contains(string(src), opts) {
				t.Errorf("%s builds client.%s: start the workflow through its contract's helper in internal/shop", rel, opts)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
