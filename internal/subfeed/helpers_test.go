package subfeed_test

import (
	"bufio"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"vpnflow/internal/config"
	"vpnflow/internal/dev/testenv"
	"vpnflow/internal/i18n"
	"vpnflow/internal/store"
	"vpnflow/internal/subfeed"
)

func TestMain(m *testing.M) { testenv.Main(m) }

const (
	domain = "vpnflow.test"
	botURL = "https://t.me/vpnflow_test_bot"
)

// feedEnv is the handler on a real HTTP server and a real database.
type feedEnv struct {
	t     testing.TB
	ctx   context.Context
	store *store.Store
	pool  *pgxpool.Pool
	cfg   config.Config
	node  store.Node
	srv   *httptest.Server
}

func testConfig(t testing.TB, extra ...string) config.Config {
	t.Helper()
	env := map[string]string{
		"VLESS_HOST":               "ignored.example.com", // the feed's links take the node's address
		"VLESS_REALITY_PUBLIC_KEY": "AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA",
		"VLESS_REALITY_SNI":        "www.example.com",
		"VLESS_REALITY_SHORT_ID":   "0123abcd",
		"SUBSCRIPTION_BASE_URL":    "https://sub.example.com",
	}
	for i := 0; i+1 < len(extra); i += 2 {
		env[extra[i]] = extra[i+1]
	}
	cfg, err := config.LoadFrom(env)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// newFeedEnv serves a handler configured by o (Store, Config, Texts and
// BotURL are filled in) on a fresh database with one node.
func newFeedEnv(t testing.TB, cfg config.Config, o subfeed.Options) *feedEnv {
	t.Helper()
	pool := testenv.Database(t)
	e := &feedEnv{t: t, ctx: context.Background(), store: store.New(pool), pool: pool, cfg: cfg}
	n := store.Node{Name: "main", APIAddr: "127.0.0.1:10085", InboundTag: "vless-in", Host: "node1.example.com", Port: 8443}
	id, err := e.store.UpsertNode(e.ctx, n)
	if err != nil {
		t.Fatal(err)
	}
	n.ID = id
	e.node = n
	texts, err := i18n.New()
	if err != nil {
		t.Fatal(err)
	}
	o.Store, o.Config, o.Texts = e.store, cfg, texts
	if o.BotURL == "" {
		o.BotURL = botURL
	}
	h, err := subfeed.New(o)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle(subfeed.Path, h)
	e.srv = httptest.NewServer(mux)
	t.Cleanup(e.srv.Close)
	return e
}

// trial gives a new user (in lang) a trial subscription, as the
// Subscription workflow's activity does.
func (e *feedEnv) trial(userID int64, lang string) store.Subscription {
	e.t.Helper()
	if _, _, err := e.store.UpsertUser(e.ctx, store.UpsertUserParams{TelegramID: userID, FirstName: "u", Language: lang}); err != nil {
		e.t.Fatal(err)
	}
	sub, err := e.store.StartTrial(e.ctx, userID, 72*time.Hour, domain)
	if err != nil {
		e.t.Fatal(err)
	}
	return sub
}

// response is a subscription response as a client sees it.
type response struct {
	status int
	header http.Header
	body   string
}

// get fetches a path (with query) of the server, from the address a
// proxy would name in X-Forwarded-For when from is not "".
func (e *feedEnv) get(path, from string) response {
	e.t.Helper()
	return e.getAs(path, from, "")
}

// getAs is get by an app that says it is agent ("": Go's default).
func (e *feedEnv) getAs(path, from, agent string) response {
	e.t.Helper()
	req, err := http.NewRequest(http.MethodGet, e.srv.URL+path, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	if from != "" {
		req.Header.Set("X-Forwarded-For", "198.51.100.1, "+from)
	}
	if agent != "" {
		req.Header.Set("User-Agent", agent)
	}
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: string(b)}
}

func (e *feedEnv) fetch(token string) response {
	e.t.Helper()
	return e.get("/sub/"+token, "")
}

// links decodes a default (base64) body into its links, as v2rayNG and
// Hiddify do.
func links(t *testing.T, body string) []string {
	t.Helper()
	raw, err := base64.StdEncoding.DecodeString(body)
	if err != nil {
		t.Fatalf("body is not standard base64: %v (%q)", err, body)
	}
	if len(raw) == 0 {
		return nil
	}
	return strings.Split(string(raw), "\n")
}

// userInfo parses subscription-userinfo the way Hiddify's profile parser
// does: fields split at ';', each "key=value" trimmed, values integers;
// upload, download, total and expire must all be there.
func userInfo(t *testing.T, h http.Header) map[string]int64 {
	t.Helper()
	v := h.Get("subscription-userinfo")
	out := map[string]int64{}
	for _, part := range strings.Split(v, ";") {
		k, val, ok := strings.Cut(part, "=")
		if !ok {
			t.Fatalf("subscription-userinfo %q: field %q is not key=value", v, part)
		}
		n, err := strconv.ParseInt(strings.TrimSpace(val), 10, 64)
		if err != nil {
			t.Fatalf("subscription-userinfo %q: %s is not an integer", v, k)
		}
		out[strings.TrimSpace(k)] = n
	}
	for _, k := range []string{"upload", "download", "total", "expire"} {
		if _, ok := out[k]; !ok {
			t.Fatalf("subscription-userinfo %q lacks %s", v, k)
		}
	}
	return out
}

// title decodes profile-title as Hiddify does: "base64:" and standard
// base64 of UTF-8, or plain text.
func title(t *testing.T, h http.Header) string {
	t.Helper()
	v := h.Get("profile-title")
	enc, ok := strings.CutPrefix(v, "base64:")
	if !ok {
		return strings.TrimSpace(v)
	}
	b, err := base64.StdEncoding.DecodeString(enc)
	if err != nil {
		t.Fatalf("profile-title %q: %v", v, err)
	}
	return string(b)
}

// wireHeaderNames reads the header names of a response exactly as they
// come over the connection (Go's client would canonicalise them).
func (e *feedEnv) wireHeaderNames(path string) []string {
	e.t.Helper()
	u, err := url.Parse(e.srv.URL)
	if err != nil {
		e.t.Fatal(err)
	}
	conn, err := net.Dial("tcp", u.Host)
	if err != nil {
		e.t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "GET %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n", path, u.Host)
	r := bufio.NewReader(conn)
	if _, err := r.ReadString('\n'); err != nil { // status line
		e.t.Fatal(err)
	}
	var names []string
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			e.t.Fatal(err)
		}
		line = strings.TrimRight(line, "\r\n")
		if line == "" {
			return names
		}
		name, _, _ := strings.Cut(line, ":")
		names = append(names, name)
	}
}
