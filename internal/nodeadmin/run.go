package nodeadmin

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"vpnflow/internal/store"
)

// Drainer starts moving a drained node's users to other nodes (the
// NodeEvacuation workflow) and says at what rate, users a minute.
type Drainer func(ctx context.Context, n store.Node) (perMinute int, err error)

// Run carries out a request against the node rows and describes the
// outcome in plain text (the node list, or what changed). An error that
// is the operator's input — bad syntax, a value Validate refuses, a name
// taken or unknown — satisfies IsInputError and says what is wrong. A
// drain of a node with live users starts moving them through drain; a
// nil drain leaves them where they are.
func Run(ctx context.Context, st *store.Store, req Request, now time.Time, drain Drainer) (string, error) {
	switch req.Op {
	case OpList:
		usage, err := st.NodeUsages(ctx)
		if err != nil {
			return "", err
		}
		return Format(usage, now), nil
	case OpAdd:
		n, err := Apply(NewNode(), req.Fields)
		if err != nil {
			return "", err
		}
		added, err := st.AddNode(ctx, n)
		if err != nil {
			return "", err
		}
		return fmt.Sprintf("node %s added (id %d, region %s, capacity %d, enabled): the worker dials it on its first call\n",
			added.Name, added.ID, orNone(added.Region), added.Capacity), nil
	case OpSet:
		cur, err := st.NodeByName(ctx, req.Name)
		if err != nil {
			return "", err
		}
		n, err := Apply(cur, req.Fields)
		if err != nil {
			return "", err
		}
		if _, err := st.UpdateNode(ctx, n); err != nil {
			return "", err
		}
		return fmt.Sprintf("node %s changed: %s\n", n.Name, describeFields(req.Fields)), nil
	case OpDrain, OpDisable, OpEnable:
		n, changed, err := st.SetNodeState(ctx, req.Name, stateOf(req.Op))
		if err != nil {
			return "", err
		}
		msg := fmt.Sprintf("node %s is now %s", n.Name, n.State)
		if !changed {
			msg = fmt.Sprintf("node %s is already %s", n.Name, n.State)
		}
		if n.State == store.NodeEnabled {
			return msg + "\n", nil
		}
		users, err := liveUsers(ctx, st, n.ID)
		if err != nil {
			return "", err
		}
		switch {
		case n.State == store.NodeDisabled && users > 0:
			msg += fmt.Sprintf("; %d users still live on it keep their keys there, unprobed and unreconciled, until they are moved", users)
		case users > 0 && drain != nil:
			// Asked again, the drain joins the evacuation already running.
			perMinute, err := drain(ctx, n)
			if err != nil {
				return "", fmt.Errorf("start moving the users of node %s: %w", n.Name, err)
			}
			msg += fmt.Sprintf("; its %d live users move to other nodes, %d a minute", users, perMinute)
		case users > 0:
			msg += fmt.Sprintf("; its %d live users stay", users)
		}
		return msg + "\n", nil
	}
	return "", usageError("unknown operation %q", req.Op)
}

// IsInputError reports whether err is the operator's to fix.
func IsInputError(err error) bool {
	return errors.Is(err, ErrUsage) || errors.Is(err, store.ErrInvalid) || errors.Is(err, store.ErrNodeExists) ||
		errors.Is(err, store.ErrNotFound)
}

// InputMessage is what to tell the operator about an input error: the
// message without the operation's wrapping.
func InputMessage(err error) string {
	switch {
	case errors.Is(err, store.ErrNotFound):
		return "no node of that name (see the list)"
	case errors.Is(err, store.ErrNodeExists):
		return "a node of that name exists (change it with set)"
	}
	msg := err.Error()
	for _, prefix := range []string{ErrUsage.Error() + ": ", store.ErrInvalid.Error() + ": "} {
		if i := strings.Index(msg, prefix); i >= 0 {
			msg = msg[i+len(prefix):]
		}
	}
	return msg
}

func liveUsers(ctx context.Context, st *store.Store, id int16) (int, error) {
	usage, err := st.NodeUsages(ctx)
	if err != nil {
		return 0, err
	}
	for _, u := range usage {
		if u.ID == id {
			return u.Users, nil
		}
	}
	return 0, nil
}

func describeFields(f map[string]string) string {
	var parts []string
	for _, k := range fields {
		if v, ok := f[k]; ok {
			parts = append(parts, k+"="+v)
		}
	}
	return strings.Join(parts, " ")
}

// Format is the node list: a line per node with its live users against
// its capacity and its health as the health check last saw it, then a
// line per node with its addresses.
func Format(nodes []store.NodeUsage, now time.Time) string {
	if len(nodes) == 0 {
		return "no nodes\n"
	}
	var b strings.Builder
	w := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "ID\tNODE\tREGION\tSTATE\tUSERS\tHEALTH")
	for _, n := range nodes {
		fmt.Fprintf(w, "%d\t%s\t%s\t%s\t%d/%d\t%s\n", n.ID, n.Name, orNone(n.Region), n.State, n.Users, n.Capacity, Health(n.Node, now))
	}
	w.Flush()
	b.WriteString("\n")
	for _, n := range nodes {
		fmt.Fprintf(&b, "%s: api %s inbound %s, links to %s:%d sni %s", n.Name, n.APIAddr, n.InboundTag, n.Host, n.Port, orNone(n.SNI))
		if n.AgentURL != "" {
			fmt.Fprintf(&b, "; sessions ended by its agent %s", n.AgentURL)
		}
		if n.FailedOverAt != nil {
			// Why a node is draining though nobody drained it, and that
			// enabling it again is the operator's call.
			fmt.Fprintf(&b, "; failed over %s", ago(now, *n.FailedOverAt))
		}
		b.WriteString("\n")
	}
	return b.String()
}

// Health describes a node's last probe by the health check.
func Health(n store.Node, now time.Time) string {
	switch {
	case n.State == store.NodeDisabled:
		return "not probed (disabled)"
	case n.CheckedAt == nil:
		return "not probed yet"
	case n.HealthError == "":
		return "up, probed " + ago(now, *n.CheckedAt)
	}
	last := "never answered"
	if n.HealthyAt != nil {
		last = "last answered " + ago(now, *n.HealthyAt)
	}
	msg := n.HealthError
	if r := []rune(msg); len(r) > 80 {
		msg = string(r[:80]) + "…"
	}
	return fmt.Sprintf("DOWN, probed %s, %s: %s", ago(now, *n.CheckedAt), last, msg)
}

func ago(now, t time.Time) string {
	d := now.Sub(t)
	if d < 0 {
		d = 0
	}
	return d.Round(time.Second).String() + " ago"
}

func orNone(s string) string {
	if s == "" {
		return "—"
	}
	return s
}
