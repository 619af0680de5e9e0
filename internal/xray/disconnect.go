package xray

import (
	"context"
	"fmt"
	"net/netip"

	"github.com/xtls/xray-core/app/proxyman"
	handlercmd "github.com/xtls/xray-core/app/proxyman/command"
	"github.com/xtls/xray-core/common/serial"
	"google.golang.org/protobuf/proto"
)

// Disconnected is what Disconnect ended.
type Disconnected struct {
	// IPs are the addresses the user had live sessions from.
	IPs []netip.Addr
	// Connections is how many TCP connections to the inbound were ended:
	// the user's, and those of anyone else connected from the same
	// addresses (customers behind one NAT), whose clients reconnect.
	Connections int
	// Present are the users DisconnectUsers left alone: they are in the
	// inbound again.
	Present []string
}

// Disconnect ends the live sessions of a user already removed from the
// inbound. RemoveUser alone stops new connections only: Xray checks the key
// at the handshake and never again, so a connection opened before goes on
// for as long as it carries traffic.
//
// Xray has no API to end a session, and names no connection by user: it
// only lists the addresses a user's sessions come from (OnlineIPs). So
// Disconnect ends every connection to the inbound's port from those
// addresses, through the kernel (sockdiag_linux.go); other customers behind
// the same address lose their connections too and reconnect with their own,
// valid keys. The caller must run in Xray's network namespace with
// CAP_NET_ADMIN there (ErrDisconnectDenied otherwise), and Xray's policy
// level 0 must have statsUserOnline (ErrOnlineStatsOff otherwise). Sessions
// from loopback are invisible to Xray's list and are not ended.
//
// A user with no live session costs two or three API calls and ends
// nothing. Sessions end within milliseconds of the call, and Xray lists the
// user offline a few hundred milliseconds later (Online falls to zero). A
// session whose handshake raced RemoveUser may not be listed yet when
// Disconnect reads the list: a caller that still sees the user online
// calls Disconnect again.
func (c *Client) Disconnect(ctx context.Context, email string) (Disconnected, error) {
	d, err := c.DisconnectUsers(ctx, []string{email})
	if err == nil && len(d.Present) > 0 {
		// Ending the sessions of a user still there would only make its
		// client reconnect, and cut its neighbours for nothing.
		return Disconnected{}, fmt.Errorf("disconnect vless user %s: %w; remove it first", email, ErrUserPresent)
	}
	return d, err
}

// DisconnectUsers is Disconnect for several users at once, with one look
// at the kernel's sockets for them all: what a sweep that removed many
// keys calls. Users still in the inbound (put back since they were
// removed) are left alone and listed in Present.
func (c *Client) DisconnectUsers(ctx context.Context, emails []string) (Disconnected, error) {
	var d Disconnected
	seen := map[netip.Addr]bool{}
	for _, email := range emails {
		op := "disconnect vless user " + email
		if err := validateEmail(email); err != nil {
			return d, fmt.Errorf("%s: %w", op, err)
		}
		gctx, cancel := bound(ctx)
		_, present, err := c.getUser(gctx, email)
		cancel()
		if err != nil {
			return d, c.wrap(op+": look up user", err)
		}
		if present {
			d.Present = append(d.Present, email)
			continue
		}
		ips, err := c.OnlineIPs(ctx, email)
		if err != nil {
			return d, err
		}
		for _, ip := range ips {
			if !seen[ip] {
				seen[ip] = true
				d.IPs = append(d.IPs, ip)
			}
		}
	}
	if len(d.IPs) == 0 {
		return d, nil
	}
	ports, err := c.inboundPorts(ctx)
	if err != nil {
		return d, fmt.Errorf("disconnect vless users: %w", err)
	}
	d.Connections, err = destroyTCP(ports, d.IPs)
	if err != nil {
		return d, fmt.Errorf("disconnect vless users from %v: %w", d.IPs, err)
	}
	return d, nil
}

// CheckDisconnect tells whether Disconnect can work from this process,
// without ending anything: Xray answers, this process sees the inbound's
// listening socket (it is in Xray's network namespace) and holds
// CAP_NET_ADMIN. ErrDisconnectDenied says which is missing. Whether Xray
// tracks online users (ErrOnlineStatsOff) shows only with a user who has
// been online, at the first Disconnect.
func (c *Client) CheckDisconnect(ctx context.Context) error {
	ports, err := c.inboundPorts(ctx)
	if err != nil {
		return fmt.Errorf("check disconnect: %w", err)
	}
	if err := canDestroyTCP(ports); err != nil {
		return fmt.Errorf("check disconnect: %w", err)
	}
	return nil
}

var receiverConfigType = serial.GetMessageType(&proxyman.ReceiverConfig{})

// inboundPorts returns the TCP ports the client's inbound listens on, as
// Xray itself reports them, so that the port inside Xray's network namespace
// is used (a container may publish it under another).
func (c *Client) inboundPorts(ctx context.Context) ([]uint16, error) {
	const op = "list inbound ports"
	ctx, cancel := bound(ctx)
	defer cancel()
	resp, err := c.handlers.ListInbounds(ctx, &handlercmd.ListInboundsRequest{})
	if err != nil {
		return nil, c.wrap(op, err)
	}
	for _, ib := range resp.GetInbounds() {
		if ib.GetTag() != c.tag {
			continue
		}
		rs := ib.GetReceiverSettings()
		if rs.GetType() != receiverConfigType {
			return nil, fmt.Errorf("%s: inbound %q has receiver settings of type %q", op, c.tag, rs.GetType())
		}
		var rc proxyman.ReceiverConfig
		if err := proto.Unmarshal(rs.GetValue(), &rc); err != nil {
			return nil, fmt.Errorf("%s: decode receiver settings of inbound %q: %w", op, c.tag, err)
		}
		var ports []uint16
		for _, r := range rc.GetPortList().GetRange() {
			for p := r.GetFrom(); p <= r.GetTo() && p <= 65535; p++ {
				ports = append(ports, uint16(p))
			}
		}
		if len(ports) == 0 {
			return nil, fmt.Errorf("%s: inbound %q listens on no port (a unix socket?)", op, c.tag)
		}
		return ports, nil
	}
	return nil, fmt.Errorf("%s: inbound %q on %s: %w", op, c.tag, c.addr, ErrInboundNotFound)
}
