package tui

import (
	"charm.land/bubbles/v2/textinput"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"ulc/actions"
	"ulc/history"
)

// timelinePage is how many events the timeline reads at a time.
const timelinePage = 500

// verifiedMsg is what a verification of the chain found, for the screen
// that asked.
type verifiedMsg struct {
	from screen
	res  history.VerifyResult
	err  error
}

// verifyChain verifies the audit log's hash chain for screen from.
func verifyChain(c *common, from screen) tea.Cmd {
	hist := c.deps.History
	// In sequence: "verifying…" must not arrive after the answer.
	return tea.Sequence(status("verifying the hash chain…", false), func() tea.Msg {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		res, err := hist.Verify(ctx, "")
		return verifiedMsg{from, res, err}
	})
}

// verifyText is a verification's answer in one line.
func verifyText(msg verifiedMsg) string {
	switch {
	case msg.err != nil:
		return "verify failed: " + msg.err.Error()
	case msg.res.OK:
		return fmt.Sprintf("chain intact: %d events, head %s", msg.res.Events, msg.res.Head)
	}
	return fmt.Sprintf("CHAIN BROKEN at event %d: %s", msg.res.BrokenSeq, msg.res.Problem)
}

// resumePlannedMsg is the planned resume of run id, for the screen that
// asked.
type resumePlannedMsg struct {
	from screen
	id   string
	p    *actions.Plan
	err  error
}

// resumer asks the backend what resuming a run would send, asks the
// operator, and on y opens the board of the new run. History's list, a
// run's view and a step's view each have one.
type resumer struct {
	c    *common
	from screen
	ask  *actions.Plan // the planned resume, awaiting y/n
}

func (r *resumer) asking() bool { return r.ask != nil }

func (r *resumer) keys() []key.Binding {
	k := r.c.keys
	return []key.Binding{withHelp(k.Yes, "y", "resume"), withHelp(k.No, "n", "don't")}
}

// plan asks the backend what resuming run id would send. It works that out
// counting every later resume of the run, so the question that follows
// names exactly what will be sent.
func (r *resumer) plan(id string) tea.Cmd {
	runner, from := r.c.deps.Runner, r.from
	return tea.Sequence(status("planning the resumed run…", false), func() tea.Msg {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		p, err := runner.Resume(ctx, id, false)
		return resumePlannedMsg{from, id, p, err}
	})
}

// planned puts the question, if msg is this resumer's.
func (r *resumer) planned(msg resumePlannedMsg) tea.Cmd {
	if msg.from != r.from {
		return nil
	}
	switch {
	case errors.Is(msg.err, actions.ErrNothingToResume):
		return status(msg.err.Error(), false)
	case msg.err != nil:
		return status("resume: "+msg.err.Error(), true)
	}
	r.ask = msg.p
	what := fmt.Sprintf("its %d steps that have not succeeded", len(msg.p.Steps))
	if len(msg.p.Steps) == 1 {
		what = "its 1 step that has not succeeded"
	}
	if n := len(msg.p.Unusable()); n > 0 {
		// Say it before y: those steps will be recorded as failed
		// again, not sent.
		u := msg.p.Unusable()[0]
		what += fmt.Sprintf(" (%s still cannot be sent: %s)", clean(u.Target, 30), clean(u.Reason, 80))
		if n > 1 {
			what += fmt.Sprintf(" and %d more targets that cannot be sent", n-1)
		}
	}
	return status(fmt.Sprintf("Resume run %s: send %s again, as a new run? y/n", msg.id, what), false)
}

// answer answers the question: y runs the planned resume.
func (r *resumer) answer(msg tea.KeyPressMsg) tea.Cmd {
	k := r.c.keys
	switch {
	case key.Matches(msg, k.Yes):
		p := r.ask
		r.ask = nil
		return push(newBoard(r.c, p))
	case key.Matches(msg, k.No):
		r.ask = nil
		return status("not resumed", false)
	}
	return nil
}

