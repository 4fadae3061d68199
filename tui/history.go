package tui

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	"charm.land/bubbles/v2/textinput"
	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"ulc/actions"
	"ulc/history"
)

// historyScreen lists past runs from the audit log: filter, open, resume,
// verify the chain.
type historyScreen struct {
	c       *common
	runs    []history.RunSummary
	shown   []int // indexes of runs that pass the filter
	filter  textinput.Model
	editing bool
	cursor  int
	offset  int
	err     string
	loaded  bool
	verify  string
	ask     *actions.Plan // the planned resume, awaiting y/n
}

type historyLoadedMsg struct {
	runs []history.RunSummary
	err  error
}
type verifiedMsg struct {
	res history.VerifyResult
	err error
}
type resumePlannedMsg struct {
	id  string
	p   *actions.Plan
	err error
}

func newHistory(c *common) *historyScreen {
	f := newInput("filter › ", "user, reason, ticket, operator, outcome", 200)
	f.SetWidth(c.width - 10)
	return &historyScreen{c: c, filter: f}
}

func (h *historyScreen) title() string { return "History" }
func (h *historyScreen) typing() bool  { return h.editing }

func (h *historyScreen) keys() []key.Binding {
	k := h.c.keys
	if h.ask != nil {
		return []key.Binding{withHelp(k.Yes, "y", "resume"), withHelp(k.No, "n", "don't")}
	}
	if h.editing {
		return []key.Binding{withHelp(k.Open, "enter", "done"), withHelp(k.Back, "esc", "clear filter")}
	}
	ks := []key.Binding{k.Open, k.Filter}
	if !h.c.deps.ReadOnly {
		ks = append(ks, withHelp(k.Resume, "R", "resume"))
	}
	return append(ks, k.Verify)
}

// load reads the runs again.
func (h *historyScreen) load() tea.Cmd {
	hist := h.c.deps.History
	if hist == nil {
		return nil
	}
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		runs, err := hist.Runs(ctx, history.RunFilter{Limit: 500})
		return historyLoadedMsg{runs, err}
	}
}

func (h *historyScreen) update(msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		h.filter.SetWidth(msg.Width - 10)
		return nil
	case focusMsg:
		return h.load()
	case historyLoadedMsg:
		h.loaded = true
		h.err = ""
		if msg.err != nil {
			h.err = msg.err.Error()
		}
		h.runs = msg.runs
		h.refilter()
	case verifiedMsg:
		switch {
		case msg.err != nil:
			h.verify = "verify failed: " + msg.err.Error()
		case msg.res.OK:
			h.verify = fmt.Sprintf("chain intact: %d events, head %s", msg.res.Events, msg.res.Head)
		default:
			h.verify = fmt.Sprintf("CHAIN BROKEN at event %d: %s", msg.res.BrokenSeq, msg.res.Problem)
		}
		return status(h.verify, msg.err != nil || !msg.res.OK)
	case resumePlannedMsg:
		switch {
		case errors.Is(msg.err, actions.ErrNothingToResume):
			return status(msg.err.Error(), false)
		case msg.err != nil:
			return status("resume: "+msg.err.Error(), true)
		}
		h.ask = msg.p
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
	case tea.KeyPressMsg:
		return h.key(msg)
	}
	if h.editing {
		var cmd tea.Cmd
		h.filter, cmd = h.filter.Update(msg)
		return cmd
	}
	return nil
}

// key handles a key: the resume question first, then the filter while it
// has focus, then the list.
func (h *historyScreen) key(msg tea.KeyPressMsg) tea.Cmd {
	switch {
	case h.ask != nil:
		return h.answerKey(msg)
	case h.editing:
		return h.filterKey(msg)
	}
	return h.listKey(msg)
}

// answerKey answers the resume question: y runs the planned resume.
func (h *historyScreen) answerKey(msg tea.KeyPressMsg) tea.Cmd {
	k := h.c.keys
	switch {
	case key.Matches(msg, k.Yes):
		p := h.ask
		h.ask = nil
		return push(newBoard(h.c, p))
	case key.Matches(msg, k.No):
		h.ask = nil
		return status("not resumed", false)
	}
	return nil
}

