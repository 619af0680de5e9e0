package xray_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"vpnflow/internal/dev/vlessclient"
)

// TestEnableNetAdminFromFileCapability runs Disconnect as the container
// image runs the worker: an ordinary user (nobody), from a static binary
// given cap_net_admin=p (Dockerfile), with CAP_NET_ADMIN in the bounding
// set (docker-compose.yml's cap_add). Without the file capability it is
// denied and the session goes on; with it, EnableNetAdmin wakes it and the
// session ends. Needs root (to set file capabilities and switch users)
// and setcap; the binary is built without cgo, as the image's is
// (EnableNetAdmin needs that).
func TestEnableNetAdminFromFileCapability(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to set file capabilities and run as nobody")
	}
	setcap, err := exec.LookPath("setcap")
	if err != nil {
		t.Skip("no setcap")
	}
	dir, err := os.MkdirTemp("", "netadmin-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "netadmin")
	build := exec.Command("go", "build", "-o", bin, "./testdata/netadmin")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build the helper: %v\n%s", err, out)
	}

	ctx := context.Background()
	srv := localRealityXray(t)
	st := vlessclient.NewTarget(t)
	c := dial(t, srv)
	u := newUser(t, 0)
	mustAdd(t, c, u)
	f := st.Download(t, vlessclient.HTTP(vlessclient.Start(t, srv.Link(u.UUID, "u").String(), "127.0.0.6"), nil), "download", false)
	vlessclient.WaitFlowing(t, f)
	if err := c.RemoveUser(ctx, u.Email); err != nil {
		t.Fatal(err)
	}
	asNobody := func() string {
		t.Helper()
		cmd := exec.Command(bin, srv.APIAddr, srv.InboundTag, u.Email)
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
		out, _ := cmd.CombinedOutput()
		return strings.TrimSpace(string(out))
	}

	out := asNobody()
	t.Logf("without the file capability: %s", out)
	if !strings.Contains(out, "uid=65534 enabled=false connections=0 denied=true") {
		t.Fatalf("without the file capability: %q; want denied", out)
	}
	vlessclient.KeepsFlowing(t, f, 2*time.Second)

	if out, err := exec.Command(setcap, "cap_net_admin=p", bin).CombinedOutput(); err != nil {
		t.Skipf("setcap (file system without security xattrs?): %v: %s", err, out)
	}
	at := time.Now()
	out = asNobody()
	t.Logf("with cap_net_admin=p: %s", out)
	if !strings.Contains(out, "uid=65534 enabled=true connections=1 denied=false err=<nil>") {
		t.Fatalf("with cap_net_admin=p: %q; want one connection ended", out)
	}
	last := vlessclient.LastByteAfter(t, f, at, revokeBound)
	t.Logf("last byte %s after the helper started; %s", last.Round(time.Millisecond), vlessclient.EndedAfter(f, at))
}
