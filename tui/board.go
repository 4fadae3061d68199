package tui

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	"charm.land/bubbles/v2/progress"
	"charm.land/bubbles/v2/spinner"
	tea "charm.land/bubbletea/v2"

	"ulc/actions"
)

// maxEventsPerFrame bounds how many events one update folds in, so a
// thousand answers arriving at once cost a few frames, not a thousand.
const maxEventsPerFrame = 4096

// boardScreen is a run, live: progress, counts, one row per step with the
// failures on top, and at the end a summary with the audit head hash.
type boardScreen struct {
	c      *common
	plan   *actions.Plan
	state  *actions.RunState
	events chan actions.Event
	cancel context.CancelFunc

	running    bool
	started    bool
	cancelling bool
	err        error
	head       string
	cancelAsk  bool
	retrying   bool // a retry is being planned

	spin   spinner.Model
	bar    progress.Model
	cursor int
	sel    int // the selected step's number, once the operator moved
	offset int
	detail bool // the selected row's detail is open
	order  []int
}

type boardEventsMsg struct {
	b   *boardScreen
	evs []actions.Event
}
type boardDoneMsg struct {
	b     *boardScreen
	state *actions.RunState
	err   error
	head  string // the audit log's head hash once the run was recorded
}

func newBoard(c *common, p *actions.Plan) *boardScreen {
	st := actions.NewRunState(p.RunID)
	for _, ev := range p.Events() {
		st.Apply(ev)
	}
	return &boardScreen{
		c: c, plan: p, state: st,
		spin: spinner.New(spinner.WithSpinner(spinner.MiniDot)),
		bar:  progress.New(progress.WithWidth(30), progress.WithoutPercentage(), progress.WithFillCharacters('█', '░')),
	}
}

func (b *boardScreen) title() string {
	if b.plan.Info.DryRun {
		return "Dry run " + b.plan.RunID
	}
	return "Run " + b.plan.RunID
}

func (b *boardScreen) typing() bool { return false }

func (b *boardScreen) keys() []key.Binding {
	k := b.c.keys
	if b.cancelAsk {
		return []key.Binding{withHelp(k.Yes, "y", "cancel the run"), withHelp(k.No, "n", "keep going")}
	}
	ks := []key.Binding{withHelp(k.Down, "↑/↓", "select"), withHelp(k.Open, "enter", "detail")}
	if b.running {
		ks = append(ks, k.Cancel)
	} else if b.failedCount() > 0 && !b.c.deps.ReadOnly && !b.plan.Info.DryRun {
		ks = append(ks, k.Retry)
	}
	return append(ks, k.Back)
}

// start executes the plan: one Cmd runs the engine, another forwards its
// events a frame's worth at a time.
func (b *boardScreen) start() tea.Cmd {
	if b.started {
		return nil
	}
	b.started, b.running = true, true
	ctx, cancel := context.WithCancel(context.Background())
	b.cancel = cancel
	b.events = make(chan actions.Event, 8192)
	runner, hist, plan, events := b.c.deps.Runner, b.c.deps.History, b.plan, b.events
	run := func() tea.Msg {
		st, err := runner.Execute(ctx, plan, func(ev actions.Event) { events <- ev })
		close(events)
		done := boardDoneMsg{b: b, state: st, err: err}
		if hist != nil {
			hctx, hcancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer hcancel()
			_, done.head, _ = hist.Head(hctx)
		}
		return done
	}
	return tea.Batch(run, b.wait(), b.spin.Tick)
}

// wait blocks for the next event, then takes whatever else is queued.
func (b *boardScreen) wait() tea.Cmd {
	ch := b.events
	return func() tea.Msg {
		ev, ok := <-ch
		if !ok {
			return nil
		}
		evs := []actions.Event{ev}
		for len(evs) < maxEventsPerFrame {
			select {
			case ev, ok := <-ch:
				if !ok {
					return boardEventsMsg{b, evs}
				}
				evs = append(evs, ev)
			default:
				return boardEventsMsg{b, evs}
			}
		}
		return boardEventsMsg{b, evs}
	}
}

// cancelRun stops the run; answers already in stay recorded, the rest
// become cancelled.
func (b *boardScreen) cancelRun() tea.Cmd {
	if b.cancel != nil {
		b.cancel()
		b.cancelling = true
	}
	return nil
}

