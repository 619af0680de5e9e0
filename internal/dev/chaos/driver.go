package chaos

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"time"

	fakecp "vpnflow/internal/dev/fake/cryptopay"
	faketg "vpnflow/internal/dev/fake/telegram"
)

// Kind is how a driven user pays.
type Kind string

const (
	KindCrypto  Kind = "cryptopay" // Crypto Pay invoice; its webhook delivered, dropped or duplicated
	KindStars   Kind = "stars"     // Telegram Stars invoice
	KindBalance Kind = "balance"   // top up by Crypto Pay, then buy from the balance
	KindTrial   Kind = "trial"     // the free trial
)

// Webhook fates of a Crypto Pay payment, chosen per invoice.
const (
	webhookOnce      = "once"
	webhookDropped   = "dropped"   // only getInvoices polling can find the payment
	webhookDuplicate = "duplicate" // the same update delivered 2–3 times at once
)

// user is one driven user and what happened to them.
type user struct {
	n            int
	id           int64
	kind         Kind
	webhook      string // Crypto Pay webhook fate, for crypto and balance
	probe        bool   // a recovery probe, not one of the purchases
	declines     int    // Stars pre-checkouts the bot declined (asking to try again)
	banned       bool   // the admin banned the user after the purchase
	errorReplies int    // the bot's generic error answers the user saw (and retried after)
	restarts     int    // Stars purchases started over after a final decline
	lastDecline  string
	err          error // the flow gave up: the user never got what they paid for
	took         time.Duration
}

// stepWait is how long one step waits for the bot before the user acts
// again (presses the button again, resends /start), as an impatient user
// would after a crash ate their update. flowLimit bounds a whole flow.
const (
	stepWait  = 40 * time.Second
	flowLimit = 12 * time.Minute
)

// driver acts as users do, through the stand-ins only.
type driver struct {
	tg    *faketg.Server
	cp    *fakecp.Server
	admin *user         // the sandbox admin, who bans some users after they paid
	limit time.Duration // bounds a whole flow; 0: flowLimit
	// progress, when set, hears how far long setups have come
	// (progressEvery).
	progress io.Writer
}

// progressEvery is how often a long setup says how far it has come: a
// storm's 10,000 purchases take many minutes.
const progressEvery = 1000

// step reports the done-th of n steps of what when progress is set and
// done is a multiple of progressEvery.
func (d *driver) step(what string, done int64, n int) {
	if d.progress != nil && done%progressEvery == 0 {
		fmt.Fprintf(d.progress, "bench: %s: %d of %d\n", what, done, n)
	}
}

// banShare is the percentage of paying users the admin bans once they hold
// their key, so the audit sees banned keys leave Xray under faults too.
const banShare = 5

// startAdmin registers the stand-in's first user, whom the sandbox makes
// the admin; it must be the first user the run creates.
func (d *driver) startAdmin(ctx context.Context) error {
	acc, err := d.tg.AddUser(faketg.User{FirstName: "Admin", LanguageCode: "en"})
	if err != nil {
		return fmt.Errorf("add admin: %w", err)
	}
	d.admin = &user{id: acc.ID}
	return d.retry(ctx, d.admin, func() error { _, err := d.tg.SendText(d.admin.id, "/start"); return err }, hasButton("Buy"))
}

// ban has the admin ban the user with /ban, repeated until the bot
// confirms (a second /ban of a banned user is harmless).
func (d *driver) ban(ctx context.Context, u *user) error {
	want := fmt.Sprintf("(%d) is blocked", u.id)
	// Each ban has its own view of the admin chat: bans run concurrently.
	admin := &user{id: d.admin.id}
	err := d.retry(ctx, admin, func() error { _, err := d.tg.SendText(admin.id, fmt.Sprintf("/ban %d", u.id)); return err },
		func(m faketg.Message) bool { return strings.Contains(m.Text, want) })
	if err != nil {
		return fmt.Errorf("ban: %w", err)
	}
	u.banned = true
	return nil
}

