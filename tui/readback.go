package tui

import (
	"strings"
	"time"

	"ulc/actions"
	"ulc/config"
)

// A step's read-back is what the system said when asked, after it accepted
// the step, whether the step took effect: Okta's user status and last
// sign-in, Microsoft's signInSessionsValidFromDateTime. Verified (the
// read-back proved it) is shown apart from accepted (only the answer is
// known), and a read-back that contradicts the answer as a warning.

// verdict is a step's read-back in one value: noReadBack when none was
// made (or the step has no answer yet), else contradicted or verified.
type verdict int8

const (
	noReadBack verdict = iota
	contradicted
	verified
)

// verdictOf is step s's read-back.
func verdictOf(s *actions.StepState) verdict {
	switch {
	case s.Verified == nil || s.Outcome == "":
		return noReadBack
	case *s.Verified:
		return verified
	}
	return contradicted
}

// verdictCounts is how many of steps have each read-back verdict.
func verdictCounts(steps []*actions.StepState) (n [3]int) {
	for _, s := range steps {
		n[verdictOf(s)]++
	}
	return n
}

// Marks of a step's read-back, in place of its outcome's: a symbol and a
// word each, so neither depends on colour.
const (
	verifiedMark     = "✓✓ verified"
	contradictedMark = "⚠ unverified"
)

// stepMark is step s's mark in a table's OUTCOME column: its outcome's,
// unless a read-back verified or contradicted it.
func (st styles) stepMark(s *actions.StepState) string {
	switch verdictOf(s) {
	case verified:
		return st.outcome[actions.Revoked].Bold(true).Render(verifiedMark)
	case contradicted:
		return st.outcome[actions.Unknown].Render(contradictedMark)
	}
	return st.renderOutcome(s.Outcome, outcomeMark(s.Outcome))
}

// markWord is the word of stepMark, for the board's filter.
func markWord(s *actions.StepState) string {
	switch verdictOf(s) {
	case verified:
		return "verified"
	case contradicted:
		return "unverified"
	}
	return outcomeWord(s.Outcome)
}

// systemOf names where an operator checks step s's user by hand.
func systemOf(s *actions.StepState) string {
	switch {
	case s.Action.Okta():
		return "the Okta admin console"
	case s.Action == actions.Action(config.KindMicrosoft):
		return "the Entra admin center"
	}
	return "the app's admin console"
}

// readBackNote is the read-back in a sentence for a step's reason: what
// was read when it verified the step; when it contradicted it, what that
// means and what to do. "" when no read-back was made.
func readBackNote(s *actions.StepState) string {
	ev := clean(s.Evidence, 300)
	switch verdictOf(s) {
	case verified:
		if ev == "" {
			return "verified by a read-back"
		}
		return "verified: " + ev
	case contradicted:
		if s.Error != "" {
			// The connector said what it read and what to do.
			return "NOT verified: " + clean(s.Error, 600)
		}
		if ev == "" {
			ev = "no detail recorded"
		}
		return "NOT verified: the step was accepted, but the read-back says otherwise (" + ev +
			"): the user may still get in; check them in " + systemOf(s) + ", and revoke them again if it has not changed"
	}
	return ""
}

// readBackDetail is the detail view's Read-back row: the verdict, the
// evidence, and the run's start to compare its times with (the evidence
// reads UTC). "" for a step without a read-back.
func (st styles) readBackDetail(s *actions.StepState, started time.Time) string {
	began := ""
	if !started.IsZero() {
		began = "\nthe run began " + started.UTC().Format(time.RFC3339)
	}
	ev := clean(s.Evidence, 300)
	switch verdictOf(s) {
	case verified:
		return st.stepMark(s) + ": " + ev + began
	case contradicted:
		return st.stepMark(s) + ": " + ev + began + "\n" + readBackNote(s)
	}
	// No read-back: the outcome's answer is all that is known, and the
	// Outcome row says it.
	return ""
}

// reasonCell is a step's REASON cell: its reason, or, when it has none or
// a read-back contradicted it, the read-back's note.
func reasonCell(s *actions.StepState) string {
	if verdictOf(s) == contradicted || s.Error == "" {
		if note := readBackNote(s); note != "" {
			return note
		}
	}
	return clean(s.Error, 200)
}

// trimLines is s without the spaces wrap pads its lines with.
func trimLines(s string) string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = strings.TrimRight(l, " ")
	}
	return strings.Join(lines, "\n")
}

// says is "1 read-back says" or "2 read-backs say".
func says(n int) string {
	if n == 1 {
		return "1 read-back says"
	}
	return plural(n, "read-back") + " say"
}
