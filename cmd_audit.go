package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"ulc/actions"
	"ulc/backend"
	"ulc/history"
	"ulc/internal/safetext"
)

func newAuditCmd(e *env) *cobra.Command {
	c := &cobra.Command{
		Use:   "audit",
		Short: "Review, verify and export the audit log",
		Long: `The audit log is append-only and hash-chained: every event carries the hash
of the one before it, so 'ulc audit verify' can prove that nothing was
changed, removed or reordered, and prints the head hash to paste into the
ticket. Every audit command but forward only reads: it opens the log
read-only, so a read-only copy handed to an auditor works. (forward records,
outside the hash chain, how far each SIEM has received the log.)`,
	}
	e.flags.audit(c.PersistentFlags())
	c.AddCommand(newAuditListCmd(e), newAuditShowCmd(e), newAuditVerifyCmd(e), newAuditExportCmd(e), newAuditForwardCmd(e),
		newAuditEvidenceCmd(e))
	return c
}

// openLog opens the audit log read-only for a command that only reads.
func (e *env) openLog(ctx context.Context) (*backend.Backend, error) {
	return e.open(ctx, backend.Options{Audit: backend.AuditRead})
}

func newAuditListCmd(e *env) *cobra.Command {
	var lf struct {
		user, since, outcome string
		limit                int
		json                 bool
	}
	list := &cobra.Command{
		Use:   "list",
		Short: "List runs, newest first",
		Example: `  ulc audit list --since 7d
  ulc audit list --user neo@example.com --outcome failed --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) (err error) {
			f := backend.RunFilter{User: lf.user, Outcome: actions.Outcome(lf.outcome), Limit: lf.limit}
			if err := backend.CheckText(lf.user); err != nil {
				return usageErr("--user: %v", err)
			}
			if lf.since != "" {
				t, err := parseSince(lf.since, time.Now())
				if err != nil {
					return usageErr("--since: %v", err)
				}
				f.Since = t
			}
			if lf.outcome != "" && !validOutcome(lf.outcome) {
				return usageErr("--outcome %q: want one of %s", safetext.Line(lf.outcome, 40), outcomeNames())
			}
			b, err := e.openLog(cmd.Context())
			if err != nil {
				return err
			}
			defer closeInto(&err, b)
			runs, err := b.Runs(cmd.Context(), f)
			if err != nil {
				return &exitError{code: exitAudit, err: err}
			}
			if lf.json {
				if runs == nil {
					runs = []backend.RunSummary{}
				}
				return writeJSON(e.stdout, runs)
			}
			printRuns(e.stdout, runs)
			return nil
		},
	}
	list.Flags().StringVar(&lf.user, "user", "", "only runs that acted on this user (login, email or id)")
	list.Flags().StringVar(&lf.since, "since", "", "only runs since: a duration (24h, 7d) or a date (2026-11-01)")
	list.Flags().StringVar(&lf.outcome, "outcome", "", "only runs with at least one step of this outcome")
	list.Flags().IntVar(&lf.limit, "limit", 50, "at most this many runs")
	list.Flags().BoolVar(&lf.json, "json", false, "print JSON")
	return list
}

// printRuns writes the run list for a person.
func printRuns(w io.Writer, runs []backend.RunSummary) {
	if len(runs) == 0 {
		fmt.Fprintln(w, "no runs")
		return
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "RUN\tSTARTED\tOPERATOR\tUSERS\tREASON\tTICKET\tRESULT")
	for _, r := range runs {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", safetext.Line(r.RunID, 40), r.Started.Local().Format("2006-01-02 15:04"),
			safetext.Line(r.Info.Operator, 20), usersCell(r.Info.Users), safetext.Line(r.Info.Reason, 40),
			safetext.Line(r.Info.Ticket, 16), countsCell(r))
	}
	_ = tw.Flush() // a failed write is kept by main's output and sets the exit status
}

func newAuditShowCmd(e *env) *cobra.Command {
	var showJSON bool
	show := &cobra.Command{
		Use:   "show RUN",
		Short: "Show one run: its plan, every step's outcome and its event timeline",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) (err error) {
			if err := backend.CheckText(args[0]); err != nil {
				return usageErr("%v", err)
			}
			b, err := e.openLog(cmd.Context())
			if err != nil {
				return err
			}
			defer closeInto(&err, b)
			st, events, err := b.Run(cmd.Context(), args[0])
			if err != nil {
				return &exitError{code: exitUsage, err: err}
			}
			if showJSON {
				return writeJSON(e.stdout, struct {
					RunID       string               `json:"run_id"`
					Info        actions.RunInfo      `json:"info"`
					Interrupted bool                 `json:"interrupted"`
					Steps       []*actions.StepState `json:"steps"`
					Events      []actions.Event      `json:"events"`
				}{st.RunID, st.Info, !st.Done, st.Steps, events})
			}
			printRun(e.stdout, st, events)
			return nil
		},
	}
	show.Flags().BoolVar(&showJSON, "json", false, "print JSON")
	return show
}

func newAuditVerifyCmd(e *env) *cobra.Command {
	var vf struct {
		head, evidence string
		json           bool
	}
	verify := &cobra.Command{
		Use:   "verify",
		Short: "Prove the log is intact: print its head hash, or the first broken event",
		Long: `Recomputes the hash chain over every event. Prints the head hash when the
chain is intact (paste it into the ticket), or the sequence number of the
first event that was changed, removed or reordered. With --head, also checks
that a head hash printed earlier is still part of the chain, which detects
events cut off the end. The log is opened read-only: a read-only copy, in a
folder the auditor cannot write, verifies. Exit status 0 when intact, 1 when
not.

With --evidence, checks a bundle of 'ulc audit evidence' instead: on its
own, or with --audit-db also against that log, proving it a true extract.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) (err error) {
			if vf.evidence != "" {
				if vf.head != "" {
					return usageErr("--head checks a log, --evidence a bundle: give one of them")
				}
				return verifyEvidence(cmd.Context(), e, vf.evidence, vf.json)
			}
			if h := strings.TrimSpace(vf.head); h != "" && !isSHA256Hex(h) {
				return usageErr("--head %q is not a head hash: give the 64 hexadecimal digits ulc audit verify printed", safetext.Line(vf.head, 80))
			}
			b, err := e.openLog(cmd.Context())
			if err != nil {
				return err
			}
			defer closeInto(&err, b)
			res, err := b.Verify(cmd.Context(), vf.head)
			if err != nil {
				return &exitError{code: exitAudit, err: err}
			}
			if vf.json {
				if err := writeJSON(e.stdout, res); err != nil {
					return err
				}
			} else if res.OK {
				fmt.Fprintf(e.stdout, "intact: %d events, head %d %s\n", res.Events, res.HeadSeq, res.Head)
			} else {
				fmt.Fprintf(e.stdout, "BROKEN at event %d: %s\n", res.BrokenSeq, safetext.Line(res.Problem, 0))
			}
			if !res.OK {
				return &exitError{code: exitFailures}
			}
			return nil
		},
	}
	verify.Flags().StringVar(&vf.head, "head", "", "a head hash printed earlier that must still be in the chain")
	verify.Flags().StringVar(&vf.evidence, "evidence", "", "check this evidence bundle (a folder or a .zip) instead of the log; with --audit-db, also against that log")
	verify.Flags().BoolVar(&vf.json, "json", false, "print JSON")
	return verify
}

