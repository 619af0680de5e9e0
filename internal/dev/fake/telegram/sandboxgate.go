package telegram

import (
	"context"

	"vpnflow/internal/sandboxgate"
)

// sandboxMarker answers sandboxgate.Method, which no real Bot API server
// has: it is how the bot and the worker know they talk to this stand-in
// and may enable the sandbox-only commands.
func (s *Server) sandboxMarker(context.Context, *params) (any, error) {
	return sandboxgate.Answer{Marker: sandboxgate.Marker}, nil
}
