package audit

import (
	"bytes"
	"encoding/json"
	"fmt"
	"html/template"
	"sort"
	"strconv"
	"strings"
	"time"

	"ulc/actions"
	"ulc/internal/safetext"
)

// The report is built once as plain values (doc), then written as Markdown
// and as HTML. Every value from outside (a reason, a ticket, a user's
// name, a target's answer) is made one printable line by safetext first;
// the Markdown writer then escapes every ASCII punctuation character, so
// no value can open a link, an image, an HTML tag or a table cell, and the
// HTML writer is html/template, which escapes everything it is given.

// doc is the report's content.
type doc struct {
	Title    string
	Intro    []string
	Runs     []docRun
	Standing []docStanding
	Head     string
	Segments []fact
}

// fact is one labelled value.
type fact struct{ Label, Value string }

// docRun is one run of the report.
type docRun struct {
	Heading string
	Facts   []fact
	Steps   []docStep
	Watch   *docWatch
}

// docStep is one step's row.
type docStep struct {
	N, User, Target, Kind, Outcome, HTTP, Tries, Reason, Verified, Alive string
}

// docWatch is the containment watch's findings.
type docWatch struct {
	Facts []fact
	Signs []docSign
}

// docSign is one sign of re-entry.
type docSign struct {
	Level, Time, After, User, Event, Result, App, From, Advice string
}

// docStanding is where one user and target stand after every run of the
// bundle: the last result.
type docStanding struct {
	User, Target, Outcome, Run, Alive string
}

// timeText is how the report writes times: UTC, to the second.
func timeText(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format("2006-01-02 15:04:05Z")
}

// line is s from outside made one printable line.
func line(s string) string { return safetext.Line(s, 0) }

// relationText says what a run is to the exported one.
var relationText = map[string]string{
	RelationExported: "the exported run",
	RelationResumed:  "resumed by the exported run",
	RelationResumes:  "resumes the exported run",
	RelationRelated:  "another run of the same chain of resumes",
}

// build lays out the report of e.
func (e *Evidence) build() doc {
	d := doc{Title: "ulc evidence: run " + line(e.Index.RunID)}
	d.Intro = []string{
		fmt.Sprintf("Exported %s by %s with ulc %s from the audit log %s.", timeText(e.Index.ExportedAt),
			line(e.Index.ExportedBy), line(e.Index.Version), line(e.Index.AuditDB)),
		"The events files of this bundle are the record; this report is written from them. Check the bundle with: ulc audit verify --evidence BUNDLE (add --audit-db LOG to prove it against the log).",
	}
	if e.Index.ResidualSource != "" {
		d.Intro = append(d.Intro, "What stays alive after each sign-out: "+line(e.Index.ResidualSource)+".")
	}
	for i, run := range e.Index.Runs {
		data := e.Runs[i]
		dr := docRun{Heading: fmt.Sprintf("Run %s (%s)", line(run.RunID), relationText[run.Relation])}
		dr.Facts = runFacts(data.State, run.InProgress)
		for _, s := range data.State.Steps {
			dr.Steps = append(dr.Steps, e.step(s, data.State.Info.DryRun))
		}
		dr.Watch = watchOf(data.Events)
		d.Runs = append(d.Runs, dr)
	}
	if len(e.Index.Runs) > 1 {
		d.Standing = e.standing()
	}
	d.Head = fmt.Sprintf("event %d, hash %s", e.Index.Head.Seq, e.Index.Head.Hash)
	for _, run := range e.Index.Runs {
		d.Segments = append(d.Segments, fact{line(run.File), fmt.Sprintf(
			"run %s: events %s (%d of the run, %d of other runs as hashes only); follows hash %s; ends with hash %s",
			line(run.RunID), seqRange(run.FirstSeq, run.LastSeq), run.Events, run.Omitted, run.FirstPrevHash, run.LastHash)})
	}
	return d
}

// standing is each user and target's last result over the runs of the
// bundle, in the order they started (dry runs send nothing, so they are
// left out), in the order each pair first appears.
func (e *Evidence) standing() []docStanding {
	order := make([]int, len(e.Runs))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return e.Runs[order[a]].State.Started.Before(e.Runs[order[b]].State.Started) })
	var out []docStanding
	at := map[[2]string]int{}
	for _, i := range order {
		st := e.Runs[i].State
		if st.Info.DryRun {
			continue
		}
		for _, s := range st.Steps {
			key := [2]string{s.User, stepTarget(s)}
			ds := docStanding{User: line(s.User), Target: line(stepTarget(s)), Outcome: string(s.Outcome),
				Run: line(st.RunID), Alive: e.alive(s, false)}
			if j, ok := at[key]; ok {
				out[j] = ds
				continue
			}
			at[key] = len(out)
			out = append(out, ds)
		}
	}
	return out
}