func (b *boardScreen) update(msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case pushedMsg:
		if msg.s == screen(b) {
			return b.start()
		}
	case boardEventsMsg:
		if msg.b != b {
			return nil
		}
		for _, ev := range msg.evs {
			if ev.Kind == actions.KindRunStarted || ev.Kind == actions.KindPlanned {
				continue // already folded from the plan
			}
			b.state.Apply(ev)
		}
		b.order = nil
		b.follow()
		return b.wait()
	case boardDoneMsg:
		if msg.b != b {
			return nil
		}
		b.running, b.err, b.cancelAsk, b.head = false, msg.err, false, msg.head
		if msg.state != nil {
			b.state = msg.state
		}
		b.order = nil
		b.follow()
		return nil // the root shows the summary (runEnded)
	case retryPlannedMsg:
		if msg.b != b {
			return nil
		}
		b.retrying = false
		if msg.err != nil {
			return status("retry: "+msg.err.Error(), true)
		}
		return tea.Sequence(pop, push(newBoard(b.c, msg.p)))
	case spinner.TickMsg:
		if !b.running || msg.ID != b.spin.ID() {
			return nil
		}
		var cmd tea.Cmd
		b.spin, cmd = b.spin.Update(msg)
		return cmd
	case tea.KeyPressMsg:
		return b.key(msg)
	}
	return nil
}

func (b *boardScreen) key(msg tea.KeyPressMsg) tea.Cmd {
	k := b.c.keys
	if b.cancelAsk {
		switch {
		case key.Matches(msg, k.Yes):
			b.cancelAsk = false
			if b.cancel == nil {
				return nil
			}
			// The status first, then the cancellation: the run's end (and
			// its summary) can only come after.
			b.cancelling = true
			cancel := b.cancel
			return tea.Sequence(status("cancelling: answers already in stay recorded", false),
				func() tea.Msg { cancel(); return nil })
		case key.Matches(msg, k.No):
			b.cancelAsk = false
		}
		return nil
	}
	n := len(b.state.Steps)
	switch {
	case key.Matches(msg, k.Back):
		if b.detail {
			b.detail = false
			return nil
		}
		return pop
	case key.Matches(msg, k.Up):
		b.cursor = max(b.cursor-1, 0)
		b.remember()
	case key.Matches(msg, k.Down):
		b.cursor = min(b.cursor+1, max(n-1, 0))
		b.remember()
	case key.Matches(msg, k.PageDown):
		b.cursor = min(b.cursor+b.rows(), max(n-1, 0))
		b.remember()
	case key.Matches(msg, k.PageUp):
		b.cursor = max(b.cursor-b.rows(), 0)
		b.remember()
	case key.Matches(msg, k.Open):
		b.detail = !b.detail
	case key.Matches(msg, k.Cancel) && b.running:
		b.cancelAsk = true
	case key.Matches(msg, k.Retry) && !b.running && !b.c.deps.ReadOnly && !b.plan.Info.DryRun:
		return b.retry()
	}
	return nil
}

// retry plans a new run, linked to this one, of the steps that did not
// succeed.
func (b *boardScreen) retry() tea.Cmd {
	if b.failedCount() == 0 {
		return status("nothing to retry: every step succeeded", false)
	}
	if b.retrying {
		return nil // one retry at a time: a second R would send twice
	}
	b.retrying = true
	runner, id := b.c.deps.Runner, b.state.RunID
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		p, err := runner.Resume(ctx, id, false)
		return retryPlannedMsg{b, p, err}
	}
}

type retryPlannedMsg struct {
	b   *boardScreen
	p   *actions.Plan
	err error
}

func (b *boardScreen) failedCount() int {
	n := 0
	for _, s := range b.state.Steps {
		if s.Outcome != "" && s.Outcome.Retryable() {
			n++
		}
	}
	return n
}

// rank orders rows: failures first, then in flight, waiting, then done.
func rank(s *actions.StepState) int {
	switch {
	case s.Outcome == actions.Rejected, s.Outcome == actions.Failed, s.Outcome == actions.Unknown:
		return 0
	case s.Outcome == actions.Cancelled, s.Outcome == actions.NotSent:
		return 1
	case s.InFlight:
		return 2
	case s.Outcome == "" && s.Attempts > 0:
		return 2 // waiting to retry
	case s.Outcome == "":
		return 3
	}
	return 4
}

