package telegram

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"vpnflow/internal/sandboxgate"
)

// method answers one Bot API method; the result is marshalled as "result".
type method func(ctx context.Context, p *params) (any, error)

// described is a result that also carries Telegram's "description", as
// setWebhook and deleteWebhook answers do.
type described struct {
	result      any
	description string
}

// apiError is a Bot API failure answered with ok=false.
type apiError struct {
	code        int
	description string
	retryAfter  int
}

func (e *apiError) Error() string { return e.description }

func badRequest(format string, args ...any) *apiError {
	return &apiError{code: http.StatusBadRequest, description: "Bad Request: " + fmt.Sprintf(format, args...)}
}

func forbidden(what string) *apiError {
	return &apiError{code: http.StatusForbidden, description: "Forbidden: " + what}
}

func conflict(what string) *apiError {
	return &apiError{code: http.StatusConflict, description: "Conflict: " + what}
}

var (
	errUnauthorized = &apiError{code: http.StatusUnauthorized, description: "Unauthorized"}
	errNotFound     = &apiError{code: http.StatusNotFound, description: "Not Found"}
	errTooLarge     = &apiError{code: http.StatusRequestEntityTooLarge, description: "Request Entity Too Large"}
	errBadGateway   = &apiError{code: http.StatusBadGateway, description: "Bad Gateway"}
	errQueryTooOld  = badRequest("query is too old and response timeout expired or query ID is invalid")
)

func (s *Server) apiMethods() map[string]method {
	m := map[string]method{
		"getMe":                  s.getMe,
		"getUpdates":             s.getUpdates,
		"setWebhook":             s.setWebhook,
		"deleteWebhook":          s.deleteWebhook,
		"getWebhookInfo":         s.getWebhookInfo,
		"sendMessage":            s.sendMessage,
		"sendPhoto":              s.sendPhoto,
		"sendInvoice":            s.sendInvoice,
		"sendChatAction":         s.sendChatAction,
		"editMessageText":        s.editMessageText,
		"editMessageCaption":     s.editMessageCaption,
		"editMessageReplyMarkup": s.editMessageReplyMarkup,
		"deleteMessage":          s.deleteMessage,
		"answerCallbackQuery":    s.answerCallbackQuery,
		"answerPreCheckoutQuery": s.answerPreCheckoutQuery,
		"refundStarPayment":      s.refundStarPayment,
		"getStarTransactions":    s.getStarTransactions,
		"setMyCommands":          s.setMyCommands,
		"getMyCommands":          s.getMyCommands,
		"deleteMyCommands":       s.deleteMyCommands,
		"setMyDescription":       profileText("description", 512),
		"setMyShortDescription":  profileText("short_description", 120),
		"setMyName":              profileText("name", 64),
		"setChatMenuButton":      s.setChatMenuButton,
		sandboxgate.Method:       s.sandboxMarker,
	}
	// Bot API method names are case-insensitive.
	out := make(map[string]method, len(m))
	for name, f := range m {
		out[strings.ToLower(name)] = f
	}
	return out
}

// floodControlled are the methods Telegram's send limits apply to.
var floodControlled = map[string]bool{
	"sendmessage": true, "sendphoto": true, "sendinvoice": true,
	"editmessagetext": true, "editmessagecaption": true, "editmessagereplymarkup": true,
}

func (s *Server) serveAPI(w http.ResponseWriter, r *http.Request) {
	token, name, ok := strings.Cut(strings.TrimPrefix(r.URL.Path, "/bot"), "/")
	if !ok || name == "" || strings.Contains(name, "/") {
		writeAPI(w, nil, errNotFound)
		return
	}
	if token != s.opts.Token {
		writeAPI(w, nil, errUnauthorized)
		return
	}
	call := Call{Time: s.now(), Method: name, Params: map[string]string{}}
	result, err := s.answer(w, r, name, &call)
	status := http.StatusOK
	var apiErr *apiError
	switch {
	case errors.As(err, &apiErr):
		status, call.Description = apiErr.code, apiErr.description
	case err != nil:
		// The client went away or the server is closing: nobody reads an answer.
		return
	}
	call.Status = status
	s.mu.Lock()
	s.recordLocked(call)
	s.mu.Unlock()
	writeAPI(w, result, err)
}

