// Package cryptopay is a local stand-in for Crypto Pay: an HTTP server that
// speaks the same wire format as https://pay.crypt.bot/api (getMe,
// createInvoice, getInvoices), sends signed invoice_paid webhooks the way
// the real service does, and serves a sandbox pay page so a person can pay
// an invoice by clicking. Tests drive it directly (Pay, Expire, webhook
// behaviours) and read back what it saw (Calls, WebhookDeliveries).
package cryptopay

import (
	"context"
	"errors"
	"fmt"
	"html/template"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Options configures a Server. Token is required.
type Options struct {
	Token string // the app token clients must send

	// WebhookURL receives invoice_paid updates; empty sends none until
	// SetWebhookURL is called.
	WebhookURL string
	// PublicURL is the root (scheme://host[:port][/prefix]) people reach the
	// stand-in at, used in invoice links. Empty means the address Start
	// listens on, or the request's Host when only Handler is used.
	PublicURL string
	// ReturnURL is the link shown after payment when an invoice has no
	// paid_btn_url.
	ReturnURL string

	AppID       int64  // default 1
	AppName     string // default "vpnflow sandbox"
	BotUsername string // default "CryptoTestnetBot"

	// Webhook redelivery: an attempt that does not get HTTP 200 is retried
	// every WebhookRetryInterval (default 2s) up to WebhookMaxAttempts in
	// all (default 30); each attempt waits at most WebhookTimeout (default
	// 5s). The real service keeps trying for days; the bound keeps tests and
	// sandboxes finite.
	WebhookRetryInterval time.Duration
	WebhookMaxAttempts   int
	WebhookTimeout       time.Duration
	HTTPClient           *http.Client // for webhooks; default a plain client

	Now func() time.Time // clock for created_at, paid_at and expiry; default time.Now
}

// Server is the stand-in. Its methods are safe for concurrent use.
type Server struct {
	opts    Options
	hc      *http.Client
	now     func() time.Time
	handler http.Handler
	page    *template.Template

	stopCtx context.Context // cancelled by Close: ends retries and waits
	stop    context.CancelFunc

	mu           sync.Mutex
	closed       bool
	publicURL    string
	webhookURL   string
	behavior     WebhookBehavior
	invoices     []*record // in id order
	byID         map[int64]*record
	byHash       map[string]*record
	nextID       int64
	nextUpdateID int64
	calls        []Call
	deliveries   []Delivery
	failures     []int // statuses for the next API calls to answer with
	latency      time.Duration
	inflight     int           // webhook deliveries still running
	idle         chan struct{} // closed and replaced when inflight drops

	srv       *http.Server
	serveDone chan struct{}
}

// New returns a stand-in; call Start to listen, or mount Handler.
func New(opts Options) (*Server, error) {
	if opts.Token == "" {
		return nil, errors.New("fake cryptopay: Options.Token is required")
	}
	if opts.AppID == 0 {
		opts.AppID = 1
	}
	if opts.AppName == "" {
		opts.AppName = "vpnflow sandbox"
	}
	if opts.BotUsername == "" {
		opts.BotUsername = "CryptoTestnetBot"
	}
	if opts.WebhookRetryInterval <= 0 {
		opts.WebhookRetryInterval = 2 * time.Second
	}
	if opts.WebhookMaxAttempts <= 0 {
		opts.WebhookMaxAttempts = 30
	}
	if opts.WebhookTimeout <= 0 {
		opts.WebhookTimeout = 5 * time.Second
	}
	s := &Server{
		opts:       opts,
		hc:         opts.HTTPClient,
		now:        opts.Now,
		publicURL:  strings.TrimRight(opts.PublicURL, "/"),
		webhookURL: opts.WebhookURL,
		byID:       map[int64]*record{},
		byHash:     map[string]*record{},
		idle:       make(chan struct{}),
	}
	if s.hc == nil {
		s.hc = &http.Client{}
	}
	if s.now == nil {
		s.now = time.Now
	}
	page, err := parsePayPage()
	if err != nil {
		return nil, fmt.Errorf("fake cryptopay: pay page template: %w", err)
	}
	s.page = page
	s.stopCtx, s.stop = context.WithCancel(context.Background())

	mux := http.NewServeMux()
	mux.HandleFunc("/api/{method}", s.serveAPI)
	mux.HandleFunc("GET /pay/{hash}", s.servePayPage)
	mux.HandleFunc("POST /pay/{hash}/pay", s.servePayAction)
	mux.HandleFunc("POST /pay/{hash}/expire", s.serveExpireAction)
	s.handler = mux
	return s, nil
}

// Handler serves the API under /api/ and the pay page under /pay/.
func (s *Server) Handler() http.Handler { return s.handler }

// Start listens on addr ("127.0.0.1:0" for any free port) and serves.
func (s *Server) Start(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("fake cryptopay: listen on %s: %w", addr, err)
	}
	srv := &http.Server{Handler: s.handler, ReadHeaderTimeout: 10 * time.Second}
	s.mu.Lock()
	if s.srv != nil || s.closed {
		s.mu.Unlock()
		ln.Close()
		return errors.New("fake cryptopay: already started or closed")
	}
	s.srv = srv
	s.serveDone = make(chan struct{})
	if s.publicURL == "" {
		s.publicURL = "http://" + ln.Addr().String()
	}
	done := s.serveDone
	s.mu.Unlock()
	go func() {
		defer close(done)
		_ = srv.Serve(ln) // returns ErrServerClosed after Close
	}()
	return nil
}

// Close stops the server, abandons pending webhook retries and waits for
// running deliveries to return.
func (s *Server) Close() error {
	s.mu.Lock()
	s.closed = true
	srv, done := s.srv, s.serveDone
	s.mu.Unlock()
	s.stop()

	var err error
	if srv != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err = srv.Shutdown(ctx); err != nil {
			err = fmt.Errorf("fake cryptopay: shut down: %w", err)
			srv.Close()
		}
		<-done
	}
	waitCtx, cancel := context.WithTimeout(context.Background(), s.opts.WebhookTimeout+5*time.Second)
	defer cancel()
	if werr := s.WaitWebhooks(waitCtx); werr != nil && err == nil {
		err = fmt.Errorf("fake cryptopay: webhooks still running: %w", werr)
	}
	return err
}

// URL is the API root to give the client, e.g. "http://127.0.0.1:41234/api".
func (s *Server) URL() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.publicURL + "/api"
}

// SetWebhookURL changes where updates go from now on; empty stops them.
func (s *Server) SetWebhookURL(u string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.webhookURL = u
}

// FailNext makes the next n API calls answer with HTTP status (e.g. 500 or
// 429) and an error body, before checking anything else.
func (s *Server) FailNext(n, status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for range n {
		s.failures = append(s.failures, status)
	}
}

// SetLatency delays every API answer by d, after the call has taken effect
// (as when a response is lost to a client timeout). Zero removes it.
func (s *Server) SetLatency(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.latency = d
}

// Call is one API request the stand-in answered.
type Call struct {
	Method     string            // API method from the path, e.g. "createInvoice"
	HTTPMethod string            // GET or POST
	Params     map[string]string // query, JSON or form parameters as text
	Status     int               // HTTP status answered
	Error      string            // error name when the answer was not ok
	At         time.Time
}

// Calls returns every API request so far, oldest first.
func (s *Server) Calls() []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Call, len(s.calls))
	copy(out, s.calls)
	return out
}

// rootURL is the root links are built from: PublicURL, the listener, or
// failing both the Host the request came to.
func (s *Server) rootURL(r *http.Request) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.publicURL != "" {
		return s.publicURL
	}
	return "http://" + r.Host
}
