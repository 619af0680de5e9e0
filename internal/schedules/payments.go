package schedules

import "time"

// The payments sweep makes sure no payment is lost whatever crashed: it
// reads Telegram's Stars transactions (getStarTransactions) and Crypto
// Pay's paid invoices (getInvoices status=paid), and hands every payment
// the database has not credited to its purchase/<id> workflow.
const (
	PaymentsSweepID           = "vpnflow-payments-sweep"
	PaymentsSweepWorkflowType = "PaymentsSweep"
	PaymentsSweepEvery        = 5 * time.Minute
)

// Payments sweep defaults.
const (
	// DefaultStarGrace is how long a recorded Stars payment may stay
	// unhandled before the sweep hands it over again: the bot signals at
	// once, and a credit takes seconds.
	DefaultStarGrace = 5 * time.Minute
	// DefaultInvoiceLookback is how far back, by creation, paid Crypto Pay
	// invoices are checked against the database.
	DefaultInvoiceLookback = 72 * time.Hour
	// DefaultSweepPages bounds the pages of each provider's list read per
	// run; the next run goes on from there.
	DefaultSweepPages = 20
)

// PaymentsSweepInput starts a PaymentsSweep run; zero fields take the
// defaults.
type PaymentsSweepInput struct {
	StarGrace       time.Duration
	InvoiceLookback time.Duration
	MaxPages        int
}

// WithDefaults fills in zero fields.
func (in PaymentsSweepInput) WithDefaults() PaymentsSweepInput {
	if in.StarGrace <= 0 {
		in.StarGrace = DefaultStarGrace
	}
	if in.InvoiceLookback <= 0 {
		in.InvoiceLookback = DefaultInvoiceLookback
	}
	if in.MaxPages <= 0 {
		in.MaxPages = DefaultSweepPages
	}
	return in
}

func paymentsSweepDefinition() Definition {
	return Definition{
		ID:       PaymentsSweepID,
		Workflow: PaymentsSweepWorkflowType,
		Every:    PaymentsSweepEvery,
		Jitter:   jitter(PaymentsSweepEvery),
		Catchup:  catchup(PaymentsSweepEvery),
		Timeout:  time.Hour,
		Args:     PaymentsSweepInput{},
	}
}
