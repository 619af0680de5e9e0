package activities

import (
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"go.temporal.io/sdk/testsuite"

	"vpnflow/internal/config"
	"vpnflow/internal/dev/testenv"
	"vpnflow/internal/notice"
	"vpnflow/internal/shop"
	"vpnflow/internal/store"
)

// dbEnv is the activities on a fresh database with one node, without Xray
// or Telegram: enough for every activity that only touches the database.
type dbEnv struct {
	t    *testing.T
	ctx  context.Context
	a    *Activities
	s    *store.Store
	pool *pgxpool.Pool
	act  *testsuite.TestActivityEnvironment
}

func newDBEnv(t *testing.T) *dbEnv {
	t.Helper()
	ctx := context.Background()
	pool := testenv.Database(t)
	st := store.New(pool)
	cfg, err := config.LoadFrom(map[string]string{})
	if err != nil {
		t.Fatal(err)
	}
	cfg.Sandbox = true // SetSandboxExpiry is in the table
	node, err := st.UpsertNode(ctx, store.Node{Name: "main", APIAddr: "127.0.0.1:10085", InboundTag: "vless-in", Host: "vpn.example", Port: 443})
	if err != nil {
		t.Fatal(err)
	}
	e := &dbEnv{t: t, ctx: ctx, s: st, pool: pool, a: &Activities{Store: st, Config: cfg, NodeID: node}}
	var suite testsuite.WorkflowTestSuite
	e.act = suite.NewTestActivityEnvironment()
	e.act.RegisterActivity(e.a)
	return e
}

func (e *dbEnv) user(id int64, referralCode string) store.User {
	e.t.Helper()
	u, _, err := e.s.UpsertUser(e.ctx, store.UpsertUserParams{TelegramID: id, FirstName: "user", ReferralCode: referralCode})
	if err != nil {
		e.t.Fatal(err)
	}
	return u
}

// purchase records a pending purchase of the 1m plan (or a top-up).
func (e *dbEnv) purchase(userID int64, kind, provider string, amount int64) uuid.UUID {
	e.t.Helper()
	n := store.NewPurchase{ID: uuid.New(), UserID: userID, Kind: kind, Amount: amount, Currency: "USD", Provider: provider}
	if kind == shop.KindSubscription {
		n.PlanID, n.Days = "1m", 30
	}
	if _, err := e.s.CreatePurchase(e.ctx, n); err != nil {
		e.t.Fatal(err)
	}
	return n.ID
}

func (e *dbEnv) credit(id uuid.UUID) {
	e.t.Helper()
	if _, err := e.s.CreditPurchase(e.ctx, store.CreditParams{PurchaseID: id, EmailDomain: "vpnflow"}); err != nil {
		e.t.Fatal(err)
	}
}

// paidUser is a user with a paid 1m subscription and 1000 of balance.
func (e *dbEnv) paidUser(id int64) uuid.UUID {
	e.t.Helper()
	e.user(id, "")
	e.credit(e.purchase(id, shop.KindTopUp, shop.ProviderCryptoPay, 1000))
	p := e.purchase(id, shop.KindSubscription, shop.ProviderCryptoPay, 300)
	e.credit(p)
	return p
}

// run executes an activity the way a worker does and decodes its result
// into a fresh value of out's type.
func (e *dbEnv) run(activity, in, out any) (any, error) {
	v, err := e.act.ExecuteActivity(activity, in)
	if err != nil || out == nil {
		return nil, err
	}
	ptr := reflect.New(reflect.TypeOf(out))
	if err := v.Get(ptr.Interface()); err != nil {
		return nil, err
	}
	return ptr.Elem().Interface(), nil
}

// idempotencyCase is one database activity: setup prepares the state it
// acts on and returns the activity, its input and a zero value of its
// result type (nil for activities that return only an error).
type idempotencyCase struct {
	name  string
	setup func(e *dbEnv) (activity, in, out any)
}