// run plays the user's whole flow: register, pay, receive the key.
func (d *driver) run(ctx context.Context, u *user, rng *rand.Rand) {
	limit := d.limit
	if limit == 0 {
		limit = flowLimit
	}
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	start := time.Now()
	u.err = d.flow(ctx, u, rng)
	u.took = time.Since(start)
	if u.err == nil && !u.probe && d.admin != nil && rng.IntN(100) < banShare {
		u.err = d.ban(ctx, u)
	}
}

func (d *driver) flow(ctx context.Context, u *user, rng *rand.Rand) error {
	acc, err := d.tg.AddUser(faketg.User{FirstName: fmt.Sprintf("Chaos-%d", u.n), LanguageCode: "en"})
	if err != nil {
		return fmt.Errorf("add user: %w", err)
	}
	u.id = acc.ID
	if err := d.retry(ctx, u, func() error { _, err := d.tg.SendText(u.id, "/start"); return err },
		hasButton("Buy")); err != nil {
		return fmt.Errorf("register: %w", err)
	}
	switch u.kind {
	case KindTrial:
		if err := d.pressUntil(ctx, u, "Free trial", isKey); err != nil {
			return fmt.Errorf("trial: %w", err)
		}
		return nil
	case KindStars:
		return d.buyStars(ctx, u)
	case KindCrypto:
		if err := d.toPlan(ctx, u); err != nil {
			return err
		}
		if err := d.payCrypto(ctx, u, rng, "Crypto"); err != nil {
			return err
		}
		return d.waitKey(ctx, u.id)
	case KindBalance:
		return d.buyFromBalance(ctx, u, rng)
	}
	return fmt.Errorf("unknown kind %q", u.kind)
}

// toPlan goes Buy → "30 days" and waits for the payment methods.
// When the chat shows no "Buy" button any more (the menu became an
// invoice, and the user starts over), the user types /buy, as people do.
func (d *driver) toPlan(ctx context.Context, u *user) error {
	if err := d.retry(ctx, u, func() error {
		if msgID, data, ok := d.button(u.id, "Buy"); ok {
			_, err := d.tg.PressButton(u.id, msgID, data)
			return err
		}
		_, err := d.tg.SendText(u.id, "/buy")
		return err
	}, hasButton("30 days")); err != nil {
		return fmt.Errorf("open plans: %w", err)
	}
	if err := d.pressUntil(ctx, u, "30 days", hasButton("Stars")); err != nil {
		return fmt.Errorf("pick plan: %w", err)
	}
	return nil
}

// payCrypto presses the button leading to a Crypto Pay invoice, gives the
// invoice its webhook fate and pays it.
func (d *driver) payCrypto(ctx context.Context, u *user, rng *rand.Rand, label string) error {
	inv, err := d.openCryptoInvoice(ctx, u, label)
	if err != nil {
		return err
	}
	b := fakecp.WebhookBehavior{}
	switch r := rng.IntN(100); {
	case r < 25:
		u.webhook, b.Drop = webhookDropped, true
	case r < 45:
		u.webhook, b.Copies = webhookDuplicate, 2+rng.IntN(2)
	default:
		u.webhook = webhookOnce
	}
	if err := d.cp.SetInvoiceWebhookBehavior(inv.InvoiceID, b); err != nil {
		return err
	}
	if err := d.cp.Pay(inv.InvoiceID); err != nil {
		return fmt.Errorf("pay invoice %d: %w", inv.InvoiceID, err)
	}
	return nil
}

// openCryptoInvoice presses the button leading to a Crypto Pay invoice and
// returns the invoice behind the message's pay link.
func (d *driver) openCryptoInvoice(ctx context.Context, u *user, label string) (fakecp.Invoice, error) {
	var invMsg faketg.Message
	if err := d.pressUntil(ctx, u, label, func(m faketg.Message) bool {
		if invoiceURL(m) != "" {
			invMsg = m
			return true
		}
		return false
	}); err != nil {
		return fakecp.Invoice{}, fmt.Errorf("crypto invoice: %w", err)
	}
	url := invoiceURL(invMsg)
	for _, i := range d.cp.Invoices() {
		if i.BotInvoiceURL == url {
			return i, nil
		}
	}
	return fakecp.Invoice{}, fmt.Errorf("no invoice behind %s", url)
}

