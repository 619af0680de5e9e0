package nodeadmin

import (
	"errors"
	"strings"
	"testing"
	"time"

	"vpnflow/internal/store"
)

func TestParse(t *testing.T) {
	full := strings.Fields("add name=eu-2 region=eu api=10.0.0.2:10085 host=eu2.example.com pbk=k sni=s.example capacity=10")
	for _, c := range []struct {
		args []string
		op   string
		err  string // "" = parses
	}{
		{nil, OpList, ""},
		{[]string{"list"}, OpList, ""},
		{[]string{"LIST", "x"}, OpList, "list takes no arguments"},
		{full, OpAdd, ""},
		{append(full, "port=8443", "tag=in", "sid=ab"), OpAdd, ""},
		{full[:3], OpAdd, "add needs api= host= pbk= sni= capacity="},
		{append(full, "name=again"), OpAdd, "name= given twice"},
		{append(full, "colour=red"), OpAdd, `unknown field "colour"`},
		{append(full, "port"), OpAdd, `"port" is not field=value`},
		{append(full, "port="), OpAdd, "port= has no value"},
		{[]string{"add", "name=Bad_Name", "region=eu", "api=a:1", "host=h", "pbk=k", "sni=s", "capacity=1"}, OpAdd, "node name"},
		{[]string{"set", "eu-2", "capacity=5"}, OpSet, ""},
		{[]string{"set", "eu-2"}, OpSet, "set needs a node name and at least one field=value"},
		{[]string{"set", "eu-2", "name=eu-3"}, OpSet, "cannot be changed"},
		{[]string{"drain", "eu-2"}, OpDrain, ""},
		{[]string{"disable"}, OpDisable, "disable needs exactly one node name"},
		{[]string{"enable", "a", "b"}, OpEnable, "enable needs exactly one node name"},
		{[]string{"delete", "eu-2"}, "", "unknown operation"},
	} {
		r, err := Parse(c.args)
		if c.err == "" {
			if err != nil || r.Op != c.op {
				t.Errorf("Parse(%q) = %+v, %v; want op %s", c.args, r, err, c.op)
			}
			continue
		}
		if !errors.Is(err, ErrUsage) || !strings.Contains(err.Error(), c.err) {
			t.Errorf("Parse(%q) error = %v; want one saying %q", c.args, err, c.err)
		}
		if !IsInputError(err) {
			t.Errorf("Parse(%q) error is not an input error", c.args)
		}
	}
}

func TestApply(t *testing.T) {
	n, err := Apply(NewNode(), map[string]string{"name": "eu-2", "port": "8443", "capacity": "70", "sid": "AB12"})
	if err != nil || n.Name != "eu-2" || n.Port != 8443 || n.Capacity != 70 || n.ShortID != "ab12" || n.InboundTag != "vless-in" || n.State != store.NodeEnabled {
		t.Errorf("Apply = %+v, %v", n, err)
	}
	if n, _ := Apply(n, map[string]string{"agent": "http://10.0.0.5:10086"}); n.AgentURL != "http://10.0.0.5:10086" {
		t.Errorf("agent= not set: %+v", n)
	} else if n, _ := Apply(n, map[string]string{"agent": "none"}); n.AgentURL != "" {
		t.Errorf("agent=none kept %q", n.AgentURL)
	}
	if _, err := Apply(NewNode(), map[string]string{"port": "443x"}); !errors.Is(err, ErrUsage) {
		t.Errorf("a bad port: %v", err)
	}
}

// A failed-over node says so in the list, beside its draining state.
func TestFormatShowsAFailover(t *testing.T) {
	now := time.Date(2026, 12, 6, 3, 10, 0, 0, time.UTC)
	at, answered := now.Add(-7*time.Minute), now.Add(-10*time.Minute)
	checked := now.Add(-20 * time.Second)
	out := Format([]store.NodeUsage{{Node: store.Node{ID: 2, Name: "eu-2", State: store.NodeDraining, Capacity: 100,
		APIAddr: "10.0.0.2:10085", InboundTag: "vless-in", Host: "eu2.example.com", Port: 443,
		CheckedAt: &checked, HealthyAt: &answered, HealthError: "connection refused", FailedOverAt: &at}, Users: 3}}, now)
	for _, want := range []string{"draining", "3/100", "DOWN", "last answered 10m0s ago", "failed over 7m0s ago"} {
		if !strings.Contains(out, want) {
			t.Errorf("list lacks %q:\n%s", want, out)
		}
	}
}
