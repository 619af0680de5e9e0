package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"

	"golang.org/x/sync/errgroup"

	"vpnflow/internal/dev/devstack"
	"vpnflow/internal/dev/stack"
)

// tools builds the pinned binaries the local stack and tests run; with
// none named, those `make dev` and `make test` need (`make tools`, which CI
// runs). They build at once:
// on a fresh machine that is most of CI's time, and the go command shares
// its caches safely between them.
func tools(ctx context.Context, which ...stack.Tool) error {
	if len(which) == 0 {
		which = stack.TestTools
	}
	var g errgroup.Group
	var mu sync.Mutex
	paths := map[string]string{}
	for _, t := range which {
		g.Go(func() error {
			path, err := t.Ensure(ctx, &prefixed{w: os.Stdout, mu: &mu, prefix: t.Name + ": "})
			mu.Lock()
			paths[t.Name] = path
			mu.Unlock()
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	for _, t := range which {
		fmt.Printf("%s %s: %s\n", t.Name, t.Version, paths[t.Name])
	}
	return nil
}

// prefixed writes whole lines, each prefixed, so two builds' progress can
// share a terminal.
type prefixed struct {
	w      io.Writer
	mu     *sync.Mutex
	prefix string
	buf    []byte
}

func (p *prefixed) Write(b []byte) (int, error) {
	p.buf = append(p.buf, b...)
	for {
		i := strings.IndexByte(string(p.buf), '\n')
		if i < 0 {
			return len(b), nil
		}
		p.mu.Lock()
		fmt.Fprintf(p.w, "%s%s\n", p.prefix, p.buf[:i])
		p.mu.Unlock()
		p.buf = p.buf[i+1:]
	}
}

// runTools is `vpnflow-dev tools [-temporal dev|postgres]`.
func runTools(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("tools", flag.ContinueOnError)
	temporal := fs.String("temporal", "", "which profile's tools: none named, what `make dev` and `make test` run (the Temporal CLI, Xray, sing-box); postgres, the Temporal server, its schema tool and Xray")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *temporal == "" {
		return tools(ctx)
	}
	return tools(ctx, devTools(*temporal)...)
}

// devTools are what a stack on the given Temporal server runs: the
// production profile needs the server and its schema tool, not the CLI.
func devTools(temporal string) []stack.Tool {
	if temporal == devstack.TemporalPostgres {
		return stack.PostgresProfileTools
	}
	return stack.DevTools
}