func (s *Server) answer(w http.ResponseWriter, r *http.Request, name string, call *Call) (any, error) {
	if err := s.sufferOutage(r.Context()); err != nil {
		return nil, err
	}
	if err := s.sufferLatency(r.Context()); err != nil {
		return nil, err
	}
	f, ok := s.methods[strings.ToLower(name)]
	if !ok {
		return nil, errNotFound
	}
	r.Body = http.MaxBytesReader(w, r.Body, s.opts.MaxBodyBytes)
	p, err := readParams(r)
	if errors.Is(err, errBodyTooLarge) {
		return nil, errTooLarge
	}
	if p != nil {
		call.Params, call.Files = p.record()
	}
	if err != nil {
		return nil, badRequest("can't parse request body: %v", err)
	}
	if floodControlled[strings.ToLower(name)] {
		if err := s.admitSend(); err != nil {
			return nil, err
		}
	}
	return f(r.Context(), p)
}

// sufferLatency applies SetLatency.
func (s *Server) sufferLatency(ctx context.Context) error {
	s.mu.Lock()
	d := s.latency
	s.mu.Unlock()
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-s.stopCtx.Done():
		return ErrClosed
	}
}

// sufferOutage applies SetOutage: a 502, or a hang until the outage ends.
func (s *Server) sufferOutage(ctx context.Context) error {
	for {
		s.mu.Lock()
		o, ch := s.outage, s.changed
		s.mu.Unlock()
		switch o {
		case OutageError:
			return errBadGateway
		case OutageHang:
			s.mu.Lock()
			s.hanging++
			s.mu.Unlock()
			err := s.waitChange(ctx, ch, nil)
			s.mu.Lock()
			s.hanging--
			s.mu.Unlock()
			if err != nil {
				return err
			}
		default:
			return nil
		}
	}
}

func writeAPI(w http.ResponseWriter, result any, err error) {
	type parameters struct {
		RetryAfter int `json:"retry_after,omitempty"`
	}
	type response struct {
		OK          bool        `json:"ok"`
		Result      any         `json:"result,omitempty"`
		ErrorCode   int         `json:"error_code,omitempty"`
		Description string      `json:"description,omitempty"`
		Parameters  *parameters `json:"parameters,omitempty"`
	}
	resp := response{OK: err == nil}
	status := http.StatusOK
	var apiErr *apiError
	switch {
	case errors.As(err, &apiErr):
		status = apiErr.code
		resp.ErrorCode, resp.Description = apiErr.code, apiErr.description
		if apiErr.retryAfter > 0 {
			resp.Parameters = &parameters{RetryAfter: apiErr.retryAfter}
		}
	case err != nil:
		status = http.StatusInternalServerError
		resp.ErrorCode, resp.Description = status, "Internal Server Error"
	default:
		if d, ok := result.(described); ok {
			result, resp.Description = d.result, d.description
		}
		resp.Result = result
	}
	body, mErr := json.Marshal(resp)
	if mErr != nil {
		status = http.StatusInternalServerError
		body = []byte(`{"ok":false,"error_code":500,"description":"Internal Server Error"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

func (s *Server) getMe(context.Context, *params) (any, error) {
	return wireBot{
		wireUser:                wireUser{ID: s.botID, IsBot: true, FirstName: s.opts.BotName, Username: s.opts.BotUsername},
		CanJoinGroups:           true,
		CanReadAllGroupMessages: false,
		SupportsInlineQueries:   false,
		CanConnectToBusiness:    false,
		HasMainWebApp:           false,
	}, nil
}
