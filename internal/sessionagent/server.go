// Package sessionagent ends revoked keys' open connections on a node on
// another machine than the worker.
//
// Removing a key over Xray's API stops new connections only; vpnflow ends
// the open ones through the kernel (xray.Client.DisconnectUsers), which
// works only from inside Xray's network namespace with CAP_NET_ADMIN there.
// A worker has that for a node on its own machine. For any other node an
// agent runs beside Xray (`worker session-agent`) and does the same on the
// worker's behalf: the worker's activity makes one HTTP call to it, as it
// makes gRPC calls to the node's Xray API, and the node's row names the
// agent's URL (nodes.agent_url). The agent holds no state and reads no
// database; it answers only to the secret the workers share with it
// (SESSION_AGENT_TOKEN), compared in constant time.
package sessionagent

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/netip"
	"strings"

	"vpnflow/internal/xray"
)

// Paths of the agent's API.
const (
	PathEndSessions = "/v1/end-sessions"
	PathCheck       = "/v1/check"
)

// MaxEmails bounds one request's keys: a sweep's page.
const MaxEmails = 10000

// maxBody bounds a request body: MaxEmails emails of Xray's longest.
const maxBody = 2 << 20

// Disconnecter is what the agent needs of the node's Xray: the local
// client (*xray.Client).
type Disconnecter interface {
	DisconnectUsers(ctx context.Context, emails []string) (xray.Disconnected, error)
	CheckDisconnect(ctx context.Context) error
}

// EndRequest is the body of PathEndSessions: keys just removed from the
// node's Xray.
type EndRequest struct {
	Emails []string `json:"emails"`
}

// EndResponse is xray.Disconnected on the wire.
type EndResponse struct {
	IPs         []netip.Addr `json:"ips"`
	Connections int          `json:"connections"`
	Present     []string     `json:"present"`
}

// Failure is an error answer. Reason sorts it for the worker: ReasonDenied
// and ReasonOnlineStatsOff are the operator's to fix (the agent lacks
// CAP_NET_ADMIN in Xray's namespace, Xray's policy lacks statsUserOnline),
// ReasonInvalid is a bad request, ReasonXray is Xray failing (Retryable
// says whether trying again can help).
type Failure struct {
	Error     string `json:"error"`
	Reason    string `json:"reason"`
	Retryable bool   `json:"retryable,omitempty"`
}

// Reasons of a Failure.
const (
	ReasonDenied         = "denied"
	ReasonOnlineStatsOff = "online_stats_off"
	ReasonInvalid        = "invalid"
	ReasonXray           = "xray"
	ReasonUnauthorized   = "unauthorized"
)

// Server is the agent's HTTP API over the node's Xray.
type Server struct {
	xray  Disconnecter
	token []byte
	log   *slog.Logger
}

// NewServer serves the agent's API over xc, answering only requests that
// carry token.
func NewServer(xc Disconnecter, token string, log *slog.Logger) *Server {
	if log == nil {
		log = slog.Default()
	}
	return &Server{xray: xc, token: []byte(token), log: log}
}

// Handler routes the API.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+PathEndSessions, s.authorized(s.endSessions))
	mux.HandleFunc("GET "+PathCheck, s.authorized(s.check))
	return mux
}

func (s *Server) authorized(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || len(s.token) == 0 || subtle.ConstantTimeCompare([]byte(got), s.token) != 1 {
			s.log.Warn("session agent: request without the right token", "remote", r.RemoteAddr, "path", r.URL.Path)
			writeJSON(w, http.StatusUnauthorized, Failure{Error: "missing or wrong bearer token", Reason: ReasonUnauthorized})
			return
		}
		next(w, r)
	}
}

func (s *Server) endSessions(w http.ResponseWriter, r *http.Request) {
	var req EndRequest
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		writeJSON(w, http.StatusBadRequest, Failure{Error: "body is not an end-sessions request: " + err.Error(), Reason: ReasonInvalid})
		return
	}
	if len(req.Emails) == 0 || len(req.Emails) > MaxEmails {
		writeJSON(w, http.StatusBadRequest, Failure{Error: "emails: 1 to 10000 keys", Reason: ReasonInvalid})
		return
	}
	d, err := s.xray.DisconnectUsers(r.Context(), req.Emails)
	if err != nil {
		s.fail(w, "end sessions", err)
		return
	}
	if d.Connections > 0 {
		s.log.Info("session agent: revoked keys' sessions ended", "keys", len(req.Emails), "addresses", len(d.IPs), "connections", d.Connections)
	}
	writeJSON(w, http.StatusOK, EndResponse{IPs: d.IPs, Connections: d.Connections, Present: d.Present})
}

func (s *Server) check(w http.ResponseWriter, r *http.Request) {
	if err := s.xray.CheckDisconnect(r.Context()); err != nil {
		s.fail(w, "check", err)
		return
	}
	writeJSON(w, http.StatusOK, struct{}{})
}

// fail answers err sorted by its reason.
func (s *Server) fail(w http.ResponseWriter, op string, err error) {
	f := Failure{Error: err.Error(), Reason: ReasonXray, Retryable: xray.IsRetryable(err)}
	code := http.StatusBadGateway
	switch {
	case errors.Is(err, xray.ErrDisconnectDenied):
		f.Reason, f.Retryable, code = ReasonDenied, false, http.StatusUnprocessableEntity
	case errors.Is(err, xray.ErrOnlineStatsOff):
		f.Reason, f.Retryable, code = ReasonOnlineStatsOff, false, http.StatusUnprocessableEntity
	case errors.Is(err, xray.ErrInvalidEmail):
		f.Reason, f.Retryable, code = ReasonInvalid, false, http.StatusBadRequest
	}
	s.log.Error("session agent: "+op+" failed", "reason", f.Reason, "retryable", f.Retryable, "error", err)
	writeJSON(w, code, f)
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}