// stepTarget is a step's target as the report names it: the target, or
// the Okta step.
func stepTarget(s *actions.StepState) string {
	if s.Action.Okta() {
		return string(s.Action)
	}
	return s.Target
}

// runFacts are a run's who, what, when, where from and why.
func runFacts(st *actions.RunState, inProgress bool) []fact {
	i := st.Info
	state := "finished"
	switch {
	case !st.Done && inProgress:
		state = fmt.Sprintf("in progress at export (pid %d)", i.PID)
	case !st.Done:
		state = "interrupted: the process ended before the run finished"
	}
	if i.DryRun {
		state += "; a dry run: nothing was sent"
	}
	users := make([]string, 0, len(i.Users))
	for _, u := range i.Users {
		s := u.Key()
		if u.Name != "" {
			s = u.Name + " <" + s + ">"
		}
		if u.ID != "" && u.ID != u.Key() {
			s += " (Okta id " + u.ID + ")"
		}
		users = append(users, line(s))
	}
	okta := make([]string, 0, len(i.OktaSteps))
	for _, a := range i.OktaSteps {
		okta = append(okta, string(a))
	}
	f := []fact{
		{"State", state},
		{"Operator", line(i.Operator)},
		{"Host", line(i.Host)},
		{"Started", timeText(st.Started)},
		{"Finished", timeText(st.Finished)},
		{"Reason", line(i.Reason)},
		{"Ticket", orDash(line(i.Ticket))},
		{"Users", orDash(strings.Join(users, "; "))},
		{"Okta steps", orDash(line(strings.Join(okta, ", ")))},
		{"Targets", orDash(line(strings.Join(i.Targets, ", ")))},
		{"Okta org", orDash(line(i.OktaOrg))},
		{"Resumes", orDash(line(i.ResumeOf))},
		{"Configuration", orDash(strings.TrimSpace(line(i.ConfigPath) + " " + line(i.ConfigDigest)))},
		{"ulc version", orDash(line(i.Version))},
		{"Outcomes", orDash(actions.Tally(st.Counts(), nil))},
	}
	return f
}

func orDash(s string) string {
	if strings.TrimSpace(s) == "" {
		return "-"
	}
	return s
}

// step is one step's row of the report.
func (e *Evidence) step(s *actions.StepState, dryRun bool) docStep {
	status := "-"
	if s.HTTPStatus != 0 {
		status = strconv.Itoa(s.HTTPStatus)
	}
	reason := line(s.Error)
	if s.ErrorCode != "" {
		reason = strings.TrimSpace(reason + " [" + line(s.ErrorCode+" "+s.ErrorID) + "]")
	}
	verified := "-"
	switch {
	case s.Verified == nil:
	case *s.Verified:
		verified = "yes"
	default:
		verified = "NO"
	}
	if s.Evidence != "" {
		verified += ": " + line(s.Evidence)
	}
	outcome := string(s.Outcome)
	if outcome == "" {
		outcome = "in progress"
	}
	return docStep{
		N: strconv.Itoa(s.Step), User: line(s.User), Target: line(stepTarget(s)), Kind: line(s.Kind),
		Outcome: outcome, HTTP: status, Tries: strconv.Itoa(s.Attempts), Reason: orDash(reason),
		Verified: verified, Alive: e.alive(s, dryRun),
	}
}

// alive says what stays alive at the step's application: after a
// successful sign-out what its kind leaves (Index.Residual), and after
// anything else, everything.
func (e *Evidence) alive(s *actions.StepState, dryRun bool) string {
	switch {
	case s.Action.Okta():
		return "-"
	case dryRun || s.Outcome == actions.Planned:
		return "everything: a dry run sends nothing"
	case s.Outcome == actions.NotFound:
		return "nothing: the user has no account there"
	case s.Outcome == actions.Unknown:
		return "not known: the request left, but no answer was recorded; resume the run"
	case s.Outcome != actions.Revoked:
		return "everything: the sign-out did not take effect; resume the run"
	}
	if r := e.Index.Residual[s.Target]; r != "" {
		return line(r)
	}
	if s.Kind == "gtr" {
		return "not stated: Global Token Revocation leaves to the application what it ends"
	}
	return "not known to this export"
}