// buyStars buys with Stars. The bot must approve the pre-checkout within
// Telegram's bound; while it is down or Telegram hangs, the user pays
// again, as people do. A decline saying "try again" is retried on the same
// invoice; any other decline (the bot calls the invoice expired) sends the
// user back to the menu for a new purchase, at most starsRestarts times.
func (d *driver) buyStars(ctx context.Context, u *user) error {
	for {
		if err := d.toPlan(ctx, u); err != nil {
			return err
		}
		var invMsg faketg.Message
		seen := map[int]bool{}
		for _, m := range d.tg.Messages(u.id) {
			seen[m.ID] = m.Invoice != nil
		}
		if err := d.pressUntil(ctx, u, "Telegram Stars", func(m faketg.Message) bool {
			if m.Invoice != nil && m.Invoice.Currency == "XTR" && !seen[m.ID] {
				invMsg = m
				return true
			}
			return false
		}); err != nil {
			return fmt.Errorf("stars invoice: %w", err)
		}
		paid, err := d.payStars(ctx, u, invMsg.ID)
		if err != nil {
			return err
		}
		if paid {
			return d.waitKey(ctx, u.id)
		}
		if u.restarts++; u.restarts > starsRestarts {
			return fmt.Errorf("stars payment declined %d times", u.restarts)
		}
	}
}

const starsRestarts = 3

// payStars pays one invoice message; false means the bot declined for
// good and the user should start over.
func (d *driver) payStars(ctx context.Context, u *user, msgID int) (bool, error) {
	for {
		_, err := d.tg.PayStarsInvoice(ctx, u.id, msgID)
		if err == nil {
			return true, nil
		}
		var declined *faketg.PaymentDeclinedError
		if errors.As(err, &declined) {
			u.declines++
			if !strings.Contains(declined.Message, "try again") {
				u.lastDecline = declined.Message
				return false, nil
			}
		}
		if ctx.Err() != nil {
			return false, fmt.Errorf("pay stars: %w", err)
		}
		sleep(ctx, 2*time.Second)
	}
}

func (d *driver) buyFromBalance(ctx context.Context, u *user, rng *rand.Rand) error {
	if err := d.pressUntil(ctx, u, "Balance", hasButton("+$5.00")); err != nil {
		return fmt.Errorf("open balance: %w", err)
	}
	if err := d.payCrypto(ctx, u, rng, "+$5.00"); err != nil {
		return err
	}
	if err := d.waitText(ctx, u.id, "topped up"); err != nil {
		return fmt.Errorf("top-up: %w", err)
	}
	if err := d.retry(ctx, u, func() error { _, err := d.tg.SendText(u.id, "/buy"); return err },
		hasButton("30 days")); err != nil {
		return fmt.Errorf("/buy: %w", err)
	}
	if err := d.pressUntil(ctx, u, "30 days", hasButton("From balance")); err != nil {
		return fmt.Errorf("pick plan: %w", err)
	}
	if err := d.pressUntil(ctx, u, "From balance", isKey); err != nil {
		return fmt.Errorf("pay from balance: %w", err)
	}
	return nil
}

