package botapp

import (
	"context"
	"errors"
	"fmt"
	"html"
	"net/url"
	"strings"
	"time"

	"github.com/google/uuid"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"vpnflow/internal/i18n"
	"vpnflow/internal/shop"
	"vpnflow/internal/store"
)

// adminCommands are only for ADMIN_IDS; anyone else gets the normal menu,
// and the attempt is logged. /promo is not among them: everyone may redeem
// a code, and only admins may create one (see admin).
var adminCommands = map[string]bool{
	"stats": true, "user": true, "grant": true, "ban": true, "unban": true,
	"refund": true, "broadcast": true, "nodes": true, "node": true,
}

func isAdminCommand(cmd string) bool { return adminCommands[cmd] }

// adminWait is how long the bot waits for an admin action's workflow before
// telling the admin it is still running. The handler's own deadline is 30s.
const adminWait = 20 * time.Second

// xrayCountWait bounds the Xray count /stats asks for.
const xrayCountWait = 8 * time.Second

// recentPurchases is how many purchases /user lists.
const recentPurchases = 5

// errInProgress is an admin workflow still running after adminWait.
var errInProgress = errors.New("still running")

// admin runs an admin command; it reports false for anything else. Only
// admins get here (handler.message checks ADMIN_IDS).
func (a *App) admin(ctx context.Context, u store.User, cmd, args string) bool {
	if cmd != "promo" && !isAdminCommand(cmd) {
		return false
	}
	if cmd == "nodes" || cmd == "node" {
		a.adminNodes(ctx, u, cmd, args)
		return true
	}
	lang := u.Language
	req, err := parseAdmin(cmd, args)
	var tooLong errTooLong
	switch {
	case errors.As(err, &tooLong):
		a.log.Info("admin broadcast too long", "admin_id", u.TelegramID, "length", tooLong.Length)
		a.reply(ctx, u.TelegramID, a.texts.T(lang, "admin_broadcast_too_long", map[string]any{"Length": tooLong.Length, "Max": maxBroadcastText}), nil)
		return true
	case err != nil:
		a.log.Info("admin command malformed", "admin_id", u.TelegramID, "command", cmd, "args", truncate(args, 80))
		a.reply(ctx, u.TelegramID, a.texts.T(lang, "admin_usage", map[string]any{"Usage": adminUsage[cmd]}), nil)
		return true
	}
	a.log.Info("admin command", "admin_id", u.TelegramID, "command", cmd, "target", req.Target.String())
	switch cmd {
	case "stats":
		a.adminStats(ctx, u)
	case "user":
		a.adminUser(ctx, u, req.Target)
	case "grant":
		a.adminGrant(ctx, u, req.Target, req.Days)
	case "ban", "unban":
		a.adminBan(ctx, u, req.Target, cmd == "ban")
	case "refund":
		a.adminRefund(ctx, u, req.PurchaseID.String())
	case "promo":
		if req.RedeemCode != "" {
			a.redeemPromo(ctx, u, req.RedeemCode)
		} else {
			a.createPromo(ctx, u, req.Promo)
		}
	case "broadcast":
		a.adminBroadcast(ctx, u, req.Text)
	}
	return true
}

func (a *App) adminStats(ctx context.Context, admin store.User) {
	lang := admin.Language
	st, err := a.store.Stats(ctx)
	if err != nil {
		a.fail(ctx, admin.TelegramID, "admin stats", err)
		return
	}
	xrayUsers := "—"
	if n, err := a.xrayUserCount(ctx); err != nil {
		a.log.Warn("xray user count unavailable", "error", err)
	} else {
		xrayUsers = fmt.Sprint(n)
	}
	today, month := []string{}, []string{}
	for _, r := range st.Revenue {
		today = append(today, i18n.FormatMoney(lang, r.Today, r.Currency))
		month = append(month, i18n.FormatMoney(lang, r.Last30Days, r.Currency))
	}
	if len(st.Revenue) == 0 {
		zero := i18n.FormatMoney(lang, 0, a.cfg.Currency)
		today, month = []string{zero}, []string{zero}
	}
	a.reply(ctx, admin.TelegramID, a.texts.T(lang, "admin_stats", map[string]any{
		"Users": st.Users, "Active": st.Active, "Trials": st.Trials,
		"RevenueToday": strings.Join(today, ", "), "Revenue30": strings.Join(month, ", "),
		"XrayUsers": xrayUsers, "DBActive": st.Active + st.Trials,
	}), nil)
}

