// Package e2e drives the whole shop end to end: a real PostgreSQL, Temporal
// dev server and Xray-core, the worker and the bot, with only Telegram and
// Crypto Pay replaced by their local stand-ins. Tests act as Telegram users
// do — text, buttons, payments — and assert on what the user saw, what Xray
// serves and what the database holds.
package e2e

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"go.temporal.io/sdk/client"

	"vpnflow/internal/botapp"
	"vpnflow/internal/config"
	"vpnflow/internal/db"
	"vpnflow/internal/dev/devstack"
	fakecp "vpnflow/internal/dev/fake/cryptopay"
	faketg "vpnflow/internal/dev/fake/telegram"
	"vpnflow/internal/dev/testenv"
	"vpnflow/internal/store"
	"vpnflow/internal/telemetry"
	"vpnflow/internal/workerapp"
	"vpnflow/internal/xray"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// Parallel tests: every test has a shop of its own (its own Temporal
// server, database, Xray and stand-ins, on free ports), so tests that
// spend most of their time waiting on the shop's clocks (a failover
// delay, a trial running out, a health check interval) call t.Parallel
// and wait together; `make test` runs up to four at once (-parallel).
// Tests that measure the machine (a burst, a pace, many users racing for
// a promo code) or read the process's global telemetry, and the liveness
// tests, whose bounds are a few seconds of a busy machine, stay
// sequential: Go runs those first, alone. (Run beside the others, the
// promo race once met the bot's plain "busy, nothing was changed" reply,
// which is right under overload but not what that test asks for.)

// waitLimit bounds every wait for something the user should see. Real
// flows take well under a second; the bound only keeps a broken build from
// hanging.
const waitLimit = 90 * time.Second

// shopEnv is a running shop and handles to look inside it.
type shopEnv struct {
	t        *testing.T
	dir      string
	stack    *devstack.Stack
	cfg      config.Config
	store    *store.Store
	pool     *pgxpool.Pool
	xray     *xray.Client
	tg       *faketg.Server
	cp       *fakecp.Server
	temporal client.Client

	mu      sync.Mutex
	workers map[string]func() // running in-process components, by name
}

// testConfig speeds the shop's clocks up for tests without changing its
// logic.
var testConfig = map[string]string{
	"CRYPTOPAY_POLL_INTERVAL": "2s",
	"REFERRAL_BONUS":          "1.00",
	"PLANS":                   "1m:30d:3.00:150,3m:90d:8.00:400",
	"LOG_LEVEL":               "debug",
}

// startShop brings up a whole shop of its own. extra overrides testConfig.
func startShop(t *testing.T, extra map[string]string) *shopEnv {
	t.Helper()
	return startShopWith(t, extra, devstack.Options{})
}

// startShopWith is startShop with stack options of the test's own
// (SecondNode, XrayTarget, say); their Dir, Env and Ports are filled in.
func startShopWith(t *testing.T, extra map[string]string, opts devstack.Options) *shopEnv {
	t.Helper()
	env := map[string]string{}
	for k, v := range testConfig {
		env[k] = v
	}
	for k, v := range extra {
		env[k] = v
	}
	dir := testenv.Dir(t, "shop")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	opts.Env, opts.Ports = env, devstack.Ports{TemporalUI: -1}
	opts.Dir = dir
	st, err := devstack.Start(ctx, opts)
	if err != nil && strings.Contains(err.Error(), "address already in use") {
		// Free ports are picked before the servers bind them; a parallel
		// test's server can take one in between. Pick again, once.
		t.Logf("start stack: %v; retrying with other ports", err)
		dir = testenv.Dir(t, "shop")
		opts.Dir = dir
		st, err = devstack.Start(ctx, opts)
	}
	if err != nil {
		t.Fatalf("start stack: %v", err)
	}
	t.Cleanup(st.Stop)
	s := &shopEnv{t: t, dir: dir, stack: st, cfg: st.Config, tg: st.Telegram, cp: st.CryptoPay, workers: map[string]func(){}}
	s.pool, err = db.Open(ctx, st.Config.DatabaseURL)
	if err != nil {
		t.Fatalf("open db: %v", err)
	}
	t.Cleanup(s.pool.Close)
	s.store = store.New(s.pool)
	s.xray, err = xray.Dial(st.Config.XrayAPIAddr, st.Config.XrayInboundTag, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.xray.Close() })
	s.temporal, err = client.Dial(client.Options{HostPort: st.Config.TemporalAddress, Namespace: st.Config.TemporalNamespace})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.temporal.Close)
	return s
}

