//go:build !linux

package xray

import (
	"errors"
	"fmt"
	"net/netip"
)

// destroyTCP needs Linux's socket diagnostics (sockdiag_linux.go).
func destroyTCP(ports []uint16, peers []netip.Addr) (int, error) {
	return 0, fmt.Errorf("end tcp connections: %w (%w: Linux only)", errors.ErrUnsupported, ErrDisconnectDenied)
}

func canDestroyTCP(ports []uint16) error {
	_, err := destroyTCP(ports, nil)
	return err
}

// EnableNetAdmin has nothing to enable outside Linux.
func EnableNetAdmin() (bool, error) { return false, nil }