// filterKey edits the filter: enter keeps it, esc clears it.
func (h *historyScreen) filterKey(msg tea.KeyPressMsg) tea.Cmd {
	k := h.c.keys
	switch {
	case key.Matches(msg, k.Open):
		h.editing = false
		h.filter.Blur()
		return nil
	case key.Matches(msg, k.Back):
		h.editing = false
		h.filter.Blur()
		h.filter.SetValue("")
		h.refilter()
		return nil
	}
	var cmd tea.Cmd
	h.filter, cmd = h.filter.Update(msg)
	h.refilter()
	return cmd
}

// listKey moves in the list and acts on the selected run.
func (h *historyScreen) listKey(msg tea.KeyPressMsg) tea.Cmd {
	k := h.c.keys
	switch {
	case key.Matches(msg, k.Filter):
		h.editing = true
		return h.filter.Focus()
	case key.Matches(msg, k.Up):
		h.cursor = max(h.cursor-1, 0)
	case key.Matches(msg, k.Down):
		h.cursor = min(h.cursor+1, max(len(h.shown)-1, 0))
	case key.Matches(msg, k.PageDown):
		h.cursor = min(h.cursor+h.rows(), max(len(h.shown)-1, 0))
	case key.Matches(msg, k.PageUp):
		h.cursor = max(h.cursor-h.rows(), 0)
	case key.Matches(msg, k.Back):
		if h.filter.Value() != "" {
			h.filter.SetValue("")
			h.refilter()
		}
	case key.Matches(msg, k.Open):
		if r := h.selected(); r != nil {
			return push(newRunDetail(h.c, r.RunID))
		}
	case key.Matches(msg, k.Verify):
		return h.verifyChain()
	case key.Matches(msg, k.Resume) && !h.c.deps.ReadOnly:
		if r := h.selected(); r != nil {
			return h.planResume(r.RunID)
		}
	}
	return nil
}

// verifyChain verifies the audit log's hash chain.
func (h *historyScreen) verifyChain() tea.Cmd {
	hist := h.c.deps.History
	// In sequence: "verifying…" must not arrive after the answer.
	return tea.Sequence(status("verifying the hash chain…", false), func() tea.Msg {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		res, err := hist.Verify(ctx, "")
		return verifiedMsg{res, err}
	})
}

// planResume asks the backend what resuming run id would send. It works
// that out counting every later resume of the run, so the question that
// follows names exactly what will be sent.
func (h *historyScreen) planResume(id string) tea.Cmd {
	runner := h.c.deps.Runner
	return tea.Sequence(status("planning the resumed run…", false), func() tea.Msg {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		p, err := runner.Resume(ctx, id, false)
		return resumePlannedMsg{id, p, err}
	})
}

func (h *historyScreen) selected() *history.RunSummary {
	if h.cursor < 0 || h.cursor >= len(h.shown) {
		return nil
	}
	return &h.runs[h.shown[h.cursor]]
}

// refilter keeps the runs whose text contains every word of the filter.
func (h *historyScreen) refilter() {
	words := strings.Fields(strings.ToLower(h.filter.Value()))
	h.shown = h.shown[:0]
	for i, r := range h.runs {
		text := strings.ToLower(strings.Join([]string{r.RunID, r.Info.Operator, r.Info.Reason, r.Info.Ticket,
			usersText(r.Info.Users), countsText(r)}, " "))
		ok := true
		for _, w := range words {
			if !strings.Contains(text, w) {
				ok = false
				break
			}
		}
		if ok {
			h.shown = append(h.shown, i)
		}
	}
	h.cursor = min(h.cursor, max(len(h.shown)-1, 0))
}

func usersText(us []actions.User) string {
	var s []string
	for _, u := range us {
		s = append(s, u.Key())
	}
	return strings.Join(s, " ")
}

func countsText(r history.RunSummary) string {
	s := actions.Tally(r.Counts, nil)
	switch {
	case r.Interrupted:
		s = "INTERRUPTED " + s
	case r.InProgress:
		s = "in progress " + s
	case r.Info.DryRun:
		s = "dry run " + s
	}
	return s
}

func (h *historyScreen) rows() int { return max(h.c.bodyHeight()-3, 1) }