// rowOrder returns the step indexes in display order; stable within a rank.
func (b *boardScreen) rowOrder() []int {
	if b.order != nil {
		return b.order
	}
	idx := make([]int, len(b.state.Steps))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(x, y int) int { return rank(b.state.Steps[x]) - rank(b.state.Steps[y]) })
	b.order = idx
	return idx
}

// remember notes which step the cursor is on, so it stays on that step
// when answers re-sort the rows.
func (b *boardScreen) remember() {
	if order := b.rowOrder(); b.cursor < len(order) {
		b.sel = b.state.Steps[order[b.cursor]].Step
	}
}

// follow moves the cursor to the remembered step's new row.
func (b *boardScreen) follow() {
	if b.sel == 0 {
		return // never moved: the cursor stays on the top row
	}
	for i, ix := range b.rowOrder() {
		if b.state.Steps[ix].Step == b.sel {
			b.cursor = i
			return
		}
	}
}

func (b *boardScreen) rows() int { return max(b.c.bodyHeight()-4, 1) }

func (b *boardScreen) summary() string {
	s := "run " + b.plan.RunID + " finished: " + actions.Tally(b.state.Counts(), outcomeWord)
	if b.err != nil {
		s = "run " + b.plan.RunID + ": " + b.err.Error()
	}
	return s
}

func (b *boardScreen) view() string {
	c := b.c
	var out strings.Builder
	total := len(b.state.Steps)
	counts := b.state.Counts()
	finished := total - counts[""]

	pct := 0.0
	if total > 0 {
		pct = float64(finished) / float64(total)
	}
	state := "running"
	switch {
	case b.running && b.cancelling:
		state = "cancelling"
	case !b.running && b.started:
		state = "finished"
		if !b.state.Finished.IsZero() && !b.state.Started.IsZero() {
			state += " in " + b.state.Finished.Sub(b.state.Started).Round(100*time.Millisecond).String()
		}
	}
	fmt.Fprintf(&out, "%s %d/%d %s", b.bar.ViewAs(pct), finished, total, state)
	if b.running {
		out.WriteString(" " + b.spin.View())
	}
	out.WriteString("\n")
	var parts []string
	for _, o := range actions.Outcomes {
		if n := counts[o]; n > 0 {
			parts = append(parts, c.st.renderOutcome(o, fmt.Sprintf("%d %s", n, outcomeWord(o))))
		}
	}
	if n := counts[""]; n > 0 {
		parts = append(parts, fmt.Sprintf("%d waiting", n))
	}
	out.WriteString(strings.Join(parts, " · ") + "\n")

	if b.detail && total > 0 {
		out.WriteString(b.detailView())
		return out.String()
	}

	bulk := len(b.plan.Info.Users) > 1
	order := b.rowOrder()
	h := b.rows()
	if !b.running && b.started {
		h -= 3
	}
	b.cursor = min(b.cursor, max(len(order)-1, 0))
	b.offset = scroll(b.cursor, b.offset, h, len(order))
	// Only the visible rows are formatted: a board of a thousand targets
	// costs a screenful per frame.
	rows := make([][]string, len(order))
	for i := b.offset; i < len(order) && i < b.offset+h; i++ {
		s := b.state.Steps[order[i]]
		mark := c.st.renderOutcome(s.Outcome, outcomeMark(s.Outcome))
		if s.Outcome == "" {
			switch {
			case s.InFlight:
				mark = b.spin.View() + " sending"
				if s.Attempts > 1 {
					mark = fmt.Sprintf("%s try %d", b.spin.View(), s.Attempts)
				}
			case s.Attempts > 0:
				mark = "↻ retrying"
			}
		}
		name := stepName(s)
		httpS := ""
		if s.HTTPStatus != 0 {
			httpS = fmt.Sprint(s.HTTPStatus)
		}
		lat := ""
		if s.LatencyMS > 0 || s.Outcome != "" && s.Attempts > 0 {
			lat = fmt.Sprintf("%dms", s.LatencyMS)
		}
		tries := ""
		if s.Attempts > 0 {
			tries = fmt.Sprint(s.Attempts)
		}
		row := []string{mark, name}
		if bulk {
			row = append(row, clean(s.User, 30))
		}
		rows[i] = append(row, httpS, tries, lat, clean(s.Error, 200))
	}
	cols := []column{{"OUTCOME", 12}, {"TARGET", 16}}
	if bulk {
		cols = append(cols, column{"USER", 22})
	}
	cols = append(cols, column{"HTTP", 4}, column{"TRY", 3}, column{"TIME", 7}, column{"REASON", 0})
	out.WriteString(c.table(cols, rows, b.cursor, b.offset, h) + "\n")

	if !b.running && b.started {
		out.WriteString("\n" + b.endLine())
	}
	return out.String()
}

