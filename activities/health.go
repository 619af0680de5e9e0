package activities

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/activity"

	"vpnflow/internal/daemon"
	"vpnflow/internal/schedules"
	"vpnflow/internal/store"
	"vpnflow/internal/telegram"
)

// Pinger is what the health check needs of the database: the store's pool.
type Pinger interface {
	Ping(ctx context.Context) error
}

// HealthProbe asks one component whether it works. A probe returns an error
// when the component is down; the workflow reads the error's message.
type HealthProbe struct{}

// HealthProbeResult describes a working component.
type HealthProbeResult struct {
	Detail string
}

// CheckPostgres pings the database.
func (a *Activities) CheckPostgres(ctx context.Context, _ HealthProbe) (HealthProbeResult, error) {
	if a.Database == nil {
		return HealthProbeResult{}, permanent(ErrConfiguration, errors.New("no database to ping"))
	}
	start := time.Now()
	if err := a.Database.Ping(ctx); err != nil {
		return HealthProbeResult{}, fmt.Errorf("ping postgres: %w", err)
	}
	return HealthProbeResult{Detail: "ping " + time.Since(start).Round(time.Millisecond).String()}, nil
}

// CheckXray reads the worker's own node's Xray uptime through its API: the
// probe of health checks recorded before each node had its own
// (CheckXrayNode).
func (a *Activities) CheckXray(ctx context.Context, _ HealthProbe) (HealthProbeResult, error) {
	xc, err := a.nodeXray(ctx, 0)
	if err != nil {
		return HealthProbeResult{}, err
	}
	up, err := xc.Uptime(ctx)
	if err != nil {
		return HealthProbeResult{}, fmt.Errorf("xray api: %w", err)
	}
	return HealthProbeResult{Detail: "up " + up.String()}, nil
}

// CheckCryptoPay calls Crypto Pay's getMe, which also proves the token.
func (a *Activities) CheckCryptoPay(ctx context.Context, _ HealthProbe) (HealthProbeResult, error) {
	me, err := a.CryptoPay.GetMe(ctx)
	if err != nil {
		return HealthProbeResult{}, err
	}
	return HealthProbeResult{Detail: "app " + me.Name}, nil
}

// CheckTemporal asks the server who polls vpnflow's task queue. That this
// activity runs at all proves the server and a worker; no workflow pollers
// means workflows would stall.
func (a *Activities) CheckTemporal(ctx context.Context, _ HealthProbe) (HealthProbeResult, error) {
	resp, err := a.Temporal.DescribeTaskQueue(ctx, a.Config.TaskQueue, enumspb.TASK_QUEUE_TYPE_WORKFLOW)
	if err != nil {
		return HealthProbeResult{}, fmt.Errorf("describe task queue %s: %w", a.Config.TaskQueue, err)
	}
	n := len(resp.GetPollers())
	if n == 0 {
		return HealthProbeResult{}, fmt.Errorf("no worker polls workflow task queue %s", a.Config.TaskQueue)
	}
	return HealthProbeResult{Detail: fmt.Sprintf("%d workflow pollers", n)}, nil
}

// CheckTelegram calls getMe: the Bot API answers and the token is good.
// When Telegram is what is down, the alert about it cannot reach the
// admins through Telegram; the HealthCheck workflow's metrics carry it.
func (a *Activities) CheckTelegram(ctx context.Context, _ HealthProbe) (HealthProbeResult, error) {
	name, err := a.Telegram.Username(ctx)
	if err != nil {
		return HealthProbeResult{}, fmt.Errorf("telegram getMe: %w", err)
	}
	return HealthProbeResult{Detail: "@" + name}, nil
}

