package tui

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	"charm.land/bubbles/v2/textinput"
	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"ulc/actions"
	"ulc/history"
)

// recentResults is how many past results per target the screen shows.
const recentResults = 10

// checkAllAtOnce is how many checks C sends at the same time.
const checkAllAtOnce = 4

// checkAll checks every target with C.
var checkAll = key.NewBinding(key.WithKeys("C"), key.WithHelp("C", "check all"))

// targetsScreen is the registry with each target's recent record, and a
// check of reachability and credential.
type targetsScreen struct {
	c      *common
	stats  map[string][]history.TargetResult
	probes map[string]ProbeResult
	busy   map[string]bool
	// sweep counts a C in progress: targets still to answer, and how many
	// answered with a usable credential.
	sweep, sweepOK, sweepAll int
	err                      string
	// cursor is a position among the targets shown (all, or the
	// filter's); filter narrows them to those whose name, kind, URL or
	// verdict contain its text, filtering true while it is typed.
	cursor    int
	offset    int
	filter    textinput.Model
	filtering bool
}

type statsLoadedMsg struct {
	stats map[string][]history.TargetResult
	err   error
}
type probedMsg struct {
	name  string
	res   ProbeResult
	sweep bool // one of C's checks
}

func newTargets(c *common) *targetsScreen {
	return &targetsScreen{c: c, probes: map[string]ProbeResult{}, busy: map[string]bool{},
		filter: newInput("filter › ", "name, kind, URL or verdict", 100)}
}

func (t *targetsScreen) title() string { return "Targets" }
func (t *targetsScreen) typing() bool  { return t.filtering }
func (t *targetsScreen) keys() []key.Binding {
	k := t.c.keys
	if t.filtering {
		return []key.Binding{withHelp(k.Open, "enter", "keep filter"), withHelp(k.Back, "esc", "clear filter")}
	}
	var ks []key.Binding
	if len(t.shown()) > 0 {
		ks = append(ks, moveKey(k, "move"))
		if t.canCheck() {
			ks = append(ks, withHelp(k.Check, "c", "check"))
		}
	}
	if t.canCheck() {
		ks = append(ks, checkAll)
	}
	if len(t.c.deps.Targets) > 0 {
		ks = append(ks, k.Filter)
	}
	if t.filter.Value() != "" {
		ks = append(ks, withHelp(k.Back, "esc", "clear filter"))
	}
	return ks
}

// shown are the indexes of the targets the screen lists: every one, or
// those the filter matches.
func (t *targetsScreen) shown() []int {
	q := strings.ToLower(strings.TrimSpace(t.filter.Value()))
	out := make([]int, 0, len(t.c.deps.Targets))
	for i, tg := range t.c.deps.Targets {
		kind, _, _ := targetCells(tg)
		if q == "" || containsFold(tg.Name, q) || containsFold(kind, q) || containsFold(tg.URL, q) ||
			containsFold(t.probes[tg.Name].Verdict, q) || containsFold(t.c.deps.Unusable[tg.Name], q) {
			out = append(out, i)
		}
	}
	return out
}

// selected is the index in the registry of the target under the cursor;
// false when none shows.
func (t *targetsScreen) selected() (int, bool) {
	shown := t.shown()
	if t.cursor < 0 || t.cursor >= len(shown) {
		return 0, false
	}
	return shown[t.cursor], true
}

// filterKey handles a key while the filter is typed: enter keeps it, esc
// clears it, anything else edits it.
func (t *targetsScreen) filterKey(msg tea.KeyPressMsg) tea.Cmd {
	cmd, changed := editFilter(&t.filter, &t.filtering, t.c.keys, msg)
	if changed {
		t.cursor, t.offset = 0, 0
	}
	return cmd
}

func (t *targetsScreen) canCheck() bool {
	return !t.c.deps.ReadOnly && t.c.deps.Prober != nil && len(t.c.deps.Targets) > 0
}

func (t *targetsScreen) load() tea.Cmd {
	hist := t.c.deps.History
	if hist == nil {
		return nil
	}
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		s, err := hist.TargetStats(ctx, recentResults)
		return statsLoadedMsg{s, err}
	}
}