func (h *historyScreen) view() string {
	c := h.c
	var b strings.Builder
	if h.editing || h.filter.Value() != "" {
		b.WriteString(h.filter.View() + "\n")
	} else {
		fmt.Fprintf(&b, "%s in %s\n", plural(len(h.runs), "run"), clean(c.deps.AuditPath, 100))
	}
	switch {
	case h.err != "":
		b.WriteString(c.st.err.Render("cannot read the audit log: "+clean(h.err, 200)) + "\n")
		return b.String()
	case !h.loaded:
		b.WriteString(c.st.dim.Render("loading…") + "\n")
		return b.String()
	case len(h.runs) == 0:
		b.WriteString(c.st.dim.Render("no runs yet: revoke someone from Search, and the run appears here") + "\n")
		return b.String()
	}
	now := c.now()
	rows := make([][]string, len(h.shown))
	for i, ix := range h.shown {
		r := h.runs[ix]
		when := r.Started.Local().Format("01-02 15:04")
		if now.Sub(r.Started) < 24*time.Hour {
			when = r.Started.Local().Format("15:04:05")
		}
		state := "finished"
		switch {
		case r.Interrupted:
			state = c.st.outcome[actions.Unknown].Render("INTERRUPTED")
		case r.InProgress:
			state = "in progress"
		case r.Info.DryRun:
			state = "dry run"
		case r.Counts[actions.Failed]+r.Counts[actions.Rejected]+r.Counts[actions.Cancelled] > 0:
			state = c.st.outcome[actions.Failed].Render("failures")
		}
		rows[i] = []string{when, state, usersCell(r.Info.Users, usersWidth), clean(r.Info.Reason, 60),
			clean(r.Info.Ticket, 20), clean(r.Info.Operator, 20), countsShort(c, r.Counts)}
	}
	cols := []column{{"STARTED", 11}, {"STATE", 11}, {"USERS", usersWidth}, {"REASON", 0}, {"TICKET", 0}, {"OPERATOR", 0}, {"RESULT", 16}}
	if c.width < 110 {
		cols[4].title, cols[5].title = "", ""
		cols[4].width, cols[5].width = -1, -1
	}
	h.offset = scroll(h.cursor, h.offset, h.rows(), len(rows))
	b.WriteString(c.table(cols, rows, h.cursor, h.offset, h.rows()))
	b.WriteString("\n" + c.st.dim.Render(legend))
	return b.String()
}

// legend explains the outcome marks.
const legend = "✓ revoked ∅ not found ✗ rejected/failed ⊘ cancelled ? unknown ◇ planned"

// countsShort is outcome counts as marks: "✓11 ∅1 ✗1".
func countsShort(c *common, counts map[actions.Outcome]int) string {
	merged := map[string]int{}
	var order []string
	for _, o := range actions.Outcomes {
		if n := counts[o]; n > 0 {
			m := shortMark(o)
			if _, ok := merged[m]; !ok {
				order = append(order, m)
			}
			merged[m] += n
		}
	}
	var parts []string
	for _, m := range order {
		parts = append(parts, fmt.Sprintf("%s%d", m, merged[m]))
	}
	return strings.Join(parts, " ")
}

// usersWidth is the width of History's USERS column.
const usersWidth = 20

// usersCell names a run's users in w cells; the "+N" of a bulk run is
// never the part cut off.
func usersCell(us []actions.User, w int) string {
	switch len(us) {
	case 0:
		return "-"
	case 1:
		return clean(us[0].Key(), 200)
	}
	more := fmt.Sprintf(" +%d", len(us)-1)
	return ansi.Truncate(clean(us[0].Key(), 200), max(w-len(more), 1), "…") + more
}

// runDetailScreen is one past run: its steps and its event timeline.
type runDetailScreen struct {
	c      *common
	id     string
	st     *actions.RunState
	events []actions.Event
	err    string
	offset int
}

type runLoadedMsg struct {
	id     string
	st     *actions.RunState
	events []actions.Event
	err    error
}

func newRunDetail(c *common, id string) *runDetailScreen { return &runDetailScreen{c: c, id: id} }

func (r *runDetailScreen) title() string { return "Run " + r.id }
func (r *runDetailScreen) typing() bool  { return false }
func (r *runDetailScreen) keys() []key.Binding {
	return []key.Binding{withHelp(r.c.keys.Down, "↑/↓", "scroll"), r.c.keys.Back}
}

