package workflows

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"

	"vpnflow/activities"
	"vpnflow/internal/notice"
	"vpnflow/internal/shop"
)

// answers are the notices that replaced a message, as "message→id".
func (se *subEnv) answers() []string {
	var out []string
	for _, n := range se.sent {
		if n.Replace != 0 {
			out = append(out, n.Message+"→"+itoa(n.Replace))
		}
	}
	return out
}

func itoa(n int) string { return strconv.Itoa(n) }

// TestSubscriptionAnswersHandedOverRequests: a request the bot handed over
// (with a Reply) is answered by the workflow in place of the bot's
// "working on it" message: the trial started or already used, the key
// reissued, auto-renewal switched.
func TestSubscriptionAnswersHandedOverRequests(t *testing.T) {
	se, _ := reissueEnv(t, false)
	trials := 0
	se.OnActivity(se.a.StartTrial, mock.Anything, mock.Anything).Return(func(_ context.Context, _ activities.UserRef) (shop.TrialResult, error) {
		if trials++; trials > 1 {
			return shop.TrialResult{}, temporal.NewNonRetryableApplicationError("used", shop.ErrTrialUsed, nil)
		}
		return shop.TrialResult{ExpiresAt: se.Now().Add(72 * time.Hour)}, nil
	})
	se.OnActivity(se.a.SetAutoRenew, mock.Anything, mock.Anything).Return(nil)
	reply := func(id int) *shop.Reply { return &shop.Reply{MessageID: id} }
	var trial, reissued, renew, used error
	at := func(d time.Duration, f func()) { se.RegisterDelayedCallback(f, d) }
	at(time.Second, func() {
		se.UpdateWorkflow(shop.UpdateStartTrial, "t1", updateResult(&trial), shop.TrialRequest{Reply: reply(11)})
	})
	at(time.Hour, func() {
		se.UpdateWorkflow(shop.UpdateReissue, "r1", updateResult(&reissued), shop.ReissueRequest{Reply: reply(12)})
	})
	at(2*time.Hour, func() {
		se.UpdateWorkflow(shop.UpdateSetAutoRenew, "a1", updateResult(&renew), shop.AutoRenewRequest{On: false, Reply: reply(13)})
	})
	at(80*time.Hour, func() {
		se.UpdateWorkflow(shop.UpdateStartTrial, "t2", updateResult(&used), shop.TrialRequest{Reply: reply(14)})
	})
	at(81*time.Hour, func() { se.CancelWorkflow() })

	se.ExecuteWorkflow(Subscription, shop.SubscriptionInput{UserID: 42, Policy: testPolicy})

	require.NoError(t, trial)
	require.NoError(t, reissued)
	require.NoError(t, renew)
	require.Error(t, used)
	require.Equal(t, []string{"trial_started→11", "reissue_done→12", "autorenew_disabled→13", "trial_used→14"}, se.answers())
	for _, n := range se.sent {
		if n.Message == "trial_started" {
			require.Equal(t, 72*time.Hour, n.Left, "the trial's length, for its text")
		}
	}
}

// TestSubscriptionHandedOverReissueFailureAnswersOnce: a failed reissue
// the bot handed over is answered in place of its message, and only
// there.
func TestSubscriptionHandedOverReissueFailureAnswersOnce(t *testing.T) {
	se, _ := reissueEnv(t, true)
	se.extendAt(time.Second, "purchase:a", 30*24*time.Hour)
	var err error
	se.RegisterDelayedCallback(func() {
		se.UpdateWorkflow(shop.UpdateReissue, "r1", updateResult(&err), shop.ReissueRequest{Reply: &shop.Reply{MessageID: 21}})
	}, time.Hour)
	se.RegisterDelayedCallback(func() { se.CancelWorkflow() }, 2*time.Hour)
	se.ExecuteWorkflow(Subscription, shop.SubscriptionInput{UserID: 42, Policy: testPolicy})

	require.Error(t, err)
	require.Equal(t, []string{"reissue_failed→21"}, se.answers())
	require.Equal(t, []string{"reissue_failed"}, se.notices)
}

// A request without a Reply (a bot that waited for the outcome itself)
// gets no notice, as before the hand-over.
func TestSubscriptionUnrepliedRequestGetsNoNotice(t *testing.T) {
	se, _ := reissueEnv(t, false)
	se.extendAt(time.Second, "purchase:a", 30*24*time.Hour)
	var err error
	se.RegisterDelayedCallback(func() { se.UpdateWorkflow(shop.UpdateReissue, "r1", updateResult(&err), shop.ReissueRequest{}) }, time.Hour)
	se.RegisterDelayedCallback(func() { se.CancelWorkflow() }, 2*time.Hour)
	se.ExecuteWorkflow(Subscription, shop.SubscriptionInput{UserID: 42, Policy: testPolicy})
	require.NoError(t, err)
	require.Empty(t, se.answers())
	require.NotContains(t, se.notices, notice.ReissueDone().Message)
}