func idempotencyCases() []idempotencyCase {
	return []idempotencyCase{
		{"RecordPurchase", func(e *dbEnv) (any, any, any) {
			e.user(1, "")
			return e.a.RecordPurchase, shop.NewPurchase{PurchaseID: uuid.NewString(), UserID: 1, Kind: shop.KindSubscription,
				PlanID: "1m", Days: 30, Amount: 300, Currency: "USD", Provider: shop.ProviderCryptoPay}, RecordPurchaseResult{}
		}},
		{"SaveInvoice", func(e *dbEnv) (any, any, any) {
			e.user(1, "")
			p := e.purchase(1, shop.KindSubscription, shop.ProviderCryptoPay, 300)
			return e.a.SaveInvoice, SaveInvoiceInput{PurchaseID: p.String(), Invoice: Invoice{InvoiceID: "42", PayURL: "https://pay.example/42",
				ExpiresAt: time.Now().Add(time.Hour).Truncate(time.Microsecond)}}, nil
		}},
		{"CreditPurchase", func(e *dbEnv) (any, any, any) {
			e.user(1, "")
			p := e.purchase(1, shop.KindSubscription, shop.ProviderCryptoPay, 300)
			return e.a.CreditPurchase, CreditInput{PurchaseID: p.String(), ChargeID: "charge-1"}, CreditResult{}
		}},
		{"CreditPurchase referred", func(e *dbEnv) (any, any, any) {
			ref := e.user(1, "")
			e.user(2, ref.RefCode)
			p := e.purchase(2, shop.KindSubscription, shop.ProviderCryptoPay, 300)
			return e.a.CreditPurchase, CreditInput{PurchaseID: p.String()}, CreditResult{}
		}},
		{"ExpirePurchase", func(e *dbEnv) (any, any, any) {
			e.user(1, "")
			p := e.purchase(1, shop.KindSubscription, shop.ProviderCryptoPay, 300)
			return e.a.ExpirePurchase, PurchaseRef{PurchaseID: p.String()}, nil
		}},
		{"FailPurchase", func(e *dbEnv) (any, any, any) {
			e.user(1, "")
			p := e.purchase(1, shop.KindSubscription, shop.ProviderCryptoPay, 300)
			return e.a.FailPurchase, FailPurchaseInput{PurchaseID: p.String(), Reason: "create invoice: refused"}, nil
		}},
		{"StartTrial", func(e *dbEnv) (any, any, any) {
			e.user(1, "")
			return e.a.StartTrial, UserRef{UserID: 1}, shop.TrialResult{}
		}},
		{"ExpireSubscription", func(e *dbEnv) (any, any, any) {
			e.paidUser(1)
			if _, err := e.s.SetSandboxExpiry(e.ctx, 1, time.Now().Add(-time.Minute)); err != nil {
				e.t.Fatal(err)
			}
			return e.a.ExpireSubscription, ExpireInput{UserID: 1, At: time.Now()}, ExpireResult{}
		}},
		{"EnqueueReminder", func(e *dbEnv) (any, any, any) {
			e.paidUser(1)
			expires := time.Now().Add(24 * time.Hour).Truncate(time.Microsecond)
			return e.a.EnqueueReminder, ReminderInput{UserID: 1, Lead: 24 * time.Hour,
				Notice: notice.Reminder("1m", expires, 24*time.Hour)}, nil
		}},
		{"BeginReissue", func(e *dbEnv) (any, any, any) {
			e.paidUser(1)
			return e.a.BeginReissue, UserRef{UserID: 1}, ReissuePlan{}
		}},
		{"CommitReissue", func(e *dbEnv) (any, any, any) {
			e.paidUser(1)
			var plan ReissuePlan
			v, err := e.run(e.a.BeginReissue, UserRef{UserID: 1}, plan)
			if err != nil {
				e.t.Fatal(err)
			}
			return e.a.CommitReissue, KeyRef{UserID: 1, Email: v.(ReissuePlan).NewEmail}, nil
		}},
		{"AbortReissue", func(e *dbEnv) (any, any, any) {
			e.paidUser(1)
			if _, err := e.s.BeginReissue(e.ctx, 1); err != nil {
				e.t.Fatal(err)
			}
			return e.a.AbortReissue, UserRef{UserID: 1}, nil
		}},
		{"SetAutoRenew", func(e *dbEnv) (any, any, any) {
			e.paidUser(1)
			return e.a.SetAutoRenew, AutoRenewSetting{UserID: 1, On: true}, nil
		}},
		{"AutoRenew", func(e *dbEnv) (any, any, any) {
			e.paidUser(1)
			sub, err := e.s.GetSubscription(e.ctx, 1)
			if err != nil {
				e.t.Fatal(err)
			}
			return e.a.AutoRenew, AutoRenewInput{UserID: 1, PlanID: "1m", PeriodEnd: sub.ExpiresAt}, AutoRenewResult{}
		}},
		{"AutoRenew short balance", func(e *dbEnv) (any, any, any) {
			e.user(1, "")
			e.credit(e.purchase(1, shop.KindTopUp, shop.ProviderCryptoPay, 100))
			e.credit(e.purchase(1, shop.KindSubscription, shop.ProviderCryptoPay, 300))
			sub, err := e.s.GetSubscription(e.ctx, 1)
			if err != nil {
				e.t.Fatal(err)
			}
			return e.a.AutoRenew, AutoRenewInput{UserID: 1, PlanID: "1m", PeriodEnd: sub.ExpiresAt}, AutoRenewResult{}
		}},
		{"RenewalOffer", func(e *dbEnv) (any, any, any) {
			e.paidUser(1)
			return e.a.RenewalOffer, RenewalOfferInput{UserID: 1, PlanID: "1m", PeriodEnd: time.Now().Truncate(time.Second)}, RenewalOffer{}
		}},
		{"RenewalOutcome", func(e *dbEnv) (any, any, any) {
			p := e.paidUser(1)
			return e.a.RenewalOutcome, RenewalOutcomeInput{UserID: 1, PurchaseID: p.String()}, RenewalOutcome{}
		}},
		{"GrantTime", func(e *dbEnv) (any, any, any) {
			e.user(1, "")
			return e.a.GrantTime, GrantInput{UserID: 1, Days: 7, Kind: "admin", Reference: "cmd-1"}, GrantResult{}
		}},
		{"SetBanned", func(e *dbEnv) (any, any, any) {
			e.paidUser(1)
			return e.a.SetBanned, BanInput{UserID: 1, Banned: true}, BanResult{}
		}},
		{"LoadPurchase", func(e *dbEnv) (any, any, any) {
			p := e.paidUser(1)
			return e.a.LoadPurchase, PurchaseRef{PurchaseID: p.String()}, PurchaseInfo{}
		}},
		{"RecordRefund", func(e *dbEnv) (any, any, any) {
			p := e.paidUser(1)
			return e.a.RecordRefund, RecordRefundInput{PurchaseID: p.String(), Reason: "test"}, RecordRefundResult{}
		}},
		{"RecordRefund referred", func(e *dbEnv) (any, any, any) {
			ref := e.user(1, "")
			e.user(2, ref.RefCode)
			p := e.purchase(2, shop.KindSubscription, shop.ProviderCryptoPay, 300)
			if _, err := e.run(e.a.CreditPurchase, CreditInput{PurchaseID: p.String()}, CreditResult{}); err != nil {
				e.t.Fatal(err)
			}
			return e.a.RecordRefund, RecordRefundInput{PurchaseID: p.String(), Reason: "test"}, RecordRefundResult{}
		}},
		{"CreditRefundToBalance", func(e *dbEnv) (any, any, any) {
			p := e.paidUser(1)
			if _, err := e.s.RefundPurchase(e.ctx, store.RefundParams{PurchaseID: p, Reason: "test"}); err != nil {
				e.t.Fatal(err)
			}
			return e.a.CreditRefundToBalance, PurchaseRef{PurchaseID: p.String()}, CreditRefundResult{}
		}},
		{"RedeemPromo", func(e *dbEnv) (any, any, any) {
			e.user(1, "")
			if _, err := e.s.CreatePromo(e.ctx, store.Promo{Code: "SPRING", Kind: shop.PromoPercent, Value: 20, MaxUses: 5}); err != nil {
				e.t.Fatal(err)
			}
			return e.a.RedeemPromo, RedeemPromoInput{Code: "spring", UserID: 1}, RedeemPromoResult{}
		}},
		{"SavePromoDiscount", func(e *dbEnv) (any, any, any) {
			e.user(1, "")
			if _, err := e.s.CreatePromo(e.ctx, store.Promo{Code: "SPRING", Kind: shop.PromoPercent, Value: 20, MaxUses: 5}); err != nil {
				e.t.Fatal(err)
			}
			if _, err := e.s.RedeemPromo(e.ctx, "SPRING", 1); err != nil {
				e.t.Fatal(err)
			}
			return e.a.SavePromoDiscount, PromoDiscountInput{Code: "SPRING", UserID: 1, Percent: 20}, nil
		}},
		{"CreateBroadcast", func(e *dbEnv) (any, any, any) {
			e.user(1, "")
			e.user(2, "")
			return e.a.CreateBroadcast, BroadcastStart{BroadcastID: uuid.NewString(), AdminID: 1, Text: "hello"}, BroadcastStarted{}
		}},
		{"FinishBroadcast", func(e *dbEnv) (any, any, any) {
			e.user(1, "")
			id := uuid.New()
			if _, err := e.s.CreateBroadcast(e.ctx, id, 1, "hello"); err != nil {
				e.t.Fatal(err)
			}
			return e.a.FinishBroadcast, FinishBroadcastInput{BroadcastID: id.String(), Sent: 1}, nil
		}},
		{"RecordTrafficBatch", func(e *dbEnv) (any, any, any) {
			e.paidUser(1)
			return e.a.RecordTrafficBatch, RecordTrafficInput{BatchID: "batch-1",
				Deltas: []TrafficDelta{{Email: "tg1@vpnflow", Up: 10, Down: 20}}}, RecordTrafficResult{}
		}},
		{"MoveSubscription", func(e *dbEnv) (any, any, any) {
			e.paidUser(1)
			if _, err := e.s.AddNode(e.ctx, store.Node{Name: "b", APIAddr: "127.0.0.1:20085", InboundTag: "vless-in",
				Host: "b.example", Port: 443, PublicKey: "Gh1QKQJvVh3j5dOdmV9n3p8q1oZr0RjqSAh6TNdIWSs", SNI: "www.example.com",
				Capacity: 10, State: store.NodeEnabled}); err != nil {
				e.t.Fatal(err)
			}
			return e.a.MoveSubscription, MoveInput{UserID: 1, From: e.a.NodeID, MoveID: "move:1:t"}, MoveResult{}
		}},
		{"SetSandboxExpiry", func(e *dbEnv) (any, any, any) {
			e.paidUser(1)
			return e.a.SetSandboxExpiry, SandboxExpiryInput{UserID: 1, ExpiresAt: time.Now().Add(time.Hour).Truncate(time.Microsecond)}, SandboxExpiryResult{}
		}},
	}
}

// TestDatabaseActivitiesTwice runs each database activity twice, as a
// retry after a lost completion does: the second run must succeed with the
// same result as the first, whatever the first committed.
func TestDatabaseActivitiesTwice(t *testing.T) {
	for _, tc := range idempotencyCases() {
		t.Run(tc.name, func(t *testing.T) {
			e := newDBEnv(t)
			activity, in, out := tc.setup(e)
			first, err := e.run(activity, in, out)
			if err != nil {
				t.Fatalf("first run: %v", err)
			}
			second, err := e.run(activity, in, out)
			if err != nil {
				t.Fatalf("second run (a retry after commit): %v", err)
			}
			if !reflect.DeepEqual(first, second) {
				t.Errorf("second run returned\n%+v\nthe first\n%+v", second, first)
			}
		})
	}
}
