package telegram

import (
	"context"
	"errors"
	"fmt"
	"html/template"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// DefaultToken is the bot token used when Options.Token is empty.
const DefaultToken = "7000000001:AAsandbox-token-not-valid-on-telegram"

// Options configures a Server. Every field has a usable default.
type Options struct {
	Token       string // "<bot id>:<secret>"; default DefaultToken
	BotUsername string // default "vpnflow_sandbox_bot"
	BotName     string // the bot's first_name; default "vpnflow sandbox"

	// TemporalUIURL, when set, adds a link per sandbox user to their
	// workflows in the Temporal UI, in TemporalNamespace (default "default").
	TemporalUIURL     string
	TemporalNamespace string

	MaxBodyBytes int64 // request body cap; default 20 MiB

	// PreCheckoutTimeout bounds how long a payment waits for
	// answerPreCheckoutQuery; Telegram gives bots 10 seconds (the default).
	PreCheckoutTimeout time.Duration

	// Webhook delivery: each POST waits at most WebhookTimeout (default 10s);
	// an update the receiver does not take with a 2xx is retried after
	// WebhookBackoff (default 100ms), doubling up to 5s, and dropped after
	// WebhookMaxAttempts attempts (default 10) as Telegram eventually does.
	WebhookTimeout     time.Duration
	WebhookBackoff     time.Duration
	WebhookMaxAttempts int
	HTTPClient         *http.Client // for webhooks; default a plain client

	Now func() time.Time // clock for message dates; default time.Now
}

// maxCalls bounds the call log so a long sandbox session stays small; when
// full, the older half is forgotten.
const maxCalls = 10000

// Server is the stand-in. Its methods are safe for concurrent use.
type Server struct {
	opts    Options
	botID   int64
	now     func() time.Time
	hc      *http.Client
	methods map[string]method
	pages   *template.Template
	mux     *http.ServeMux

	stopCtx context.Context // cancelled by Close: ends polls, waits and deliveries
	stop    context.CancelFunc
	wg      sync.WaitGroup // webhook delivery loops

	mu sync.Mutex
	// changed is closed and replaced on every state change, waking long
	// polls, webhook loops and the Wait helpers.
	changed      chan struct{}
	closed       bool
	users        map[int64]*account
	userOrder    []int64
	nextUserID   int64
	updates      []pendingUpdate
	nextUpdateID int64
	allowed      map[string]bool // nil: Telegram's default set
	pollGen      uint64
	hook         *webhook
	callbacks    map[string]*callbackQuery
	preCheckouts map[string]*preCheckout
	charges      map[string]*Charge
	chargeOrder  []string
	starLog      []starTx // the bot's Stars transactions, oldest first
	onAnswer     func(ok bool)
	files        map[string]storedFile
	commands     map[string][]BotCommand
	calls        []Call
	outage       Outage
	hanging      int // requests held by OutageHang, for tests
	latency      time.Duration
	rate         rateState
	subs         map[*subscriber]struct{}

	srv       *http.Server
	serveDone chan struct{}
	baseURL   string
}

// account is a user and their private chat with the bot.
type account struct {
	User
	blocked bool
	// started: the user has written to the bot, so the bot may write back.
	started       bool
	nextMessageID int
	messages      []*message // in id order
	replyKeyboard [][]string
}

// New builds a Server; it serves nothing until Start or Handler is used.
func New(opts Options) (*Server, error) {
	if opts.Token == "" {
		opts.Token = DefaultToken
	}
	idText, secret, ok := strings.Cut(opts.Token, ":")
	botID, err := strconv.ParseInt(idText, 10, 64)
	if !ok || err != nil || botID <= 0 || secret == "" || strings.ContainsAny(opts.Token, "/ ?#") {
		return nil, fmt.Errorf("bot token %q is not of the form <bot id>:<secret>", opts.Token)
	}
	if opts.BotUsername == "" {
		opts.BotUsername = "vpnflow_sandbox_bot"
	}
	if opts.BotName == "" {
		opts.BotName = "vpnflow sandbox"
	}
	if opts.TemporalNamespace == "" {
		opts.TemporalNamespace = "default"
	}
	if opts.TemporalUIURL != "" && !strings.HasPrefix(opts.TemporalUIURL, "http://") && !strings.HasPrefix(opts.TemporalUIURL, "https://") {
		return nil, fmt.Errorf("temporal UI URL %q is not an http(s) URL", opts.TemporalUIURL)
	}
	opts.TemporalUIURL = strings.TrimRight(opts.TemporalUIURL, "/")
	if opts.MaxBodyBytes <= 0 {
		opts.MaxBodyBytes = 20 << 20
	}
	if opts.PreCheckoutTimeout <= 0 {
		opts.PreCheckoutTimeout = 10 * time.Second
	}
	if opts.WebhookTimeout <= 0 {
		opts.WebhookTimeout = 10 * time.Second
	}
	if opts.WebhookBackoff <= 0 {
		opts.WebhookBackoff = 100 * time.Millisecond
	}
	if opts.WebhookMaxAttempts <= 0 {
		opts.WebhookMaxAttempts = 10
	}
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	hc := opts.HTTPClient
	if hc == nil {
		hc = &http.Client{}
	}
	// Telegram does not follow redirects from a webhook; a 3xx is an error.
	hcCopy := *hc
	hcCopy.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

	pages, err := parsePages()
	if err != nil {
		return nil, err
	}
	stopCtx, stop := context.WithCancel(context.Background())
	s := &Server{
		opts:         opts,
		botID:        botID,
		now:          now,
		hc:           &hcCopy,
		pages:        pages,
		stopCtx:      stopCtx,
		stop:         stop,
		changed:      make(chan struct{}),
		users:        map[int64]*account{},
		nextUserID:   7_000_000_001, // beyond int32, like real ids, to catch truncation
		nextUpdateID: 100_000_001,
		callbacks:    map[string]*callbackQuery{},
		preCheckouts: map[string]*preCheckout{},
		charges:      map[string]*Charge{},
		files:        map[string]storedFile{},
		commands:     map[string][]BotCommand{},
		subs:         map[*subscriber]struct{}{},
	}
	s.methods = s.apiMethods()
	s.mux = s.sandboxMux()
	return s, nil
}

// Handler serves the Bot API under /bot<token>/ and the sandbox page at /,
// for use with httptest; the bot's server URL is then the test server's.
func (s *Server) Handler() http.Handler { return http.HandlerFunc(s.serveHTTP) }

func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.URL.Path, "/bot") {
		s.serveAPI(w, r)
		return
	}
	s.mux.ServeHTTP(w, r)
}

