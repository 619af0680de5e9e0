package store_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"vpnflow/internal/dev/testenv"
	"vpnflow/internal/shop"
	"vpnflow/internal/store"
)

func TestMain(m *testing.M) { testenv.Main(m) }

const domain = "vpnflow"

// env is a store on a fresh database with one node.
type env struct {
	t    *testing.T
	ctx  context.Context
	s    *store.Store
	pool *pgxpool.Pool
	node int16
}

func newEnv(t *testing.T) *env {
	t.Helper()
	pool := testenv.Database(t)
	e := &env{t: t, ctx: context.Background(), s: store.New(pool), pool: pool}
	id, err := e.s.UpsertNode(e.ctx, store.Node{Name: "main", APIAddr: "127.0.0.1:10085", InboundTag: "vless-in", Host: "vpn.example", Port: 443})
	if err != nil {
		t.Fatal(err)
	}
	e.node = id
	return e
}

func (e *env) user(id int64, referralCode string) store.User {
	e.t.Helper()
	u, _, err := e.s.UpsertUser(e.ctx, store.UpsertUserParams{TelegramID: id, FirstName: "user", ReferralCode: referralCode})
	if err != nil {
		e.t.Fatal(err)
	}
	return u
}

func (e *env) purchase(userID int64, kind, provider string, amount int64, days int) store.Purchase {
	e.t.Helper()
	plan := ""
	if kind == shop.KindSubscription {
		plan = "1m"
	}
	p, err := e.s.CreatePurchase(e.ctx, store.NewPurchase{
		ID: uuid.New(), UserID: userID, Kind: kind, PlanID: plan, Days: days,
		Amount: amount, Currency: "USD", Provider: provider,
	})
	if err != nil {
		e.t.Fatal(err)
	}
	return p
}

// credit credits a purchase; a first paid plan of a referred user earns
// the referrer the whole amount paid, at most bonus.
func (e *env) credit(id uuid.UUID, bonus int64) (store.CreditResult, error) {
	return e.s.CreditPurchase(e.ctx, store.CreditParams{
		PurchaseID: id, EmailDomain: domain,
		Referral: store.ReferralTerms{Percent: 100, Cap: bonus, Currency: "USD"},
	})
}

func (e *env) mustCredit(id uuid.UUID, bonus int64) store.CreditResult {
	e.t.Helper()
	r, err := e.credit(id, bonus)
	if err != nil {
		e.t.Fatal(err)
	}
	return r
}

// topup gives a user balance through a paid Crypto Pay top-up.
func (e *env) topup(userID, amount int64) {
	e.t.Helper()
	e.mustCredit(e.purchase(userID, shop.KindTopUp, shop.ProviderCryptoPay, amount, 0).ID, 0)
}

func (e *env) balance(userID int64) int64 {
	e.t.Helper()
	u, err := e.s.GetUser(e.ctx, userID)
	if err != nil {
		e.t.Fatal(err)
	}
	return u.Balance
}

func (e *env) count(sql string, args ...any) int {
	e.t.Helper()
	var n int
	if err := e.pool.QueryRow(e.ctx, sql, args...).Scan(&n); err != nil {
		e.t.Fatalf("%s: %v", sql, err)
	}
	return n
}

func (e *env) dbNow() time.Time {
	e.t.Helper()
	var now time.Time
	if err := e.pool.QueryRow(e.ctx, `SELECT now()`).Scan(&now); err != nil {
		e.t.Fatal(err)
	}
	return now
}

func (e *env) exec(sql string, args ...any) {
	e.t.Helper()
	if _, err := e.pool.Exec(e.ctx, sql, args...); err != nil {
		e.t.Fatalf("%s: %v", sql, err)
	}
}

// checkLedger asserts the invariant that a user's balance is the sum of
// their balance-moving ledger rows.
func (e *env) checkLedger(userID int64) {
	e.t.Helper()
	var sum int64
	if err := e.pool.QueryRow(e.ctx, `SELECT coalesce(sum(amount), 0) FROM ledger WHERE user_id = $1
		AND kind IN ('topup', 'balance_debit', 'referral_bonus', 'balance_refund', 'topup_reversal', 'referral_reversal')`, userID).Scan(&sum); err != nil {
		e.t.Fatal(err)
	}
	if b := e.balance(userID); b != sum {
		e.t.Errorf("user %d: balance %d but balance ledger sums to %d", userID, b, sum)
	}
}

func wantErr(t *testing.T, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("err = %v, want %v", err, want)
	}
}

func errorIs(err, target error) bool { return errors.Is(err, target) }
