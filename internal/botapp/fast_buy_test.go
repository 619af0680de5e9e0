package botapp

import (
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/google/uuid"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/temporal"

	"vpnflow/internal/callback"
	faketg "vpnflow/internal/dev/fake/telegram"
	"vpnflow/internal/shop"
)

// purchaseArg is the Purchase workflow's input as a worker decodes it.
type purchaseArg struct {
	PurchaseID string
	UserID     int64
	Kind       string
	PlanID     string
	Days       int
	Amount     int64
	Currency   string
	Provider   string
	InvoiceTTL time.Duration
	Late       bool
}

// TestFastBuyStartsPurchase: Buy → plan → provider starts purchase/<id>
// with the plan's price in the provider's currency, and the menu message
// turns into the "creating your invoice" note.
func TestFastBuyStartsPurchase(t *testing.T) {
	cfg := fastConfig(t)
	f := newFastBot(t, cfg)
	ann := f.newUser("Ann", "en")
	menu := f.start(ann, "Ann", "en")

	buy := func(plan string, method callback.Method) purchaseArg {
		t.Helper()
		f.press(ann, menu, callback.Data{Action: callback.Buy})
		plans := f.waitEdit(ann, menu.ID, f.T("en", "plans_title", nil))
		for _, p := range cfg.PlanList {
			if !hasButton(plans, callback.Data{Action: callback.Plan, Plan: p.ID}) {
				t.Errorf("plans screen lacks plan %s", p.ID)
			}
		}
		f.press(ann, plans, callback.Data{Action: callback.Plan, Plan: plan})
		p, _ := cfg.Plan(plan)
		methods := f.waitEdit(ann, menu.ID, f.T("en", "choose_payment", f.app.planData("en", p)))
		if hasButton(methods, callback.Data{Action: callback.Pay, Plan: plan, Method: callback.MethodStars}) != (p.Stars > 0) {
			t.Errorf("plan %s (stars price %d): Stars button shown = %v", plan, p.Stars, !(p.Stars > 0))
		}
		if hasButton(methods, callback.Data{Action: callback.Pay, Plan: plan, Method: callback.MethodBalance}) {
			t.Errorf("plan %s offered from an empty balance", plan)
		}
		n := len(f.temporal.Calls("start"))
		f.press(ann, methods, callback.Data{Action: callback.Pay, Plan: plan, Method: method})
		f.waitEdit(ann, menu.ID, f.T("en", "purchase_started", nil))
		menu = f.start(ann, "Ann", "en")
		starts := f.temporal.Calls("start")
		if len(starts) != n+1 {
			t.Fatalf("%d workflow starts after paying, want %d", len(starts), n+1)
		}
		c := starts[n]
		var in purchaseArg
		decode(t, c.Args[0], &in)
		if c.Workflow != "Purchase" || c.WorkflowID != shop.PurchaseWorkflowID(in.PurchaseID) || c.Options.TaskQueue != cfg.TaskQueue ||
			c.Options.WorkflowIDReusePolicy != enumspb.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE {
			t.Errorf("start = %s %s on %q (reuse %v), want Purchase purchase/%s on %q rejecting duplicates",
				c.Workflow, c.WorkflowID, c.Options.TaskQueue, c.Options.WorkflowIDReusePolicy, in.PurchaseID, cfg.TaskQueue)
		}
		if _, err := uuid.Parse(in.PurchaseID); err != nil {
			t.Errorf("purchase id %q: %v", in.PurchaseID, err)
		}
		if in.UserID != ann || in.Kind != shop.KindSubscription || in.PlanID != plan || in.Days != p.Days || in.Late ||
			in.InvoiceTTL != cfg.CryptoPayInvoiceTTL {
			t.Errorf("purchase input = %+v, want user %d, subscription %s of %d days", in, ann, plan, p.Days)
		}
		return in
	}

	cp := buy("1m", callback.MethodCryptoPay)
	if cp.Provider != shop.ProviderCryptoPay || cp.Amount != 300 || cp.Currency != cfg.Currency {
		t.Errorf("Crypto Pay purchase = %+v, want 300 %s by Crypto Pay", cp, cfg.Currency)
	}
	stars := buy("1m", callback.MethodStars)
	if stars.Provider != shop.ProviderStars || stars.Amount != 150 || stars.Currency != "XTR" {
		t.Errorf("Stars purchase = %+v, want 150 XTR by Stars", stars)
	}
	if stars.PurchaseID == cp.PurchaseID {
		t.Error("two purchases share an id")
	}
	buy("3m", callback.MethodCryptoPay)

	// With Temporal refusing the start, the user is asked to try again.
	f.temporal.setAnswer(func(tcall) tresult { return tresult{CallErr: errors.New("temporal unavailable")} })
	f.press(ann, menu, callback.Data{Action: callback.Buy})
	plans := f.waitEdit(ann, menu.ID, f.T("en", "plans_title", nil))
	f.press(ann, plans, callback.Data{Action: callback.Plan, Plan: "1m"})
	p, _ := cfg.Plan("1m")
	methods := f.waitEdit(ann, menu.ID, f.T("en", "choose_payment", f.app.planData("en", p)))
	f.press(ann, methods, callback.Data{Action: callback.Pay, Plan: "1m", Method: callback.MethodCryptoPay})
	f.waitFor(ann, "busy_try_again", func(m faketg.Message) bool {
		return m.ID > methods.ID && m.Raw == f.T("en", "busy_try_again", nil)
	})
}

