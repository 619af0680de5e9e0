package shop

import "vpnflow/internal/notice"

// Outgoing is a message a workflow has queued for its user and not yet
// delivered: a notice, or the key message (KeyReason set, as in
// "activated"). Subscription runs carry undelivered ones over a
// continue-as-new in SubscriptionInput.Outbox.
type Outgoing struct {
	Notice    *notice.Notice `json:",omitempty"`
	KeyReason string         `json:",omitempty"`
}
