package xray_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/google/uuid"

	"vpnflow/internal/dev/stack"
	"vpnflow/internal/dev/testenv"
	"vpnflow/internal/xray"
)

func TestAddListRemoveUsers(t *testing.T) {
	ctx := context.Background()
	srv := testenv.NewXray(t)
	c := dial(t, srv)

	a, b := newUser(t, 1), newUser(t, 2)
	b.Flow = ""
	b.UUID = strings.ToUpper(b.UUID) // accepted; Xray reports it lower-case
	mustAdd(t, c, a)
	mustAdd(t, c, b)
	b.UUID = strings.ToLower(b.UUID)

	users, err := c.ListUsers(ctx)
	if err != nil {
		t.Fatal(err)
	}
	sortUsers(users)
	want := []xray.User{a, b}
	sortUsers(want)
	if !slices.Equal(users, want) {
		t.Fatalf("ListUsers = %+v, want %+v", users, want)
	}
	if n, err := c.CountUsers(ctx); err != nil || n != 2 {
		t.Fatalf("CountUsers = %d, %v; want 2", n, err)
	}
	got, found, err := c.GetUser(ctx, a.Email)
	if err != nil || !found || got != a {
		t.Fatalf("GetUser(%s) = %+v, %v, %v; want %+v", a.Email, got, found, err, a)
	}

	if err := c.RemoveUser(ctx, a.Email); err != nil {
		t.Fatal(err)
	}
	if _, found, err := c.GetUser(ctx, a.Email); err != nil || found {
		t.Fatalf("GetUser after remove: found %v, %v", found, err)
	}
	users, err = c.ListUsers(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(users, []xray.User{b}) {
		t.Fatalf("ListUsers after remove = %+v, want only %+v", users, b)
	}
	if n, err := c.CountUsers(ctx); err != nil || n != 1 {
		t.Fatalf("CountUsers after remove = %d, %v; want 1", n, err)
	}
}

func TestAddUserIsIdempotent(t *testing.T) {
	ctx := context.Background()
	c := dial(t, testenv.Xray(t))
	u := newUser(t, 0)
	mustAdd(t, c, u)
	mustAdd(t, c, u) // same UUID and flow: success

	// Xray keys users by email case-insensitively.
	upper := u
	upper.Email = strings.ToUpper(u.Email)
	mustAdd(t, c, upper)

	other := u
	other.UUID = uuid.NewString()
	err := c.AddUser(ctx, other)
	if !errors.Is(err, xray.ErrUUIDMismatch) {
		t.Fatalf("adding %s with another UUID: got %v, want ErrUUIDMismatch", u.Email, err)
	}
	if xray.IsRetryable(err) {
		t.Errorf("ErrUUIDMismatch is retryable: %v", err)
	}
	// The UUIDs are bearer secrets, and this text ends up in logs and
	// workflow histories: it names the email and neither key.
	assertNoUUID(t, err, u.UUID, other.UUID)
	if !strings.Contains(err.Error(), u.Email) {
		t.Errorf("mismatch error does not name the email %s: %v", u.Email, err)
	}

	noFlow := u
	noFlow.Flow = ""
	if err := c.AddUser(ctx, noFlow); !errors.Is(err, xray.ErrUUIDMismatch) {
		t.Fatalf("adding %s with another flow: got %v, want ErrUUIDMismatch", u.Email, err)
	}

	// The user Xray has is still the first one; remove-then-add replaces it.
	if got, _, err := c.GetUser(ctx, u.Email); err != nil || got.UUID != u.UUID {
		t.Fatalf("after mismatching adds, GetUser = %+v, %v; want UUID %s", got, err, u.UUID)
	}
	if err := c.RemoveUser(ctx, u.Email); err != nil {
		t.Fatal(err)
	}
	mustAdd(t, c, other)
	if got, _, err := c.GetUser(ctx, u.Email); err != nil || got.UUID != other.UUID {
		t.Fatalf("after reissue, GetUser = %+v, %v; want UUID %s", got, err, other.UUID)
	}
}

func TestAddUserConcurrentSameUser(t *testing.T) {
	c := dial(t, testenv.Xray(t))
	u := newUser(t, 0)
	var wg sync.WaitGroup
	errs := make([]error, 8)
	for i := range errs {
		wg.Go(func() { errs[i] = c.AddUser(context.Background(), u) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("caller %d: %v", i, err)
		}
	}
}

func TestRemoveMissingUserSucceeds(t *testing.T) {
	c := dial(t, testenv.Xray(t))
	u := newUser(t, 0)
	if err := c.RemoveUser(context.Background(), u.Email); err != nil {
		t.Fatalf("removing a user that never existed: %v", err)
	}
	mustAdd(t, c, u)
	for range 2 {
		if err := c.RemoveUser(context.Background(), u.Email); err != nil {
			t.Fatalf("removing %s: %v", u.Email, err)
		}
	}
}

func TestWrongInboundTag(t *testing.T) {
	ctx := context.Background()
	srv := testenv.Xray(t)
	// "api" exists but is not a VLESS inbound; Xray says so differently.
	for _, tag := range []string{"no-such-inbound", "api"} {
		t.Run(tag, func(t *testing.T) {
			c := dialTag(t, srv, tag)
			u := newUser(t, 0)
			calls := map[string]error{
				"add":    c.AddUser(ctx, u),
				"remove": c.RemoveUser(ctx, u.Email),
			}
			_, calls["list"] = c.ListUsers(ctx)
			_, calls["count"] = c.CountUsers(ctx)
			_, _, calls["get"] = c.GetUser(ctx, u.Email)
			for op, err := range calls {
				if !errors.Is(err, xray.ErrInboundNotFound) {
					t.Errorf("%s: got %v, want ErrInboundNotFound", op, err)
					continue
				}
				if xray.IsRetryable(err) {
					t.Errorf("%s: ErrInboundNotFound is retryable", op)
				}
				if !strings.Contains(err.Error(), tag) {
					t.Errorf("%s: error does not name the tag: %v", op, err)
				}
			}
		})
	}
}

func TestInvalidInputIsRejectedBeforeAnyCall(t *testing.T) {
	ctx := context.Background()
	// Nothing listens here: an error other than the validation error would
	// mean the call went out.
	port, err := stack.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	c, err := xray.Dial(fmt.Sprintf("127.0.0.1:%d", port), "vless-in", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	good := xray.User{Email: "tg1@vpnflow", UUID: "b831381d-6324-4d53-ad4f-8cda48b30811", Flow: xray.FlowVision}

	badUUIDs := []string{
		"",
		"my-secret",                              // Xray would map this to a UUIDv5
		"b831381d63244d53ad4f8cda48b30811",       // Xray accepts the 32-digit form
		"{b831381d-6324-4d53-ad4f-8cda48b30811}", // google/uuid accepts braces
		"urn:uuid:b831381d-6324-4d53-ad4f-8cda48b30811",
		"b831381d-6324-4d53-ad4f-8cda48b3081z",
		"00000000-0000-0000-0000-000000000000",
	}
	for _, id := range badUUIDs {
		u := good
		u.UUID = id
		err := c.AddUser(ctx, u)
		if !errors.Is(err, xray.ErrInvalidUUID) || xray.IsRetryable(err) {
			t.Errorf("AddUser with uuid %q: got %v, want non-retryable ErrInvalidUUID", id, err)
		}
		// A malformed key is still somebody's secret, nearly.
		if id != "" && (strings.Contains(err.Error(), id) || strings.Contains(err.Error(), "b831381d")) {
			t.Errorf("AddUser with uuid %q: the error quotes it: %v", id, err)
		}
	}
	for _, email := range []string{"", "tg1 @vpnflow", "tg1@vpnflow\n", "a>>>b", "tab\there"} {
		u := good
		u.Email = email
		if err := c.AddUser(ctx, u); !errors.Is(err, xray.ErrInvalidEmail) {
			t.Errorf("AddUser with email %q: got %v, want ErrInvalidEmail", email, err)
		}
		if err := c.RemoveUser(ctx, email); !errors.Is(err, xray.ErrInvalidEmail) {
			t.Errorf("RemoveUser(%q): got %v, want ErrInvalidEmail", email, err)
		}
	}
	for _, flow := range []string{"xtls-rprx-direct", "xtls-rprx-vision-udp443", "none"} {
		u := good
		u.Flow = flow
		if err := c.AddUser(ctx, u); !errors.Is(err, xray.ErrInvalidFlow) {
			t.Errorf("AddUser with flow %q: got %v, want ErrInvalidFlow", flow, err)
		}
	}
}

func TestDialNeedsTag(t *testing.T) {
	if _, err := xray.Dial("127.0.0.1:1", "", nil); err == nil {
		t.Fatal("Dial with an empty tag succeeded")
	}
}

// TestListUsersAboveGRPCDefaultLimit lists more users than fit in gRPC's
// default 4 MB message.
func TestListUsersAboveGRPCDefaultLimit(t *testing.T) {
	if testing.Short() {
		t.Skip("adds 60,000 users; skipped with -short")
	}
	const size = 60_000
	c := dial(t, testenv.NewXray(t))
	ctx := context.Background()
	var wg sync.WaitGroup
	const workers = 8
	for w := range workers {
		wg.Go(func() {
			for i := w; i < size; i += workers {
				if err := c.AddUser(ctx, xray.User{Email: fmt.Sprintf("tg%d@big", i+1), UUID: uuid.NewString()}); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	users, err := c.ListUsers(ctx)
	if err != nil {
		t.Fatalf("ListUsers of %d users: %v", size, err)
	}
	if len(users) != size {
		t.Fatalf("listed %d users, want %d", len(users), size)
	}
	seen := make(map[int64]bool, size)
	for _, u := range users {
		id, ok := xray.ParseUserEmail(u.Email, "big")
		if !ok || seen[id] {
			t.Fatalf("unexpected or repeated user %q", u.Email)
		}
		seen[id] = true
	}
}

func sortUsers(us []xray.User) {
	slices.SortFunc(us, func(a, b xray.User) int { return strings.Compare(a.Email, b.Email) })
}

// assertNoUUID fails if err's text holds any of the UUIDs, in any spelling.
func assertNoUUID(t *testing.T, err error, ids ...string) {
	t.Helper()
	text := strings.ToLower(err.Error())
	for _, id := range ids {
		id = strings.ToLower(id)
		if strings.Contains(text, id) || strings.Contains(text, strings.ReplaceAll(id, "-", "")) {
			t.Errorf("error text carries the UUID %s: %v", id, err)
		}
	}
}

// A User printed or logged in any usual way does not show its key.
func TestUserNeverPrintsItsUUID(t *testing.T) {
	u := xray.User{Email: "tg1@vpnflow", UUID: "b831381d-6324-4d53-ad4f-8cda48b30811", Flow: xray.FlowVision}
	var logged strings.Builder
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("user", "user", u, "users", []xray.User{u})
	for _, text := range []string{fmt.Sprint(u), fmt.Sprintf("%v %+v %#v %s", u, u, u, u), fmt.Sprint([]xray.User{u}), logged.String()} {
		if strings.Contains(text, "b831381d") {
			t.Errorf("the key is printed: %s", text)
		}
		if !strings.Contains(text, u.Email) {
			t.Errorf("the email is not: %s", text)
		}
	}
}