// runDetailScreen is one past run: its steps, failures first, with the
// selected step's reason in full; t shows its event timeline. It reads
// the run's state, then the timeline a page at a time: a run of 200,000
// steps costs what is on screen, not its whole log.
type runDetailScreen struct {
	c     *common
	id    string
	st    *actions.RunState
	order []int // the step indexes shown: all, failures first, or the filter's
	all   []int // every step index, failures first
	err   string
	// filter narrows the steps to those whose target, user, outcome or
	// reason contain its text; filtering is true while it is typed.
	filter    textinput.Model
	filtering bool
	cursor    int
	offset    int
	resume    resumer
	// The timeline pane: the events read so far, whether more may follow,
	// and the first line shown of their wrapped lines.
	timeline bool
	events   []actions.Event
	more     bool
	reading  bool
	tlErr    string
	tlOffset int
	// tlLines are the events wrapped to tlWidth, the first tlWrapped.
	tlLines   []string
	tlWrapped int
	tlWidth   int
}

type runLoadedMsg struct {
	id  string
	st  *actions.RunState
	err error
}

type timelineMsg struct {
	id     string
	events []actions.Event
	err    error
}

// Keys of the run's view.
var (
	timelineKey = key.NewBinding(key.WithKeys("t"), key.WithHelp("t", "timeline"))
	stepsKey    = key.NewBinding(key.WithKeys("t"), key.WithHelp("t", "steps"))
)

func newRunDetail(c *common, id string) *runDetailScreen {
	r := &runDetailScreen{c: c, id: id, filter: newInput("filter › ", "target, user, outcome or reason", 100)}
	r.resume = resumer{c: c, from: r}
	return r
}

func (r *runDetailScreen) title() string { return "Run " + clean(r.id, 40) }
func (r *runDetailScreen) typing() bool  { return r.filtering }
func (r *runDetailScreen) keys() []key.Binding {
	k := r.c.keys
	if r.resume.asking() {
		return r.resume.keys()
	}
	if r.filtering {
		return []key.Binding{withHelp(k.Open, "enter", "keep filter"), withHelp(k.Back, "esc", "clear filter")}
	}
	var ks []key.Binding
	switch {
	case r.timeline:
		ks = []key.Binding{moveKey(k, "scroll"), stepsKey}
	case len(r.order) > 0:
		ks = []key.Binding{moveKey(k, "move"), withHelp(k.Open, "enter", "attempts"), timelineKey}
	default: // a filter may match no step
		ks = []key.Binding{timelineKey}
	}
	if !r.c.deps.ReadOnly {
		ks = append(ks, withHelp(k.Resume, "R", "resume"))
	}
	ks = append(ks, withHelp(k.Verify, "v", "verify"))
	if !r.timeline && r.st != nil {
		ks = append(ks, k.Filter)
	}
	if r.filter.Value() != "" && !r.timeline {
		return append(ks, withHelp(k.Back, "esc", "clear filter")) // esc clears a kept filter first
	}
	return append(ks, k.Back)
}

func (r *runDetailScreen) update(msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case pushedMsg:
		if msg.s != screen(r) {
			return nil
		}
		hist, id := r.c.deps.History, r.id
		return func() tea.Msg {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			st, err := hist.State(ctx, id)
			return runLoadedMsg{id, st, err}
		}
	case runLoadedMsg:
		if msg.id != r.id {
			return nil
		}
		if msg.err != nil {
			r.err = msg.err.Error()
			return nil
		}
		r.st = msg.st
		r.id = msg.st.RunID // a prefix opens the run it names
		r.all = make([]int, len(r.st.Steps))
		for i := range r.all {
			r.all[i] = i
		}
		slices.SortStableFunc(r.all, func(x, y int) int { return rank(r.st.Steps[x]) - rank(r.st.Steps[y]) })
		r.setFilter(r.filter.Value())
	case timelineMsg:
		if msg.id != r.id {
			return nil
		}
		r.reading = false
		if msg.err != nil {
			r.tlErr = msg.err.Error()
			return nil
		}
		r.events = append(r.events, msg.events...)
		r.more = len(msg.events) == timelinePage
	case verifiedMsg:
		if msg.from == screen(r) {
			return status(verifyText(msg), msg.err != nil || !msg.res.OK)
		}
	case resumePlannedMsg:
		return r.resume.planned(msg)
	case tea.KeyPressMsg:
		return r.key(msg)
	}
	return nil
}

