package xray

import (
	"fmt"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Disconnect needs CAP_NET_ADMIN (sockdiag_linux.go). A worker running as
// root has it; the container image runs the worker as an ordinary user and
// gives its binary CAP_NET_ADMIN as a permitted file capability only
// (Dockerfile), so the process starts with it dormant, and without it
// altogether when the container is not granted it (cap_add), instead of
// failing to start. EnableNetAdmin wakes it.

// EnableNetAdmin makes CAP_NET_ADMIN effective in every thread of the
// process when it is permitted but not yet effective, and reports whether
// the process now holds it. Capabilities are per thread in Linux, and any
// thread may run a Disconnect, so all of them are changed at once
// (syscall.AllThreadsSyscall, which cgo builds such as -race ones do not
// have: there it fails with ENOTSUP). Call it once, early.
func EnableNetAdmin() (bool, error) {
	hdr, data, err := capGet()
	if err != nil {
		return false, err
	}
	const bit = 1 << unix.CAP_NET_ADMIN
	if data[0].Effective&bit != 0 {
		return true, nil
	}
	if data[0].Permitted&bit == 0 {
		return false, nil
	}
	data[0].Effective |= bit
	_, _, errno := syscall.AllThreadsSyscall(unix.SYS_CAPSET, uintptr(unsafe.Pointer(&hdr)), uintptr(unsafe.Pointer(&data[0])), 0)
	if errno != 0 {
		return false, fmt.Errorf("make CAP_NET_ADMIN effective: %w", errno)
	}
	return true, nil
}

// hasNetAdmin reports whether the calling thread holds CAP_NET_ADMIN.
func hasNetAdmin() bool {
	_, data, err := capGet()
	return err == nil && data[0].Effective&(1<<unix.CAP_NET_ADMIN) != 0
}

func capGet() (unix.CapUserHeader, [2]unix.CapUserData, error) {
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		return hdr, data, fmt.Errorf("read capabilities: %w", err)
	}
	return hdr, data, nil
}
