package tui

import (
	"context"
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

// historyRuns is how many runs, newest first, the History screen reads.
const historyRuns = 500

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
	resume  resumer
}

type historyLoadedMsg struct {
	runs []history.RunSummary
	err  error
}

func newHistory(c *common) *historyScreen {
	f := newInput("filter › ", "user, reason, ticket, operator, outcome, date", 200)
	f.SetWidth(c.width - 10)
	h := &historyScreen{c: c, filter: f}
	h.resume = resumer{c: c, from: h}
	return h
}

func (h *historyScreen) title() string { return "History" }
func (h *historyScreen) typing() bool  { return h.editing }

func (h *historyScreen) keys() []key.Binding {
	k := h.c.keys
	if h.resume.asking() {
		return h.resume.keys()
	}
	if h.editing {
		return []key.Binding{withHelp(k.Open, "enter", "done"), withHelp(k.Back, "esc", "clear filter")}
	}
	var ks []key.Binding
	if h.selected() != nil {
		ks = append(ks, moveKey(k, "move"), k.Open)
	}
	ks = append(ks, k.Filter)
	if h.filter.Value() != "" {
		ks = append(ks, withHelp(k.Back, "esc", "clear filter"))
	}
	if !h.c.deps.ReadOnly && h.selected() != nil {
		ks = append(ks, withHelp(k.Resume, "R", "resume"))
	}
	return append(ks, withHelp(k.Verify, "v", "verify"))
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
		runs, err := hist.Runs(ctx, history.RunFilter{Limit: historyRuns})
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
		if msg.from == screen(h) {
			h.verify = verifyText(msg)
			return status(h.verify, msg.err != nil || !msg.res.OK)
		}
	case resumePlannedMsg:
		return h.resume.planned(msg)
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
	case h.resume.asking():
		return h.resume.answer(msg)
	case h.editing:
		return h.filterKey(msg)
	}
	return h.listKey(msg)
}

// filterKey edits the filter: enter keeps it, esc clears it.
func (h *historyScreen) filterKey(msg tea.KeyPressMsg) tea.Cmd {
	cmd, changed := editFilter(&h.filter, &h.editing, h.c.keys, msg)
	if changed {
		h.refilter()
	}
	return cmd
}

// listKey moves in the list and acts on the selected run.
func (h *historyScreen) listKey(msg tea.KeyPressMsg) tea.Cmd {
	k := h.c.keys
	last := max(len(h.shown)-1, 0)
	switch {
	case key.Matches(msg, k.Filter):
		h.editing = true
		return h.filter.Focus()
	case key.Matches(msg, k.Up):
		h.cursor = max(h.cursor-1, 0)
	case key.Matches(msg, k.Down):
		h.cursor = min(h.cursor+1, last)
	case key.Matches(msg, k.PageDown):
		h.cursor = min(h.cursor+h.rows(), last)
	case key.Matches(msg, k.PageUp):
		h.cursor = max(h.cursor-h.rows(), 0)
	case key.Matches(msg, jumpTop):
		h.cursor = 0
	case key.Matches(msg, jumpBottom):
		h.cursor = last
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
		return verifyChain(h.c, h)
	case key.Matches(msg, k.Resume) && !h.c.deps.ReadOnly:
		if r := h.selected(); r != nil {
			return h.resume.plan(r.RunID)
		}
	}
	return nil
}

func (h *historyScreen) selected() *history.RunSummary {
	if h.cursor < 0 || h.cursor >= len(h.shown) {
		return nil
	}
	return &h.runs[h.shown[h.cursor]]
}

