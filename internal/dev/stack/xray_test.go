package stack

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/types/known/emptypb"
)

func TestParseX25519Output(t *testing.T) {
	const priv, pub = "OJhOzLTFTINfYPhS07vrGB6gGISFGTKvGC2Zmprc-Ec", "e1X6J9DIjNmujs-qyzbSvf24Pxi1lk-PWy6Su-jBXzQ"
	for name, out := range map[string]string{
		"v1.8":     "Private key: " + priv + "\nPublic key: " + pub + "\n",
		"v25.7":    "PrivateKey: " + priv + "\nPassword: " + pub + "\nHash32: abc\n",
		"v26.3.27": "PrivateKey: " + priv + "\nPassword (PublicKey): " + pub + "\nHash32: wnd9xHnQPCO8FUpLvae01j4jXlCNr3Iw5k1NgzfuH6w\n",
	} {
		gotPriv, gotPub := parseX25519Output([]byte(out))
		if gotPriv != priv || gotPub != pub {
			t.Errorf("%s: got (%q, %q), want (%q, %q)", name, gotPriv, gotPub, priv, pub)
		}
	}
}

func TestXrayKeyPairFromPinnedBinary(t *testing.T) {
	bin, err := Xray.Find()
	if err != nil {
		t.Fatal(err)
	}
	priv, pub, err := xrayKeyPair(context.Background(), bin)
	if err != nil {
		t.Fatal(err)
	}
	if len(priv) != 43 || len(pub) != 43 {
		t.Fatalf("keys %q / %q are not 32-byte base64url", priv, pub)
	}
}

