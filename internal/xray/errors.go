package xray

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Errors a caller acts on. None of them is fixed by retrying.
var (
	// ErrInvalidUUID: the id is not a canonical UUID. Checked before any
	// call, because Xray silently turns any other string into a UUIDv5.
	ErrInvalidUUID = errors.New("invalid vless uuid")
	// ErrInvalidEmail: empty, containing white space or control characters,
	// or containing ">>>", which would corrupt Xray's stats counter names.
	ErrInvalidEmail = errors.New("invalid user email")
	// ErrInvalidFlow: a flow an Xray VLESS inbound does not accept.
	ErrInvalidFlow = errors.New("invalid vless flow")
	// ErrUUIDMismatch: a user with this email exists with another UUID or
	// flow. Xray cannot update a user in place; remove it and add it again.
	ErrUUIDMismatch = errors.New("user exists with a different uuid or flow")
	// ErrInboundNotFound: Xray has no inbound with the client's tag, or it
	// does not manage users — a configuration error.
	ErrInboundNotFound = errors.New("xray inbound not found")
	// ErrOnlineStatsOff: Xray does not track users' live sessions, so it
	// cannot tell whether a user is online, nor Disconnect find them.
	// Policy level 0 needs statsUserOnline.
	ErrOnlineStatsOff = errors.New("xray does not track online users (policy level 0 needs statsUserOnline)")
	// ErrDisconnectDenied: this process cannot end connections in Xray's
	// network namespace (no CAP_NET_ADMIN there, or no kernel support).
	ErrDisconnectDenied = errors.New("cannot end xray's connections from here")
	// ErrUserPresent: Disconnect was asked to end the sessions of a user
	// still in the inbound, whose client would reconnect at once.
	ErrUserPresent = errors.New("user is still in the inbound")
)

// Texts of the plain errors Xray returns (as gRPC Unknown) from
// app/proxyman/inbound and proxy/vless/validator.go.
const (
	xrayHandlerNotFound = "handler not found"
	xrayNotUserManager  = "proxy is not a UserManager"
	xrayCannotGetProxy  = "can't get inbound proxy from handler"
	xrayAlreadyExists   = "already exists"
)

// xrayUserNotFound is Xray's text for removing an absent user.
func xrayUserNotFound(email string) string { return "User " + email + " not found." }

// wrap adds the operation to err and maps Xray's inbound errors to
// ErrInboundNotFound, keeping Xray's own text.
func (c *Client) wrap(op string, err error) error {
	if isInboundError(err) {
		return fmt.Errorf("%s: inbound %q on %s: %w (xray: %s)", op, c.tag, c.addr, ErrInboundNotFound, status.Convert(err).Message())
	}
	return fmt.Errorf("%s: %w", op, err)
}

func isInboundError(err error) bool {
	s, ok := status.FromError(err)
	if !ok || s.Code() != codes.Unknown {
		return false
	}
	m := s.Message()
	return strings.Contains(m, xrayHandlerNotFound) || strings.Contains(m, xrayNotUserManager) || strings.Contains(m, xrayCannotGetProxy)
}

func xrayErrorContains(err error, text string) bool {
	s, ok := status.FromError(err)
	return ok && s.Code() == codes.Unknown && strings.Contains(s.Message(), text)
}

// IsRetryable reports whether err may go away by itself: Xray down or
// restarting, a call that ran out of time, an overloaded server. Invalid
// input, a missing inbound, a UUID mismatch and anything Xray rejected are
// not, so a Temporal activity can mark them non-retryable.
func IsRetryable(err error) bool {
	if err == nil {
		return false
	}
	for _, permanent := range []error{ErrInvalidUUID, ErrInvalidEmail, ErrInvalidFlow, ErrUUIDMismatch, ErrInboundNotFound,
		ErrOnlineStatsOff, ErrDisconnectDenied, ErrUserPresent, context.Canceled} {
		if errors.Is(err, permanent) {
			return false
		}
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, ErrCircuitOpen) {
		return true
	}
	if s, ok := status.FromError(err); ok {
		switch s.Code() {
		case codes.Unavailable, codes.DeadlineExceeded, codes.Aborted:
			return true
		case codes.Canceled:
			// A client the registry closed under a call (its node's
			// address changed): the next attempt gets the new one.
			return strings.Contains(s.Message(), "client connection is closing")
		case codes.ResourceExhausted:
			// gRPC reports a reply over the client's size limit this way
			// too; that one recurs on every retry.
			return !strings.Contains(s.Message(), "larger than max")
		}
	}
	var netErr net.Error
	return errors.As(err, &netErr) || errors.Is(err, syscall.ECONNREFUSED) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, io.ErrUnexpectedEOF)
}
