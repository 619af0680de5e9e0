package deploytest

import (
	"maps"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/types"
)

func TestComposeLoadsWithTheSecretsAlone(t *testing.T) {
	p := mustLoad(t, nil)
	want := append(slices.Clone(oneShots), longRunning...)
	slices.Sort(want)
	if got := p.ServiceNames(); !slices.Equal(got, want) {
		t.Fatalf("services = %v, want %v", got, want)
	}
}

func TestComposeRefusesToStartWithoutEachSecret(t *testing.T) {
	for name := range secrets {
		t.Run(name, func(t *testing.T) {
			env := maps.Clone(secrets)
			delete(env, name)
			_, err := load(t, env)
			if err == nil {
				t.Fatalf("docker-compose.yml loads without %s", name)
			}
			if !strings.Contains(err.Error(), name) {
				t.Fatalf("error without %s does not name it: %v", name, err)
			}
			env[name] = ""
			if _, err := load(t, env); err == nil {
				t.Fatalf("docker-compose.yml loads with %s empty", name)
			}
		})
	}
}

func TestLongRunningServicesAreHealthCheckedAndRestarted(t *testing.T) {
	p := mustLoad(t, nil)
	for _, name := range longRunning {
		s := service(t, p, name)
		if s.Restart != types.RestartPolicyUnlessStopped {
			t.Errorf("%s: restart = %q, want %q", name, s.Restart, types.RestartPolicyUnlessStopped)
		}
		hc := s.HealthCheck
		if hc == nil || hc.Disable || len(hc.Test) < 2 || (hc.Test[0] != "CMD" && hc.Test[0] != "CMD-SHELL") {
			t.Errorf("%s: no usable healthcheck: %+v", name, hc)
		}
	}
}

// A one-shot must not restart after it succeeded (unless-stopped and always
// would run it forever), but may retry a bounded number of failures.
func TestOneShotsRetryOnlyFailures(t *testing.T) {
	p := mustLoad(t, nil)
	for _, name := range oneShots {
		s := service(t, p, name)
		if s.Restart != types.RestartPolicyNo && !strings.HasPrefix(s.Restart, types.RestartPolicyOnFailure) {
			t.Errorf("%s: restart = %q, want no or on-failure[:n]", name, s.Restart)
		}
	}
}

func TestDependencyConditions(t *testing.T) {
	p := mustLoad(t, nil)
	for name, s := range p.Services {
		for dep, d := range s.DependsOn {
			want := types.ServiceConditionHealthy
			if slices.Contains(oneShots, dep) {
				want = types.ServiceConditionCompletedSuccessfully
			}
			if d.Condition != want {
				t.Errorf("%s depends on %s with condition %q, want %q", name, dep, d.Condition, want)
			}
		}
	}

	for _, app := range []string{"worker", "bot"} {
		deps := service(t, p, app).DependsOn
		for _, dep := range []string{"postgres", "temporal", "temporal-setup", "migrate"} {
			if _, ok := deps[dep]; !ok {
				t.Errorf("%s does not depend on %s", app, dep)
			}
		}
	}
	if d, ok := service(t, p, "worker").DependsOn["xray"]; !ok || !d.Restart {
		t.Errorf("worker must depend on xray with restart: true (it lives in xray's network namespace), got %+v", d)
	}
	if _, ok := service(t, p, "migrate").DependsOn["postgres"]; !ok {
		t.Error("migrate does not depend on postgres")
	}
	if _, ok := service(t, p, "temporal").DependsOn["temporal-schema"]; !ok {
		t.Error("temporal does not wait for temporal-schema")
	}
}

func TestAppServicesRunTheImageBuiltHere(t *testing.T) {
	p := mustLoad(t, nil)
	for name, want := range map[string][]string{
		"worker":  {"worker"},
		"bot":     {"bot"},
		"migrate": {"starter", "migrate"},
	} {
		s := service(t, p, name)
		if s.Build == nil || s.Build.Target != "runtime" {
			t.Errorf("%s: not built from the Dockerfile's runtime stage: %+v", name, s.Build)
		}
		if !slices.Equal([]string(s.Command), want) {
			t.Errorf("%s: command = %v, want %v", name, s.Command, want)
		}
	}
}

func TestMountedFilesExist(t *testing.T) {
	p := mustLoad(t, nil)
	root := repoRoot(t)
	for name, s := range p.Services {
		for _, v := range s.Volumes {
			if v.Type != types.VolumeTypeBind {
				continue
			}
			if !strings.HasPrefix(v.Source, root) {
				t.Errorf("%s mounts %s from outside the repository", name, v.Source)
				continue
			}
			if _, err := os.Stat(v.Source); err != nil {
				t.Errorf("%s mounts a missing file: %v", name, err)
			}
		}
	}
}

// Only VLESS faces the internet; every other published port is on the
// host's loopback.
func TestOnlyVLESSIsPublishedPublicly(t *testing.T) {
	p := mustLoad(t, nil)
	for name, s := range p.Services {
		for _, port := range s.Ports {
			public := port.HostIP == "" || port.HostIP == "0.0.0.0" || port.HostIP == "::"
			if public && (name != "xray" || port.Target != 443) {
				t.Errorf("%s publishes container port %d on all interfaces", name, port.Target)
			}
		}
	}
	if ports := service(t, p, "xray").Ports; len(ports) != 1 {
		t.Errorf("xray publishes %d ports, want only VLESS", len(ports))
	}
}
