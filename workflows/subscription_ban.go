package workflows

import (
	"go.temporal.io/sdk/workflow"

	"vpnflow/activities"
	"vpnflow/internal/notice"
	"vpnflow/internal/shop"
)

// ban takes the key out of Xray (or, on unban, puts a still-paid key back).
func (s *subscription) ban(ctx workflow.Context, b shop.Ban) error {
	var a *activities.Activities
	if b.Banned {
		if s.state.Status == shop.StatusBanned {
			return nil
		}
		if err := s.untilDone(ctx, "remove banned user's key", func() error {
			return xrayStep(ctx, withXray(ctx), a.RemoveVLESSUser, activities.UserRef{UserID: s.state.UserID}, nil)
		}); err != nil {
			return err
		}
		s.endSessions(ctx, "")
		s.state.Status, s.state.InXray = shop.StatusBanned, false
		if err := s.upsert(ctx); err != nil {
			return err
		}
		s.notify(ctx, notice.Banned())
		return nil
	}
	if s.state.Status != shop.StatusBanned {
		return nil
	}
	s.state.Status = shop.StatusExpired
	if workflow.Now(ctx).Before(s.state.ExpiresAt) {
		s.state.Status = shop.StatusActive
		if s.state.Trial {
			s.state.Status = shop.StatusTrial
		}
		if err := s.ensureInXray(ctx); err != nil {
			// Still banned for the next run, which unbans again.
			s.state.Status = shop.StatusBanned
			return err
		}
	}
	if err := s.upsert(ctx); err != nil {
		return err
	}
	s.notify(ctx, notice.Unbanned())
	return nil
}