// watchOf is the containment watch's findings among a run's events, nil
// when the run has no watch.
func watchOf(evs []actions.Event) *docWatch {
	var w *docWatch
	for _, ev := range evs {
		if !actions.WatchKind(ev.Kind) {
			continue
		}
		if w == nil {
			w = &docWatch{}
		}
		switch ev.Kind {
		case actions.KindWatchStarted:
			var info actions.WatchInfo
			if json.Unmarshal(ev.Detail, &info) == nil {
				w.Facts = append(w.Facts,
					fact{"Watch started", timeText(ev.Time) + " by " + orDash(line(info.Operator)) + " on " + orDash(line(info.Host))},
					fact{"Watched", orDash(line(strings.Join(info.Users, ", ")))},
					fact{"Revoked at", timeText(info.RevokedAt)},
					fact{"Due to end", timeText(info.Until)})
			}
		case actions.KindWatchSign:
			var s actions.Sign
			if json.Unmarshal(ev.Detail, &s) == nil {
				from := strings.TrimSpace(strings.Join([]string{s.IP, s.City, s.Country}, " "))
				if s.Client != "" {
					from = strings.TrimSpace(from + " via " + s.Client)
				}
				w.Signs = append(w.Signs, docSign{
					Level: line(string(s.Level)), Time: timeText(s.Time), After: fmt.Sprintf("%+ds", s.AfterS),
					User: line(s.User), Event: line(s.EventType), Result: orDash(line(s.Result)), App: orDash(line(s.App)),
					From: orDash(line(from)), Advice: orDash(line(s.Advice)),
				})
			}
		case actions.KindWatchExtended:
			var x actions.WatchExtension
			if json.Unmarshal(ev.Detail, &x) == nil {
				w.Facts = append(w.Facts, fact{"Watch extended", fmt.Sprintf("%s by %s, by %s: due to end %s",
					timeText(ev.Time), orDash(line(x.Operator)), orDash(line(x.By)), timeText(x.Until))})
			}
		case actions.KindWatchEnded:
			var t actions.WatchTally
			if json.Unmarshal(ev.Detail, &t) == nil {
				w.Facts = append(w.Facts, fact{"Watch ended", fmt.Sprintf("%s (%s): %s, %s, %s, %s",
					timeText(ev.Time), orDash(line(t.Reason)), countOf(t.Alarms, "alarm", "alarms"), countOf(t.Attempts, "denied attempt", "denied attempts"),
					countOf(t.Earlier, "earlier sign", "earlier signs"), countOf(t.Polls, "System Log poll", "System Log polls"))})
			}
		}
	}
	return w
}

// countOf is "1 alarm" or "2 alarms".
func countOf(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}

