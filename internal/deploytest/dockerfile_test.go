package deploytest

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

type stage struct {
	image, name string
	lines       []string // instructions after FROM, continuations joined
}

// parseDockerfile splits the Dockerfile into stages; it knows just enough of
// the syntax for these checks.
func parseDockerfile(t *testing.T) []stage {
	t.Helper()
	var stages []stage
	var cur strings.Builder
	for _, raw := range strings.Split(readFile(t, "Dockerfile"), "\n") {
		line := strings.TrimSpace(raw)
		if cur.Len() == 0 && (line == "" || strings.HasPrefix(line, "#")) {
			continue
		}
		if rest, ok := strings.CutSuffix(line, "\\"); ok {
			cur.WriteString(rest + " ")
			continue
		}
		cur.WriteString(line)
		ins := cur.String()
		cur.Reset()
		if f := strings.Fields(ins); strings.EqualFold(f[0], "FROM") {
			s := stage{image: f[1]}
			if len(f) == 4 && strings.EqualFold(f[2], "AS") {
				s.name = f[3]
			}
			stages = append(stages, s)
			continue
		}
		if len(stages) == 0 {
			t.Fatalf("Dockerfile instruction before FROM: %s", ins)
		}
		stages[len(stages)-1].lines = append(stages[len(stages)-1].lines, ins)
	}
	if len(stages) < 2 {
		t.Fatalf("Dockerfile has %d stages, want a build and a runtime stage", len(stages))
	}
	return stages
}

func TestDockerfileBuildsTheThreePrograms(t *testing.T) {
	stages := parseDockerfile(t)
	build := stages[0]
	if !strings.HasPrefix(build.image, "golang:1.26") {
		t.Errorf("build stage is FROM %s, want golang:1.26", build.image)
	}
	text := strings.Join(build.lines, "\n")
	for _, want := range []string{"CGO_ENABLED=0", "--mount=type=cache,target=/go/pkg/mod", "--mount=type=cache,target=/root/.cache/go-build"} {
		if !strings.Contains(text, want) {
			t.Errorf("build stage lacks %s", want)
		}
	}
	root := repoRoot(t)
	for _, prog := range production {
		re := regexp.MustCompile(`go build [^&]*-o /out/` + prog + ` \./` + prog + `\b`)
		if !re.MatchString(text) {
			t.Errorf("build stage does not build ./%s into /out/%s", prog, prog)
		}
		if !isMainPackage(filepath.Join(root, prog)) {
			t.Errorf("./%s, which the Dockerfile builds, is not a main package in this repository", prog)
		}
	}
}

// TestDockerfileShipsProductionProgramsOnly: the image holds the programs
// compose runs and nothing built from internal/dev (the stand-ins, the local
// stack, the test environment and their entry point).
func TestDockerfileShipsProductionProgramsOnly(t *testing.T) {
	build := strings.Join(parseDockerfile(t)[0].lines, "\n")
	built := regexp.MustCompile(`-o /out/(\S+) (\S+)`).FindAllStringSubmatch(build, -1)
	if len(built) == 0 {
		t.Fatal("build stage builds nothing into /out/")
	}
	for _, m := range built {
		if !slices.Contains(production, m[1]) || m[2] != "./"+m[1] {
			t.Errorf("build stage ships %s (from %s); the image holds only %v", m[1], m[2], production)
		}
	}
	if strings.Contains(build, "internal/dev") {
		t.Error("build stage names internal/dev, which is development code only")
	}
}

func isMainPackage(dir string) bool {
	files, _ := filepath.Glob(filepath.Join(dir, "*.go"))
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		b, err := os.ReadFile(f)
		if err == nil && regexp.MustCompile(`(?m)^package main$`).Match(b) {
			return true
		}
	}
	return false
}

func TestDockerfileRuntimeStage(t *testing.T) {
	stages := parseDockerfile(t)
	rt := stages[len(stages)-1]
	if rt.name != "runtime" {
		t.Errorf("last stage is named %q; docker-compose.yml builds target runtime", rt.name)
	}
	if !strings.HasPrefix(rt.image, "alpine:") && !strings.HasPrefix(rt.image, "gcr.io/distroless/") {
		t.Errorf("runtime stage is FROM %s, want alpine or distroless", rt.image)
	}
	var user string
	copied := false
	for _, ins := range rt.lines {
		f := strings.Fields(ins)
		switch strings.ToUpper(f[0]) {
		case "USER":
			user = f[1]
		case "COPY":
			if slices.Contains(f, "--from="+stages[0].name) && slices.Contains(f, "/out/") && f[len(f)-1] == "/usr/local/bin/" {
				copied = true
			}
		}
	}
	if name, _, _ := strings.Cut(user, ":"); name == "" || name == "root" || name == "0" {
		t.Errorf("runtime stage runs as %q, want a non-root user", user)
	}
	if !copied {
		t.Error("runtime stage does not copy the built programs from /out/ to /usr/local/bin/")
	}
}
