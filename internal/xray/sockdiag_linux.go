package xray

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netlink/nl"
	"golang.org/x/sys/unix"
)

// Xray has no API that ends a user's sessions, so Disconnect ends their TCP
// connections from outside, through the kernel's socket diagnostics
// (NETLINK_SOCK_DIAG, by way of github.com/vishvananda/netlink): a dump
// lists the connections to the inbound's port, and SOCK_DESTROY aborts one
// (the kernel sends the peer a reset and Xray's next read or write, or its
// splice, fails, ending the session). This needs the caller to be in Xray's
// network namespace and to hold CAP_NET_ADMIN there; the dump alone needs
// neither privilege.

const (
	// liveTCPStates are the states that can still carry data (ESTABLISHED,
	// SYN_RECV, FIN_WAIT1/2, CLOSE_WAIT, LAST_ACK, CLOSING): not LISTEN,
	// TIME_WAIT or CLOSE.
	liveTCPStates = 1<<netlink.TCP_ESTABLISHED | 1<<netlink.TCP_SYN_RECV | 1<<netlink.TCP_FIN_WAIT1 |
		1<<netlink.TCP_FIN_WAIT2 | 1<<netlink.TCP_CLOSE_WAIT | 1<<netlink.TCP_LAST_ACK | 1<<netlink.TCP_CLOSING
	netlinkWait = 5 * time.Second
	// dumpAttempts bounds how often a dump the kernel marks as interrupted
	// (sockets changed while it ran) is taken again; the last one is used
	// as it is, and a connection it missed is found by the next call.
	dumpAttempts = 3
)

// destroyTCP aborts every live TCP connection whose local port is one of
// ports and whose peer is one of peers, and returns how many it aborted.
// Nothing listening on any of ports means this process is not in Xray's
// network namespace: ErrDisconnectDenied, rather than "nothing to end".
func destroyTCP(ports []uint16, peers []netip.Addr) (int, error) {
	h, err := openSockDiag()
	if err != nil {
		return 0, err
	}
	defer h.Close()
	victims, err := liveConns(h, ports, peers)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, s := range victims {
		err := destroy(h, s)
		switch {
		case err == nil:
			n++
		case errors.Is(err, unix.ENOENT), errors.Is(err, unix.ESTALE):
			// Gone since the dump, or (IPv6, by cookie) its address pair
			// now names a newer socket: not one to end.
		case errors.Is(err, unix.EPERM), errors.Is(err, unix.EACCES):
			return n, fmt.Errorf("end tcp connection: %w (%w: needs CAP_NET_ADMIN in Xray's network namespace)", err, ErrDisconnectDenied)
		case errors.Is(err, unix.EOPNOTSUPP):
			return n, fmt.Errorf("end tcp connection: %w (%w: the kernel lacks CONFIG_INET_DIAG_DESTROY)", err, ErrDisconnectDenied)
		default:
			return n, fmt.Errorf("end tcp connection: %w", err)
		}
	}
	return n, nil
}

// canDestroyTCP checks, ending nothing, what destroyTCP needs: something
// listens on one of ports here, and this thread holds CAP_NET_ADMIN (the
// kernel checks it only against a socket that exists, so a trial destroy
// of a made-up one would prove nothing).
func canDestroyTCP(ports []uint16) error {
	h, err := openSockDiag()
	if err != nil {
		return err
	}
	defer h.Close()
	if _, err := liveConns(h, ports, nil); err != nil {
		return err
	}
	if !hasNetAdmin() {
		return fmt.Errorf("%w: this process lacks CAP_NET_ADMIN", ErrDisconnectDenied)
	}
	return nil
}

func openSockDiag() (*netlink.Handle, error) {
	h, err := netlink.NewHandle(unix.NETLINK_SOCK_DIAG)
	if err != nil {
		return nil, fmt.Errorf("open sock_diag netlink socket: %w", err)
	}
	if err := h.SetSocketTimeout(netlinkWait); err != nil {
		h.Close()
		return nil, fmt.Errorf("set sock_diag timeout: %w", err)
	}
	return h, nil
}

