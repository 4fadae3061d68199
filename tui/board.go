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
	"charm.land/bubbles/v2/textinput"
	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

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
	// stopped is true once the operator cancelled the run (x, or quit):
	// the run is then named cancelled, not finished.
	stopped  bool
	retryAsk bool // "send again?" asked after R
	retrying bool // a retry is being planned

	spin   spinner.Model
	bar    progress.Model
	cursor int
	sel    int // the selected step's number, once the operator moved
	offset int
	detail bool // the selected row's detail is open
	detOff int  // the detail's first line shown, when it does not fit
	order  []int
	// tries holds, per step number, the attempts that were retried: the
	// last attempt is the step's own state. Only retried steps cost
	// memory, so a board of 200,000 steps keeps a few.
	tries map[int][]try
	// lastSent is, per step of several requests, when its last left.
	lastSent map[int]time.Time
	// filter narrows the rows to those whose target, user, outcome or
	// reason contain its text; filtering is true while it is typed.
	filter    textinput.Model
	filtering bool
	// match holds, per step in b.state.Steps order, whether it shows for
	// the filter text matchQ: kept between frames, so a batch of answers
	// re-tests only its own steps, not all 200,000.
	match  []bool
	matchQ string
	// watch is the watch of the run's users once the run is over.
	watch boardWatch
	// ranks holds rank(s) per step in b.state.Steps order and counts the
	// steps per outcome, both kept between frames and updated per event:
	// a frame then reads a byte per step, not each step's state, which on
	// a board of 200,000 steps is scattered over the heap.
	ranks  []uint8
	counts map[actions.Outcome]int
	// checks counts the steps per read-back verdict, kept like counts;
	// nil when it is to be computed again.
	checks *[3]int
	// rowBuf is the table's rows, kept between frames: only the visible
	// ones, [rowLo, rowHi), are filled, the rest stay nil.
	rowBuf       [][]string
	rowLo, rowHi int
}

// try is one attempt of a step that was retried.
type try struct {
	at      time.Time // when its answer (or its timeout) came; when it was sent, for sent
	status  int
	latency int64
	reason  string
	// sent marks a call of a step of several calls (a token, a lookup,
	// the sign-out) that answered and led to the next: the engine records
	// when it left, not its answer.
	sent bool
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
	return &boardScreen{
		c: c, plan: p, state: p.State(), tries: map[int][]try{}, lastSent: map[int]time.Time{},
		filter: newInput("filter › ", "target, user, outcome or reason", 100),
		spin:   spinner.New(spinner.WithSpinner(spinner.MiniDot)),
		bar:    progress.New(progress.WithWidth(30), progress.WithoutPercentage(), progress.WithFillCharacters('█', '░')),
	}
}

func (b *boardScreen) title() string {
	if b.plan.Info.DryRun {
		return "Dry run " + b.plan.RunID
	}
	return "Run " + b.plan.RunID
}

func (b *boardScreen) typing() bool { return b.filtering }

func (b *boardScreen) keys() []key.Binding {
	k := b.c.keys
	switch {
	case b.cancelAsk:
		return []key.Binding{withHelp(k.Yes, "y", "cancel the run"), withHelp(k.No, "n", "keep going")}
	case b.retryAsk:
		return []key.Binding{withHelp(k.Yes, "y", "send again"), withHelp(k.No, "n", "do not")}
	case b.watch.again:
		return []key.Binding{withHelp(k.Yes, "y", "contain again"), withHelp(k.No, "n", "do not")}
	case b.filtering:
		return []key.Binding{withHelp(k.Open, "enter", "keep filter"), withHelp(k.Back, "esc", "clear filter")}
	case b.detail:
		ks := []key.Binding{withHelp(k.Open, "enter/esc", "close detail")}
		if b.detailHidden() {
			ks = append(ks, withHelp(k.Down, "↑/↓", "scroll"))
		}
		return ks
	}
	// The watch's keys and the run's own (x, R) come early: when the help
	// line is short of room, the last keys (/ and esc) give way.
	var ks []key.Binding
	if len(b.rowOrder()) > 0 { // a filter may match no row
		ks = append(ks, moveKey(k, "move"), withHelp(k.Open, "enter", "detail"))
	}
	ks = append(ks, b.watchKeys()...)
	if b.running {
		ks = append(ks, withHelp(k.Cancel, "x", "cancel"))
	} else if b.canRetry() && !b.alarmed() {
		ks = append(ks, withHelp(k.Retry, "R", "retry"))
	}
	back := k.Back
	if b.filter.Value() != "" {
		back = withHelp(k.Back, "esc", "clear filter") // esc clears a kept filter first
	}
	return append(ks, k.Filter, back)
}