func (r *runDetailScreen) key(msg tea.KeyPressMsg) tea.Cmd {
	k := r.c.keys
	if r.resume.asking() {
		return r.resume.answer(msg)
	}
	if r.filtering {
		return r.filterKey(msg)
	}
	switch {
	case key.Matches(msg, k.Back) && r.filter.Value() != "" && !r.timeline:
		r.setFilter("")
		return nil
	case key.Matches(msg, k.Back):
		return pop
	case key.Matches(msg, k.Filter) && !r.timeline && r.st != nil:
		r.filtering = true
		return r.filter.Focus()
	case key.Matches(msg, k.Verify):
		return verifyChain(r.c, r)
	case key.Matches(msg, k.Resume) && !r.c.deps.ReadOnly && r.st != nil:
		return r.resume.plan(r.id)
	case key.Matches(msg, timelineKey) && r.st != nil:
		r.timeline = !r.timeline
		if r.timeline && r.events == nil {
			return r.readTimeline()
		}
		return nil
	}
	if r.timeline {
		return r.scrollTimeline(msg)
	}
	if r.st == nil {
		return nil
	}
	last := max(len(r.order)-1, 0)
	switch {
	case key.Matches(msg, k.Down):
		r.cursor = min(r.cursor+1, last)
	case key.Matches(msg, k.Up):
		r.cursor = max(r.cursor-1, 0)
	case key.Matches(msg, k.PageDown):
		r.cursor = min(r.cursor+r.stepRows(), last)
	case key.Matches(msg, k.PageUp):
		r.cursor = max(r.cursor-r.stepRows(), 0)
	case key.Matches(msg, jumpTop):
		r.cursor = 0
	case key.Matches(msg, jumpBottom):
		r.cursor = last
	case key.Matches(msg, k.Open):
		if s := r.selected(); s != nil {
			return push(newStepDetail(r.c, r.id, *s, r.st.Started))
		}
	}
	return nil
}

// filterKey handles a key while the filter is typed: enter keeps it, esc
// clears it, anything else edits it.
func (r *runDetailScreen) filterKey(msg tea.KeyPressMsg) tea.Cmd {
	cmd, changed := editFilter(&r.filter, &r.filtering, r.c.keys, msg)
	if changed {
		r.setFilter(r.filter.Value())
	}
	return cmd
}

// setFilter shows the steps that match v, all of them for "", in their
// order, from the first.
func (r *runDetailScreen) setFilter(v string) {
	if r.filter.Value() != v {
		r.filter.SetValue(v)
	}
	r.cursor, r.offset = 0, 0
	q := strings.ToLower(strings.TrimSpace(v))
	if q == "" || r.st == nil {
		r.order = r.all
		return
	}
	r.order = make([]int, 0, 64)
	for _, i := range r.all {
		if matches(r.st.Steps[i], q) {
			r.order = append(r.order, i)
		}
	}
}

// filterLines are the filter's line; none without a filter.
func (r *runDetailScreen) filterLines() []string {
	if line := r.c.filterLine(r.filter, r.filtering, len(r.order), len(r.all), "steps"); line != "" {
		return []string{line}
	}
	return nil
}

// readTimeline reads the next page of the timeline.
func (r *runDetailScreen) readTimeline() tea.Cmd {
	if r.reading {
		return nil
	}
	r.reading = true
	hist, id := r.c.deps.History, r.id
	after := int64(0)
	if n := len(r.events); n > 0 {
		after = r.events[n-1].Seq
	}
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		evs, err := hist.Timeline(ctx, id, after, timelinePage)
		return timelineMsg{id, evs, err}
	}
}

