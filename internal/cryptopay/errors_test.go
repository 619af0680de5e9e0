package cryptopay

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"
	"testing"
)

func TestIsRetryable(t *testing.T) {
	refused := &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"nil", nil, false},
		{"500", &APIError{Status: 500, Code: 500, Name: "INTERNAL_ERROR"}, true},
		{"502 without body", &APIError{Status: 502}, true},
		{"429", &APIError{Status: 429, Code: 429, Name: "FLOOD_WAIT"}, true},
		{"5xx code in a 200 body", &APIError{Status: 200, Code: 500}, true},
		{"401", &APIError{Status: 401, Code: 401, Name: ErrNameUnauthorized}, false},
		{"400", &APIError{Status: 400, Code: 400, Name: "AMOUNT_INVALID"}, false},
		{"404 invoice", &APIError{Status: 404, Code: 404, Name: ErrNameInvoiceNotFound}, false},
		{"wrapped 503", fmt.Errorf("create invoice: %w", &APIError{Status: 503}), true},
		{"transport", &transportError{err: refused}, true},
		{"bare net error", fmt.Errorf("x: %w", refused), true},
		{"deadline", fmt.Errorf("x: %w", context.DeadlineExceeded), true},
		{"cancelled", &transportError{err: context.Canceled}, false},
		{"unexpected EOF", fmt.Errorf("read: %w", io.ErrUnexpectedEOF), true},
		{"invalid params", fmt.Errorf("x: %w", ErrInvalidParams), false},
		{"decode error", errors.New("decode result: invalid character"), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := IsRetryable(tt.err); got != tt.want {
				t.Errorf("IsRetryable(%v) = %v, want %v", tt.err, got, tt.want)
			}
		})
	}
}

func TestAPIErrorMessage(t *testing.T) {
	msg := (&APIError{Status: 401, Code: 401, Name: "UNAUTHORIZED"}).Error()
	if !strings.Contains(msg, "UNAUTHORIZED") || !strings.Contains(msg, "401") {
		t.Errorf("message %q lacks the name or status", msg)
	}
	if msg := (&APIError{Status: 502}).Error(); !strings.Contains(msg, "Bad Gateway") {
		t.Errorf("message %q lacks the status text", msg)
	}
}

func TestNewAPIErrorShapes(t *testing.T) {
	e := newAPIError(400, []byte(`{"code":400,"name":"AMOUNT_INVALID"}`))
	if e.Code != 400 || e.Name != "AMOUNT_INVALID" || e.Status != 400 {
		t.Errorf("object form: %+v", e)
	}
	e = newAPIError(400, []byte(`"SOMETHING_WRONG"`))
	if e.Name != "SOMETHING_WRONG" {
		t.Errorf("string form: %+v", e)
	}
	e = newAPIError(500, nil)
	if e.Status != 500 || e.Name != "" {
		t.Errorf("no body: %+v", e)
	}
}