func startTestXray(t *testing.T, opts XrayOptions) *XrayServer {
	t.Helper()
	if opts.Dir == "" {
		opts.Dir = t.TempDir()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := StartXray(ctx, opts)
	if err != nil {
		t.Fatalf("StartXray: %v", err)
	}
	t.Cleanup(s.Stop)
	return s
}

// apiAnswers calls GetSysStats and reports the error, if any.
func apiAnswers(addr string) error {
	conn, err := grpc.NewClient("passthrough:///"+addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return err
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	return conn.Invoke(ctx, xraySysStatsMethod, &emptypb.Empty{}, &emptypb.Empty{})
}

func TestStartXray(t *testing.T) {
	s := startTestXray(t, XrayOptions{})
	if s.InboundTag != "vless-in" || s.SNI != "www.example.com" {
		t.Errorf("defaults: tag %q sni %q", s.InboundTag, s.SNI)
	}
	if len(s.ShortID) != 16 {
		t.Errorf("short id %q is not 8 bytes of hex", s.ShortID)
	}
	if err := apiAnswers(s.APIAddr); err != nil {
		t.Fatalf("API does not answer: %v", err)
	}
	conn, err := net.DialTimeout("tcp", net.JoinHostPort(s.VLESSHost, strconv.Itoa(s.VLESSPort)), 2*time.Second)
	if err != nil {
		t.Fatalf("VLESS inbound is not listening: %v", err)
	}
	conn.Close()
	if err := s.Link("b831381d-6324-4d53-ad4f-8cda48b30811", "dev").Validate(); err != nil {
		t.Errorf("Link: %v", err)
	}

	raw, err := os.ReadFile(s.ConfigPath)
	if err != nil {
		t.Fatal(err)
	}
	var cfg struct {
		Inbounds []struct {
			Tag      string `json:"tag"`
			Port     int    `json:"port"`
			Settings struct {
				Clients []any `json:"clients"`
			} `json:"settings"`
		} `json:"inbounds"`
	}
	if err := json.Unmarshal(raw, &cfg); err != nil {
		t.Fatalf("config is not JSON: %v", err)
	}
	if len(cfg.Inbounds) != 2 || cfg.Inbounds[1].Tag != s.InboundTag || cfg.Inbounds[1].Port != s.VLESSPort || len(cfg.Inbounds[1].Settings.Clients) != 0 {
		t.Errorf("unexpected inbounds in config: %+v", cfg.Inbounds)
	}

	s.Stop()
	select {
	case <-s.Done():
	default:
		t.Fatal("Done is not closed after Stop")
	}
	if err := apiAnswers(s.APIAddr); err == nil {
		t.Fatal("API still answers after Stop")
	}
	s.Stop() // idempotent
}

func TestXrayRestartKeepsAddressAndKeys(t *testing.T) {
	s := startTestXray(t, XrayOptions{InboundTag: "other-in", SNI: "dl.google.com"})
	apiAddr, vlessPort, pub, sid := s.APIAddr, s.VLESSPort, s.PublicKey, s.ShortID
	old := s.Done()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := s.Restart(ctx); err != nil {
		t.Fatalf("Restart: %v", err)
	}
	select {
	case <-old:
	default:
		t.Fatal("the old process is still running after Restart")
	}
	if s.APIAddr != apiAddr || s.VLESSPort != vlessPort || s.PublicKey != pub || s.ShortID != sid {
		t.Fatal("Restart changed the address or keys")
	}
	if err := apiAnswers(s.APIAddr); err != nil {
		t.Fatalf("API does not answer after Restart: %v", err)
	}
	log, err := os.ReadFile(s.LogPath)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(log), "restarting xray") {
		t.Error("the log has no restart marker")
	}

	s.Kill()
	select {
	case <-s.Done():
	default:
		t.Fatal("Done is not closed after Kill")
	}
	if err := apiAnswers(s.APIAddr); err == nil {
		t.Fatal("API still answers after Kill")
	}
	// A killed server can be started again.
	if err := s.Restart(ctx); err != nil {
		t.Fatalf("Restart after Kill: %v", err)
	}
	if err := apiAnswers(s.APIAddr); err != nil {
		t.Fatalf("API does not answer after Restart: %v", err)
	}
}

func TestStartXrayReportsStartFailure(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	port := busy.Addr().(*net.TCPAddr).Port
	dir := t.TempDir()
	_, err = StartXray(context.Background(), XrayOptions{Dir: dir, VLESSPort: port})
	if err == nil {
		t.Fatal("StartXray succeeded with its VLESS port taken")
	}
	t.Log(err)
	if !strings.Contains(err.Error(), "xray did not start") || !strings.Contains(err.Error(), dir) {
		t.Fatalf("error does not say what failed and where the log is: %v", err)
	}
}

func TestStartXrayNeedsDir(t *testing.T) {
	if _, err := StartXray(context.Background(), XrayOptions{}); err == nil || !strings.Contains(err.Error(), "Dir") {
		t.Fatalf("got %v, want an error about Dir", err)
	}
}

// TestXrayDiesWithParent runs this test binary as a parent that starts Xray
// and is then killed with SIGKILL, leaving it no chance to stop Xray.
func TestXrayDiesWithParent(t *testing.T) {
	if dir := os.Getenv("VPNFLOW_TEST_XRAY_PARENT_DIR"); dir != "" {
		s, err := StartXray(context.Background(), XrayOptions{Dir: dir})
		if err != nil {
			fmt.Println("error:", err)
			os.Exit(1)
		}
		fmt.Printf("xray-pid %d\n", s.Pid())
		select {} // wait to be killed
	}

	parent := exec.Command(os.Args[0], "-test.run=^TestXrayDiesWithParent$")
	parent.Env = append(os.Environ(), "VPNFLOW_TEST_XRAY_PARENT_DIR="+t.TempDir())
	out, err := parent.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := parent.Start(); err != nil {
		t.Fatal(err)
	}
	defer parent.Process.Kill()
	var pid int
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		if _, err := fmt.Sscanf(sc.Text(), "xray-pid %d", &pid); err == nil {
			break
		}
		t.Log(sc.Text())
	}
	if pid == 0 {
		t.Fatal("the parent process did not start Xray")
	}
	parent.Process.Kill()
	parent.Wait()

	for deadline := time.Now().Add(10 * time.Second); processAlive(pid); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			syscall.Kill(pid, syscall.SIGKILL)
			t.Fatalf("xray (pid %d) outlived its parent", pid)
		}
	}
}

// processAlive treats a zombie as dead: in a container without an init
// that reaps orphans, a killed orphan can stay a zombie.
func processAlive(pid int) bool {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// The state follows the parenthesised command name.
	s := string(stat)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || s[i+2] != 'Z'
}
