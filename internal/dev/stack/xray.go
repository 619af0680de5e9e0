package stack

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/types/known/emptypb"

	"vpnflow/internal/vless"
)

const (
	xrayStartTimeout = 15 * time.Second
	xrayStopTimeout  = 5 * time.Second
	// xraySysStatsMethod is StatsService.GetSysStats, called raw to probe
	// readiness so that this package need not link Xray's own packages.
	xraySysStatsMethod = "/xray.app.stats.command.StatsService/GetSysStats"
)

// XrayOptions configures a local Xray-core with a VLESS+REALITY inbound that
// starts without users, as vpnflow's servers do.
type XrayOptions struct {
	Dir        string // config and xray.log go here; required
	APIPort    int    // 0 picks a free loopback port
	VLESSPort  int    // 0 picks a free loopback port
	InboundTag string // default "vless-in"
	SNI        string // server name clients present; default "www.example.com"
	// Target is where REALITY forwards connections that fail its
	// authentication; default SNI:443. Tests point it at a local TLS server,
	// because REALITY dials it for every connection, authenticated or not.
	Target string
	// AllowPrivate lets customers reach loopback and private addresses
	// through the proxy. Off, they are blackholed: otherwise any customer
	// could reach the Xray API itself through the tunnel.
	AllowPrivate bool
	// OnlineStatsOff leaves statsUserOnline out of the policy, as in an Xray
	// configured before xray.Client.Online and Disconnect, which need it.
	OnlineStatsOff bool
	Log            io.Writer // also receives Xray's output, if set
	// Netns runs Xray in that network namespace (ip netns exec), as a
	// node on another machine; Host is then an address of the namespace.
	Netns string
	// Host is the address the API and VLESS inbounds listen on and
	// clients dial; default 127.0.0.1.
	Host string
}

// XrayServer is a running Xray process.
type XrayServer struct {
	APIAddr    string // host:port of the gRPC API (plaintext)
	InboundTag string
	VLESSHost  string // where the VLESS inbound listens
	VLESSPort  int
	PublicKey  string // REALITY public key (base64url), the links' pbk
	PrivateKey string
	ShortID    string // the one short id the inbound accepts
	SNI        string
	ConfigPath string
	LogPath    string

	bin   string
	netns string
	out   io.Writer

	mu   sync.Mutex
	proc *xrayProcess // nil when stopped
}

// xrayProcess is one run of the binary; Restart makes a new one.
type xrayProcess struct {
	cmd     *exec.Cmd
	logFile *os.File
	done    chan struct{}
	waitErr error
}

// StartXray writes a config into opts.Dir, starts Xray with it and waits
// until its API answers.
func StartXray(ctx context.Context, opts XrayOptions) (*XrayServer, error) {
	bin, err := Xray.Find()
	if err != nil {
		return nil, err
	}
	if opts.Dir == "" {
		return nil, errors.New("start xray: XrayOptions.Dir is empty")
	}
	if err := os.MkdirAll(opts.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("start xray: %w", err)
	}
	if opts.InboundTag == "" {
		opts.InboundTag = "vless-in"
	}
	if opts.InboundTag == "api" {
		return nil, errors.New(`start xray: inbound tag "api" is taken by the API inbound`)
	}
	if opts.SNI == "" {
		opts.SNI = "www.example.com"
	}
	if opts.Target == "" {
		opts.Target = net.JoinHostPort(opts.SNI, "443")
	}
	if opts.Host == "" {
		opts.Host = "127.0.0.1"
	}
	for _, p := range []*int{&opts.APIPort, &opts.VLESSPort} {
		if *p == 0 {
			if *p, err = FreePort(); err != nil {
				return nil, err
			}
		}
	}
	priv, pub, err := xrayKeyPair(ctx, bin)
	if err != nil {
		return nil, err
	}
	sid := make([]byte, 8)
	if _, err := rand.Read(sid); err != nil {
		return nil, fmt.Errorf("short id: %w", err)
	}
	s := &XrayServer{
		APIAddr:    net.JoinHostPort(opts.Host, strconv.Itoa(opts.APIPort)),
		InboundTag: opts.InboundTag,
		VLESSHost:  opts.Host,
		VLESSPort:  opts.VLESSPort,
		PublicKey:  pub,
		PrivateKey: priv,
		ShortID:    hex.EncodeToString(sid),
		SNI:        opts.SNI,
		ConfigPath: filepath.Join(opts.Dir, "config.json"),
		LogPath:    filepath.Join(opts.Dir, "xray.log"),
		bin:        bin,
		netns:      opts.Netns,
		out:        opts.Log,
	}
	cfg, err := json.MarshalIndent(s.config(opts), "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encode xray config: %w", err)
	}
	if err := os.WriteFile(s.ConfigPath, cfg, 0o600); err != nil {
		return nil, fmt.Errorf("write xray config: %w", err)
	}
	if err := s.start(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

// Link is the share link of a user of this server's inbound.
func (s *XrayServer) Link(userUUID, name string) vless.Link {
	return vless.Link{
		UUID:       userUUID,
		Host:       s.VLESSHost,
		Port:       s.VLESSPort,
		Flow:       vless.FlowVision,
		PublicKey:  s.PublicKey,
		ServerName: s.SNI,
		ShortID:    s.ShortID,
		Name:       name,
	}
}

func (s *XrayServer) start(ctx context.Context) error {
	logFile, err := os.OpenFile(s.LogPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("open xray log: %w", err)
	}
	var w io.Writer = logFile
	if s.out != nil {
		w = io.MultiWriter(logFile, s.out)
	}
	// Not CommandContext: ctx bounds the start only; Stop ends the process.
	cmd := exec.Command(s.bin, "run", "-c", s.ConfigPath)
	if s.netns != "" {
		// ip netns exec execs Xray in place: the pid and the process
		// group stay Xray's.
		cmd = exec.Command("ip", "netns", "exec", s.netns, s.bin, "run", "-c", s.ConfigPath)
	}
	cmd.Dir = filepath.Dir(s.ConfigPath)
	cmd.Stdout = w
	cmd.Stderr = w
	// Its own process group keeps a terminal's Ctrl-C from reaching Xray
	// before the parent stops it in order; Pdeathsig kills it if the parent
	// dies without stopping it. (Pdeathsig fires when the starting OS thread
	// exits; Go keeps its threads, except ones a goroutine locked and
	// abandoned, so don't start Xray from such a goroutine.)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return fmt.Errorf("start xray: %w", err)
	}
	p := &xrayProcess{cmd: cmd, logFile: logFile, done: make(chan struct{})}
	go func() {
		p.waitErr = cmd.Wait()
		close(p.done)
	}()
	if err := s.waitReady(ctx, p); err != nil {
		p.kill()
		return fmt.Errorf("xray did not start: %w\n%s(full log: %s)", err, xrayLogTail(s.LogPath), s.LogPath)
	}
	s.proc = p
	return nil
}