// scrollTimeline moves in the timeline, reading the next page as the end
// comes into view.
func (r *runDetailScreen) scrollTimeline(msg tea.KeyPressMsg) tea.Cmd {
	k := r.c.keys
	page := max(r.c.bodyHeight()-3, 1)
	switch {
	case key.Matches(msg, k.Down):
		r.tlOffset++
	case key.Matches(msg, k.Up):
		r.tlOffset = max(r.tlOffset-1, 0)
	case key.Matches(msg, k.PageDown):
		r.tlOffset += page
	case key.Matches(msg, k.PageUp):
		r.tlOffset = max(r.tlOffset-page, 0)
	case key.Matches(msg, jumpTop):
		r.tlOffset = 0
	case key.Matches(msg, jumpBottom):
		r.tlOffset = 1 << 30 // the view clamps it to the end of what is read
	}
	// Read on before the end is reached: the operator should never wait
	// at the bottom of a page.
	if r.more && !r.reading && r.tlOffset+3*page >= r.timelineLen() {
		return r.readTimeline()
	}
	return nil
}

func (r *runDetailScreen) selected() *actions.StepState {
	if r.st == nil || r.cursor < 0 || r.cursor >= len(r.order) {
		return nil
	}
	return r.st.Steps[r.order[r.cursor]]
}

// header is the run's facts, one a line.
func (r *runDetailScreen) header() []string {
	c, i := r.c, r.st.Info
	var lines []string
	add := func(label, v string) {
		if v != "" {
			lines = append(lines, ansi.Truncate(c.st.label.Render(label)+" "+v, c.width, "…"))
		}
	}
	state := history.Ended(r.st.Counts())
	switch {
	case !r.st.Done && r.st.Pending() > 0:
		state = fmt.Sprintf("in progress (pid %d on %s)", i.PID, clean(i.Host, 40))
	case !r.st.Done:
		state = c.st.outcome[actions.Unknown].Render("INTERRUPTED: the process ended before the run finished")
	case i.DryRun:
		state = "dry run: nothing was sent"
	case state == history.StateCancelled:
		state = c.st.outcome[actions.Cancelled].Render(fmt.Sprintf("cancelled by the operator: %s stopped before an answer came",
			plural(r.st.Counts()[actions.Cancelled], "step")))
	}
	add("State", state)
	started := r.st.Started.Local().Format("2006-01-02 15:04:05 MST") + " by " + clean(i.Operator, 30)
	if h := clean(i.Host, 30); h != "" {
		started += " on " + h
	}
	add("Started", started)
	add("Reason", clean(i.Reason, 200))
	add("Ticket", clean(i.Ticket, 60))
	add("Resumes", clean(i.ResumeOf, 40))
	users := clean(usersText(i.Users), 300)
	if n := len(i.Users); n > 1 {
		users = fmt.Sprintf("%d: %s", n, users)
	}
	add("Users", users)
	add("Steps", fmt.Sprintf("%d: %s", len(r.st.Steps), actions.Tally(r.st.Counts(), outcomeWord)))
	// Of the steps accepted, those a read-back proved or contradicted.
	if rb := verdictCounts(r.st.Steps); rb[verified]+rb[contradicted] > 0 {
		text := fmt.Sprintf("%d %s", rb[verified], verifiedMark)
		if n := rb[contradicted]; n > 0 {
			text += " · " + c.st.outcome[actions.Unknown].Render(fmt.Sprintf("%d %s: the read-back contradicts", n, contradictedMark))
		}
		add("Read-back", text)
	}
	// What the watch saw after the run, from its events.
	lines = append(lines, watchFindingLines(c, r.st.Watch, c.now(), 3)...)
	return lines
}