// retry acts, then waits stepWait for a bot message the predicate accepts;
// without one it acts again, until ctx ends. The bot edits its menus in
// place, so any message counts, edited or new: each step of a flow wants
// something no earlier step produced. When the bot answers with its
// generic error ("Something went wrong … try again"), the user tries again
// after a moment instead of waiting.
func (d *driver) retry(ctx context.Context, u *user, act func() error, want func(faketg.Message) bool) error {
	for {
		before := 0
		if msgs := d.tg.Messages(u.id); len(msgs) > 0 {
			before = msgs[len(msgs)-1].ID
		}
		wait := stepWait
		if err := act(); err != nil && ctx.Err() == nil {
			// The act could not be done (no such button): the answer to
			// an earlier one may have replaced it after a slow Telegram,
			// so look for that answer before trying again.
			wait = time.Second
		}
		wctx, cancel := context.WithTimeout(ctx, wait)
		m, err := d.tg.WaitForMessage(wctx, u.id, func(m faketg.Message) bool {
			return want(m) || (m.ID > before && isGenericError(m))
		})
		cancel()
		if err == nil && !want(m) {
			u.errorReplies++
			sleep(ctx, 2*time.Second)
			continue
		}
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return fmt.Errorf("%w\n%s", ctx.Err(), d.conversation(u.id))
		}
	}
}

// isGenericError is the bot's answer when a request failed on its side.
func isGenericError(m faketg.Message) bool { return strings.Contains(m.Text, "Something went wrong") }

// pressUntil presses the newest button labelled label until a newer bot
// message satisfies want. A press the bot already answered is not
// repeated: the answer is looked for among all messages after it.
func (d *driver) pressUntil(ctx context.Context, u *user, label string, want func(faketg.Message) bool) error {
	return d.retry(ctx, u, func() error {
		msgID, data, ok := d.button(u.id, label)
		if !ok {
			return fmt.Errorf("no %q button", label)
		}
		_, err := d.tg.PressButton(u.id, msgID, data)
		return err
	}, want)
}

// waitKey waits for the key message; paying is done, so nothing is repeated.
func (d *driver) waitKey(ctx context.Context, id int64) error {
	if _, err := d.tg.WaitForMessage(ctx, id, isKey); err != nil {
		return fmt.Errorf("key message: %w\n%s", err, d.conversation(id))
	}
	return nil
}

func (d *driver) waitText(ctx context.Context, id int64, substr string) error {
	if _, err := d.tg.WaitForMessage(ctx, id, func(m faketg.Message) bool {
		return strings.Contains(m.Text+m.Caption, substr)
	}); err != nil {
		return fmt.Errorf("message %q: %w\n%s", substr, err, d.conversation(id))
	}
	return nil
}

func (d *driver) button(id int64, label string) (msgID int, data string, ok bool) {
	msgs := d.tg.Messages(id)
	for i := len(msgs) - 1; i >= 0; i-- {
		for _, row := range msgs[i].Keyboard {
			for _, b := range row {
				if strings.Contains(b.Text, label) && b.CallbackData != "" {
					return msgs[i].ID, b.CallbackData, true
				}
			}
		}
	}
	return 0, "", false
}

// conversation is the chat's last lines, for a failed flow's report.
func (d *driver) conversation(id int64) string {
	var b strings.Builder
	msgs := d.tg.Conversation(id)
	if len(msgs) > 12 {
		msgs = msgs[len(msgs)-12:]
	}
	for _, m := range msgs {
		who := "user"
		if m.FromBot {
			who = "bot"
		}
		text := strings.ReplaceAll(m.Text+m.Caption, "\n", " ")
		if len(text) > 100 {
			text = text[:100] + "…"
		}
		fmt.Fprintf(&b, "    #%d %s: %s\n", m.ID, who, text)
	}
	return b.String()
}

func isKey(m faketg.Message) bool { return strings.Contains(m.Caption, "vless://") && len(m.Photo) > 0 }

func hasButton(label string) func(faketg.Message) bool {
	return func(m faketg.Message) bool {
		for _, row := range m.Keyboard {
			for _, b := range row {
				if strings.Contains(b.Text, label) {
					return true
				}
			}
		}
		return false
	}
}

// invoiceURL is the Crypto Pay link on an invoice message's pay button.
func invoiceURL(m faketg.Message) string {
	for _, row := range m.Keyboard {
		for _, b := range row {
			if b.URL != "" && strings.Contains(b.Text, "Pay") {
				return b.URL
			}
		}
	}
	return ""
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}