// md escapes s for Markdown: every ASCII punctuation character gets a
// backslash (CommonMark lets any of them be escaped so, and then none
// starts a link, an autolink, an emphasis, an HTML tag, an entity or a
// table cell).
func md(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r < 0x80 && strings.ContainsRune("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~", r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// markdown is the report in Markdown (GitHub's dialect: tables).
func (e *Evidence) markdown() []byte {
	d := e.build()
	var b bytes.Buffer
	fmt.Fprintf(&b, "# %s\n\n", md(d.Title))
	for _, p := range d.Intro {
		fmt.Fprintf(&b, "%s\n\n", md(p))
	}
	table := func(head []string, rows [][]string) {
		b.WriteString("|")
		for _, h := range head {
			b.WriteString(" " + md(h) + " |")
		}
		b.WriteString("\n|")
		for range head {
			b.WriteString("---|")
		}
		b.WriteString("\n")
		for _, r := range rows {
			b.WriteString("|")
			for _, c := range r {
				b.WriteString(" " + md(c) + " |")
			}
			b.WriteString("\n")
		}
		b.WriteString("\n")
	}
	facts := func(fs []fact) {
		rows := make([][]string, len(fs))
		for i, f := range fs {
			rows[i] = []string{f.Label, f.Value}
		}
		table([]string{"", ""}, rows)
	}
	if len(d.Standing) > 0 {
		b.WriteString("## Where things stand after every run\n\n")
		rows := make([][]string, len(d.Standing))
		for i, s := range d.Standing {
			rows[i] = []string{s.User, s.Target, s.Outcome, s.Run, s.Alive}
		}
		table([]string{"User", "Target", "Last outcome", "In run", "Still alive"}, rows)
	}
	for _, r := range d.Runs {
		fmt.Fprintf(&b, "## %s\n\n", md(r.Heading))
		facts(r.Facts)
		fmt.Fprintf(&b, "### Steps\n\n")
		rows := make([][]string, len(r.Steps))
		for i, s := range r.Steps {
			rows[i] = []string{s.N, s.User, s.Target, s.Kind, s.Outcome, s.HTTP, s.Tries, s.Reason, s.Verified, s.Alive}
		}
		table([]string{"#", "User", "Target", "Kind", "Outcome", "HTTP", "Tries", "Reason", "Verified", "Still alive"}, rows)
		if r.Watch != nil {
			fmt.Fprintf(&b, "### Containment watch\n\n")
			if len(r.Watch.Facts) > 0 {
				facts(r.Watch.Facts)
			}
			if len(r.Watch.Signs) == 0 {
				b.WriteString("No sign of re-entry.\n\n")
			} else {
				rows := make([][]string, len(r.Watch.Signs))
				for i, s := range r.Watch.Signs {
					rows[i] = []string{s.Level, s.Time, s.After, s.User, s.Event, s.Result, s.App, s.From, s.Advice}
				}
				table([]string{"Level", "Time", "After revocation", "User", "Event", "Result", "App", "From", "Advice"}, rows)
			}
		}
	}
	b.WriteString("## Integrity\n\n")
	facts(append([]fact{{"Log head at export", d.Head}}, d.Segments...))
	return b.Bytes()
}

// htmlReport is the report page. It loads nothing: no script, no style
// sheet, no image; its policy forbids them.
var htmlReport = template.Must(template.New("report").Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<title>{{.Title}}</title>
<style>
body{font-family:sans-serif;margin:2em;max-width:80em}
table{border-collapse:collapse;margin-bottom:1.5em}
th,td{border:1px solid #999;padding:.25em .5em;text-align:left;vertical-align:top}
th{background:#eee}
code{word-break:break-all}
</style>
</head>
<body>
<h1>{{.Title}}</h1>
{{range .Intro}}<p>{{.}}</p>
{{end}}
{{- if .Standing}}<h2>Where things stand after every run</h2>
<table>
<tr><th>User</th><th>Target</th><th>Last outcome</th><th>In run</th><th>Still alive</th></tr>
{{range .Standing}}<tr><td>{{.User}}</td><td>{{.Target}}</td><td>{{.Outcome}}</td><td>{{.Run}}</td><td>{{.Alive}}</td></tr>
{{end}}</table>
{{end}}
{{- range .Runs}}<h2>{{.Heading}}</h2>
<table>
{{range .Facts}}<tr><th>{{.Label}}</th><td>{{.Value}}</td></tr>
{{end}}</table>
<h3>Steps</h3>
<table>
<tr><th>#</th><th>User</th><th>Target</th><th>Kind</th><th>Outcome</th><th>HTTP</th><th>Tries</th><th>Reason</th><th>Verified</th><th>Still alive</th></tr>
{{range .Steps}}<tr><td>{{.N}}</td><td>{{.User}}</td><td>{{.Target}}</td><td>{{.Kind}}</td><td>{{.Outcome}}</td><td>{{.HTTP}}</td><td>{{.Tries}}</td><td>{{.Reason}}</td><td>{{.Verified}}</td><td>{{.Alive}}</td></tr>
{{end}}</table>
{{with .Watch}}<h3>Containment watch</h3>
{{if .Facts}}<table>
{{range .Facts}}<tr><th>{{.Label}}</th><td>{{.Value}}</td></tr>
{{end}}</table>
{{end}}{{if .Signs}}<table>
<tr><th>Level</th><th>Time</th><th>After revocation</th><th>User</th><th>Event</th><th>Result</th><th>App</th><th>From</th><th>Advice</th></tr>
{{range .Signs}}<tr><td>{{.Level}}</td><td>{{.Time}}</td><td>{{.After}}</td><td>{{.User}}</td><td>{{.Event}}</td><td>{{.Result}}</td><td>{{.App}}</td><td>{{.From}}</td><td>{{.Advice}}</td></tr>
{{end}}</table>
{{else}}<p>No sign of re-entry.</p>
{{end}}{{end}}
{{- end}}<h2>Integrity</h2>
<table>
<tr><th>Log head at export</th><td><code>{{.Head}}</code></td></tr>
{{range .Segments}}<tr><th>{{.Label}}</th><td><code>{{.Value}}</code></td></tr>
{{end}}</table>
</body>
</html>
`))

// html is the report as an HTML page.
func (e *Evidence) html() ([]byte, error) {
	var b bytes.Buffer
	if err := htmlReport.Execute(&b, e.build()); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}