// xrayUserCount asks a worker for Xray's user count through a short
// workflow. The bot holds no Xray connection (Xray's API is reachable from
// the workers' network only), and a live number is what an admin comparing
// it with the database wants; the last reconciliation's figure could be
// minutes old. The workflow gives up within seconds, and so does the wait.
func (a *App) xrayUserCount(ctx context.Context) (int64, error) {
	ctx, cancel := context.WithTimeout(ctx, xrayCountWait)
	defer cancel()
	run, err := shop.StartXrayUsers(ctx, a.temporal, a.cfg.TaskQueue)
	if err != nil {
		return 0, err
	}
	var n int64
	err = run.Get(ctx, &n)
	return n, err
}

// findUser resolves an admin's target; ok is false (and the admin told)
// when there is no such user.
func (a *App) findUser(ctx context.Context, admin store.User, t target) (store.User, bool) {
	var (
		u   store.User
		err error
	)
	if t.ID > 0 {
		u, err = a.store.GetUser(ctx, t.ID)
	} else {
		u, err = a.store.UserByUsername(ctx, t.Username)
	}
	switch {
	case err == nil:
		return u, true
	case errors.Is(err, store.ErrNotFound), errors.Is(err, store.ErrInvalid):
		a.reply(ctx, admin.TelegramID, a.texts.T(admin.Language, "admin_not_found", nil), nil)
	default:
		a.fail(ctx, admin.TelegramID, "admin find user", err)
	}
	return store.User{}, false
}

func displayName(u store.User) string {
	name := u.FirstName
	if u.Username != "" {
		name += " @" + u.Username
	}
	return fmt.Sprintf("%s (%d)", strings.TrimSpace(name), u.TelegramID)
}

func (a *App) adminUser(ctx context.Context, admin store.User, t target) {
	lang := admin.Language
	u, ok := a.findUser(ctx, admin, t)
	if !ok {
		return
	}
	sub, err := a.store.GetSubscription(ctx, u.TelegramID)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		a.fail(ctx, admin.TelegramID, "admin user subscription", err)
		return
	}
	hasSub := err == nil
	purchases, err := a.store.RecentPurchases(ctx, u.TelegramID, recentPurchases)
	if err != nil {
		a.fail(ctx, admin.TelegramID, "admin user purchases", err)
		return
	}
	count, err := a.store.PurchaseCount(ctx, u.TelegramID)
	if err != nil {
		a.fail(ctx, admin.TelegramID, "admin user purchase count", err)
		return
	}
	referrals, err := a.store.ReferralCount(ctx, u.TelegramID)
	if err != nil {
		a.fail(ctx, admin.TelegramID, "admin user referrals", err)
		return
	}
	username, status, expires := "—", i18n.HTML("—"), any("—")
	if u.Username != "" {
		username = "@" + u.Username
	}
	switch {
	case hasSub:
		status = i18n.HTML(a.texts.T(lang, "status_"+sub.Status, nil))
		expires = sub.ExpiresAt
	case u.Banned:
		status = i18n.HTML(a.texts.T(lang, "status_banned", nil))
	}
	var b strings.Builder
	b.WriteString(a.texts.T(lang, "admin_user", map[string]any{
		"ID": u.TelegramID, "Name": u.FirstName, "Username": username, "Lang": u.Language, "Joined": u.CreatedAt,
		"Status": status, "Expires": expires, "Balance": i18n.FormatMoney(lang, u.Balance, a.cfg.Currency),
		"Purchases": count, "Referrals": referrals,
	}))
	if hasSub {
		fmt.Fprintf(&b, "\n%s ↑ %s ↓ %s", html.EscapeString(sub.XrayEmail), i18n.FormatBytes(lang, sub.TrafficUp), i18n.FormatBytes(lang, sub.TrafficDown))
	}
	b.WriteString("\n\n" + a.texts.T(lang, "admin_user_purchases", nil))
	if len(purchases) == 0 {
		b.WriteString("\n" + a.texts.T(lang, "admin_user_none", nil))
	}
	for _, p := range purchases {
		fmt.Fprintf(&b, "\n• <code>%s</code> %s %s · %s · %s · %s", p.ID, html.EscapeString(p.Kind), html.EscapeString(p.PlanID),
			i18n.FormatMoney(lang, p.Amount, p.Currency), html.EscapeString(p.Provider), html.EscapeString(p.Status))
	}
	b.WriteString("\n\n" + a.texts.T(lang, "admin_user_workflows", nil))
	b.WriteString("\n• " + a.workflowLink(shop.SubscriptionWorkflowID(u.TelegramID)))
	for _, p := range purchases {
		b.WriteString("\n• " + a.workflowLink(shop.PurchaseWorkflowID(p.ID.String())))
	}
	a.reply(ctx, admin.TelegramID, b.String(), nil)
}