// runInProcess runs the worker and the bot as goroutines of the test.
func (s *shopEnv) runInProcess() {
	s.t.Helper()
	s.startComponent("worker", func(ctx context.Context, cfg config.Config, tel *telemetry.Telemetry) error {
		return workerapp.Run(ctx, cfg, tel)
	})
	s.startComponent("bot", func(ctx context.Context, cfg config.Config, tel *telemetry.Telemetry) error {
		return botapp.Run(ctx, cfg, tel)
	})
	s.waitReady()
}

func (s *shopEnv) startComponent(name string, run func(context.Context, config.Config, *telemetry.Telemetry) error) {
	s.t.Helper()
	logFile, err := os.OpenFile(filepath.Join(s.dir, name+".log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		s.t.Fatal(err)
	}
	tel, err := telemetry.Setup(context.Background(), telemetry.Options{Service: name, Level: s.cfg.Level, Out: logFile})
	if err != nil {
		s.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx, s.cfg, tel) }()
	stop := func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				s.t.Errorf("%s: %v", name, err)
			}
		case <-time.After(30 * time.Second):
			s.t.Errorf("%s did not stop within 30s", name)
		}
		tel.Shutdown(context.Background())
		logFile.Close()
	}
	s.mu.Lock()
	s.workers[name] = stop
	s.mu.Unlock()
	s.t.Cleanup(func() { s.stopComponent(name) })
}

func (s *shopEnv) stopComponent(name string) {
	s.mu.Lock()
	stop := s.workers[name]
	delete(s.workers, name)
	s.mu.Unlock()
	if stop != nil {
		stop()
	}
}

// startWorkerProcess runs the real worker binary with the stack's
// configuration as its environment, so a test can kill it.
func (s *shopEnv) startWorkerProcess() *exec.Cmd {
	s.t.Helper()
	return s.startProcess("worker")
}

// startProcess runs one of the production programs (worker, bot) as a
// real process with the stack's configuration as its environment, plus
// extra "NAME=value" settings. It is killed when the test ends.
func (s *shopEnv) startProcess(program string, extra ...string) *exec.Cmd {
	s.t.Helper()
	cmd := exec.Command(buildProgram(s.t, program))
	for k, v := range s.stack.Env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	cmd.Env = append(cmd.Env, "PATH="+os.Getenv("PATH"), "HOME="+os.Getenv("HOME"))
	cmd.Env = append(cmd.Env, extra...)
	logFile, err := os.OpenFile(filepath.Join(s.dir, program+"-process.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		s.t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		s.t.Fatal(err)
	}
	s.t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
		logFile.Close()
	})
	return cmd
}

// builtProgram is one production program built once per test binary.
type builtProgram struct {
	once sync.Once
	path string
	err  error
}

var programs sync.Map // program name → *builtProgram

// buildProgram builds vpnflow/<program> with the race detector, once.
func buildProgram(t *testing.T, program string) string {
	v, _ := programs.LoadOrStore(program, &builtProgram{})
	b := v.(*builtProgram)
	b.once.Do(func() {
		dir, err := os.MkdirTemp("", "vpnflow-"+program+"-bin-")
		if err != nil {
			b.err = err
			return
		}
		b.path = filepath.Join(dir, program)
		out, err := exec.Command("go", "build", "-race", "-o", b.path, "vpnflow/"+program).CombinedOutput()
		if err != nil {
			b.err = fmt.Errorf("go build %s: %v\n%s", program, err, out)
		}
	})
	if b.err != nil {
		t.Fatal(b.err)
	}
	return b.path
}