// stepRows is the height of the steps table: the screen less the header,
// the table's own header and the selected step's reason (two lines).
func (r *runDetailScreen) stepRows() int {
	if r.st == nil {
		return 1
	}
	return max(r.c.bodyHeight()-len(r.header())-len(r.filterLines())-3, 2)
}

func (r *runDetailScreen) view() string {
	c := r.c
	switch {
	case r.err != "":
		return c.st.err.Render(clean(r.err, 300))
	case r.st == nil:
		return c.st.dim.Render("loading…")
	case r.timeline:
		return r.timelineView()
	}
	lines := append(r.header(), r.filterLines()...)
	h := r.stepRows()
	r.cursor = min(r.cursor, max(len(r.order)-1, 0))
	r.offset = scroll(r.cursor, r.offset, h, len(r.order))
	mixed := false
	for _, s := range r.st.Steps {
		mixed = mixed || !s.Action.Okta() && s.Action != actions.ActionGTR
	}
	// Only the visible rows are formatted.
	rows := make([][]string, len(r.order))
	kinds := make([]string, len(r.order))
	for i := r.offset; i < len(r.order) && i < r.offset+h; i++ {
		s := r.st.Steps[r.order[i]]
		kinds[i] = "okta"
		if !s.Action.Okta() {
			kinds[i] = clean(string(s.Action), 12) // a target step's action is its kind
		}
		httpS := ""
		if s.HTTPStatus != 0 {
			httpS = fmt.Sprint(s.HTTPStatus)
		}
		rows[i] = []string{c.st.stepMark(s), stepName(s), clean(s.User, 30), httpS,
			fmt.Sprint(s.Attempts), stepTime(s), reasonCell(s)}
	}
	userW := 20
	if r.c.width < 100 {
		userW = 14 // at 80 columns the reason keeps a column of its own
	}
	if len(r.st.Info.Users) <= 1 {
		userW = -1 // one user: named above, and the reason needs the room
	}
	cols, rows := withKind(mixed, []column{{"OUTCOME", 12}, {"TARGET", 16}, {"USER", userW}, {"HTTP", 4}, {"TRY", 3}, {"TIME", 7}, {"REASON", 0}}, rows, 2, kinds)
	lines = append(lines, strings.Split(c.table(cols, rows, r.cursor, r.offset, h), "\n")...)
	if s := r.selected(); s != nil {
		why := clean(s.Error, 600)
		switch {
		case verdictOf(s) == contradicted:
			why = readBackNote(s)
		case why == "":
			why = outcomeWord(s.Outcome)
			if note := readBackNote(s); note != "" {
				why += ", " + note
			}
		}
		text := fmt.Sprintf("step %d %s · %s · enter: every attempt", s.Step, stepName(s), why)
		w := strings.Split(wrap(text, c.width), "\n")
		if len(w) > 2 {
			w = append(w[:1], ansi.Truncate(w[1], c.width-1, "")+"…")
		}
		for _, l := range w {
			lines = append(lines, strings.TrimRight(l, " "))
		}
	}
	return strings.Join(lines, "\n")
}

// timelineLines are the timeline's events as lines wrapped to the width,
// each continuation indented under its event.
// They are kept between frames: only events read since, or a new width,
// cost wrapping.
func (r *runDetailScreen) timelineLines() []string {
	c := r.c
	if r.tlWidth != c.width {
		r.tlLines, r.tlWrapped, r.tlWidth = nil, 0, c.width
	}
	for _, ev := range r.events[r.tlWrapped:] {
		what := ev.Describe()
		if w, ok := actions.DescribeWatch(ev); ok {
			what = w // the watch's events say what it saw
		}
		l := fmt.Sprintf("%s #%d %s", ev.Time.Local().Format("15:04:05.000"), ev.Seq, clean(what, 1000))
		r.tlLines = append(r.tlLines, wrapIndented(l, c.width, 13)...)
	}
	r.tlWrapped = len(r.events)
	return r.tlLines
}