// endLine is the summary shown when the run is over.
func (b *boardScreen) endLine() string {
	c := b.c
	if b.err != nil {
		return c.st.err.Render(clean(b.err.Error(), 300))
	}
	line := "every step succeeded · recorded in " + c.deps.AuditPath
	switch n := b.failedCount(); {
	case b.plan.Info.DryRun:
		line = "dry run: the plan is recorded, nothing was sent · " + c.deps.AuditPath
	case n > 0:
		line = fmt.Sprintf("%s did not succeed: R retries as a new run · %s", plural(n, "step"), c.deps.AuditPath)
	}
	if b.head != "" {
		line += "\naudit head " + b.head
	}
	return line
}

// detailView is everything about the selected step.
func (b *boardScreen) detailView() string {
	c := b.c
	order := b.rowOrder()
	s := b.state.Steps[order[min(b.cursor, len(order)-1)]]
	var out strings.Builder
	indent := "\n" + strings.Repeat(" ", 13) // under the values
	row := func(label, v string) {
		if v = strings.TrimRight(v, " "); v != "" {
			v = strings.ReplaceAll(v, "\n", indent)
			out.WriteString(c.st.label.Render(label) + " " + v + "\n")
		}
	}
	row("Step", fmt.Sprint(s.Step))
	row("User", clean(s.User, 80))
	row("Target", s.Target)
	if s.Action.Okta() {
		row("Action", string(s.Action))
	} else {
		row("Kind", clean(string(s.Action), 20)) // a target step's action is its kind
	}
	row("Outcome", c.st.renderOutcome(s.Outcome, outcomeMark(s.Outcome)))
	if s.HTTPStatus != 0 {
		row("HTTP", fmt.Sprint(s.HTTPStatus))
	}
	row("Attempts", fmt.Sprint(s.Attempts))
	row("Latency", fmt.Sprintf("%d ms (all attempts)", s.LatencyMS))
	row("Reason", wrap(clean(s.Error, 1000), c.width-13))
	if r := b.plan.Residual()[s.Target]; r != "" && !s.Action.Okta() {
		// What the sign-out leaves alive: the follow-up before the
		// incident is closed.
		row("Still alive", wrap(clean(r, 600), c.width-13))
	}
	row("Request", clean(s.Detail.Method+" "+s.Detail.URL, 200))
	row("Body", clean(s.Detail.Body, 300))
	row("Subject", s.Detail.SubjectFormat)
	row("Auth", strings.TrimSpace(s.Detail.Auth+" "+s.Detail.Credential))
	row("Request id", clean(s.RequestID, 80))
	if s.ErrorCode != "" {
		row("Okta error", clean(s.ErrorCode+" "+s.ErrorID, 80))
	}
	out.WriteString("\n" + c.st.dim.Render("enter or esc closes the detail"))
	return out.String()
}

// stepName is what a board row calls a step: the target, or the Okta step.
func stepName(s *actions.StepState) string {
	if !s.Action.Okta() {
		return s.Target
	}
	switch s.Action {
	case actions.ActionClearSessions:
		return "okta sessions"
	case actions.ActionRevokeGrants:
		return "okta grants"
	case actions.ActionUniversalLogout:
		return "okta logout (UL)"
	}
	return "okta " + strings.TrimPrefix(string(s.Action), "okta.")
}

// plural is "1 step" or "3 steps".
func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}