// liveConns lists the live connections to ports from peers, after making
// sure something listens on one of ports.
func liveConns(h *netlink.Handle, ports []uint16, peers []netip.Addr) ([]*netlink.Socket, error) {
	wantPeer := make(map[netip.Addr]bool, len(peers))
	for _, ip := range peers {
		wantPeer[ip.Unmap()] = true
	}
	listening := false
	var conns []*netlink.Socket
	for _, family := range []uint8{unix.AF_INET, unix.AF_INET6} {
		socks, err := dumpTCP(h, family)
		if err != nil {
			return nil, err
		}
		for _, s := range socks {
			if !slices.Contains(ports, s.ID.SourcePort) {
				continue
			}
			if s.State == netlink.TCP_LISTEN {
				listening = true
			}
			if liveTCPStates&(1<<s.State) != 0 && wantPeer[peerAddr(s)] {
				conns = append(conns, s)
			}
		}
	}
	if !listening {
		return nil, fmt.Errorf("nothing listens on tcp port %v here: %w (not in Xray's network namespace)", ports, ErrDisconnectDenied)
	}
	return conns, nil
}

// dumpTCP lists the TCP sockets of one address family, taking the dump
// again when the kernel marks it interrupted.
func dumpTCP(h *netlink.Handle, family uint8) ([]*netlink.Socket, error) {
	for attempt := 1; ; attempt++ {
		socks, err := h.SocketDiagTCP(family)
		if errors.Is(err, netlink.ErrDumpInterrupted) && attempt < dumpAttempts {
			continue
		}
		if err != nil && !errors.Is(err, netlink.ErrDumpInterrupted) {
			return nil, fmt.Errorf("dump tcp sockets (family %d): %w", family, err)
		}
		return socks, nil
	}
}

func peerAddr(s *netlink.Socket) netip.Addr {
	ip, _ := netip.AddrFromSlice(s.ID.Destination)
	return ip.Unmap()
}

// destroy aborts one socket by its address pair. The library's
// SocketDestroy speaks IPv4 only; it also serves IPv4 peers of a dual-stack
// listener, whose IPv4-mapped sockets the kernel finds by their IPv4
// addresses. A native IPv6 connection goes through destroyRequest.
func destroy(h *netlink.Handle, s *netlink.Socket) error {
	local := &net.TCPAddr{IP: s.ID.Source, Port: int(s.ID.SourcePort)}
	remote := &net.TCPAddr{IP: s.ID.Destination, Port: int(s.ID.DestinationPort)}
	if local.IP.To4() != nil && remote.IP.To4() != nil {
		return h.SocketDestroy(local, remote)
	}
	req := nl.NewNetlinkRequest(nl.SOCK_DESTROY, unix.NLM_F_ACK)
	req.AddData(destroyRequest{id: s.ID})
	_, err := req.Execute(unix.NETLINK_SOCK_DIAG, 0)
	return err
}

// destroyRequest is struct inet_diag_req_v2 naming one IPv6 TCP socket,
// cookie included, so that a newer socket on the same address pair is not
// the one aborted.
type destroyRequest struct{ id netlink.SocketID }

func (r destroyRequest) Len() int { return 56 }

func (r destroyRequest) Serialize() []byte {
	b := make([]byte, r.Len())
	b[0], b[1] = unix.AF_INET6, unix.IPPROTO_TCP
	nl.NativeEndian().PutUint32(b[4:8], 0xffffffff) // any state
	b[8], b[9] = byte(r.id.SourcePort>>8), byte(r.id.SourcePort)
	b[10], b[11] = byte(r.id.DestinationPort>>8), byte(r.id.DestinationPort)
	copy(b[12:28], r.id.Source.To16())
	copy(b[28:44], r.id.Destination.To16())
	nl.NativeEndian().PutUint32(b[44:48], r.id.Interface)
	nl.NativeEndian().PutUint32(b[48:52], r.id.Cookie[0])
	nl.NativeEndian().PutUint32(b[52:56], r.id.Cookie[1])
	return b
}