// moreKeys are the keys the full help adds to the help line's.
func (b *boardScreen) moreKeys() []key.Binding {
	if b.cancelAsk || b.retryAsk || b.watch.again || b.filtering || b.detail {
		return nil
	}
	k := b.c.keys
	return []key.Binding{k.PageDown, k.PageUp, withHelp(k.Top, "g/home", "first row"), withHelp(k.Bottom, "G/end", "last row")}
}

// canRetry reports whether R may plan a retry of this board's run.
func (b *boardScreen) canRetry() bool {
	return !b.running && b.failedCount() > 0 && !b.c.deps.ReadOnly && !b.plan.Info.DryRun
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
	if cmd, ok := b.updateWatch(msg); ok {
		return cmd
	}
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
			if ev.Kind == actions.KindRetry {
				b.tries[ev.Step] = append(b.tries[ev.Step], try{at: ev.Time, status: ev.HTTPStatus, latency: ev.LatencyMS, reason: ev.Error})
			}
			if ev.Kind == actions.KindAttempt && ev.Attempt > 1 && len(b.tries[ev.Step]) < ev.Attempt-1 {
				// The attempt before answered and the step went on to
				// its next call: it left at the step's last event.
				if st := b.state.Step(ev.Step); st != nil {
					b.tries[ev.Step] = append(b.tries[ev.Step], try{at: st.Updated, sent: true,
						reason: "answered; the step went on to its next request"})
				}
			}
			if ev.Kind == actions.KindAttempt && ev.Attempt > 1 {
				b.lastSent[ev.Step] = ev.Time // kept for steps of several requests only
			}
			i, known := b.index(ev.Step)
			var was actions.Outcome
			var wasV verdict
			if known {
				was, wasV = b.state.Steps[i].Outcome, verdictOf(b.state.Steps[i])
			}
			b.state.Apply(ev)
			b.rematch(ev.Step)
			b.rerank(i, known, was, wasV)
		}
		b.order = nil
		b.follow()
		return b.wait()
	case boardDoneMsg:
		if msg.b != b {
			return nil
		}
		b.running, b.err, b.cancelAsk, b.head = false, msg.err, false, msg.head
		b.stopped = b.cancelling
		if msg.state != nil {
			b.state = msg.state
			b.match, b.ranks, b.counts, b.checks = nil, nil, nil, nil
		}
		b.order = nil
		b.follow()
		// The root shows the summary (runEnded); the board goes on
		// watching the run's users, unless the operator stopped the run
		// (w still starts a watch then).
		if b.stopped {
			return nil
		}
		return b.startWatch()
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
	if !b.cancelAsk && !b.retryAsk && !b.filtering && !b.detail {
		if cmd, ok := b.watchKeyPress(msg); ok {
			return cmd
		}
	}
	switch {
	case b.cancelAsk:
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
	case b.retryAsk:
		switch {
		case key.Matches(msg, k.Yes):
			b.retryAsk = false
			return b.retry()
		case key.Matches(msg, k.No):
			b.retryAsk = false
			return status("nothing sent again", false)
		}
		return nil
	case b.filtering:
		return b.filterKey(msg)
	case b.detail:
		switch {
		case key.Matches(msg, k.Back), key.Matches(msg, k.Open):
			b.detail, b.detOff = false, 0
		case key.Matches(msg, k.Down):
			b.detOff++
		case key.Matches(msg, k.Up):
			b.detOff = max(b.detOff-1, 0)
		}
		return nil
	}
	n := len(b.rowOrder())
	switch {
	case key.Matches(msg, k.Back):
		if b.filter.Value() != "" {
			b.setFilter("")
			return nil
		}
		return pop
	case key.Matches(msg, k.Up):
		b.cursor = max(b.cursor-1, 0)
	case key.Matches(msg, k.Down):
		b.cursor = min(b.cursor+1, max(n-1, 0))
	case key.Matches(msg, k.PageDown):
		b.cursor = min(b.cursor+b.rows(), max(n-1, 0))
	case key.Matches(msg, k.PageUp):
		b.cursor = max(b.cursor-b.rows(), 0)
	case key.Matches(msg, k.Top):
		b.cursor = 0
	case key.Matches(msg, k.Bottom):
		b.cursor = max(n-1, 0)
	case key.Matches(msg, k.Filter):
		b.filtering = true
		return b.filter.Focus()
	case key.Matches(msg, k.Open):
		if n > 0 {
			b.detail, b.detOff = true, 0
		}
		return nil
	case key.Matches(msg, k.Cancel) && b.running:
		b.cancelAsk = true
		return nil
	case key.Matches(msg, k.Retry):
		switch {
		case b.retrying:
			return nil // one retry at a time: a second R would send twice
		case b.failedCount() == 0:
			return status("nothing to retry: every step succeeded", false)
		case b.canRetry():
			b.retryAsk = true
		}
		return nil
	default:
		return nil
	}
	b.remember()
	return nil
}