func (t *targetsScreen) update(msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case focusMsg:
		return t.load()
	case statsLoadedMsg:
		t.stats = msg.stats
		t.err = ""
		if msg.err != nil {
			t.err = msg.err.Error()
		}
	case probedMsg:
		delete(t.busy, msg.name)
		t.probes[msg.name] = msg.res
		if !msg.sweep {
			return status(msg.name+": "+msg.res.Verdict, !msg.res.Outcome.Success())
		}
		t.sweep--
		if msg.res.Outcome.Success() {
			t.sweepOK++
		}
		if t.sweep > 0 {
			return nil // the header counts the answers
		}
		bad := t.sweepAll - t.sweepOK
		if bad == 0 {
			return status(fmt.Sprintf("checked %s: every one reachable, credential accepted", plural(t.sweepAll, "target")), false)
		}
		return status(fmt.Sprintf("checked %s: %d reachable with a credential accepted, %d not (✗ rows; ↑/↓ reads why)",
			plural(t.sweepAll, "target"), t.sweepOK, bad), true)
	case tea.KeyPressMsg:
		return t.key(msg)
	}
	return nil
}

func (t *targetsScreen) key(msg tea.KeyPressMsg) tea.Cmd {
	k := t.c.keys
	if t.filtering {
		return t.filterKey(msg)
	}
	n := len(t.shown())
	switch {
	case key.Matches(msg, k.Filter) && len(t.c.deps.Targets) > 0:
		t.filtering = true
		return t.filter.Focus()
	case key.Matches(msg, k.Back) && t.filter.Value() != "":
		t.filter.SetValue("")
		t.cursor, t.offset = 0, 0
	case key.Matches(msg, k.Up):
		t.cursor = max(t.cursor-1, 0)
	case key.Matches(msg, k.Down):
		t.cursor = min(t.cursor+1, max(n-1, 0))
	case key.Matches(msg, k.PageDown):
		t.cursor = min(t.cursor+t.rows(), max(n-1, 0))
	case key.Matches(msg, k.PageUp):
		t.cursor = max(t.cursor-t.rows(), 0)
	case key.Matches(msg, jumpTop):
		t.cursor = 0
	case key.Matches(msg, jumpBottom):
		t.cursor = max(n-1, 0)
	case key.Matches(msg, checkAll) && t.canCheck():
		return t.checkEvery()
	case key.Matches(msg, k.Check) && t.canCheck():
		i, ok := t.selected()
		if !ok {
			return nil
		}
		tg := t.c.deps.Targets[i]
		if t.busy[tg.Name] {
			return nil
		}
		t.busy[tg.Name] = true
		prober := t.c.deps.Prober
		return tea.Sequence(status("checking "+tg.Name+"…", false), func() tea.Msg {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			return probedMsg{name: tg.Name, res: prober.Probe(ctx, tg)}
		})
	}
	return nil
}

// checkEvery checks every target not being checked already, a few at a
// time, each answer shown on its row as it comes.
func (t *targetsScreen) checkEvery() tea.Cmd {
	if t.sweep > 0 {
		return nil // a C is under way
	}
	prober := t.c.deps.Prober
	slots := make(chan struct{}, checkAllAtOnce)
	var cmds []tea.Cmd
	for _, tg := range t.c.deps.Targets {
		if t.busy[tg.Name] {
			continue
		}
		t.busy[tg.Name] = true
		cmds = append(cmds, func() tea.Msg {
			slots <- struct{}{}
			defer func() { <-slots }()
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			return probedMsg{name: tg.Name, res: prober.Probe(ctx, tg), sweep: true}
		})
	}
	if len(cmds) == 0 {
		return nil
	}
	t.sweep, t.sweepOK, t.sweepAll = len(cmds), 0, len(cmds)
	return tea.Sequence(status(fmt.Sprintf("checking %s…", plural(len(cmds), "target")), false), tea.Batch(cmds...))
}

// rows is the table's height: the screen less the title, the header, the
// selected target's detail and the legend.
func (t *targetsScreen) rows() int {
	// The head line, the table's header, the detail and the legend; the
	// record's error and the filter's line when they show.
	extra := 0
	if t.err != "" {
		extra++
	}
	if t.filtering || t.filter.Value() != "" {
		extra++
	}
	return max(t.c.bodyHeight()-3-extra-detailLines, 1)
}

