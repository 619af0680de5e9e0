package cryptopay

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
)

// Error names Crypto Pay returns that callers may want to tell apart.
const (
	ErrNameUnauthorized    = "UNAUTHORIZED"
	ErrNameMethodNotFound  = "METHOD_NOT_FOUND"
	ErrNameInvoiceNotFound = "INVOICE_NOT_FOUND"
)

// ErrInvalidParams marks a request the client refused to send because the
// API would reject it; retrying cannot help.
var ErrInvalidParams = errors.New("invalid parameters")

// APIError is a call the API answered with an error: an {"ok":false}
// body or a non-2xx status.
type APIError struct {
	Status int    // HTTP status of the response
	Code   int    // error.code from the body; 0 when the body had none
	Name   string // error.name from the body, e.g. "UNAUTHORIZED"
}

func (e *APIError) Error() string {
	name := e.Name
	if name == "" {
		name = http.StatusText(e.Status)
	}
	if e.Code != 0 && e.Code != e.Status {
		return fmt.Sprintf("crypto pay error %s (code %d, HTTP %d)", name, e.Code, e.Status)
	}
	return fmt.Sprintf("crypto pay error %s (HTTP %d)", name, e.Status)
}

// Retryable reports whether the same call may succeed later: the service
// was overloaded or failing, not refusing the request itself.
func (e *APIError) Retryable() bool {
	return transient(e.Status) || transient(e.Code)
}

func transient(status int) bool {
	return status == http.StatusTooManyRequests || status >= 500
}

// newAPIError builds an APIError from the error member of a response,
// which is normally {"code":400,"name":"..."} but is kept readable when it
// is a bare string.
func newAPIError(status int, raw json.RawMessage) *APIError {
	e := &APIError{Status: status}
	var obj struct {
		Code int    `json:"code"`
		Name string `json:"name"`
	}
	var name string
	switch {
	case json.Unmarshal(raw, &obj) == nil:
		e.Code, e.Name = obj.Code, obj.Name
	case json.Unmarshal(raw, &name) == nil:
		e.Name = name
	}
	return e
}

// transportError is a request that got no complete answer; whether it
// reached the service is unknown.
type transportError struct{ err error }

func (e *transportError) Error() string { return e.err.Error() }
func (e *transportError) Unwrap() error { return e.err }

// IsRetryable reports whether err is worth retrying: network failures,
// timeouts, 429 and 5xx answers. Business errors (bad token, bad
// parameters, unknown invoice) and cancellation are not.
//
// Retrying createInvoice after a transport error may create a second
// invoice; that is harmless because an unpaid invoice expires, and the
// purchase id in its payload tells which purchase a payment belongs to.
func IsRetryable(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, context.Canceled) {
		return false
	}
	var apiErr *APIError
	if errors.As(err, &apiErr) {
		return apiErr.Retryable()
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	var tErr *transportError
	if errors.As(err, &tErr) {
		return true
	}
	var netErr net.Error
	if errors.As(err, &netErr) {
		return true
	}
	return errors.Is(err, io.ErrUnexpectedEOF)
}
