package botapp

import (
	"context"
	"errors"

	"vpnflow/internal/callback"
	"vpnflow/internal/store"
	"vpnflow/internal/telegram"
)

// When the enabled nodes serve more than one region, a user chooses one
// before their first key: the trial and the first purchase ask first, and
// placement (store/placement.go) prefers the chosen region. "Any" leaves
// the choice to placement (the least busy node). Users who have a
// subscription, or have chosen, are never asked.

// askRegion shows the region choice instead of going on to then (Trial or
// Buy) when the user has yet to make it, and reports whether it did. It
// asks nothing when it cannot tell (the database failing): placement then
// chooses, as for "any".
func (a *App) askRegion(ctx context.Context, u store.User, then callback.Action, msgID int) bool {
	if u.Region != "" {
		return false
	}
	if _, err := a.store.GetSubscription(ctx, u.TelegramID); !errors.Is(err, store.ErrNotFound) {
		return false
	}
	regions, err := a.store.Regions(ctx)
	if err != nil {
		a.log.Warn("regions unavailable; no choice offered", "user_id", u.TelegramID, "error", err)
		return false
	}
	if len(regions) < 2 {
		return false
	}
	lang := u.Language
	var rows telegram.Keyboard
	for _, r := range regions {
		rows = append(rows, []telegram.Button{{
			Text:         r,
			CallbackData: callback.MustEncode(callback.Data{Action: callback.Region, Then: then, Region: r}),
		}})
	}
	rows = append(rows,
		[]telegram.Button{a.render.Button(lang, "btn_region_any", callback.Data{Action: callback.Region, Then: then, Region: callback.RegionAny})},
		[]telegram.Button{a.render.Button(lang, "btn_back", callback.Data{Action: callback.Menu})})
	a.edit(ctx, u.TelegramID, msgID, a.texts.T(lang, "region_choose", nil), rows)
	return true
}

// chooseRegion records the user's choice and goes on to what it was asked
// for.
func (a *App) chooseRegion(ctx context.Context, u store.User, d callback.Data, msgID int) {
	if err := a.store.SetUserRegion(ctx, u.TelegramID, d.Region); err != nil {
		a.fail(ctx, u.TelegramID, "set region", err)
		return
	}
	u.Region = d.Region
	a.log.Info("region chosen", "user_id", u.TelegramID, "region", d.Region)
	if d.Then == callback.Trial {
		a.startTrial(ctx, u)
		return
	}
	a.showPlans(ctx, u, msgID)
}