// health is a target's record as the screen weighs it.
type health struct {
	marks            string
	rate, tries, med string
}

// healthOf weighs the sent steps of one target: the success rate among the
// steps the application answered (a cancelled or unknown step is not its
// answer), the requests a step took on average, and the median of whole
// step times, retries' waits included.
func (t *targetsScreen) healthOf(recent []history.TargetResult) health {
	h := health{rate: "-", tries: "-", med: "-"}
	var marks strings.Builder
	ok, answered, tries := 0, 0, 0
	var ms []int64
	for _, r := range recent {
		marks.WriteString(t.c.st.renderOutcome(r.Outcome, shortMark(r.Outcome)))
		tries += r.Attempts
		ms = append(ms, r.StepMS)
		switch {
		case r.Outcome.Success():
			ok++
			answered++
		case r.Outcome == actions.Rejected || r.Outcome == actions.Failed:
			answered++
		}
	}
	h.marks = marks.String()
	if answered > 0 {
		h.rate = fmt.Sprintf("%d%%", 100*ok/answered)
	}
	if len(recent) > 0 {
		h.tries = fmt.Sprintf("%.1f", float64(tries)/float64(len(recent)))
		slices.Sort(ms)
		h.med = millis(ms[len(ms)/2])
	}
	return h
}

// stepTime is a finished step's TIME cell, on the board and in a run's
// view: the whole step, from its first request leaving to its result, the
// waits between retries included, the Targets screen's median measures.
// A step still under way, or never sent, has none yet.
func stepTime(s *actions.StepState) string {
	if s.Outcome == "" || s.Attempts == 0 || s.Outcome == actions.Unknown || s.Outcome == actions.NotSent {
		return "" // no answer: no time
	}
	return millis(s.StepMS)
}

// timeDetail is a step's time in words, for its detail: the whole step and,
// when it sent more than one request, the requests' own time.
func timeDetail(s *actions.StepState) string {
	switch {
	case s.Attempts == 0:
		return "no request sent"
	case s.Outcome == "":
		return "under way"
	case s.Outcome == actions.Unknown:
		return "no answer recorded"
	case s.Attempts == 1:
		return millis(s.StepMS) + ", one request"
	}
	return fmt.Sprintf("%s from first request to result (%d requests, %s of it)",
		millis(s.StepMS), s.Attempts, millis(s.LatencyMS))
}

// millis is a duration in milliseconds as people read it: "840ms", "1.5s".
func millis(ms int64) string {
	if ms < 1000 {
		return fmt.Sprintf("%dms", ms)
	}
	return fmt.Sprintf("%.1fs", float64(ms)/1000)
}

func (t *targetsScreen) view() string {
	c := t.c
	var b strings.Builder
	head := fmt.Sprintf("%d targets registered", len(c.deps.Targets))
	if n := t.unusable(); n > 0 {
		head += " · " + c.st.err.Render(fmt.Sprintf("%d cannot be used: their credential (✗ rows)", n))
	}
	if t.sweep > 0 {
		head += fmt.Sprintf(" · checking %d: %d answered", t.sweepAll, t.sweepAll-t.sweep)
	}
	b.WriteString(ansi.Truncate(head, c.width, "…") + "\n")
	if t.err != "" {
		b.WriteString(c.st.err.Render("cannot read the record: "+clean(t.err, 200)) + "\n")
	}
	if line := t.filterLine(); line != "" {
		b.WriteString(line + "\n")
	}
	shown := t.shown()
	rows := make([][]string, len(shown))
	kinds := make([]string, len(shown))
	for i, ti := range shown {
		tg := c.deps.Targets[ti]
		h := t.healthOf(t.stats[tg.Name])
		state := "on"
		if !tg.Enabled {
			state = "off"
		}
		kind, subject, auth := targetCells(tg)
		kinds[i] = kind
		rows[i] = []string{tg.Name, state, subject, auth, h.marks, h.rate, h.tries, h.med, t.lastCell(ti)}
	}
	t.cursor = min(t.cursor, max(len(rows)-1, 0))
	t.offset = scroll(t.cursor, t.offset, t.rows(), len(rows))
	cols := []column{{"TARGET", 14}, {"", 3}, {"SUBJECT", 7}, {"AUTH", 6}, {"RECENT", recentResults},
		{"OK", 4}, {"TRIES", 5}, {"MEDIAN", 6}, {"URL / CHECK", 0}}
	if c.width < 100 {
		cols[2].width = -1 // the detail line names it
	}
	cols, rows = withKind(mixedKinds(t.c.deps.Targets), cols, rows, 2, kinds)
	b.WriteString(c.table(cols, rows, t.cursor, t.offset, t.rows()))
	for _, l := range t.detail() {
		b.WriteString("\n" + l)
	}
	b.WriteString("\n" + c.st.dim.Render(ansi.Truncate(targetsLegend, c.width, "…")))
	return b.String()
}