// timelineLen is how many lines the timeline read so far takes.
func (r *runDetailScreen) timelineLen() int { return len(r.timelineLines()) }

func (r *runDetailScreen) timelineView() string {
	c := r.c
	zone, _ := c.now().Local().Zone()
	head := fmt.Sprintf("Timeline of run %s (%s) · t: steps", clean(r.id, 40), zone)
	lines := []string{c.st.title.Render(ansi.Truncate(head, c.width, "…"))}
	all := r.timelineLines()
	h := max(c.bodyHeight()-2, 1)
	r.tlOffset = max(min(r.tlOffset, len(all)-h), 0)
	end := min(r.tlOffset+h, len(all))
	lines = append(lines, all[r.tlOffset:end]...)
	var where string
	switch {
	case r.tlErr != "":
		where = c.st.err.Render("cannot read the timeline: " + clean(r.tlErr, 200))
	case r.events == nil:
		where = c.st.dim.Render("reading…")
	case r.more:
		where = c.st.dim.Render(fmt.Sprintf("lines %d–%d of the first %d events · ↓ reads on", r.tlOffset+1, end, len(r.events)))
	default:
		where = c.st.dim.Render(fmt.Sprintf("lines %d–%d of %d · %d events", min(r.tlOffset+1, end), end, len(all), len(r.events)))
	}
	for len(lines) < h+1 {
		lines = append(lines, "")
	}
	return strings.Join(append(lines, where), "\n")
}

// wrapIndented wraps s to width, indenting every line after the first by
// indent cells.
func wrapIndented(s string, width, indent int) []string {
	if ansi.StringWidth(s) <= width {
		return []string{s}
	}
	first := strings.Split(wrap(s, width), "\n")
	out := []string{strings.TrimRight(first[0], " ")}
	rest := strings.TrimSpace(strings.Join(first[1:], " "))
	for _, l := range strings.Split(wrap(rest, width-indent), "\n") {
		out = append(out, strings.Repeat(" ", indent)+strings.TrimRight(l, " "))
	}
	return out
}

// stepDetailScreen is one step of a past run: what it sent, every attempt
// with its time, status, latency and reason, and its events.
type stepDetailScreen struct {
	c  *common
	id string
	s  actions.StepState
	// started is the run's start, which the read-back's times are read
	// against.
	started time.Time
	events  []actions.Event
	loaded  bool
	err     string
	offset  int
	resume  resumer
}

type stepEventsMsg struct {
	id     string
	step   int
	events []actions.Event
	err    error
}

func newStepDetail(c *common, id string, s actions.StepState, started time.Time) *stepDetailScreen {
	d := &stepDetailScreen{c: c, id: id, s: s, started: started}
	d.resume = resumer{c: c, from: d}
	return d
}

func (d *stepDetailScreen) title() string { return fmt.Sprintf("step %d", d.s.Step) }
func (d *stepDetailScreen) typing() bool  { return false }
func (d *stepDetailScreen) keys() []key.Binding {
	k := d.c.keys
	if d.resume.asking() {
		return d.resume.keys()
	}
	var ks []key.Binding
	if len(d.lines()) > d.c.bodyHeight() {
		ks = append(ks, moveKey(k, "scroll"))
	}
	if !d.c.deps.ReadOnly {
		ks = append(ks, withHelp(k.Resume, "R", "resume the run"))
	}
	return append(ks, withHelp(k.Verify, "v", "verify"), k.Back)
}

