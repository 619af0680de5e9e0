package chaos

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"time"
)

// Print writes the report: the audit table, the faults with their recovery
// times, and the violations.
func (r *Report) Print(w io.Writer) {
	kinds := map[Kind]int{}
	hooks := map[string]int{}
	purchases, declines, bans, restarts, errorReplies := 0, 0, 0, 0, 0
	for _, u := range r.Users {
		errorReplies += u.errorReplies
		declines += u.declines
		restarts += u.restarts
		if u.banned {
			bans++
		}
		if u.probe {
			continue
		}
		purchases++
		kinds[u.kind]++
		if u.webhook != "" {
			hooks[u.webhook]++
		}
	}
	fmt.Fprintf(w, "\nchaos report: seed %d, %d purchases (%d Crypto Pay, %d Stars, %d balance, %d trial; webhooks: %d once, %d dropped, %d duplicated), %d banned afterwards, %d probes, %s\n\n",
		r.Seed, purchases, kinds[KindCrypto], kinds[KindStars], kinds[KindBalance], kinds[KindTrial],
		hooks[webhookOnce], hooks[webhookDropped], hooks[webhookDuplicate], bans, len(r.Users)-purchases, r.Elapsed.Round(time.Second))
	if errorReplies > 0 {
		fmt.Fprintf(w, "\"Something went wrong, try again\" answers seen (the user retried): %d\n\n", errorReplies)
	}
	if declines > 0 {
		fmt.Fprintf(w, "Stars pre-checkouts declined: %d; of these, %d made the user start a new purchase (the bot called a live invoice expired)\n\n", declines, restarts)
		for _, u := range r.Users {
			if u.restarts > 0 {
				fmt.Fprintf(w, "  user %d: started over %d time(s), last decline %q\n", u.id, u.restarts, u.lastDecline)
			}
		}
		fmt.Fprintln(w)
	}
	printChecks(w, r.Checks)
	fmt.Fprintf(w, "\n| %-3s | %-14s | %6s | %8s | %9s | %-40s |\n", "#", "fault", "at", "held", "recovery", "")
	fmt.Fprintf(w, "|-----|----------------|--------|----------|-----------|%s|\n", strings.Repeat("-", 42))
	byFault := map[Fault][]time.Duration{}
	for i, in := range r.Injections {
		rec := in.Recovery.Round(100 * time.Millisecond).String()
		if in.Err != nil {
			rec = "FAILED"
		} else {
			byFault[in.Fault] = append(byFault[in.Fault], in.Recovery)
		}
		fmt.Fprintf(w, "| %3d | %-14s | %5.0fs | %8s | %9s | %-40s |\n", i+1, in.Fault, in.At.Seconds(), in.Held.Round(100*time.Millisecond), rec, in.Detail)
	}
	if len(byFault) > 0 {
		fmt.Fprintf(w, "\nrecovery by fault (max):")
		var names []string
		for f := range byFault {
			names = append(names, string(f))
		}
		sort.Strings(names)
		for _, n := range names {
			fmt.Fprintf(w, " %s %s;", n, maxDur(byFault[Fault(n)]).Round(100*time.Millisecond))
		}
		fmt.Fprintln(w)
	}
	printViolations(w, r.Checks)
	if r.OK() {
		fmt.Fprintln(w, "\nchaos: audit clean")
	} else {
		fmt.Fprintln(w, "\nchaos: AUDIT FAILED")
	}
}

func maxDur(ds []time.Duration) time.Duration {
	var m time.Duration
	for _, d := range ds {
		m = max(m, d)
	}
	return m
}

// printChecks writes the checks as a table.
func printChecks(w io.Writer, checks []Check) {
	fmt.Fprintf(w, "| %-64s | %6s | %10s |\n", "check", "items", "violations")
	fmt.Fprintf(w, "|%s|%s|%s|\n", strings.Repeat("-", 66), strings.Repeat("-", 8), strings.Repeat("-", 12))
	for _, c := range checks {
		fmt.Fprintf(w, "| %-64s | %6d | %10d |\n", c.Name, c.Items, len(c.Violations))
	}
}

// printViolations lists each failed check's violations, the first 20.
func printViolations(w io.Writer, checks []Check) {
	for _, c := range checks {
		if c.OK() {
			continue
		}
		fmt.Fprintf(w, "\nVIOLATIONS of %q:\n", c.Name)
		v := sortedViolations(c)
		for i, line := range v {
			if i == 20 {
				fmt.Fprintf(w, "  … and %d more\n", len(v)-20)
				break
			}
			fmt.Fprintf(w, "  %s\n", line)
		}
	}
}

// allOK reports whether every check passed.
func allOK(checks []Check) bool {
	for _, c := range checks {
		if !c.OK() {
			return false
		}
	}
	return true
}