// Start listens on addr (for example "127.0.0.1:0") and serves in the
// background until Close.
func (s *Server) Start(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", addr, err)
	}
	srv := &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		// No write timeout: long polls and the page's event stream stay open.
	}
	done := make(chan struct{})
	s.mu.Lock()
	if s.closed || s.srv != nil {
		s.mu.Unlock()
		_ = ln.Close()
		return errors.New("start telegram stand-in: already started or closed")
	}
	s.srv = srv
	s.serveDone = done
	s.baseURL = "http://" + ln.Addr().String()
	s.mu.Unlock()
	go func() {
		defer close(done)
		_ = srv.Serve(ln)
	}()
	return nil
}

// URL is the base URL for bot.WithServerURL once Start has run; empty
// when only Handler is used.
func (s *Server) URL() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.baseURL
}

// Token is the bot token clients must use.
func (s *Server) Token() string { return s.opts.Token }

// Bot is the bot's own account, as getMe reports it.
func (s *Server) Bot() User {
	return User{ID: s.botID, FirstName: s.opts.BotName, Username: s.opts.BotUsername}
}

// Close ends long polls, waits and webhook deliveries, and stops the
// listener started by Start.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	srv, done := s.srv, s.serveDone
	for sub := range s.subs {
		close(sub.events)
		delete(s.subs, sub)
	}
	s.notifyLocked()
	s.mu.Unlock()
	s.stop()
	var err error
	if srv != nil {
		// Requests still running after the grace (a client that never
		// read its long poll's answer, on a loaded machine) are cut: this is
		// a stand-in, and its callers want it gone, not an error.
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		if srv.Shutdown(ctx) != nil {
			err = srv.Close()
		}
		<-done
	}
	s.wg.Wait()
	return err
}

// notifyLocked wakes everything waiting for a state change.
func (s *Server) notifyLocked() {
	close(s.changed)
	s.changed = make(chan struct{})
}

// waitChange blocks until the state changes, ctx ends or the server closes.
// It must be called without the lock, with ch read under it.
func (s *Server) waitChange(ctx context.Context, ch <-chan struct{}, timer <-chan time.Time) error {
	select {
	case <-ch:
		return nil
	case <-timer:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-s.stopCtx.Done():
		return ErrClosed
	}
}

// SetOutage makes the whole Bot API fail (OutageError), hang (OutageHang)
// or work again (OutageNone). Hung requests resume when the outage ends.
func (s *Server) SetOutage(o Outage) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.outage = o
	s.notifyLocked()
}

// SetLatency makes every Bot API request wait d before it is answered, as
// a slow Telegram does (0: answer at once). The request is recorded as
// arriving before the wait, so Calls still shows when the bot asked.
func (s *Server) SetLatency(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.latency = d
}

// SetRateLimit switches Telegram-style flood control on or off.
func (s *Server) SetRateLimit(l RateLimit) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rate = rateState{limit: l}
}

// Calls returns the Bot API requests answered so far, oldest first, only
// those to the given methods when any are named (case-insensitive).
func (s *Server) Calls(methods ...string) []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Call
	for _, c := range s.calls {
		if len(methods) > 0 && !containsFold(methods, c.Method) {
			continue
		}
		out = append(out, cloneCall(c))
	}
	return out
}

func containsFold(list []string, v string) bool {
	for _, x := range list {
		if strings.EqualFold(x, v) {
			return true
		}
	}
	return false
}

func cloneCall(c Call) Call {
	p := make(map[string]string, len(c.Params))
	for k, v := range c.Params {
		p[k] = v
	}
	c.Params = p
	if c.Files != nil {
		f := make(map[string]string, len(c.Files))
		for k, v := range c.Files {
			f[k] = v
		}
		c.Files = f
	}
	return c
}

func (s *Server) recordLocked(c Call) {
	if len(s.calls) >= maxCalls {
		s.calls = append(s.calls[:0:0], s.calls[maxCalls/2:]...)
	}
	s.calls = append(s.calls, c)
}
