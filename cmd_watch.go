package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"ulc/actions"
	"ulc/backend"
	"ulc/internal/safetext"
)

// watchHelp is what --help of ulc watch and ulc revoke say about the watch.
const watchHelp = `The watch reads each user's Okta System Log (scope okta.logs.read) from
the run's start, about every 10 seconds (slower when Okta's rate-limit
budget for /api/v1/logs runs low), and prints each sign of re-entry: a
sign-in, an SSO, an MFA, an OAuth token grant, a factor or password
change, a push, a sign-on policy that allowed, or any other success of
the user's. A success after the run is an alarm; a denied attempt shows
that the attacker is trying and the containment holds. Each sign is
recorded in the audit log with the run.`

func newWatchCmd(e *env) *cobra.Command {
	var (
		d      time.Duration
		asJSON bool
	)
	c := &cobra.Command{
		Use:   "watch RUN [--for 30m] [--json]",
		Short: "Watch a past run's users for the attacker's return, from now",
		Long: `Watch the users of a run (its id, or the start of it, as 'ulc audit list'
shows) for signs that someone still gets in, from now for --for.

` + watchHelp + `

Exit status: 0 when no success was seen after the run; 4 when one was
(an alarm: run the containment again and find what it missed); 1 when
Okta refuses ulc's credential the System Log (it needs okta.logs.read),
which ends the watch at once; 2 for a
usage or configuration error (an unknown run, a dry run, a run made with
--no-okta); 3 when the audit log cannot be written.`,
		Example: `  ulc watch 01JD3V8Q --for 30m
  ulc watch 01JD3V8Q --json | jq 'select(.level == "alarm")'`,
		Args: func(c *cobra.Command, args []string) error {
			if len(args) != 1 {
				return usageErr("ulc watch takes one run id (ulc audit list shows them), got %d arguments (see 'ulc watch --help')", len(args))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) (err error) {
			if err := backend.CheckText(args[0]); err != nil {
				return usageErr("RUN: %v", err)
			}
			if d <= 0 {
				return usageErr("--for must be above zero, such as 15m")
			}
			b, err := e.open(cmd.Context(), backend.Options{ConfigPath: e.flags.configPath, Okta: backend.OktaOnDemand, Audit: backend.AuditWrite})
			if err != nil {
				return err
			}
			defer closeInto(&err, b)
			return watchRun(cmd.Context(), e, b, args[0], d, asJSON, "")
		},
	}
	f := c.Flags()
	f.DurationVar(&d, "for", actions.DefaultWatch, "how long to watch, from now")
	f.BoolVar(&asJSON, "json", false, "print one JSON object per sign, then one when the watch ends")
	e.flags.config(f)
	e.flags.audit(f)
	return c
}

// watchEnd is the last line of a watch in --json.
type watchEnd struct {
	Type  string `json:"type"` // "watch_ended"
	RunID string `json:"run_id"`
	actions.WatchTally
	// AuditHead is the audit log's head once watch_ended is recorded: the
	// run summary's head comes before every watch event.
	AuditHead string `json:"audit_head,omitempty"`
}

// watchRun watches run id's users for d, printing each sign, and returns an
// exitError with exitAlarm when a success after the run was seen. skip is
// the stderr hint of how not to watch, if any.
func watchRun(ctx context.Context, e *env, b *backend.Backend, id string, d time.Duration, asJSON bool, skip string) error {
	ch, err := b.Watch(ctx, id, actions.WatchOptions{For: d})
	if err != nil {
		return err
	}
	st, _ := b.State(context.WithoutCancel(ctx), id)
	runID, who := id, ""
	if st != nil {
		runID = st.RunID
		var keys []string
		for _, u := range st.Info.Users {
			keys = append(keys, u.Key())
		}
		who = usersPhrase(keys)
	}
	hint := "ctrl+c ends it"
	if skip != "" {
		hint = skip + ", ctrl+c ends it"
	}
	fmt.Fprintf(e.stderr, "watching %s for %s (until %s) for signs of re-entry in Okta's System Log; %s\n",
		who, d, time.Now().Add(d).Format("15:04:05"), hint)
	enc := json.NewEncoder(e.stdout)
	enc.SetEscapeHTML(false)
	var last actions.WatchUpdate
	said := ""
	for u := range ch {
		if u.Err != "" && u.Err != said {
			// A failure that repeats every round is said once.
			fmt.Fprintf(e.stderr, "ulc: watch: %s\n", safetext.Line(u.Err, 300))
			said = u.Err
		}
		if u.Sign != nil {
			s := *u.Sign
			if asJSON {
				_ = enc.Encode(s) // a failed write is kept by main's output and sets the exit status
			} else {
				fmt.Fprintln(e.stdout, s.Line())
				if s.Level == actions.SignAlarm {
					fmt.Fprintln(e.stdout, "  → "+safetext.Line(s.Advice, 400))
				}
			}
		}
		if u.Done {
			last = u
		}
	}
	t := last.Tally
	if asJSON {
		_ = enc.Encode(watchEnd{Type: "watch_ended", RunID: runID, WatchTally: t, AuditHead: last.Head})
	} else {
		fmt.Fprintf(e.stdout, "watch of run %s ended (%s): %s, %s, %d earlier, %d System Log requests\n",
			runID, safetext.Line(t.Reason, 80), plural(t.Alarms, "alarm"), plural(t.Attempts, "denied attempt"), t.Earlier, t.Polls)
		if last.Head != "" {
			fmt.Fprintf(e.stdout, "audit log %s, head %s\n", b.AuditPath(), last.Head)
		}
	}
	if last.Err != "" {
		return &exitError{code: exitAudit, err: fmt.Errorf("watch: %s", last.Err)}
	}
	if t.Alarms == 0 && t.Reason == string(actions.WatchRefused) {
		return &exitError{code: exitFailures, err: fmt.Errorf("the watch cannot read the System Log: give ulc's Okta credential okta.logs.read (or an admin role that may read the System Log), or skip the watch")}
	}
	if t.Alarms > 0 {
		return &exitError{code: exitAlarm, err: fmt.Errorf("alarm: %s after run %s, someone got in: run the containment again and revoke what it missed (see above)",
			plural(t.Alarms, "success"), runID)}
	}
	return nil
}

// usersPhrase names a run's users in a sentence: up to three, then how
// many more.
func usersPhrase(keys []string) string {
	for i, k := range keys {
		keys[i] = safetext.Line(k, 80)
	}
	if len(keys) > 3 {
		return strings.Join(keys[:3], ", ") + fmt.Sprintf(" and %d more", len(keys)-3)
	}
	return strings.Join(keys, ", ")
}

// plural is "1 alarm" or "2 alarms"; "success" takes "es".
func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	if strings.HasSuffix(word, "s") {
		return fmt.Sprintf("%d %ses", n, word)
	}
	return fmt.Sprintf("%d %ss", n, word)
}