// targetsLegend says what the record's columns count.
const targetsLegend = "RECENT sent steps, oldest first · TRIES requests a step · MEDIAN whole step"

// unusable counts the targets whose credential cannot be loaded.
func (t *targetsScreen) unusable() int {
	n := 0
	for _, tg := range t.c.deps.Targets {
		if t.c.deps.Unusable[tg.Name] != "" {
			n++
		}
	}
	return n
}

// filterLine is the filter as typed or kept, with how many targets it
// shows; "" without one.
func (t *targetsScreen) filterLine() string {
	return t.c.filterLine(t.filter, t.filtering, len(t.shown()), len(t.c.deps.Targets), "targets")
}

// lastCell is the last column of target i: what a check found, else why
// its credential cannot be used, else its URL.
func (t *targetsScreen) lastCell(i int) string {
	c, tg := t.c, t.c.deps.Targets[i]
	p, checked := t.probes[tg.Name]
	switch {
	case t.busy[tg.Name]:
		return "checking…"
	case checked:
		return c.st.renderOutcome(p.Outcome, shortMark(p.Outcome)+" "+clean(p.Verdict, 300))
	case c.deps.Unusable[tg.Name] != "":
		// The row names the target: the file and line are in the detail.
		u := c.deps.Unusable[tg.Name]
		if _, rest, ok := strings.Cut(u, fmt.Sprintf("target %q: ", tg.Name)); ok {
			u = rest
		}
		return c.st.renderOutcome(actions.Failed, "✗ "+clean(u, 300))
	}
	return clean(tg.URL, 300)
}

// detailLines is the height of the selected target's detail.
const detailLines = 4

// detail is the selected target in full, in detailLines lines: where it
// is, its credential's problem or check's verdict, and its record in words.
func (t *targetsScreen) detail() []string {
	c := t.c
	ti, ok := t.selected()
	if !ok {
		return nil
	}
	tg := c.deps.Targets[ti]
	kind, subject, auth := targetCells(tg)
	parts := []string{tg.Name + " (" + strings.Join(nonEmpty(kind, "subject "+subject, auth), ", ") + ") " + clean(tg.URL, 200)}
	// What to act on first: the check's verdict or the credential's
	// problem, then the record.
	if p, ok := t.probes[tg.Name]; ok && !t.busy[tg.Name] {
		parts = append(parts, "check: "+clean(p.Verdict, 300))
	} else if u := c.deps.Unusable[tg.Name]; u != "" {
		parts = append(parts, "cannot be used: "+clean(u, 300))
	}
	if recent := t.stats[tg.Name]; len(recent) > 0 {
		h := t.healthOf(recent)
		parts = append(parts, fmt.Sprintf("last %s: %s ok, %s tries a step, median %s", plural(len(recent), "send"), h.rate, h.tries, h.med))
	} else {
		parts = append(parts, "no request sent yet")
	}
	lines := strings.Split(wrap(strings.Join(parts, " · "), c.width), "\n")
	if len(lines) > detailLines {
		last := strings.TrimRight(lines[detailLines-1], " ")
		lines = append(lines[:detailLines-1], ansi.Truncate(last, c.width-1, "")+"…")
	}
	for i, l := range lines {
		lines[i] = strings.TrimRight(l, " ")
	}
	for len(lines) < detailLines {
		lines = append(lines, "") // the table does not jump as the selection moves
	}
	return lines
}
