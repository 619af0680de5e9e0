package xray

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"unicode"

	handlercmd "github.com/xtls/xray-core/app/proxyman/command"
	"github.com/xtls/xray-core/common/protocol"
	"github.com/xtls/xray-core/common/serial"
	"github.com/xtls/xray-core/proxy/vless"
	"google.golang.org/protobuf/proto"

	"github.com/google/uuid"
)

// FlowVision is XTLS Vision, the flow for VLESS over REALITY.
const FlowVision = vless.XRV

// User is a VLESS user of the inbound.
//
// UUID is a bearer secret: String, GoString and LogValue leave it out, and
// JSON (a log handler's or Temporal's data converter) drops it, so
// printing, logging or passing a User never shows it.
type User struct {
	Email string // unique key within Xray (compared case-insensitively by Xray)
	UUID  string `json:"-"` // canonical lower-case UUID; secret
	Flow  string // "" or FlowVision
}

// String describes the user without the key.
func (u User) String() string { return fmt.Sprintf("xray.User{Email:%s Flow:%q}", u.Email, u.Flow) }

// GoString keeps %#v from printing the key too.
func (u User) GoString() string { return u.String() }

// LogValue describes the user to slog without the key.
func (u User) LogValue() slog.Value {
	return slog.GroupValue(slog.String("email", u.Email), slog.String("flow", u.Flow))
}

// validate checks u before any call. Its errors never quote the UUID: it is
// a bearer secret, and even a malformed one is nearly one; the caller's
// operation names the email.
func (u User) validate() error {
	if err := validateEmail(u.Email); err != nil {
		return err
	}
	if len(u.UUID) != 36 {
		return fmt.Errorf("%w: %d characters, not in 8-4-4-4-12 form", ErrInvalidUUID, len(u.UUID))
	}
	// uuid.Parse's own errors may quote the input, so they are dropped.
	id, err := uuid.Parse(u.UUID)
	if err != nil {
		return fmt.Errorf("%w: not a hexadecimal 8-4-4-4-12 UUID", ErrInvalidUUID)
	}
	if id == uuid.Nil {
		return fmt.Errorf("%w: the nil UUID", ErrInvalidUUID)
	}
	// An Xray inbound accepts these two only (infra/conf/vless.go); the API
	// would take anything and the user could then never connect.
	if u.Flow != "" && u.Flow != FlowVision {
		return fmt.Errorf("%w: %q (want %q or none)", ErrInvalidFlow, u.Flow, FlowVision)
	}
	return nil
}

func validateEmail(email string) error {
	if email == "" {
		return fmt.Errorf("%w: empty", ErrInvalidEmail)
	}
	if strings.Contains(email, ">>>") {
		return fmt.Errorf("%w: %q contains >>>", ErrInvalidEmail, email)
	}
	for _, r := range email {
		if unicode.IsSpace(r) || unicode.IsControl(r) {
			return fmt.Errorf("%w: %q contains white space or control characters", ErrInvalidEmail, email)
		}
	}
	return nil
}

// sameUser compares what decides whether a client can connect.
func sameUser(a, b User) bool {
	return strings.EqualFold(a.UUID, b.UUID) && a.Flow == b.Flow
}

// AddUser adds u to the inbound. A user already there with the same UUID
// and flow is success; with a different one, ErrUUIDMismatch, whose text
// names the email and the flows but neither UUID.
func (c *Client) AddUser(ctx context.Context, u User) error {
	op := "add vless user " + u.Email
	if err := u.validate(); err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	u.UUID = strings.ToLower(u.UUID)
	ctx, cancel := bound(ctx)
	defer cancel()

	req := &handlercmd.AlterInboundRequest{
		Tag: c.tag,
		Operation: serial.ToTypedMessage(&handlercmd.AddUserOperation{
			User: &protocol.User{
				// Level 0 is the policy level with per-user stats enabled.
				Level:   0,
				Email:   u.Email,
				Account: serial.ToTypedMessage(&vless.Account{Id: u.UUID, Flow: u.Flow}),
			},
		}),
	}
	// Two rounds: the user may be removed between a failed add and the
	// look-up that follows it.
	for range 2 {
		_, err := c.handlers.AlterInbound(ctx, req)
		if err == nil {
			return nil
		}
		if !xrayErrorContains(err, xrayAlreadyExists) {
			return c.wrap(op, err)
		}
		have, found, err := c.getUser(ctx, u.Email)
		if err != nil {
			return c.wrap(op+": look up existing user", err)
		}
		if !found {
			continue
		}
		if !sameUser(have, u) {
			return fmt.Errorf("%s: %w (same uuid: %t; xray has flow %q, want flow %q)",
				op, ErrUUIDMismatch, strings.EqualFold(have.UUID, u.UUID), have.Flow, u.Flow)
		}
		return nil
	}
	return fmt.Errorf("%s: user keeps appearing and disappearing (another writer on inbound %q?)", op, c.tag)
}

