package deploytest

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
)

const (
	module = "vpnflow"
	// devTree holds the stand-ins, the local stack and the test environment;
	// no production program may link any of it.
	devTree  = module + "/internal/dev/"
	xrayCore = "github.com/xtls/xray-core"
)

// production are the programs the Dockerfile ships.
var production = []string{"worker", "bot", "starter"}

// depGraph is a program's non-test dependencies as `go list -deps` reports
// them: each package with the packages it imports.
type depGraph struct {
	order   []string
	imports map[string][]string
}

func goList(t *testing.T, args ...string) string {
	t.Helper()
	cmd := exec.Command("go", append([]string{"list"}, args...)...)
	cmd.Dir = repoRoot(t)
	out, err := cmd.Output()
	if err != nil {
		var stderr string
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = string(ee.Stderr)
		}
		t.Fatalf("go list %s: %v\n%s", strings.Join(args, " "), err, stderr)
	}
	return string(out)
}

func deps(t *testing.T, pkg string) depGraph {
	t.Helper()
	g := depGraph{imports: map[string][]string{}}
	out := goList(t, "-deps", "-f", "{{.ImportPath}}{{range .Imports}} {{.}}{{end}}", pkg)
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		f := strings.Fields(line)
		g.order = append(g.order, f[0])
		g.imports[f[0]] = f[1:]
	}
	return g
}

// matching lists the dependencies under prefix.
func (g depGraph) matching(prefix string) []string {
	var out []string
	for _, p := range g.order {
		if strings.HasPrefix(p, prefix) {
			out = append(out, p)
		}
	}
	return out
}

// chain is a shortest import path from root to a package under prefix, for
// the failure message: it names the import to remove.
func (g depGraph) chain(root, prefix string) string {
	prev := map[string]string{root: ""}
	queue := []string{root}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		if strings.HasPrefix(p, prefix) {
			path := []string{p}
			for q := prev[p]; q != ""; q = prev[q] {
				path = append(path, q)
			}
			slices.Reverse(path)
			return strings.Join(path, " → ")
		}
		for _, next := range g.imports[p] {
			if _, seen := prev[next]; !seen {
				prev[next] = p
				queue = append(queue, next)
			}
		}
	}
	return "no path to " + prefix
}

// TestProductionProgramsLinkNoDevCode keeps the stand-ins, the local stack
// and the test environment out of every program outside internal/dev: the
// three the Dockerfile ships and any other main package added later.
func TestProductionProgramsLinkNoDevCode(t *testing.T) {
	var mains []string
	for _, p := range strings.Fields(goList(t, "-f", `{{if eq .Name "main"}}{{.ImportPath}}{{end}}`, "./...")) {
		if !strings.HasPrefix(p, devTree) {
			mains = append(mains, p)
		}
	}
	for _, prog := range production {
		if !slices.Contains(mains, module+"/"+prog) {
			t.Errorf("./%s is not a main package; the Dockerfile ships it", prog)
		}
	}
	for _, pkg := range mains {
		g := deps(t, pkg)
		if len(g.order) == 0 {
			t.Fatalf("go list -deps %s listed nothing", pkg)
		}
		dev := g.matching(devTree)
		if len(dev) > 0 {
			t.Errorf("%s links %d packages of %s: %s (through %s)", pkg, len(dev), devTree, strings.Join(dev, ", "), g.chain(pkg, devTree))
		}
		t.Logf("%s: %d packages, %d of them from %s", pkg, len(g.order), len(dev), devTree)
	}
}

// TestBotLinksNoXrayCore: the bot talks to Temporal and Telegram only. It
// knows the workflows through their contracts (internal/shop), never
// through the workflows or activities packages, so it links no Xray-core.
func TestBotLinksNoXrayCore(t *testing.T) {
	g := deps(t, module+"/bot")
	for _, worker := range []string{module + "/workflows", module + "/activities", xrayCore} {
		if found := g.matching(worker); len(found) > 0 {
			t.Errorf("the bot links %d %s packages, through %s", len(found), worker, g.chain(module+"/bot", worker))
		}
	}
}