func (d *stepDetailScreen) update(msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case pushedMsg:
		if msg.s != screen(d) {
			return nil
		}
		hist, id, n, user := d.c.deps.History, d.id, d.s.Step, d.s.User
		return func() tea.Msg {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			evs, err := hist.StepEvents(ctx, id, n, user)
			return stepEventsMsg{id, n, evs, err}
		}
	case stepEventsMsg:
		if msg.id != d.id || msg.step != d.s.Step {
			return nil
		}
		d.loaded, d.events = true, msg.events
		if msg.err != nil {
			d.err = msg.err.Error()
		}
	case verifiedMsg:
		if msg.from == screen(d) {
			return status(verifyText(msg), msg.err != nil || !msg.res.OK)
		}
	case resumePlannedMsg:
		return d.resume.planned(msg)
	case tea.KeyPressMsg:
		k := d.c.keys
		if d.resume.asking() {
			return d.resume.answer(msg)
		}
		switch {
		case key.Matches(msg, k.Back):
			return pop
		case key.Matches(msg, k.Verify):
			return verifyChain(d.c, d)
		case key.Matches(msg, k.Resume) && !d.c.deps.ReadOnly:
			return d.resume.plan(d.id)
		case key.Matches(msg, k.Down):
			d.offset++
		case key.Matches(msg, k.Up):
			d.offset = max(d.offset-1, 0)
		case key.Matches(msg, k.PageDown):
			d.offset += max(d.c.bodyHeight()-2, 1)
		case key.Matches(msg, k.PageUp):
			d.offset = max(d.offset-d.c.bodyHeight()+2, 0)
		case key.Matches(msg, jumpTop):
			d.offset = 0
		case key.Matches(msg, jumpBottom):
			d.offset = 1 << 30
		}
	}
	return nil
}

// attempt is one request of a step as the detail lists it.
type attempt struct {
	n       int
	at      time.Time
	status  int
	latency int64
	outcome actions.Outcome
	reason  string
	call    string // which call of the step, to where
	answer  bool   // an answer (a retry or the result) was recorded
}

// attempts pairs each attempt event with the retry or result that
// answered it. A retry records its own request's time; a result records
// the time of all the step's requests together, so its own is what the
// retries before it leave.
func attempts(evs []actions.Event) []attempt {
	var out []attempt
	byN := map[int]int{}
	var before int64 // the retries' time so far
	for _, ev := range evs {
		switch ev.Kind {
		case actions.KindAttempt:
			byN[ev.Attempt] = len(out)
			a := attempt{n: ev.Attempt, at: ev.Time}
			var d struct{ Call, Method, URL string }
			if json.Unmarshal(ev.Detail, &d) == nil && d.Method != "" {
				a.call = strings.TrimSpace(clean(d.Call+" "+d.Method+" "+d.URL, 300))
			}
			out = append(out, a)
		case actions.KindRetry, actions.KindResult:
			i, ok := byN[ev.Attempt]
			if !ok {
				if ev.Kind == actions.KindResult && ev.Attempt == 0 {
					continue // never sent: the step's outcome says why
				}
				byN[ev.Attempt] = len(out)
				out = append(out, attempt{n: ev.Attempt, at: ev.Time})
				i = len(out) - 1
			}
			a := &out[i]
			a.status, a.latency, a.reason, a.answer = ev.HTTPStatus, ev.LatencyMS, ev.Error, true
			if ev.Kind == actions.KindResult {
				a.outcome = ev.Outcome
				a.latency = max(ev.LatencyMS-before, 0)
			} else {
				a.outcome = "retry"
				before += ev.LatencyMS
			}
		}
	}
	return out
}

func (d *stepDetailScreen) view() string {
	lines := d.lines()
	h := d.c.bodyHeight()
	if len(lines) <= h {
		d.offset = 0
		return strings.Join(lines, "\n")
	}
	// It does not fit: a window, and a line saying where it is.
	vis := h - 1
	d.offset = max(min(d.offset, len(lines)-vis), 0)
	foot := d.c.st.dim.Render(position(d.offset, vis, len(lines)) + " lines · ↑/↓ scroll")
	return strings.Join(lines[d.offset:d.offset+vis], "\n") + "\n" + foot
}