// waitReady waits until the bot answers /readyz.
func (s *shopEnv) waitReady() {
	s.t.Helper()
	deadline := time.Now().Add(waitLimit)
	for {
		resp, err := http.Get("http://" + s.cfg.HTTPAddr + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("bot not ready after %s: %v", waitLimit, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// newUser creates a Telegram user in the stand-in.
func (s *shopEnv) newUser(name string) int64 {
	s.t.Helper()
	u, err := s.tg.AddUser(faketg.User{FirstName: name, LanguageCode: "en"})
	if err != nil {
		s.t.Fatal(err)
	}
	return u.ID
}

func (s *shopEnv) say(userID int64, text string) {
	s.t.Helper()
	if _, err := s.tg.SendText(userID, text); err != nil {
		s.t.Fatalf("user %d says %q: %v", userID, text, err)
	}
}

// waitFor waits for a bot message the predicate accepts, newer than after
// (a message id; 0 for any).
func (s *shopEnv) waitFor(userID int64, after int, what string, match func(faketg.Message) bool) faketg.Message {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	m, err := s.tg.WaitForMessage(ctx, userID, func(m faketg.Message) bool { return m.ID > after && match(m) })
	if err != nil {
		s.t.Fatalf("user %d never saw %s: %v\nconversation:\n%s", userID, what, err, s.conversation(userID))
	}
	return m
}

func (s *shopEnv) waitText(userID int64, after int, substr string) faketg.Message {
	s.t.Helper()
	return s.waitFor(userID, after, fmt.Sprintf("a message containing %q", substr), func(m faketg.Message) bool {
		return strings.Contains(m.Text+m.Caption, substr)
	})
}

// press presses the button whose text contains label on the newest bot
// message that has one, waiting for such a button to appear.
func (s *shopEnv) press(userID int64, label string) {
	s.t.Helper()
	deadline := time.Now().Add(waitLimit)
	for {
		msgs := s.tg.Messages(userID)
		for i := len(msgs) - 1; i >= 0; i-- {
			for _, row := range msgs[i].Keyboard {
				for _, b := range row {
					if strings.Contains(b.Text, label) && b.CallbackData != "" {
						if _, err := s.tg.PressButton(userID, msgs[i].ID, b.CallbackData); err != nil {
							s.t.Fatalf("press %q: %v", label, err)
						}
						return
					}
				}
			}
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("no button %q in the chat of user %d:\n%s", label, userID, s.conversation(userID))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (s *shopEnv) lastID(userID int64) int {
	msgs := s.tg.Messages(userID)
	if len(msgs) == 0 {
		return 0
	}
	return msgs[len(msgs)-1].ID
}

func (s *shopEnv) conversation(userID int64) string {
	var b strings.Builder
	for _, m := range s.tg.Conversation(userID) {
		who := "user"
		if m.FromBot {
			who = "bot"
		}
		fmt.Fprintf(&b, "  #%d %s: %s%s\n", m.ID, who, truncate(m.Text+m.Caption, 160), keyboardSummary(m))
	}
	return b.String()
}

func keyboardSummary(m faketg.Message) string {
	var labels []string
	for _, row := range m.Keyboard {
		for _, b := range row {
			labels = append(labels, b.Text)
		}
	}
	if len(labels) == 0 {
		return ""
	}
	return " [" + strings.Join(labels, " | ") + "]"
}

func truncate(s string, n int) string {
	s = strings.ReplaceAll(s, "\n", " ⏎ ")
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

// eventually retries check until it passes or waitLimit passes.
func (s *shopEnv) eventually(what string, check func() error) {
	s.t.Helper()
	deadline := time.Now().Add(waitLimit)
	for {
		err := check()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("%s: %v", what, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// invoiceFor finds the Crypto Pay invoice the stand-in issued to a
// purchase of the user's (by the payload, our purchase id).
func (s *shopEnv) invoiceFor(userID int64) fakecp.Invoice {
	s.t.Helper()
	var inv fakecp.Invoice
	s.eventually("an invoice for the user", func() error {
		ps, err := s.store.RecentPurchases(context.Background(), userID, 1)
		if err != nil {
			return err
		}
		if len(ps) == 0 {
			return errors.New("no purchase yet")
		}
		for _, i := range s.cp.Invoices() {
			if i.Payload == ps[0].ID.String() {
				inv = i
				return nil
			}
		}
		return fmt.Errorf("no invoice for purchase %s", ps[0].ID)
	})
	return inv
}
