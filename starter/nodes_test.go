package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"vpnflow/internal/dev/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// TestStarterNodes: the ops CLI adds, lists and drains nodes in the
// database it is given, and refuses bad input saying what is wrong and
// how the command goes.
func TestStarterNodes(t *testing.T) {
	t.Setenv("DATABASE_URL", testenv.DatabaseURL(t))
	ctx := context.Background()
	run := func(args ...string) (string, error) {
		var out bytes.Buffer
		err := nodes(ctx, args, &out)
		return out.String(), err
	}
	out, err := run("add", "name=us-1", "region=us", "api=10.0.0.9:10085", "host=us1.example.com", "port=8443",
		"pbk=AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA", "sni=www.example.com", "capacity=250")
	if err != nil || !strings.Contains(out, "node us-1 added") {
		t.Fatalf("add: %q, %v", out, err)
	}
	if out, err = run("drain", "us-1"); err != nil || !strings.Contains(out, "node us-1 is now draining") {
		t.Fatalf("drain: %q, %v", out, err)
	}
	out, err = run()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"us-1", "us", "draining", "0/250", "not probed yet", "links to us1.example.com:8443"} {
		if !strings.Contains(out, want) {
			t.Errorf("the list lacks %q:\n%s", want, out)
		}
	}
	_, err = run("add", "name=us-2", "region=us", "api=10.0.0.9:10085", "host=us2.example.com",
		"pbk=AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA", "sni=www.example.com", "capacity=-1")
	if err == nil || !strings.Contains(err.Error(), "capacity: -1 must be 1-") || !strings.Contains(err.Error(), "usage: starter nodes") {
		t.Errorf("a bad capacity: %v", err)
	}
	if _, err = run("enable", "nowhere"); err == nil || !strings.Contains(err.Error(), "no node of that name") {
		t.Errorf("an unknown node: %v", err)
	}
}
