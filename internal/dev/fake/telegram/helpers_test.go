package telegram

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-telegram/bot"
	"github.com/go-telegram/bot/models"
)

// waitBound bounds every wait in these tests; reaching it means a bug.
const waitBound = 10 * time.Second

func startServer(t *testing.T, opts Options) *Server {
	t.Helper()
	srv, err := New(opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if err := srv.Start("127.0.0.1:0"); err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		if err := srv.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return srv
}

func waitCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitBound)
	t.Cleanup(cancel)
	return ctx
}

// newBot builds a go-telegram/bot client against the stand-in without
// starting it.
func newBot(t *testing.T, srv *Server, opts ...bot.Option) *bot.Bot {
	t.Helper()
	all := append([]bot.Option{
		bot.WithServerURL(srv.URL()),
		bot.WithSkipGetMe(),
		bot.WithErrorsHandler(func(error) {}),
		bot.WithDefaultHandler(func(context.Context, *bot.Bot, *models.Update) {}),
	}, opts...)
	b, err := bot.New(srv.Token(), all...)
	if err != nil {
		t.Fatalf("bot.New: %v", err)
	}
	return b
}

// runBot starts a long-polling go-telegram/bot client and stops it when
// the test ends.
func runBot(t *testing.T, srv *Server, opts ...bot.Option) *bot.Bot {
	t.Helper()
	b := newBot(t, srv, opts...)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		b.Start(ctx)
		close(done)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	return b
}

// updateSink collects updates a bot handler sees, for assertions outside
// the handler goroutine.
type updateSink struct {
	ch chan *models.Update
}

func newSink() *updateSink { return &updateSink{ch: make(chan *models.Update, 64)} }

func (u *updateSink) handler(_ context.Context, _ *bot.Bot, upd *models.Update) {
	u.ch <- upd
}

func (u *updateSink) next(t *testing.T, match func(*models.Update) bool) *models.Update {
	t.Helper()
	timer := time.NewTimer(waitBound)
	defer timer.Stop()
	for {
		select {
		case upd := <-u.ch:
			if match == nil || match(upd) {
				return upd
			}
		case <-timer.C:
			t.Fatal("no matching update arrived")
			return nil
		}
	}
}

// addStartedUser adds a user who has written /start, so the bot may
// message them; the /start update is taken off the queue.
func addStartedUser(t *testing.T, srv *Server, name string) User {
	t.Helper()
	u, err := srv.AddUser(User{FirstName: name, LanguageCode: "en"})
	if err != nil {
		t.Fatalf("AddUser: %v", err)
	}
	if _, err := srv.SendText(u.ID, "/start"); err != nil {
		t.Fatalf("SendText: %v", err)
	}
	srv.mu.Lock()
	srv.updates = nil
	srv.mu.Unlock()
	return u
}

// apiResponse is the Bot API envelope as a raw client reads it.
type apiResponse struct {
	OK          bool            `json:"ok"`
	Result      json.RawMessage `json:"result"`
	ErrorCode   int             `json:"error_code"`
	Description string          `json:"description"`
	Parameters  struct {
		RetryAfter int `json:"retry_after"`
	} `json:"parameters"`
}

func callRaw(t *testing.T, req *http.Request) (int, apiResponse) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read body: %v", err)
	}
	var out apiResponse
	if err := json.Unmarshal(body, &out); err != nil {
		t.Fatalf("%s answered %d with non-JSON %q: %v", req.URL.Path, resp.StatusCode, body, err)
	}
	if resp.Header.Get("Content-Type") != "application/json" {
		t.Errorf("Content-Type = %q, want application/json", resp.Header.Get("Content-Type"))
	}
	return resp.StatusCode, out
}

func methodURL(srv *Server, method string) string {
	return srv.URL() + "/bot" + srv.Token() + "/" + method
}

// postForm calls a method with an url-encoded body.
func postForm(t *testing.T, srv *Server, method string, form url.Values) (int, apiResponse) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, methodURL(srv, method), strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return callRaw(t, req)
}

// tryPostForm is postForm for goroutines, which must not call t.Fatal.
func tryPostForm(srv *Server, method string, form url.Values) (apiResponse, error) {
	resp, err := http.PostForm(methodURL(srv, method), form)
	if err != nil {
		return apiResponse{}, err
	}
	defer resp.Body.Close()
	var out apiResponse
	err = json.NewDecoder(resp.Body).Decode(&out)
	return out, err
}

// postJSON calls a method with a JSON body.
func postJSON(t *testing.T, srv *Server, method string, body any) (int, apiResponse) {
	t.Helper()
	data, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequest(http.MethodPost, methodURL(srv, method), bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	return callRaw(t, req)
}

func decodeResult(t *testing.T, r apiResponse, dst any) {
	t.Helper()
	if !r.OK {
		t.Fatalf("call failed: %d %s", r.ErrorCode, r.Description)
	}
	if err := json.Unmarshal(r.Result, dst); err != nil {
		t.Fatalf("decode result %s: %v", r.Result, err)
	}
}

// clock is a settable time source for Options.Now.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *clock { return &clock{now: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}