// workflowLink is a workflow id as HTML, a link to it in the Temporal UI
// when TEMPORAL_UI_URL is set.
func (a *App) workflowLink(id string) string {
	code := "<code>" + html.EscapeString(id) + "</code>"
	if a.cfg.TemporalUIURL == "" {
		return code
	}
	href := strings.TrimRight(a.cfg.TemporalUIURL, "/") + "/namespaces/" + url.PathEscape(a.cfg.TemporalNamespace) +
		"/workflows?query=" + url.QueryEscape(fmt.Sprintf("WorkflowId=%q", id))
	return `<a href="` + html.EscapeString(href) + `">` + html.EscapeString(id) + "</a>"
}

func (a *App) adminGrant(ctx context.Context, admin store.User, t target, days int) {
	u, ok := a.findUser(ctx, admin, t)
	if !ok {
		return
	}
	ref := uuid.Must(uuid.NewV7()).String()
	var out shop.GrantOutcome
	run, err := shop.StartGrant(ctx, a.temporal, a.cfg.TaskQueue,
		shop.GrantRequest{UserID: u.TelegramID, Days: days, Reference: ref, AdminID: admin.TelegramID})
	err = a.await(ctx, run, err, &out)
	if err != nil {
		a.adminFailed(ctx, admin, shop.GrantWorkflowID(ref), err)
		return
	}
	a.log.Info("admin granted time", "admin_id", admin.TelegramID, "user_id", u.TelegramID, "days", days, "expires_at", out.ExpiresAt)
	a.reply(ctx, admin.TelegramID, a.texts.T(admin.Language, "admin_granted", map[string]any{
		"User": displayName(u), "Duration": time.Duration(days) * 24 * time.Hour,
	}), nil)
}

func (a *App) adminBan(ctx context.Context, admin store.User, t target, ban bool) {
	u, ok := a.findUser(ctx, admin, t)
	if !ok {
		return
	}
	id := shop.ModerationWorkflowID(u.TelegramID)
	var out shop.ModerationOutcome
	run, err := shop.StartModerate(ctx, a.temporal, a.cfg.TaskQueue,
		shop.ModerationRequest{UserID: u.TelegramID, Ban: ban, AdminID: admin.TelegramID})
	err = a.await(ctx, run, err, &out)
	var started *serviceerror.WorkflowExecutionAlreadyStarted
	switch {
	case errors.As(err, &started):
		// A ban and an unban of one user never run at once, so the last
		// command is the one that holds.
		a.reply(ctx, admin.TelegramID, a.texts.T(admin.Language, "admin_busy", map[string]any{"Workflow": id}), nil)
		return
	case err != nil:
		a.adminFailed(ctx, admin, id, err)
		return
	}
	a.log.Info("admin ban", "admin_id", admin.TelegramID, "user_id", u.TelegramID, "banned", out.Banned)
	msg := "admin_unbanned"
	if ban {
		msg = "admin_banned"
	}
	a.reply(ctx, admin.TelegramID, a.texts.T(admin.Language, msg, map[string]any{"User": displayName(u)}), nil)
}

func (a *App) adminRefund(ctx context.Context, admin store.User, purchaseID string) {
	lang := admin.Language
	id := shop.RefundWorkflowID(purchaseID)
	var out shop.RefundOutcome
	// A second /refund while the first runs waits for the same run; one
	// after it starts a run that finds the purchase refunded.
	run, err := shop.StartRefund(ctx, a.temporal, a.cfg.TaskQueue,
		shop.RefundRequest{PurchaseID: purchaseID, AdminID: admin.TelegramID})
	err = a.await(ctx, run, err, &out)
	data := map[string]any{"Purchase": purchaseID}
	switch {
	case err == nil && out.AlreadyRefunded:
		a.reply(ctx, admin.TelegramID, a.texts.T(lang, "admin_refund_already", data), nil)
	case err == nil:
		a.log.Info("admin refund", "admin_id", admin.TelegramID, "purchase_id", purchaseID, "provider", out.Provider, "user_id", out.UserID)
		a.reply(ctx, admin.TelegramID, a.texts.T(lang, "admin_refunded", data), nil)
	case hasErrorType(err, shop.ErrNotFound):
		a.reply(ctx, admin.TelegramID, a.texts.T(lang, "admin_not_found", nil), nil)
	case hasErrorType(err, shop.ErrNotPaid):
		a.reply(ctx, admin.TelegramID, a.texts.T(lang, "admin_refund_not_paid", data), nil)
	default:
		a.adminFailed(ctx, admin, id, err)
	}
}