func (r *runDetailScreen) update(msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case pushedMsg:
		if msg.s != screen(r) {
			return nil
		}
		hist, id := r.c.deps.History, r.id
		return func() tea.Msg {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			st, evs, err := hist.Run(ctx, id)
			return runLoadedMsg{id, st, evs, err}
		}
	case runLoadedMsg:
		if msg.id != r.id {
			return nil
		}
		r.st, r.events = msg.st, msg.events
		if msg.err != nil {
			r.err = msg.err.Error()
		}
	case tea.KeyPressMsg:
		k := r.c.keys
		switch {
		case key.Matches(msg, k.Back):
			return pop
		case key.Matches(msg, k.Down):
			r.offset++
		case key.Matches(msg, k.Up):
			r.offset = max(r.offset-1, 0)
		case key.Matches(msg, k.PageDown):
			r.offset += r.c.bodyHeight() - 2
		case key.Matches(msg, k.PageUp):
			r.offset = max(r.offset-r.c.bodyHeight()+2, 0)
		}
	}
	return nil
}

func (r *runDetailScreen) view() string {
	c := r.c
	if r.err != "" {
		return c.st.err.Render(clean(r.err, 300))
	}
	if r.st == nil {
		return c.st.dim.Render("loading…")
	}
	i := r.st.Info
	var lines []string
	add := func(label, v string) {
		if v != "" {
			lines = append(lines, c.st.label.Render(label)+" "+v)
		}
	}
	state := "finished"
	switch {
	case !r.st.Done && r.st.Pending() > 0:
		state = fmt.Sprintf("in progress (pid %d on %s)", r.st.Info.PID, clean(r.st.Info.Host, 40))
	case !r.st.Done:
		state = c.st.outcome[actions.Unknown].Render("INTERRUPTED: the process ended before the run finished")
	}
	add("State", state)
	started := r.st.Started.Local().Format(time.RFC3339) + " by " + clean(i.Operator, 30)
	if h := clean(i.Host, 30); h != "" {
		started += " on " + h
	}
	add("Started", started)
	add("Reason", clean(i.Reason, 200))
	add("Ticket", clean(i.Ticket, 60))
	add("Resumes", i.ResumeOf)
	if i.DryRun {
		add("Dry run", "nothing was sent")
	}
	add("Users", clean(usersText(i.Users), 200))
	lines = append(lines, "")
	rows := make([][]string, len(r.st.Steps))
	kinds := make([]string, len(r.st.Steps))
	mixed := false
	for j, s := range r.st.Steps {
		kinds[j] = "okta"
		if !s.Action.Okta() {
			kinds[j] = clean(string(s.Action), 12) // a target step's action is its kind
			mixed = mixed || s.Action != actions.ActionGTR
		}
		name := stepName(s) // as the board calls it
		httpS := ""
		if s.HTTPStatus != 0 {
			httpS = fmt.Sprint(s.HTTPStatus)
		}
		rows[j] = []string{c.st.renderOutcome(s.Outcome, outcomeMark(s.Outcome)), name, clean(s.User, 30), httpS,
			fmt.Sprint(s.Attempts), fmt.Sprintf("%dms", s.LatencyMS), clean(s.Error, 200)}
	}
	cols, rows := withKind(mixed, []column{{"OUTCOME", 12}, {"TARGET", 16}, {"USER", 20}, {"HTTP", 4}, {"TRY", 3}, {"TIME", 7}, {"REASON", 0}}, rows, 2, kinds)
	lines = append(lines, strings.Split(c.table(cols, rows, -1, 0, len(rows)), "\n")...)
	lines = append(lines, "", c.st.title.Render("Timeline"))
	for _, ev := range r.events {
		if ev.Kind == actions.KindPlanned {
			continue
		}
		l := fmt.Sprintf("%s #%d %s", ev.Time.Local().Format("15:04:05.000"), ev.Seq, ev.Describe())
		lines = append(lines, l)
	}
	h := c.bodyHeight()
	r.offset = min(r.offset, max(len(lines)-h, 0))
	return strings.Join(lines[r.offset:], "\n")
}

// jumpTop and jumpBottom go to the first and the last row of a list.
var (
	jumpTop    = key.NewBinding(key.WithKeys("g", "home"), key.WithHelp("g/G", "first/last"))
	jumpBottom = key.NewBinding(key.WithKeys("G", "end"), key.WithHelp("G", "last"))
)
