package telegram

import (
	"errors"
	"strings"
	"time"

	"github.com/go-telegram/bot"
)

// Kind is what a Bot API failure means for the caller.
type Kind int

// Kinds of failure. Transient covers everything Telegram did not refuse
// on purpose (network errors, 5xx, a conflict): worth retrying.
const (
	OK           Kind = iota // no error
	Transient                // retry
	RateLimited              // 429: retry after Failure.RetryAfter
	Blocked                  // 403: the user blocked the bot (or never wrote to it)
	NotModified              // 400 "message is not modified": an edit changed nothing
	BadRequest               // any other 400: the request itself is wrong
	Unauthorized             // 401: the bot's token is wrong
	NotFound                 // 404: the token or the API URL is wrong
)

var kindNames = [...]string{"OK", "Transient", "RateLimited", "Blocked", "NotModified", "BadRequest", "Unauthorized", "NotFound"}

func (k Kind) String() string {
	if k >= 0 && int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "Kind(?)"
}

// Failure is a classified Bot API error.
type Failure struct {
	Kind       Kind
	RetryAfter time.Duration // for RateLimited: Telegram's retry_after
}

// Permanent reports a failure that repeating the same request cannot fix.
func (f Failure) Permanent() bool {
	switch f.Kind {
	case Blocked, NotModified, BadRequest, Unauthorized, NotFound:
		return true
	}
	return false
}

// Classify says what a client error means. It looks through wrapping, so
// callers may add context first.
func Classify(err error) Failure {
	var tooMany *bot.TooManyRequestsError
	switch {
	case err == nil:
		return Failure{Kind: OK}
	case errors.As(err, &tooMany):
		return Failure{Kind: RateLimited, RetryAfter: time.Duration(tooMany.RetryAfter) * time.Second}
	case errors.Is(err, bot.ErrorForbidden):
		return Failure{Kind: Blocked}
	case errors.Is(err, bot.ErrorBadRequest) && strings.Contains(err.Error(), "message is not modified"):
		return Failure{Kind: NotModified}
	case errors.Is(err, bot.ErrorBadRequest):
		return Failure{Kind: BadRequest}
	case errors.Is(err, bot.ErrorUnauthorized):
		return Failure{Kind: Unauthorized}
	case errors.Is(err, bot.ErrorNotFound):
		return Failure{Kind: NotFound}
	}
	return Failure{Kind: Transient}
}