// filterKey handles a key while the filter is typed: enter keeps it, esc
// clears it, anything else edits it.
func (b *boardScreen) filterKey(msg tea.KeyPressMsg) tea.Cmd {
	cmd, changed := editFilter(&b.filter, &b.filtering, b.c.keys, msg)
	if changed {
		b.setFilter(b.filter.Value())
	}
	return cmd
}

// setFilter narrows the rows to v (all rows for ""), keeping the selected
// step selected when it still shows.
func (b *boardScreen) setFilter(v string) {
	if b.filter.Value() != v {
		b.filter.SetValue(v)
	}
	b.order = nil
	b.cursor = 0
	b.follow()
}

// retry plans a new run, linked to this one, of the steps that did not
// succeed.
func (b *boardScreen) retry() tea.Cmd {
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

// rank orders rows: failures (and steps a read-back contradicts) first,
// then in flight, waiting, then done.
func rank(s *actions.StepState) int {
	switch {
	case s.Outcome == actions.Rejected, s.Outcome == actions.Failed, s.Outcome == actions.Unknown:
		return 0
	case verdictOf(s) == contradicted:
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

// ranks is the number of rank values.
const ranks = 5

// rowOrder returns the step indexes in display order; stable within a rank.
// It is a counting sort over the steps that match the filter (whose
// matches are kept between frames): linear, and without a comparison per
// pair, for a board of 200,000 steps answering every frame.
func (b *boardScreen) rowOrder() []int {
	if b.order != nil {
		return b.order
	}
	steps := b.state.Steps
	q := strings.ToLower(strings.TrimSpace(b.filter.Value()))
	if q != "" && (q != b.matchQ || len(b.match) != len(steps)) {
		b.match, b.matchQ = b.match[:0], q
		for _, s := range steps {
			b.match = append(b.match, matches(s, q))
		}
	}
	shows := func(i int) bool { return q == "" || b.match[i] }
	rk := b.rankTable()
	var start [ranks + 1]int
	for i, r := range rk {
		if shows(i) {
			start[r+1]++
		}
	}
	for r := 1; r <= ranks; r++ {
		start[r] += start[r-1]
	}
	idx := make([]int, start[ranks])
	for i, r := range rk {
		if shows(i) {
			idx[start[r]] = i
			start[r]++
		}
	}
	b.order = idx
	return idx
}

// index returns the position of step n in b.state.Steps.
func (b *boardScreen) index(n int) (int, bool) {
	return slices.BinarySearchFunc(b.state.Steps, n, func(s *actions.StepState, n int) int { return s.Step - n })
}

// rankTable returns b.ranks, computing it when the steps changed.
func (b *boardScreen) rankTable() []uint8 {
	if len(b.ranks) != len(b.state.Steps) {
		b.ranks = b.ranks[:0]
		for _, s := range b.state.Steps {
			b.ranks = append(b.ranks, uint8(rank(s)))
		}
	}
	return b.ranks
}

// stepCounts is b.state.Counts(), kept between frames.
func (b *boardScreen) stepCounts() map[actions.Outcome]int {
	if b.counts == nil {
		b.counts = b.state.Counts()
	}
	return b.counts
}

// readBackCounts is how many steps a read-back verified and contradicted,
// kept between frames.
func (b *boardScreen) readBackCounts() *[3]int {
	if b.checks == nil {
		n := verdictCounts(b.state.Steps)
		b.checks = &n
	}
	return b.checks
}

// rerank updates the rank and the counts after an event changed the step
// at position i (known: it was there before; was and wasV: its outcome
// and read-back then). An event that added a step makes the next frame
// compute them again.
func (b *boardScreen) rerank(i int, known bool, was actions.Outcome, wasV verdict) {
	steps := b.state.Steps
	if !known || len(b.ranks) != len(steps) || i >= len(steps) {
		b.ranks, b.counts, b.checks = b.ranks[:0], nil, nil
		return
	}
	s := steps[i]
	b.ranks[i] = uint8(rank(s))
	if v := verdictOf(s); b.checks != nil && v != wasV {
		b.checks[wasV]--
		b.checks[v]++
	}
	if b.counts != nil && s.Outcome != was {
		b.counts[was]--
		if b.counts[was] == 0 {
			delete(b.counts, was)
		}
		b.counts[s.Outcome]++
	}
}

// rematch re-tests step n against the filter after an answer changed it.
func (b *boardScreen) rematch(n int) {
	steps := b.state.Steps
	if b.matchQ == "" || len(b.match) != len(steps) {
		return // no filter, or the next rowOrder tests every step anyway
	}
	if i, ok := slices.BinarySearchFunc(steps, n, func(s *actions.StepState, n int) int { return s.Step - n }); ok {
		b.match[i] = matches(steps[i], b.matchQ)
	}
}

// matches reports whether step s shows for filter q (lower case): its
// target, user, outcome or reason contains q.
func matches(s *actions.StepState, q string) bool {
	name := s.Target // as typed in targets.toml; stepName cleans it for the screen
	if s.Action.Okta() {
		name = stepName(s)
	}
	for _, f := range [...]string{name, s.User, outcomeWord(s.Outcome), markWord(s), s.Error} {
		if containsFold(f, q) {
			return true
		}
	}
	return false
}

// containsFold reports whether s contains q, which is in lower case,
// ignoring case; for ASCII without allocating.
func containsFold(s, q string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return strings.Contains(strings.ToLower(s), q)
		}
	}
	for i := 0; i+len(q) <= len(s); i++ {
		if strings.EqualFold(s[i:i+len(q)], q) {
			return true
		}
	}
	return false
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
	at, ok := b.index(b.sel)
	if !ok {
		return
	}
	for i, ix := range b.rowOrder() {
		if ix == at {
			b.cursor = i
			return
		}
	}
}

// rows is how many rows a page of the table moves.
func (b *boardScreen) rows() int { return max(b.c.bodyHeight()-7, 1) }

// ended is the word for a run that is over: cancelled when the operator
// stopped it, else finished.
func (b *boardScreen) ended() string {
	if b.stopped {
		return "cancelled"
	}
	return "finished"
}

func (b *boardScreen) summary() string {
	s := "run " + b.plan.RunID + " " + b.ended() + ": " + actions.Tally(b.state.Counts(), outcomeWord)
	if n := b.readBackCounts()[contradicted]; n > 0 {
		s += fmt.Sprintf("; %d unverified", n) // a read-back contradicts the answer
	}
	if b.err != nil {
		return "run " + b.plan.RunID + ": " + b.err.Error()
	}
	if ansi.StringWidth(s) > b.c.width {
		// The whole tally matters more than the id, which the board's
		// title and History show: a narrow terminal gets every count.
		s = "run " + strings.TrimPrefix(s, "run "+b.plan.RunID+" ")
	}
	return s
}

// reasonLines is how many lines the selected row's reason may take below
// the table: two always, so the table does not jump as the cursor moves,
// up to four for a long one.
const minReasonLines, maxReasonLines = 2, 4

func (b *boardScreen) view() string {
	c := b.c
	var out strings.Builder
	total := len(b.state.Steps)
	counts := b.stepCounts()
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
		state = b.ended()
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
	// Of the steps accepted, those a read-back proved or contradicted.
	if rb := b.readBackCounts(); rb[verified]+rb[contradicted] > 0 {
		if n := rb[verified]; n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, verifiedMark))
		}
		if n := rb[contradicted]; n > 0 {
			parts = append(parts, c.st.outcome[actions.Unknown].Render(fmt.Sprintf("%d %s", n, contradictedMark)))
		}
	}
	out.WriteString(strings.Join(parts, " · ") + "\n")

	order := b.rowOrder()
	if b.detail && len(order) > 0 {
		out.WriteString(b.detailView(c.bodyHeight() - 2))
		return out.String()
	}
	used := 2
	if b.filtering || b.filter.Value() != "" {
		line := b.filter.View()
		if !b.filtering {
			line = "filter › " + clean(b.filter.Value(), 100)
		}
		out.WriteString(line + c.st.dim.Render(fmt.Sprintf("  %d of %d steps", len(order), total)) + "\n")
		used++
	}

	end := ""
	if !b.running && b.started {
		end = "\n" + b.endLine()
	}
	b.cursor = min(b.cursor, max(len(order)-1, 0))
	reason := b.selectedReason()
	reasonH := max(minReasonLines, strings.Count(reason, "\n")+1)
	// The table: the header, the rows, and (when they do not fit) the
	// line saying where the window is.
	h := max(c.bodyHeight()-used-1-reasonH-lineCount(end), 1)
	// The watch's lines take from the table, which keeps a few rows and
	// its position line.
	watch := b.watchLines(b.watchHeight(h))
	h = max(h-len(watch), 1)
	b.offset = scroll(b.cursor, b.offset, h, len(order))

	bulk := len(b.plan.Info.Users) > 1
	// Only the visible rows are formatted: a board of 200,000 steps costs
	// a screenful per frame.
	// The rows the last frame filled are cleared, not all of them.
	if cap(b.rowBuf) < len(order) {
		b.rowBuf = make([][]string, len(order))
	}
	clear(b.rowBuf[:cap(b.rowBuf)][b.rowLo:b.rowHi])
	rows := b.rowBuf[:len(order)]
	b.rowLo, b.rowHi = min(b.offset, len(order)), min(b.offset+h, len(order))
	for i := b.offset; i < len(order) && i < b.offset+h; i++ {
		s := b.state.Steps[order[i]]
		mark := c.st.stepMark(s)
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
		httpS := ""
		if s.HTTPStatus != 0 {
			httpS = fmt.Sprint(s.HTTPStatus)
		}
		lat := stepTime(s)
		tries := ""
		if s.Attempts > 0 {
			tries = fmt.Sprint(s.Attempts)
		}
		row := []string{mark, stepName(s)}
		if bulk {
			row = append(row, clean(s.User, 30))
		}
		rows[i] = append(row, httpS, tries, lat, reasonCell(s))
	}
	cols := []column{{"OUTCOME", 12}, {"TARGET", 16}}
	if bulk {
		cols = append(cols, column{"USER", 22})
	}
	cols = append(cols, column{"HTTP", 4}, column{"TRY", 3}, column{"TIME", 7}, column{"REASON", 0})
	if len(order) == 0 {
		out.WriteString(c.st.dim.Render("no step matches the filter; esc clears it") + "\n")
	} else {
		out.WriteString(c.table(cols, rows, b.cursor, b.offset, h) + "\n")
	}
	out.WriteString(reason + strings.Repeat("\n", reasonH-strings.Count(reason, "\n")))
	for _, l := range watch {
		out.WriteString(l + "\n")
	}
	out.WriteString(end)
	return strings.TrimRight(out.String(), "\n")
}