func newAuditExportCmd(e *env) *cobra.Command {
	var xf struct{ format, run, out string }
	export := &cobra.Command{
		Use:   "export",
		Short: "Export events as JSON lines or CSV, with their hashes",
		Example: `  ulc audit export --format jsonl > audit.jsonl
  ulc audit export --format csv --run 20261121-194512-3f9a2c -o run.csv`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) (err error) {
			if xf.format != "jsonl" && xf.format != "csv" {
				return usageErr("--format %q: want jsonl or csv", safetext.Line(xf.format, 40))
			}
			if err := backend.CheckText(xf.run); err != nil {
				return usageErr("--run: %v", err)
			}
			b, err := e.openLog(cmd.Context())
			if err != nil {
				return err
			}
			defer closeInto(&err, b)
			runID := ""
			if xf.run != "" {
				st, _, err := b.Run(cmd.Context(), xf.run)
				if err != nil {
					return &exitError{code: exitUsage, err: err}
				}
				runID = st.RunID
			}
			w := io.Writer(e.stdout)
			if xf.out != "" && xf.out != "-" {
				f, oerr := os.OpenFile(xf.out, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
				if oerr != nil {
					return usageErr("-o: %v", oerr)
				}
				// Closing is where a full disk shows: it is the command's
				// error, not a silent loss of the export.
				defer closeInto(&err, f)
				w = f
			}
			if err := b.Export(cmd.Context(), w, xf.format, runID); err != nil {
				return &exitError{code: exitAudit, err: err}
			}
			return nil
		},
	}
	export.Flags().StringVar(&xf.format, "format", "jsonl", "jsonl or csv")
	export.Flags().StringVar(&xf.run, "run", "", "only this run (id or unique prefix)")
	export.Flags().StringVarP(&xf.out, "output", "o", "", "write to this new file instead of stdout")
	return export
}