// refilter keeps the runs whose text contains every word of the filter:
// id, operator, reason, ticket, users, outcomes, state and start date.
func (h *historyScreen) refilter() {
	words := strings.Fields(strings.ToLower(h.filter.Value()))
	h.shown = h.shown[:0]
	for i, r := range h.runs {
		text := strings.ToLower(strings.Join([]string{r.RunID, r.Info.Operator, r.Info.Reason, r.Info.Ticket,
			usersText(r.Info.Users), countsText(r), actions.Tally(r.Counts, outcomeWord),
			r.Started.Local().Format("2006-01-02 15:04")}, " "))
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

// rows is the table's height: the screen less the title line, the header,
// the selected run's detail (three lines) and the legend.
func (h *historyScreen) rows() int { return max(h.c.bodyHeight()-6, 1) }

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
		empty := "no runs yet: revoke someone from Search, and the run appears here"
		if c.deps.ReadOnly {
			empty = "no runs yet in this audit log (read-only: this console sends nothing)"
		}
		b.WriteString(c.st.dim.Render(empty) + "\n")
		return b.String()
	case len(h.shown) == 0:
		b.WriteString(c.st.outcome[actions.Unknown].Render(fmt.Sprintf("no run of the %d matches %q", len(h.runs), clean(h.filter.Value(), 60))) +
			"\n" + c.st.dim.Render(trimLines(wrap("the filter matches words of the user, reason, ticket, operator, outcome or date; esc clears it", c.width))) + "\n")
		return b.String()
	}
	now := c.now()
	uw := usersWidth
	if c.width < 100 {
		uw = 16
	}
	rows := make([][]string, len(h.shown))
	h.offset = scroll(h.cursor, h.offset, h.rows(), len(rows))
	// Only the visible rows are formatted.
	for i := h.offset; i < len(h.shown) && i < h.offset+h.rows(); i++ {
		r := h.runs[h.shown[i]]
		when := r.Started.Local().Format("01-02 15:04")
		if r.Started.Year() != now.Year() {
			when = r.Started.Local().Format("2006-01-02")
		}
		result := countsShort(c, r.Counts)
		if r.WatchAlarms > 0 {
			// The watch saw someone get in after the run.
			result = c.st.err.Render("⚠") + " " + result
		}
		rows[i] = []string{when, runState(c, r), usersCell(r.Info.Users, uw), clean(r.Info.Reason, 60),
			clean(r.Info.Ticket, 20), clean(r.Info.Operator, 20), result}
	}
	zone, _ := now.Local().Zone()
	cols := []column{{"STARTED " + zone, 11}, {"STATE", 11}, {"USERS", usersWidth}, {"REASON", 0}, {"TICKET", 10}, {"OPERATOR", 12}, {"RESULT", 14}}
	if c.width < 110 {
		cols[5].width = -1 // the detail line names the operator
	}
	cols[2].width = uw
	b.WriteString(c.table(cols, rows, h.cursor, h.offset, h.rows()))
	for _, l := range h.detail() {
		b.WriteString("\n" + l)
	}
	b.WriteString("\n" + c.st.dim.Render(ansi.Truncate(legend, c.width, "…")))
	return b.String()
}

// detail is the selected run in full, three lines: when, who, why, the
// ticket and every user, then its outcomes in words.
func (h *historyScreen) detail() []string {
	r := h.selected()
	if r == nil {
		return nil
	}
	c := h.c
	who := clean(r.Info.Operator, 40)
	if host := clean(r.Info.Host, 40); host != "" {
		who += " on " + host
	}
	parts := []string{r.Started.Local().Format("2006-01-02 15:04:05 MST") + " by " + who}
	if t := clean(r.Info.Ticket, 60); t != "" {
		parts = append(parts, "ticket "+t)
	}
	parts = append(parts, "reason: "+clean(r.Info.Reason, 200))
	if n := len(r.Info.Users); n > 1 {
		parts = append(parts, fmt.Sprintf("%d users: %s", n, clean(usersText(r.Info.Users), 200)))
	} else {
		parts = append(parts, clean(usersText(r.Info.Users), 100))
	}
	lines := strings.Split(wrap(strings.Join(parts, " · "), c.width), "\n")
	if len(lines) > 2 {
		lines = append(lines[:1], ansi.Truncate(lines[1], c.width-1, "")+"…")
	}
	for len(lines) < 2 {
		lines = append(lines, "") // the table does not jump as the selection moves
	}
	for i, l := range lines {
		lines[i] = strings.TrimRight(l, " ")
	}
	last := fmt.Sprintf("%s: %s", plural(r.Steps, "step"), actions.Tally(r.Counts, outcomeWord))
	if r.Info.ResumeOf != "" {
		last += " · resumes " + clean(r.Info.ResumeOf, 40)
	}
	switch {
	case r.WatchAlarms > 0:
		last += " · ⚠ " + plural(r.WatchAlarms, "alarm") // the watch saw a success after the run
	case r.Watched:
		last += " · watched, no alarm"
	}
	if hint := " · enter opens it"; ansi.StringWidth(last+hint) <= c.width {
		last += hint // else the help line says it: the counts come first
	}
	return append(lines, c.st.dim.Render(ansi.Truncate(last, c.width, "…")))
}

// runState is a run's STATE cell.
func runState(c *common, r history.RunSummary) string {
	switch s := r.State(); s {
	case history.StateInterrupted:
		return c.st.outcome[actions.Unknown].Render("INTERRUPTED")
	case history.StateFailures:
		return c.st.outcome[actions.Failed].Render(s)
	case history.StateCancelled:
		return c.st.outcome[actions.Cancelled].Render(s)
	default:
		return s
	}
}

// legend explains the outcome marks.
const legend = "✓ revoked ∅ not found ✗ rejected/failed ⊘ cancelled ? unknown ◇ planned ⚠ alarm"

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

// jumpTop and jumpBottom go to the first and the last row of a list.
var (
	jumpTop    = key.NewBinding(key.WithKeys("g", "home"), key.WithHelp("g/G", "first/last"))
	jumpBottom = key.NewBinding(key.WithKeys("G", "end"), key.WithHelp("G", "last"))
)