// lineCount is the number of lines s takes; 0 for "".
func lineCount(s string) int {
	if s == "" {
		return 0
	}
	return strings.Count(s, "\n") + 1
}

// selectedReason is the selected row's whole reason, wrapped under the
// table, so a reason cut in its column can always be read.
func (b *boardScreen) selectedReason() string {
	c := b.c
	order := b.rowOrder()
	if len(order) == 0 {
		return ""
	}
	s := b.state.Steps[order[min(b.cursor, len(order)-1)]]
	what := clean(s.Error, 600)
	switch {
	case verdictOf(s) == contradicted:
		what = readBackNote(s)
	case what != "":
	case s.Outcome != "":
		what = outcomeWord(s.Outcome)
		if s.HTTPStatus != 0 {
			what += fmt.Sprintf(" (%d)", s.HTTPStatus)
		}
		if note := readBackNote(s); note != "" {
			what += ", " + note
		}
	case s.InFlight:
		what = "sending…"
	default:
		what = "waiting to be sent"
	}
	text := "▸ " + stepName(s)
	if len(b.plan.Info.Users) > 1 {
		text += " · " + clean(s.User, 60)
	}
	text += ": " + what
	lines := strings.Split(wrap(text, c.width), "\n")
	if len(lines) > maxReasonLines {
		lines = lines[:maxReasonLines]
		lines[maxReasonLines-1] = ansi.Truncate(lines[maxReasonLines-1], c.width-1, "") + "…"
	}
	for i, l := range lines {
		lines[i] = strings.TrimRight(l, " ")
	}
	return strings.Join(lines, "\n")
}