// waitReady polls the API until it answers, the process exits, or the
// bound passes.
func (s *XrayServer) waitReady(ctx context.Context, p *xrayProcess) error {
	ctx, cancel := context.WithTimeout(ctx, xrayStartTimeout)
	defer cancel()
	conn, err := grpc.NewClient("passthrough:///"+s.APIAddr,
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		// The default reconnect backoff (1 s and growing) would make the
		// polling below lag far behind Xray becoming ready.
		grpc.WithConnectParams(grpc.ConnectParams{
			Backoff:           backoff.Config{BaseDelay: 20 * time.Millisecond, Multiplier: 1.5, MaxDelay: 200 * time.Millisecond},
			MinConnectTimeout: time.Second,
		}))
	if err != nil {
		return err
	}
	defer conn.Close()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	var last error
	for {
		attempt, cancelAttempt := context.WithTimeout(ctx, time.Second)
		// The reply's fields are unknown to emptypb and are kept as such.
		last = conn.Invoke(attempt, xraySysStatsMethod, &emptypb.Empty{}, &emptypb.Empty{})
		cancelAttempt()
		if last == nil {
			return nil
		}
		select {
		case <-p.done:
			return fmt.Errorf("process exited: %v", p.waitErr)
		case <-ctx.Done():
			return fmt.Errorf("API on %s not answering: %w (last error: %v)", s.APIAddr, ctx.Err(), last)
		case <-tick.C:
		}
	}
}

// Done is closed when the current Xray process exits; after a Restart it
// refers to the new process. A stopped server's channel is closed.
func (s *XrayServer) Done() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc == nil {
		closed := make(chan struct{})
		close(closed)
		return closed
	}
	return s.proc.done
}

// Pid is the current Xray process's id, 0 when stopped.
func (s *XrayServer) Pid() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc == nil {
		return 0
	}
	return s.proc.cmd.Process.Pid
}

// Stop ends Xray with SIGTERM, then SIGKILL if it has not exited within a
// few seconds. Safe to call more than once.
func (s *XrayServer) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc != nil {
		s.proc.stop()
		s.proc = nil
	}
}

// Kill ends Xray with SIGKILL at once, as a crash would.
func (s *XrayServer) Kill() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc != nil {
		s.proc.kill()
		s.proc = nil
	}
}

// Restart stops Xray (if running) and starts it again with the same config,
// keys and ports. Users added through the API are gone afterwards, exactly
// as after a restart in production.
func (s *XrayServer) Restart(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.bin == "" {
		return fmt.Errorf("restart xray at %s: it was not started by StartXray", s.APIAddr)
	}
	if s.proc != nil {
		s.proc.stop()
		s.proc = nil
	}
	if f, err := os.OpenFile(s.LogPath, os.O_WRONLY|os.O_APPEND, 0); err == nil {
		fmt.Fprintf(f, "--- vpnflow: restarting xray at %s ---\n", time.Now().Format(time.RFC3339Nano))
		f.Close()
	}
	return s.start(ctx)
}

func (p *xrayProcess) signal(sig syscall.Signal) {
	// The negative pid addresses the whole process group.
	if err := syscall.Kill(-p.cmd.Process.Pid, sig); err != nil {
		_ = p.cmd.Process.Signal(sig)
	}
}

func (p *xrayProcess) stop() {
	p.signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(xrayStopTimeout):
		p.signal(syscall.SIGKILL)
		<-p.done
	}
	p.logFile.Close()
}

func (p *xrayProcess) kill() {
	p.signal(syscall.SIGKILL)
	<-p.done
	p.logFile.Close()
}

// xrayLogTail is the end of the log, for start errors.
func xrayLogTail(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	const keep = 4 << 10
	if len(b) > keep {
		b = b[len(b)-keep:]
	}
	return string(b)
}