func (a *App) createPromo(ctx context.Context, admin store.User, t promoTerms) {
	lang := admin.Language
	p, err := a.store.CreatePromo(ctx, store.Promo{Code: t.Code, Kind: t.Kind, Value: t.Value, MaxUses: t.Uses, CreatedBy: admin.TelegramID})
	switch {
	case errors.Is(err, store.ErrPromoExists):
		a.reply(ctx, admin.TelegramID, a.texts.T(lang, "admin_promo_exists", map[string]any{"Code": t.Code}), nil)
	case err != nil:
		a.fail(ctx, admin.TelegramID, "create promo", err)
	default:
		a.log.Info("promo created", "admin_id", admin.TelegramID, "code", p.Code, "kind", p.Kind, "value", p.Value, "uses", p.MaxUses)
		a.reply(ctx, admin.TelegramID, a.texts.T(lang, "admin_promo_created", map[string]any{"Code": p.Code}), nil)
	}
}

// adminBroadcast starts the broadcast and returns: the workflow reports to
// the admin itself, first with the number of recipients.
func (a *App) adminBroadcast(ctx context.Context, admin store.User, text string) {
	id := uuid.Must(uuid.NewV7()).String()
	err := shop.StartBroadcast(ctx, a.temporal, a.cfg.TaskQueue, shop.BroadcastInput{BroadcastID: id, AdminID: admin.TelegramID, Text: text})
	if err != nil {
		a.log.Error("start broadcast", "admin_id", admin.TelegramID, "error", err)
		a.reply(ctx, admin.TelegramID, a.texts.T(admin.Language, "busy_try_again", nil), nil)
		return
	}
	a.log.Info("broadcast started", "admin_id", admin.TelegramID, "broadcast_id", id, "runes", len([]rune(text)))
}

// await waits up to adminWait for the result of an admin or promo workflow
// just started (or the error starting it); errInProgress means it is still
// running (and will finish on its own).
func (a *App) await(ctx context.Context, run client.WorkflowRun, err error, out any) error {
	if err != nil {
		return err
	}
	wctx, cancel := context.WithTimeout(ctx, adminWait)
	defer cancel()
	err = run.Get(wctx, out)
	if err != nil && wctx.Err() != nil && ctx.Err() == nil {
		return errInProgress
	}
	return err
}

// adminFailed tells the admin an action failed or is still running, with
// the workflow to look at.
func (a *App) adminFailed(ctx context.Context, admin store.User, workflowID string, err error) {
	if errors.Is(err, errInProgress) {
		a.reply(ctx, admin.TelegramID, a.texts.T(admin.Language, "admin_in_progress", map[string]any{"Workflow": workflowID}), nil)
		return
	}
	a.log.Error("admin action failed", "admin_id", admin.TelegramID, "workflow_id", workflowID, "error", err)
	a.reply(ctx, admin.TelegramID, a.texts.T(admin.Language, "admin_failed", map[string]any{
		"Workflow": workflowID, "Error": truncate(rootMessage(err), 300),
	}), nil)
}

// hasErrorType reports whether an application error of type typ is
// anywhere in err's chain (a workflow's failure wraps its activity's).
func hasErrorType(err error, typ string) bool {
	for ; err != nil; err = errors.Unwrap(err) {
		if appErr, ok := err.(*temporal.ApplicationError); ok && appErr.Type() == typ {
			return true
		}
	}
	return false
}

// rootMessage is the innermost error's message: the useful part of a
// workflow failure for an admin.
func rootMessage(err error) string {
	for {
		next := errors.Unwrap(err)
		if next == nil {
			return err.Error()
		}
		err = next
	}
}