// endLine is the summary shown when the run is over.
func (b *boardScreen) endLine() string {
	c := b.c
	if b.err != nil {
		return c.st.err.Render(clean(b.err.Error(), 300))
	}
	text, sep := "every step succeeded · recorded in", " "
	n := b.failedCount()
	switch {
	case b.plan.Info.DryRun:
		text, sep = "dry run: the plan is recorded, nothing was sent", " · "
	case b.alarmed() && b.canContainAgain():
		// After an alarm, R runs the whole containment again.
		text, sep = fmt.Sprintf("%s did not succeed; R runs the containment again", plural(n, "step")), " · "
		if n == 0 {
			text = "every step succeeded, yet someone got in: R runs the containment again ·"
			sep = " "
		}
	case b.stopped && n > 0:
		text, sep = fmt.Sprintf("cancelled: %s did not succeed, R sends them again", plural(n, "step")), " · "
	case b.stopped:
		text = "cancelled after every step had succeeded · recorded in"
	case n > 0:
		text, sep = fmt.Sprintf("%s did not succeed: R retries as a new run", plural(n, "step")), " · "
	case b.readBackCounts()[contradicted] > 0:
		// Accepted is not taken effect: the ⚠ rows say what to check.
		text, sep = fmt.Sprintf("accepted, but %s otherwise: see ⚠ rows", says(b.readBackCounts()[contradicted])), " · "
	}
	// The audit log's path, shortened in its middle when it is long: never
	// cut off without a sign, its file name kept.
	line := withPath(text, sep, c.deps.AuditPath, c.width)
	if b.retryAsk {
		line = c.st.err.Render(fmt.Sprintf("Send %s again, as a new run? y/n", plural(n, "step")))
	}
	if b.head != "" {
		line += "\naudit head " + b.head
	}
	return line
}

