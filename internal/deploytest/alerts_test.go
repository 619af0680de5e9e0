package deploytest

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// TestAlertRulesNameRealMetrics parses deploy/prometheus/alerts.yml and
// checks that every vpnflow_ metric its rules use is one the code defines,
// so a renamed metric cannot leave a rule that never fires.
func TestAlertRulesNameRealMetrics(t *testing.T) {
	root := repoRoot(t)
	raw, err := os.ReadFile(filepath.Join(root, "deploy/prometheus/alerts.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var rules struct {
		Groups []struct {
			Rules []struct {
				Alert string `yaml:"alert"`
				Expr  string `yaml:"expr"`
			} `yaml:"rules"`
		} `yaml:"groups"`
	}
	if err := yaml.Unmarshal(raw, &rules); err != nil {
		t.Fatalf("alerts.yml: %v", err)
	}
	out, err := exec.Command("git", "-C", root, "grep", "--untracked", "-h", "-o", `"vpnflow_[a-z_]*"`, "--", "*.go").Output()
	if err != nil {
		t.Fatalf("git grep: %v", err)
	}
	defined := map[string]bool{}
	for _, name := range strings.Fields(string(out)) {
		defined[strings.Trim(name, `"`)] = true
	}
	metric := regexp.MustCompile(`vpnflow_[a-z_]+`)
	n := 0
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			n++
			for _, m := range metric.FindAllString(r.Expr, -1) {
				base := strings.TrimSuffix(strings.TrimSuffix(m, "_total"), "_bucket")
				if !defined[m] && !defined[base] {
					t.Errorf("alert %s uses %s, which no Go code defines", r.Alert, m)
				}
			}
		}
	}
	if n == 0 {
		t.Fatal("no rules in alerts.yml")
	}
}
