package stack

import (
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"
)

// osUser is who the server runs as. PostgreSQL refuses to run as root, so a
// root parent runs it as the postgres account; anyone else runs it as
// themselves.
type osUser struct {
	switchTo bool
	uid, gid uint32
	home     string
}

func postgresOwner() (osUser, error) {
	if os.Geteuid() != 0 {
		return osUser{}, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return osUser{}, fmt.Errorf("running as root, so PostgreSQL must run as the postgres user, but it does not exist (%v): apt-get install postgresql-%d creates it, or run as an ordinary user", err, PostgresMajor)
	}
	uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
	gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
	if err1 != nil || err2 != nil {
		return osUser{}, fmt.Errorf("postgres user has non-numeric ids %s:%s", u.Uid, u.Gid)
	}
	return osUser{switchTo: true, uid: uint32(uid), gid: uint32(gid), home: u.HomeDir}, nil
}

func (o osUser) sysProcAttr() *syscall.SysProcAttr {
	attr := &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if o.switchTo {
		attr.Credential = &syscall.Credential{Uid: o.uid, Gid: o.gid}
	}
	return attr
}

// env keeps the server's environment minimal and predictable; locale and
// PG* variables from the caller would otherwise leak into initdb.
func (o osUser) env() []string {
	home := os.Getenv("HOME")
	if o.switchTo {
		home = o.home
	}
	return []string{"PATH=/usr/bin:/bin", "HOME=" + home, "LC_ALL=C", "LANG=C"}
}

// mkdir creates a directory the server account owns.
func (o osUser) mkdir(path string) error {
	if err := os.MkdirAll(path, 0o700); err != nil {
		return fmt.Errorf("create %s: %w", path, err)
	}
	if o.switchTo {
		if err := os.Chown(path, int(o.uid), int(o.gid)); err != nil {
			return fmt.Errorf("give %s to the postgres user: %w", path, err)
		}
	}
	return nil
}

// checkReachable fails early, with the fix, when the postgres account cannot
// enter dir (typically a state dir under /root).
func (o osUser) checkReachable(dir string) error {
	return o.checkReachableBelow(dir, "/")
}

// checkReachableBelow checks dir and its parents up to and including top.
func (o osUser) checkReachableBelow(dir, top string) error {
	if !o.switchTo {
		return nil
	}
	for d := dir; ; d = filepath.Dir(d) {
		fi, err := os.Stat(d)
		if err != nil {
			return fmt.Errorf("stat %s: %w", d, err)
		}
		st, ok := fi.Sys().(*syscall.Stat_t)
		mode := fi.Mode().Perm()
		searchable := mode&0o001 != 0 ||
			(ok && st.Uid == o.uid && mode&0o100 != 0) ||
			(ok && st.Gid == o.gid && mode&0o010 != 0)
		if !searchable {
			return fmt.Errorf("PostgreSQL runs as the postgres user, which cannot enter %s (mode %s): use a state directory outside it (e.g. under /tmp or /var/lib) or chmod o+x %s", d, mode, d)
		}
		if d == top || d == filepath.Dir(d) {
			return nil
		}
	}
}