// TestFastTrialButton: the trial button shows "working on it" at once and
// hands start-trial over as an update-with-start of subscription/<user>
// naming that message, for the workflow to answer in. The bot itself
// turns the message into a refusal it learns while handing over, or into
// "could not pass that on" when Temporal does not take the request.
func TestFastTrialButton(t *testing.T) {
	cfg := fastConfig(t)
	f := newFastBot(t, cfg)
	ann := f.newUser("Ann", "en")
	menu := f.start(ann, "Ann", "en")

	f.temporal.setAnswer(func(tcall) tresult {
		return tresult{Value: shop.TrialResult{ExpiresAt: time.Now().Add(cfg.TrialDuration)}}
	})
	f.press(ann, menu, callback.Data{Action: callback.Trial})
	working := f.waitText(ann, f.T("en", "working", nil))
	calls := f.waitCalls(1)
	c := calls[0]
	var in struct{ UserID int64 }
	decode(t, c.StartArgs[0], &in)
	var req shop.TrialRequest
	decode(t, c.Args[0], &req)
	if c.Kind != "update-with-start" || c.WorkflowID != shop.SubscriptionWorkflowID(ann) || c.Workflow != shop.SubscriptionWorkflowType ||
		c.Name != shop.UpdateStartTrial || c.Options.TaskQueue != cfg.TaskQueue || in.UserID != ann ||
		c.Options.WorkflowIDConflictPolicy != enumspb.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING {
		t.Errorf("trial call = %+v (start input %+v), want start-trial on %s", c, in, shop.SubscriptionWorkflowID(ann))
	}
	if req.Reply == nil || req.Reply.MessageID != working.ID {
		t.Errorf("trial request %+v does not name the working message %d", req, working.ID)
	}

	for _, tc := range []struct {
		name   string
		answer tresult
		want   string
	}{
		{"paid time left", tresult{Err: temporal.NewApplicationError("Active", shop.RefusedActive, time.Duration(0))}, "trial_active_sub"},
		{"banned", tresult{Err: temporal.NewApplicationError("Banned", shop.RefusedBanned, time.Duration(0))}, "banned_notice"},
		{"temporal down", tresult{CallErr: errors.New("connection refused")}, "busy_try_again"},
	} {
		f.temporal.setAnswer(func(tcall) tresult { return tc.answer })
		menu = f.start(ann, "Ann", "en")
		f.press(ann, menu, callback.Data{Action: callback.Trial})
		f.waitFor(ann, tc.name+": "+tc.want, func(m faketg.Message) bool {
			return m.ID > menu.ID && m.Edited && m.Raw == f.T("en", tc.want, nil)
		})
	}
}

// TestFastPromoCode: /promo CODE runs promo/<CODE>/<user> and tells the
// outcome; malformed input never reaches Temporal.
func TestFastPromoCode(t *testing.T) {
	cfg := fastConfig(t)
	f := newFastBot(t, cfg)
	ann := f.newUser("Ann", "en")
	f.start(ann, "Ann", "en")

	f.send(ann, "/promo", f.T("en", "promo_usage", nil))
	f.send(ann, "/promo no/such<code>", f.T("en", "promo_invalid", nil))
	if calls := f.temporal.Calls(""); len(calls) != 0 {
		t.Fatalf("malformed codes reached Temporal: %+v", calls)
	}

	f.temporal.setAnswer(func(tcall) tresult {
		return tresult{Value: shop.PromoOutcome{Code: "SPRING", Kind: "days", Value: 7}}
	})
	f.send(ann, "/promo spring", f.T("en", "promo_applied", map[string]any{"Duration": 7 * 24 * time.Hour}))
	starts := f.temporal.Calls("start")
	if len(starts) != 1 {
		t.Fatalf("starts = %+v, want one promo redemption", starts)
	}
	var in struct {
		Code   string
		UserID int64
	}
	decode(t, starts[0].Args[0], &in)
	if want := "promo/SPRING/" + strconv.FormatInt(ann, 10); starts[0].WorkflowID != want || starts[0].Workflow != "PromoRedemption" ||
		in.Code != "SPRING" || in.UserID != ann {
		t.Errorf("promo start = %s %s %+v, want PromoRedemption %s", starts[0].Workflow, starts[0].WorkflowID, in, want)
	}

	for _, tc := range []struct {
		res  tresult
		want string
		data map[string]any
	}{
		{tresult{Value: shop.PromoOutcome{Code: "SPRING", Kind: "days", Value: 7, AlreadyRedeemed: true}}, "promo_used", nil},
		{tresult{Value: shop.PromoOutcome{Code: "SPRING", Kind: "percent", Value: 15}}, "promo_discount", map[string]any{"Percent": 15}},
		{tresult{Err: temporal.NewNonRetryableApplicationError("used up", shop.ErrPromoExhausted, nil)}, "promo_exhausted", nil},
		{tresult{Err: temporal.NewNonRetryableApplicationError("no such code", shop.ErrNotFound, nil)}, "promo_invalid", nil},
		{tresult{Err: errors.New("deadline exceeded")}, "busy_try_again", nil},
	} {
		f.temporal.setAnswer(func(tcall) tresult { return tc.res })
		f.send(ann, "/promo SPRING", f.T("en", tc.want, tc.data))
	}
}
