package xray

import (
	"context"
	"errors"
	"fmt"
	"net"
	"syscall"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

func TestIsRetryable(t *testing.T) {
	tests := []struct {
		err  error
		want bool
	}{
		{nil, false},
		{status.Error(codes.Unavailable, "connection refused"), true},
		{status.Error(codes.DeadlineExceeded, "context deadline exceeded"), true},
		{status.Error(codes.ResourceExhausted, "too many requests"), true},
		{status.Error(codes.ResourceExhausted, "grpc: received message larger than max (5 vs. 4)"), false},
		{status.Error(codes.Unknown, "proxy/vless: some rejection"), false},
		{fmt.Errorf("add vless user x: %w", status.Error(codes.Unavailable, "x")), true},
		{fmt.Errorf("op: %w", context.DeadlineExceeded), true},
		{fmt.Errorf("op: %w", context.Canceled), false},
		{&net.OpError{Op: "dial", Err: syscall.ECONNREFUSED}, true},
		{fmt.Errorf("op: %w", ErrInvalidUUID), false},
		{fmt.Errorf("op: %w", ErrInvalidEmail), false},
		{fmt.Errorf("op: %w", ErrInvalidFlow), false},
		{fmt.Errorf("op: %w", ErrUUIDMismatch), false},
		{fmt.Errorf("op: %w", ErrInboundNotFound), false},
		{errors.New("something else"), false},
	}
	for _, tt := range tests {
		if got := IsRetryable(tt.err); got != tt.want {
			t.Errorf("IsRetryable(%v) = %v, want %v", tt.err, got, tt.want)
		}
	}
}