// attemptRows are the selected step's attempts, oldest first: time, HTTP
// status, latency and reason of each.
func (b *boardScreen) attemptRows(s *actions.StepState) []string {
	earlier := b.tries[s.Step]
	var lines []string
	var spent int64
	unknown := false // an earlier call's time is not known apart
	for i, t := range earlier {
		spent += t.latency
		unknown = unknown || t.sent
		lines = append(lines, attemptLine(i+1, t))
	}
	if s.Outcome != "" && s.Attempts > 0 {
		// The last attempt's reason is the step's, shown above it.
		reason := outcomeWord(s.Outcome)
		if s.Error != "" {
			reason += " (the reason above)"
		}
		last := try{at: s.Updated, status: s.HTTPStatus, latency: max(s.LatencyMS-spent, 0), reason: reason}
		if unknown {
			// Its own time is not known apart from the calls before it.
			last = try{at: b.lastSent[s.Step], sent: true, status: s.HTTPStatus, reason: reason}
		}
		lines = append(lines, attemptLine(max(s.Attempts, len(earlier)+1), last))
	} else if s.InFlight {
		lines = append(lines, fmt.Sprintf("%d  sending…", s.Attempts))
	}
	return lines
}

func attemptLine(n int, t try) string {
	at := "--:--:--.---"
	switch {
	case t.sent && !t.at.IsZero():
		at = t.at.Local().Format("15:04:05.000")
	case !t.at.IsZero():
		// When the attempt was sent: its answer's time less its latency.
		at = t.at.Add(-time.Duration(t.latency) * time.Millisecond).Local().Format("15:04:05.000")
	}
	status := "-"
	if t.status != 0 {
		status = fmt.Sprint(t.status)
	}
	lat := fmt.Sprintf("%5dms", t.latency)
	if t.sent {
		lat = "      -" // its own time is not recorded apart: the step's total is above
	}
	return fmt.Sprintf("%d %s %3s %s %s", n, at, status, lat, clean(t.reason, 300))
}