// CheckBot reads the bot's heartbeat: the bot process records one every
// few seconds while its update loop makes progress.
func (a *Activities) CheckBot(ctx context.Context, _ HealthProbe) (HealthProbeResult, error) {
	h, err := a.Store.LastBeat(ctx, store.ProcessBot)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return HealthProbeResult{}, errors.New("the bot has never recorded a heartbeat: is it running?")
	case err != nil:
		return HealthProbeResult{}, fmt.Errorf("read the bot's heartbeat: %w", err)
	case h.Age > daemon.PeerSilence:
		return HealthProbeResult{}, fmt.Errorf("no heartbeat since %s (%s ago): the bot process is down or frozen",
			h.BeatAt.UTC().Format(time.DateTime+" UTC"), h.Age.Round(time.Second))
	case !h.Healthy:
		return HealthProbeResult{}, fmt.Errorf("stuck (as of %s): %s", h.BeatAt.UTC().Format(time.DateTime+" UTC"), h.Detail)
	}
	return HealthProbeResult{Detail: fmt.Sprintf("%s, heartbeat %s ago", h.Instance, h.Age.Round(time.Second))}, nil
}

// Health alert message ids.
const (
	AlertHealthDown = "admin_health_down"
	AlertHealthUp   = "admin_health_up"
)

// AdminAlert tells every admin that a component went down or came back.
type AdminAlert struct {
	Message   string // AlertHealthDown or AlertHealthUp
	Component string
	Error     string // why it is down
}

// AdminAlertResult counts the admins told.
type AdminAlertResult struct {
	Sent   int
	Failed int
}

// AlertAdmins sends the alert to each admin in their language. It fails only
// when nobody was told, so a retry never repeats a delivered alert.
func (a *Activities) AlertAdmins(ctx context.Context, in AdminAlert) (AdminAlertResult, error) {
	if in.Message != AlertHealthDown && in.Message != AlertHealthUp {
		return AdminAlertResult{}, permanent("Invalid", fmt.Errorf("unknown alert %q", in.Message))
	}
	return a.tellAdmins(ctx, "health alert "+in.Message, func(lang string) string {
		return a.Texts.T(lang, in.Message, map[string]any{"Component": in.Component, "Error": in.Error})
	})
}

// tellAdmins sends one alert to each admin, in their language. It fails
// only when nobody was told, so a retry never repeats a delivered alert;
// the failure is permanent when Telegram refuses the message itself.
//
// Each admin told is a heartbeat, so an attempt cut short while Telegram
// is slow (its timeout, or the worker dying) is retried without the admins
// already told: they are not told twice, and the last ones are not left
// out because every attempt runs out of time on the same first ones.
func (a *Activities) tellAdmins(ctx context.Context, what string, text func(lang string) string) (AdminAlertResult, error) {
	var told adminAlertProgress
	if activity.HasHeartbeatDetails(ctx) {
		if err := activity.GetHeartbeatDetails(ctx, &told); err != nil {
			told = adminAlertProgress{}
		}
	}
	var (
		res     AdminAlertResult
		lastErr error
	)
	log := activity.GetLogger(ctx)
	for _, id := range a.Config.AdminIDs {
		if slices.Contains(told.Admins, id) {
			continue
		}
		if err := ctx.Err(); err != nil {
			return AdminAlertResult{Sent: len(told.Admins), Failed: res.Failed}, err
		}
		_, err := a.Telegram.Send(ctx, telegram.Message{ChatID: id, Text: text(a.adminLanguage(ctx, id))})
		if err != nil {
			res.Failed++
			lastErr = fmt.Errorf("send %s to admin %d: %w", what, id, err)
			log.Warn("admin alert not delivered", "alert", what, "admin", id, "error", err)
			continue
		}
		told.Admins = append(told.Admins, id)
		activity.RecordHeartbeat(ctx, told)
	}
	res.Sent = len(told.Admins)
	if res.Sent == 0 && lastErr != nil {
		if telegram.Classify(lastErr).Permanent() {
			return res, permanent("Telegram", lastErr)
		}
		return res, lastErr
	}
	return res, nil
}

// adminAlertProgress is tellAdmins' heartbeat: the admins told so far.
type adminAlertProgress struct {
	Admins []int64
}

// adminLanguage reads the admin's language with a short bound of its own:
// the alert may well be that the database is down.
func (a *Activities) adminLanguage(ctx context.Context, id int64) string {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	u, err := a.Store.GetUser(ctx, id)
	if err != nil {
		return store.DefaultLanguage
	}
	return u.Language
}

// SaveHealthState stores the components now down as the health check
// schedule's input.
func (a *Activities) SaveHealthState(ctx context.Context, in schedules.HealthCheckInput) error {
	return saveState(ctx, a, schedules.HealthCheckID, in)
}
