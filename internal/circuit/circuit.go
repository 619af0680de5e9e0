// Package circuit is the one circuit breaker setup for vpnflow's external
// systems (Xray, Crypto Pay, Telegram), on sony/gobreaker. While a system
// times out or is unreachable, an activity's call fails at once with a
// retryable ErrOpen instead of holding a worker slot for its whole timeout,
// and one probe call at a time finds out when the system is back.
package circuit

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/sony/gobreaker/v2"
)

// ErrOpen: recent calls failed as a system down or hung does, so calls fail
// fast for a while. Callers treat it as retryable.
var ErrOpen = errors.New("circuit open: calls fail fast until a probe gets through")

// Trips failures in a row open a breaker for OpenFor; then one probe call
// goes through, and its success closes it.
const (
	Trips   = 3
	OpenFor = 10 * time.Second
)

// Breaker guards the calls to one system.
type Breaker struct {
	system string
	cb     *gobreaker.CircuitBreaker[any]
}

// New makes the breaker for system (a metric label and log field). failure
// says which errors count against the system: a refusal is the system
// answering; a timeout or a refused connection is not. A caller's
// cancellation never counts.
func New(system string, log *slog.Logger, failure func(error) bool) *Breaker {
	if log == nil {
		log = slog.Default()
	}
	return &Breaker{system: system, cb: gobreaker.NewCircuitBreaker[any](gobreaker.Settings{
		Name:         system,
		MaxRequests:  1,
		Timeout:      OpenFor,
		ReadyToTrip:  func(c gobreaker.Counts) bool { return c.ConsecutiveFailures >= Trips },
		IsExcluded:   func(err error) bool { return errors.Is(err, context.Canceled) },
		IsSuccessful: func(err error) bool { return err == nil || !failure(err) },
		OnStateChange: func(name string, from, to gobreaker.State) {
			if to == gobreaker.StateOpen {
				log.Error("circuit opened: "+name+" is not answering; calls fail fast", "system", name, "open_for", OpenFor)
			} else {
				log.Info("circuit "+to.String(), "system", name, "from", from.String())
			}
		},
	})}
}

// Do runs call through the breaker; while it is open, call does not run
// and Do returns an error wrapping ErrOpen.
func (b *Breaker) Do(call func() error) error {
	_, err := b.cb.Execute(func() (any, error) { return nil, call() })
	if errors.Is(err, gobreaker.ErrOpenState) || errors.Is(err, gobreaker.ErrTooManyRequests) {
		return fmt.Errorf("%s: %w", b.system, ErrOpen)
	}
	return err
}

// State is "closed", "half-open" or "open".
func (b *Breaker) State() string { return b.cb.State().String() }

// Transport runs HTTP requests through the breaker. A transport error or a
// 5xx answer counts as a failure; any other answer, 429 included, is the
// system working.
func (b *Breaker) Transport(next http.RoundTripper) http.RoundTripper {
	if next == nil {
		next = http.DefaultTransport
	}
	return roundTripFunc(func(r *http.Request) (*http.Response, error) {
		var resp *http.Response
		err := b.Do(func() error {
			var err error
			resp, err = next.RoundTrip(r)
			if err == nil && resp.StatusCode >= 500 {
				return errServerError
			}
			return err
		})
		if errors.Is(err, errServerError) {
			return resp, nil // counted; the caller reads the answer as usual
		}
		return resp, err
	})
}

var errServerError = errors.New("server error")

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// HTTPFailure is the failure test for Transport's breakers: everything
// Transport reports counts, except what the caller cancelled.
func HTTPFailure(err error) bool { return err != nil }

// Register exposes each breaker as vpnflow_circuit_open{system}: 1 while
// open.
func Register(reg prometheus.Registerer, breakers ...*Breaker) {
	for _, b := range breakers {
		RegisterOpen(reg, b.system, func() bool { return b.State() == "open" })
	}
}

// RegisterOpen exposes vpnflow_circuit_open{system} for a system guarded
// by several breakers (one per Xray node): open reports whether it counts
// as open.
func RegisterOpen(reg prometheus.Registerer, system string, open func() bool) {
	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "vpnflow_circuit_open", Help: "1 while the circuit breaker to an external system is open (calls fail fast)",
		ConstLabels: prometheus.Labels{"system": system},
	}, func() float64 {
		if open() {
			return 1
		}
		return 0
	}))
}
