package xray

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Xray has no API that ends a user's sessions, so Disconnect ends their TCP
// connections from outside, through the kernel's socket diagnostics
// (NETLINK_SOCK_DIAG): a dump lists the connections to the inbound's port,
// and SOCK_DESTROY aborts one (the kernel sends the peer a reset and Xray's
// next read or write, or its splice, fails, ending the session). This needs
// the caller to be in Xray's network namespace and to hold CAP_NET_ADMIN
// there; the dump alone needs neither privilege.

// tcpConn is a TCP socket as the kernel's dump identifies it.
type tcpConn struct {
	family byte
	id     [48]byte // struct inet_diag_sockid, exactly as dumped
}

func (s tcpConn) localPort() uint16 { return binary.BigEndian.Uint16(s.id[0:2]) }

func (s tcpConn) remoteAddr() netip.Addr {
	if s.family == unix.AF_INET {
		return netip.AddrFrom4([4]byte(s.id[20:24]))
	}
	return netip.AddrFrom16([16]byte(s.id[20:36])).Unmap()
}

const (
	sizeofDiagReq = 56 // struct inet_diag_req_v2
	sizeofDiagMsg = 72 // struct inet_diag_msg
	// liveTCPStates are the states that can still carry data (ESTABLISHED,
	// SYN_RECV, FIN_WAIT1/2, CLOSE_WAIT, LAST_ACK, CLOSING): not LISTEN,
	// TIME_WAIT or CLOSE.
	liveTCPStates = 1<<1 | 1<<3 | 1<<4 | 1<<5 | 1<<8 | 1<<9 | 1<<11
	netlinkWait   = 5 * time.Second
)

// destroyTCP aborts every live TCP connection whose local port is one of
// ports and whose peer is one of peers, and returns how many it aborted.
func destroyTCP(ports []uint16, peers []netip.Addr) (int, error) {
	wantPort := make(map[uint16]bool, len(ports))
	for _, p := range ports {
		wantPort[p] = true
	}
	wantPeer := make(map[netip.Addr]bool, len(peers))
	for _, ip := range peers {
		wantPeer[ip.Unmap()] = true
	}
	d, err := openSockDiag()
	if err != nil {
		return 0, err
	}
	defer unix.Close(d.fd)
	var victims []tcpConn
	for _, family := range []byte{unix.AF_INET, unix.AF_INET6} {
		conns, err := d.dumpTCP(family)
		if err != nil {
			return 0, err
		}
		for _, s := range conns {
			if wantPort[s.localPort()] && wantPeer[s.remoteAddr()] {
				victims = append(victims, s)
			}
		}
	}
	n := 0
	for _, s := range victims {
		err := d.destroy(s)
		switch {
		case err == nil:
			n++
		case errors.Is(err, unix.ENOENT), errors.Is(err, unix.ESTALE):
			// Gone since the dump, or its address pair now names a newer
			// socket (the cookie differs): not one to end.
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

// sockDiag is a NETLINK_SOCK_DIAG socket; one request at a time.
type sockDiag struct {
	fd  int
	seq uint32
}

func openSockDiag() (*sockDiag, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_SOCK_DIAG)
	if err != nil {
		return nil, fmt.Errorf("open sock_diag netlink socket: %w", err)
	}
	tv := unix.NsecToTimeval(netlinkWait.Nanoseconds())
	if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("set sock_diag receive timeout: %w", err)
	}
	return &sockDiag{fd: fd}, nil
}

// dumpTCP lists the live TCP sockets of one address family. A dump the
// kernel marks as interrupted (sockets changed while it ran) is taken again.
func (d *sockDiag) dumpTCP(family byte) ([]tcpConn, error) {
	for attempt := 0; ; attempt++ {
		req := diagRequest(family, liveTCPStates, [48]byte{})
		conns, interrupted, err := d.roundTrip(unix.SOCK_DIAG_BY_FAMILY, unix.NLM_F_DUMP, req)
		if err != nil {
			return nil, fmt.Errorf("dump tcp sockets (family %d): %w", family, err)
		}
		if !interrupted || attempt == 2 {
			return conns, nil
		}
	}
}

// destroy aborts the socket with exactly s's id, cookie included.
func (d *sockDiag) destroy(s tcpConn) error {
	_, _, err := d.roundTrip(unix.SOCK_DESTROY, unix.NLM_F_ACK, diagRequest(s.family, 0xffffffff, s.id))
	return err
}

func diagRequest(family byte, states uint32, id [48]byte) []byte {
	b := make([]byte, sizeofDiagReq)
	b[0] = family
	b[1] = unix.IPPROTO_TCP
	binary.NativeEndian.PutUint32(b[4:8], states)
	copy(b[8:], id[:])
	return b
}

// roundTrip sends one request and reads the replies until the kernel is
// done: NLMSG_DONE for a dump, the NLMSG_ERROR acknowledgement otherwise.
func (d *sockDiag) roundTrip(typ, flags uint16, payload []byte) (conns []tcpConn, interrupted bool, err error) {
	d.seq++
	seq := d.seq
	msg := make([]byte, unix.NLMSG_HDRLEN+len(payload))
	binary.NativeEndian.PutUint32(msg[0:4], uint32(len(msg)))
	binary.NativeEndian.PutUint16(msg[4:6], typ)
	binary.NativeEndian.PutUint16(msg[6:8], unix.NLM_F_REQUEST|flags)
	binary.NativeEndian.PutUint32(msg[8:12], seq)
	copy(msg[unix.NLMSG_HDRLEN:], payload)
	if err := unix.Sendto(d.fd, msg, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return nil, false, fmt.Errorf("send: %w", err)
	}
	buf := make([]byte, 64<<10)
	for {
		n, _, err := unix.Recvfrom(d.fd, buf, 0)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			if errors.Is(err, unix.EAGAIN) {
				err = os.ErrDeadlineExceeded
			}
			return nil, false, fmt.Errorf("receive: %w", err)
		}
		msgs, err := syscall.ParseNetlinkMessage(buf[:n])
		if err != nil {
			return nil, false, fmt.Errorf("parse reply: %w", err)
		}
		for _, m := range msgs {
			if m.Header.Seq != seq {
				continue // a late reply to an earlier request
			}
			if m.Header.Flags&unix.NLM_F_DUMP_INTR != 0 {
				interrupted = true
			}
			switch m.Header.Type {
			case unix.NLMSG_DONE:
				return conns, interrupted, nil
			case unix.NLMSG_ERROR:
				if len(m.Data) < 4 {
					return nil, false, errors.New("short netlink error reply")
				}
				if errno := -int32(binary.NativeEndian.Uint32(m.Data[0:4])); errno != 0 {
					return nil, false, syscall.Errno(errno)
				}
				return conns, interrupted, nil
			case unix.SOCK_DIAG_BY_FAMILY:
				if len(m.Data) < sizeofDiagMsg {
					return nil, false, errors.New("short inet_diag_msg")
				}
				conns = append(conns, tcpConn{family: m.Data[0], id: [48]byte(m.Data[4:52])})
			}
		}
	}
}