// detailHidden reports whether the open detail does not fit.
func (b *boardScreen) detailHidden() bool {
	return len(b.detailLines())+1 > b.c.bodyHeight()-2
}

// detailView is everything about the selected step, in at most height
// lines; ↑/↓ scroll it when it does not fit.
func (b *boardScreen) detailView(height int) string {
	c := b.c
	lines := b.detailLines()
	foot := c.st.dim.Render("enter or esc closes the detail")
	if len(lines)+1 > height {
		vis := max(height-1, 1)
		b.detOff = max(min(b.detOff, len(lines)-vis), 0)
		lines = lines[b.detOff:min(b.detOff+vis, len(lines))]
		foot = c.st.dim.Render(position(b.detOff, vis, len(b.detailLines())) + " · ↑/↓ scroll · enter or esc closes")
	}
	return strings.Join(lines, "\n") + "\n" + foot
}

// detailLines are the selected step's detail, one line each.
func (b *boardScreen) detailLines() []string {
	c := b.c
	order := b.rowOrder()
	s := b.state.Steps[order[min(b.cursor, len(order)-1)]]
	var out []string
	valueW := c.width - 13
	row := func(label, v string) {
		if v = strings.TrimRight(v, " "); v == "" {
			return
		}
		for i, l := range strings.Split(v, "\n") {
			if i == 0 {
				out = append(out, c.st.label.Render(label)+" "+l)
			} else {
				out = append(out, strings.Repeat(" ", 13)+l)
			}
		}
	}
	row("Step", fmt.Sprint(s.Step))
	row("User", clean(s.User, 80))
	row("Target", clean(s.Target, 60))
	if s.Action.Okta() {
		row("Action", clean(string(s.Action), 40))
	} else {
		row("Kind", clean(string(s.Action), 20)) // a target step's action is its kind
	}
	row("Outcome", c.st.renderOutcome(s.Outcome, outcomeMark(s.Outcome)))
	row("Read-back", trimLines(wrap(c.st.readBackDetail(s, b.state.Started), valueW)))
	if s.HTTPStatus != 0 {
		row("HTTP", fmt.Sprint(s.HTTPStatus))
	}
	row("Time", timeDetail(s))
	row("Reason", wrap(clean(s.Error, 1000), valueW))
	if tries := b.attemptRows(s); len(tries) > 0 {
		var w []string
		for _, t := range tries {
			// Each attempt's reason wraps under itself, not under the
			// attempt's number.
			lines := strings.Split(wrap(t, valueW), "\n")
			for i := range lines {
				lines[i] = strings.TrimRight(lines[i], " ") // wrap pads to the width
			}
			if len(lines) > 1 {
				rest := strings.Split(wrap(strings.Join(lines[1:], " "), valueW-3), "\n")
				for i := range rest {
					rest[i] = "   " + rest[i]
				}
				lines = append(lines[:1], rest...)
			}
			w = append(w, strings.Join(lines, "\n"))
		}
		row("Attempts", strings.Join(w, "\n"))
	}
	if r := b.plan.Residual()[s.Target]; r != "" && !s.Action.Okta() {
		// What the sign-out leaves alive: the follow-up before the
		// incident is closed.
		row("Still alive", wrap(clean(r, 600), valueW))
	}
	req := s.Request()
	row("Request", clean(req.Method+" "+req.URL, 200))
	row("Body", clean(req.Body, 300))
	row("Subject", req.SubjectFormat)
	row("Auth", strings.TrimSpace(req.Auth+" "+req.Credential))
	row("Request id", clean(s.RequestID, 80))
	if s.ErrorCode != "" {
		row("Okta error", clean(s.ErrorCode+" "+s.ErrorID, 80))
	}
	return out
}

// stepName is what a board row calls a step: the target, or the Okta step.
func stepName(s *actions.StepState) string {
	if !s.Action.Okta() {
		// A target's name comes from targets.toml, or from the audit
		// log in History: never printed as it is.
		return clean(s.Target, 60)
	}
	switch s.Action {
	case actions.ActionClearSessions:
		return "okta sessions"
	case actions.ActionRevokeGrants:
		return "okta grants"
	case actions.ActionUniversalLogout:
		return "okta logout (UL)"
	}
	return "okta " + clean(strings.TrimPrefix(string(s.Action), "okta."), 40)
}

// plural is "1 step" or "3 steps".
func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}