// request is the step's request as planned: the state's, or, when the
// state was read without requests, its planned event's.
func (d *stepDetailScreen) request() actions.StepDetail {
	if d.s.Detail != nil {
		return *d.s.Detail
	}
	for _, ev := range d.events {
		if ev.Kind == actions.KindPlanned && len(ev.Detail) > 0 {
			var req actions.StepDetail
			if json.Unmarshal(ev.Detail, &req) == nil {
				return req
			}
		}
	}
	return actions.StepDetail{}
}

// lines are the step's detail, wrapped to the width.
func (d *stepDetailScreen) lines() []string {
	c, s := d.c, d.s
	var lines []string
	row := func(label, v string) {
		if v == "" {
			return
		}
		for i, l := range wrapIndented(c.st.label.Render(label)+" "+v, c.width, 13) {
			if i > 0 {
				l = strings.TrimRight(l, " ")
			}
			lines = append(lines, l)
		}
	}
	row("Run", clean(d.id, 40))
	row("Step", fmt.Sprintf("%d, %s", s.Step, clean(s.User, 80)))
	if s.Action.Okta() {
		row("Action", clean(string(s.Action), 40))
	} else {
		row("Target", clean(s.Target, 60)+" ("+clean(string(s.Action), 20)+")")
	}
	row("Outcome", c.st.renderOutcome(s.Outcome, outcomeMark(s.Outcome)))
	for i, part := range strings.Split(c.st.readBackDetail(&s, d.started), "\n") {
		if i == 0 {
			row("Read-back", part)
			continue
		}
		for _, l := range strings.Split(trimLines(wrap(part, c.width-13)), "\n") {
			lines = append(lines, strings.Repeat(" ", 13)+l)
		}
	}
	if s.HTTPStatus != 0 {
		row("HTTP", fmt.Sprint(s.HTTPStatus))
	}
	row("Reason", clean(s.Error, 1000))
	row("Time", timeDetail(&s))
	req := d.request()
	row("Request", strings.TrimSpace(clean(req.Method+" "+req.URL, 300)))
	row("Subject", clean(req.SubjectFormat, 40))
	row("Auth", strings.TrimSpace(clean(req.Auth+" "+req.Credential, 80)))
	row("Request id", clean(s.RequestID, 80))
	if s.ErrorCode != "" || s.ErrorID != "" {
		row("Okta error", strings.TrimSpace(clean(s.ErrorCode+" "+s.ErrorID, 80)))
	}
	zone, _ := c.now().Local().Zone()
	lines = append(lines, "", c.st.title.Render("Attempts ("+zone+")"))
	switch {
	case d.err != "":
		lines = append(lines, c.st.err.Render("cannot read the step's events: "+clean(d.err, 200)))
	case !d.loaded:
		lines = append(lines, c.st.dim.Render("reading…"))
	default:
		as := attempts(d.events)
		if len(as) == 0 {
			lines = append(lines, c.st.dim.Render("no request was sent"))
		} else {
			lines = append(lines, c.st.dim.Render(fmt.Sprintf("%-3s%-12s  %-4s %7s  %s", "#", "SENT", "HTTP", "TIME", "ANSWER")))
		}
		for i, a := range as {
			st := "-"
			if a.status != 0 {
				st = fmt.Sprint(a.status)
			}
			what := clean(a.reason, 1000)
			switch {
			case !a.answer && i < len(as)-1:
				// One call of several answered and the step went on;
				// its time is in the step's total.
				what = "answered; the step went on to its next request"
			case !a.answer:
				what = "no answer recorded"
			case a.outcome == "retry":
				what = "retried: " + what
			case what == "":
				what = outcomeWord(a.outcome)
			default:
				what = outcomeWord(a.outcome) + ": " + what
			}
			ms := fmt.Sprintf("%dms", a.latency)
			if !a.answer {
				ms = "-"
			}
			if a.call != "" {
				what += " (" + a.call + ")"
			}
			l := fmt.Sprintf("%-3d%s  %-4s %7s  %s", a.n, a.at.Local().Format("15:04:05.000"), st, ms, what)
			lines = append(lines, wrapIndented(l, c.width, 31)...)
		}
	}
	return lines
}
