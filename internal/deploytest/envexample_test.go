package deploytest

import (
	"bufio"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// exampleLine is one variable in deploy/.env.example: "NAME=value" (required,
// uncommented), "# NAME=default" (optional) or "# NAME: note" (set by
// docker-compose.yml).
var exampleLine = regexp.MustCompile(`^(# )?([A-Z][A-Z0-9_]*)(=|: )(.*)$`)

type exampleVar struct {
	commented bool
	assigned  bool // NAME=value rather than NAME: note
	value     string
}

func readExample(t *testing.T) map[string]exampleVar {
	t.Helper()
	out := map[string]exampleVar{}
	sc := bufio.NewScanner(strings.NewReader(readFile(t, "deploy/.env.example")))
	for sc.Scan() {
		m := exampleLine.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		if _, dup := out[m[2]]; dup {
			t.Errorf("deploy/.env.example lists %s twice", m[2])
		}
		out[m[2]] = exampleVar{commented: m[1] != "", assigned: m[3] == "=", value: m[4]}
	}
	return out
}

var (
	composeRef      = regexp.MustCompile(`\$\{([A-Z][A-Z0-9_]*)`)
	composeRequired = regexp.MustCompile(`\$\{([A-Z][A-Z0-9_]*):\?`)
	// A key with no value in an environment mapping: passed through from .env.
	composePassThrough = regexp.MustCompile(`(?m)^\s+([A-Z][A-Z0-9_]*):\s*$`)
)

func TestEnvExampleListsEveryVariable(t *testing.T) {
	ex := readExample(t)
	compose := readFile(t, "docker-compose.yml")
	known := configNames()

	for name := range known {
		if _, ok := ex[name]; !ok {
			t.Errorf("deploy/.env.example does not list %s", name)
		}
	}
	referenced := map[string]bool{}
	for _, re := range []*regexp.Regexp{composeRef, composePassThrough} {
		for _, m := range re.FindAllStringSubmatch(compose, -1) {
			referenced[m[1]] = true
			if _, ok := ex[m[1]]; !ok {
				t.Errorf("docker-compose.yml reads %s from .env, but deploy/.env.example does not list it", m[1])
			}
		}
	}
	for name := range ex {
		if _, ok := known[name]; !ok && !referenced[name] {
			t.Errorf("deploy/.env.example lists %s, which neither internal/config nor docker-compose.yml reads", name)
		}
	}
}

// The uncommented lines are exactly the variables docker-compose.yml refuses
// to start without.
func TestEnvExampleRequiresWhatComposeRequires(t *testing.T) {
	var want, got []string
	for _, m := range composeRequired.FindAllStringSubmatch(readFile(t, "docker-compose.yml"), -1) {
		if !slices.Contains(want, m[1]) {
			want = append(want, m[1])
		}
	}
	for name, v := range readExample(t) {
		if !v.commented {
			got = append(got, name)
			if v.value != "" {
				t.Errorf("deploy/.env.example ships a value for the secret %s", name)
			}
		}
	}
	slices.Sort(want)
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("uncommented in deploy/.env.example: %v; required by docker-compose.yml: %v", got, want)
	}
}

func TestEnvExampleShowsConfigDefaults(t *testing.T) {
	ex := readExample(t)
	for name, v := range configNames() {
		e, ok := ex[name]
		if !ok || !e.assigned {
			continue
		}
		if e.value != v.Default {
			t.Errorf("deploy/.env.example shows %s=%q, internal/config's default is %q", name, e.value, v.Default)
		}
	}
}