// printRun writes a run for a person: who, why, every step, the timeline.
func printRun(w io.Writer, st *actions.RunState, events []actions.Event) {
	i := st.Info
	state := history.Ended(st.Counts())
	switch {
	case !st.Done && st.Pending() > 0:
		// An unfinished run is settled unless its process still runs.
		state = fmt.Sprintf("in progress: pid %d on %s", i.PID, safetext.Line(i.Host, 40))
	case !st.Done:
		state = "INTERRUPTED (the process ended before the run finished)"
	case i.DryRun:
		state = history.StateDryRun
	case state == history.StateCancelled:
		state = "cancelled by the operator"
	}
	fmt.Fprintf(w, "run       %s (%s)\n", safetext.Line(st.RunID, 60), state)
	fmt.Fprintf(w, "started   %s by %s on %s (ulc %s)\n", st.Started.Local().Format(time.RFC3339),
		safetext.Line(i.Operator, 40), safetext.Line(i.Host, 40), safetext.Line(i.Version, 20))
	fmt.Fprintf(w, "reason    %s\n", safetext.Line(i.Reason, 200))
	if i.Ticket != "" {
		fmt.Fprintf(w, "ticket    %s\n", safetext.Line(i.Ticket, 80))
	}
	if i.ResumeOf != "" {
		fmt.Fprintf(w, "resumes   %s\n", safetext.Line(i.ResumeOf, 60))
	}
	if i.DryRun {
		fmt.Fprintln(w, "dry run   nothing was sent")
	}
	fmt.Fprintf(w, "users     %s\n", usersCell(i.Users))
	fmt.Fprintf(w, "config    %s %s\n\n", safetext.Line(i.ConfigPath, 80), safetext.Line(i.ConfigDigest, 80))

	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "STEP\tUSER\tTARGET\tOUTCOME\tHTTP\tTRIES\tMS\tDETAIL")
	for _, s := range st.Steps {
		name := s.Target
		if s.Action.Okta() {
			name = string(s.Action)
		}
		status := "-"
		if s.HTTPStatus != 0 {
			status = strconv.Itoa(s.HTTPStatus)
		}
		detail := safetext.Line(s.Error, 80)
		if s.ErrorCode != "" {
			detail = strings.TrimSpace(detail + " [" + safetext.Line(s.ErrorCode+" "+s.ErrorID, 80) + "]")
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%d\t%d\t%s\n", s.Step, safetext.Line(s.User, 32), safetext.Line(name, 40),
			safetext.Line(string(s.Outcome), 20), status, s.Attempts, s.StepMS, detail)
	}
	_ = tw.Flush() // a failed write is kept by main's output and sets the exit status

	fmt.Fprintln(w, "\ntimeline")
	for _, ev := range events {
		if ev.Kind == actions.KindPlanned {
			continue
		}
		what := ev.Describe()
		if w, ok := actions.DescribeWatch(ev); ok {
			what = w
		}
		line := fmt.Sprintf("  %s  #%-5d %s", ev.Time.Local().Format("15:04:05.000"), ev.Seq, safetext.Line(what, 0))
		fmt.Fprintln(w, line)
	}
}

func usersCell(us []actions.User) string {
	switch len(us) {
	case 0:
		return "-"
	case 1:
		return safetext.Line(us[0].Key(), 40)
	}
	return fmt.Sprintf("%s +%d", safetext.Line(us[0].Key(), 32), len(us)-1)
}

func countsCell(r backend.RunSummary) string {
	s := actions.Tally(r.Counts, nil)
	switch {
	case r.Interrupted:
		s = "INTERRUPTED: " + s
	case r.InProgress:
		s = "in progress: " + s
	case r.State() == history.StateCancelled:
		s = "cancelled: " + s
	}
	return s
}

func validOutcome(s string) bool {
	for _, o := range actions.Outcomes {
		if string(o) == s {
			return true
		}
	}
	return false
}

func outcomeNames() string {
	var s []string
	for _, o := range actions.Outcomes {
		s = append(s, string(o))
	}
	return strings.Join(s, ", ")
}

// parseSince reads "24h", "7d", "2026-11-01" or an RFC 3339 time.
func parseSince(s string, now time.Time) (time.Time, error) {
	if n, ok := strings.CutSuffix(s, "d"); ok {
		if d, err := strconv.Atoi(n); err == nil && d >= 0 {
			return now.AddDate(0, 0, -d), nil
		}
	}
	if d, err := time.ParseDuration(s); err == nil && d >= 0 {
		return now.Add(-d), nil
	}
	if t, err := time.ParseInLocation("2006-01-02", s, time.Local); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("%q is not a duration (24h, 7d) or a date (2006-01-02)", s)
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// isSHA256Hex reports whether s is 64 hexadecimal digits.
func isSHA256Hex(s string) bool {
	if len(s) != 64 {
		return false
	}
	for _, r := range s {
		if !strings.ContainsRune("0123456789abcdefABCDEF", r) {
			return false
		}
	}
	return true
}