// RemoveUser removes the user with this email; a user that is not there
// is success.
func (c *Client) RemoveUser(ctx context.Context, email string) error {
	op := "remove vless user " + email
	if err := validateEmail(email); err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	ctx, cancel := bound(ctx)
	defer cancel()
	_, err := c.handlers.AlterInbound(ctx, &handlercmd.AlterInboundRequest{
		Tag:       c.tag,
		Operation: serial.ToTypedMessage(&handlercmd.RemoveUserOperation{Email: email}),
	})
	if err != nil && !xrayErrorContains(err, xrayUserNotFound(email)) {
		return c.wrap(op, err)
	}
	return nil
}

// GetUser returns the user with this email, and whether there is one.
func (c *Client) GetUser(ctx context.Context, email string) (User, bool, error) {
	op := "get vless user " + email
	if err := validateEmail(email); err != nil {
		return User{}, false, fmt.Errorf("%s: %w", op, err)
	}
	ctx, cancel := bound(ctx)
	defer cancel()
	u, found, err := c.getUser(ctx, email)
	if err != nil {
		return User{}, false, c.wrap(op, err)
	}
	return u, found, nil
}

func (c *Client) getUser(ctx context.Context, email string) (User, bool, error) {
	resp, err := c.handlers.GetInboundUsers(ctx, &handlercmd.GetInboundUserRequest{Tag: c.tag, Email: email})
	if err != nil {
		return User{}, false, err
	}
	// Xray answers an absent email with a list holding one empty entry.
	for _, pu := range resp.GetUsers() {
		if pu.GetAccount() == nil {
			continue
		}
		u, err := decodeUser(pu)
		if err != nil {
			return User{}, false, err
		}
		return u, true, nil
	}
	return User{}, false, nil
}

// ListUsers returns every user of the inbound, in no particular order.
func (c *Client) ListUsers(ctx context.Context) ([]User, error) {
	const op = "list vless users"
	ctx, cancel := bound(ctx)
	defer cancel()
	resp, err := c.handlers.GetInboundUsers(ctx, &handlercmd.GetInboundUserRequest{Tag: c.tag})
	if err != nil {
		return nil, c.wrap(op, err)
	}
	users := make([]User, 0, len(resp.GetUsers()))
	for _, pu := range resp.GetUsers() {
		u, err := decodeUser(pu)
		if err != nil {
			return nil, fmt.Errorf("%s of inbound %q: %w", op, c.tag, err)
		}
		users = append(users, u)
	}
	return users, nil
}

// CountUsers returns how many users the inbound has.
func (c *Client) CountUsers(ctx context.Context) (int64, error) {
	ctx, cancel := bound(ctx)
	defer cancel()
	resp, err := c.handlers.GetInboundUsersCount(ctx, &handlercmd.GetInboundUserRequest{Tag: c.tag})
	if err != nil {
		return 0, c.wrap("count vless users", err)
	}
	return resp.GetCount(), nil
}

var vlessAccountType = serial.GetMessageType(&vless.Account{})

func decodeUser(pu *protocol.User) (User, error) {
	acc := pu.GetAccount()
	if acc.GetType() != vlessAccountType {
		return User{}, fmt.Errorf("user %q has a %q account, not a VLESS one", pu.GetEmail(), acc.GetType())
	}
	var va vless.Account
	if err := proto.Unmarshal(acc.GetValue(), &va); err != nil {
		return User{}, fmt.Errorf("decode account of user %q: %w", pu.GetEmail(), err)
	}
	if va.Id == "" {
		return User{}, errors.New("user " + pu.GetEmail() + " has no id")
	}
	return User{Email: pu.GetEmail(), UUID: va.Id, Flow: va.Flow}, nil
}
