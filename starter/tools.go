package main

import (
	"context"
	"fmt"
	"os"

	"vpnflow/internal/stack"
)

// tools builds the pinned binaries the local stack and tests run.
func tools(ctx context.Context) error {
	for _, t := range []stack.Tool{stack.Temporal, stack.Xray} {
		path, err := t.Ensure(ctx, os.Stdout)
		if err != nil {
			return err
		}
		fmt.Printf("%s %s: %s\n", t.Name, t.Version, path)
	}
	return nil
}
