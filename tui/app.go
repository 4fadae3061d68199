package tui

import (
	"fmt"
	"slices"
	"strings"

	"charm.land/bubbles/v2/help"
	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"ulc/actions"
	"ulc/directory"
	"ulc/internal/safetext"
)

// screen is one page of the console. Screens are pointers, changed only from
// Update; their Cmds copy what they need before running.
type screen interface {
	// update handles a message. Every non-key message reaches every live
	// screen; each ignores what is not its own.
	update(msg tea.Msg) tea.Cmd
	// view renders the body (between the tab bar and the status line).
	view() string
	// title names the screen in the header.
	title() string
	// keys lists the bindings shown in the help line.
	keys() []key.Binding
	// typing is true while a text field has focus: then q, digits and ?
	// are text, not commands.
	typing() bool
}

// Messages screens send to the root.
type (
	pushMsg   struct{ s screen }
	popMsg    struct{}
	statusMsg struct {
		text string
		err  bool
	}
)

func push(s screen) tea.Cmd { return func() tea.Msg { return pushMsg{s} } }
func pop() tea.Msg          { return popMsg{} }
func status(text string, isErr bool) tea.Cmd {
	return func() tea.Msg { return statusMsg{text, isErr} }
}

// Model is the root of the console.
type Model struct {
	c        *common
	tabs     []screen // Search, History, Targets
	tab      int
	stack    []screen // screens opened on top of the current tab
	help     help.Model
	full     bool // full help shown
	status   string
	isErr    bool
	runs     []*boardScreen // the runs in flight, oldest first
	watches  []*boardScreen // the boards watching their run's users
	quiting  bool           // asked "quit?" while a run is in flight
	stopping bool           // cancelling the run in flight, then quitting
	done     bool
}

// New returns the console for deps.
func New(deps Deps) Model {
	c := &common{deps: deps, width: 80, height: 24, st: newStyles(), keys: newKeyMap()}
	m := Model{c: c, help: help.New()}
	m.tabs = []screen{newSearch(c), newHistory(c), newTargets(c)}
	// The status line starts empty: the search box says what to do, and
	// the header says READ-ONLY when it is.
	return m
}

// Init implements tea.Model.
func (m Model) Init() tea.Cmd {
	return tea.Batch(m.tabs[0].(*searchScreen).init(), m.tabs[1].(*historyScreen).load(), m.tabs[2].(*targetsScreen).load())
}

func (m *Model) top() screen {
	if n := len(m.stack); n > 0 {
		return m.stack[n-1]
	}
	return m.tabs[m.tab]
}

// Update implements tea.Model. Order: size, then global keys, then the
// screen on top; other messages go to every live screen.
func (m Model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		// A terminal that cannot tell its size (output to a pipe, a
		// serial console) reports 0×0: lay out for 80×24 rather than
		// for nothing. Smaller than that is clamped too, so no width
		// below zero reaches a component.
		msg.Width, msg.Height = usableSize(msg.Width, msg.Height)
		m.c.width, m.c.height = msg.Width, msg.Height
		m.help.SetWidth(msg.Width)
		for _, s := range m.live() {
			s.update(msg)
		}
		return m, nil
	case pushMsg:
		m.stack = append(m.stack, msg.s)
		m.status, m.isErr = "", false
		cmd := msg.s.update(pushedMsg(msg))
		// A board starts its run when pushed: the run is in flight from
		// now on, before any answer (or its end) can arrive.
		if b, ok := msg.s.(*boardScreen); ok && b.running {
			m.runs = append(m.runs, b)
		}
		return m, cmd
	case popMsg:
		if n := len(m.stack); n > 0 {
			m.stack = m.stack[:n-1]
		}
		return m, nil
	case statusMsg:
		m.status, m.isErr = msg.text, msg.err
		return m, nil
	case RefreshMsg:
		return m, nil // drawn again: the header reads the forwarding state
	case ShutdownMsg:
		if len(m.runs) == 0 {
			m.done = true
			return m, tea.Quit
		}
		m.quiting, m.stopping = false, true
		m.status = "stopping: cancelling the run and recording what was answered… (ctrl+c leaves at once)"
		m.cancelRuns()
		return m, nil
	case tea.KeyPressMsg:
		return m.key(msg)
	}
	var cmds []tea.Cmd
	for _, s := range m.live() {
		cmds = append(cmds, s.update(msg))
	}
	// The run is over the moment its board hears so, not a message later:
	// a q pressed right after "finished" must not ask about a run in flight.
	if msg, ok := msg.(boardDoneMsg); ok {
		cmds = append(cmds, m.runEnded(msg.b))
	}
	m.followWatches(msg)
	return m, tea.Batch(cmds...)
}

// runEnded forgets b's run, shows its summary, reloads History and
// Targets, and quits if the operator asked to stop. A "quit?" question
// still unanswered is dropped: the operator did not agree to leave, and
// now sees how the run ended.
func (m *Model) runEnded(b *boardScreen) tea.Cmd {
	m.runs = slices.DeleteFunc(m.runs, func(r *boardScreen) bool { return r == b })
	// The summary in the same frame as the board's "finished".
	m.status, m.isErr = b.summary(), b.err != nil || b.failedCount() > 0
	if len(m.runs) == 0 && m.stopping {
		m.done = true
		return tea.Quit
	}
	// A "quit?" still open stays open: the operator's answer counts,
	// now about a console with nothing in flight.
	return tea.Batch(m.tabs[1].(*historyScreen).load(), m.tabs[2].(*targetsScreen).load())
}

// followWatches keeps the boards that watch in m.watches: they stay live
// (and b brings them back) when the operator leaves them.
func (m *Model) followWatches(msg tea.Msg) {
	var b *boardScreen
	switch msg := msg.(type) {
	case watchStartedMsg:
		b = msg.b
	case watchUpdateMsg:
		b = msg.b
	default:
		return
	}
	m.watches = slices.DeleteFunc(m.watches, func(r *boardScreen) bool { return r == b })
	if b.watching() {
		m.watches = append(m.watches, b)
	}
}

// live returns every screen that may be waiting for a message.
func (m *Model) live() []screen {
	out := append([]screen{}, m.tabs...)
	out = append(out, m.stack...)
	for _, r := range append(slices.Clip(m.runs), m.watches...) {
		if !contains(out, screen(r)) {
			out = append(out, r)
		}
	}
	return out
}

// cancelRuns cancels every run in flight.
func (m *Model) cancelRuns() {
	for _, r := range m.runs {
		r.cancelRun()
	}
}

// elsewhere returns the newest run in flight that is not on top, else the
// newest board watching that is not, if any.
func (m *Model) elsewhere() *boardScreen {
	for i := len(m.runs) - 1; i >= 0; i-- {
		if m.top() != screen(m.runs[i]) {
			return m.runs[i]
		}
	}
	for i := len(m.watches) - 1; i >= 0; i-- {
		if !contains(m.stack, screen(m.watches[i])) {
			return m.watches[i]
		}
	}
	return nil
}

func contains(ss []screen, s screen) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

func (m Model) key(msg tea.KeyPressMsg) (tea.Model, tea.Cmd) {
	k := m.c.keys
	if m.stopping {
		// Quitting as soon as the run has ended; a second ctrl+c leaves
		// now (what had no answer yet stays unknown in the audit log).
		if key.Matches(msg, k.ForceQuit) {
			m.done = true
			return m, tea.Quit
		}
		return m, nil
	}
	if m.quiting {
		switch {
		case (key.Matches(msg, k.Yes) || key.Matches(msg, k.ForceQuit)) && len(m.runs) == 0:
			// The run ended while the question was open: nothing is
			// left to cancel.
			m.quiting, m.done = false, true
			return m, tea.Quit
		case key.Matches(msg, k.Yes), key.Matches(msg, k.ForceQuit):
			m.quiting, m.stopping = false, true
			m.status, m.isErr = "cancelling the run; recording what was answered… (ctrl+c again leaves at once)", false
			m.cancelRuns()
			return m, nil
		case key.Matches(msg, k.No):
			m.quiting = false
			if len(m.runs) > 0 {
				m.status, m.isErr = "the run goes on", false
			}
		}
		return m, nil
	}
	top := m.top()
	quit := key.Matches(msg, k.ForceQuit) || (!top.typing() && key.Matches(msg, k.Quit))
	if quit {
		if len(m.runs) > 0 {
			m.quiting = true
			return m, nil
		}
		m.done = true
		return m, tea.Quit
	}
	if !top.typing() && key.Matches(msg, k.Help) {
		m.full = !m.full
		return m, nil
	}
	// Screens: tab cycles the top-level screens (inside a form it moves
	// between fields instead); a number jumps to one from anywhere.
	switch {
	case len(m.stack) == 0 && key.Matches(msg, k.NextTab):
		m.tab = (m.tab + 1) % len(m.tabs)
		return m, m.tabs[m.tab].update(focusMsg{})
	case len(m.stack) == 0 && key.Matches(msg, k.PrevTab):
		m.tab = (m.tab + len(m.tabs) - 1) % len(m.tabs)
		return m, m.tabs[m.tab].update(focusMsg{})
	case !top.typing() && key.Matches(msg, k.Tab1, k.Tab2, k.Tab3):
		m.tab = int(msg.String()[0] - '1')
		m.stack = nil // a run in flight goes on; b brings it back
		return m, m.tabs[m.tab].update(focusMsg{})
	}
	if r := m.elsewhere(); r != nil && !top.typing() && key.Matches(msg, k.Board) {
		m.stack = append(m.stack, r)
		return m, nil
	}
	return m, top.update(msg)
}

// The smallest layout the console draws; a terminal reporting no size gets
// the classic 80×24.
const (
	minWidth, minHeight         = 20, 8
	defaultWidth, defaultHeight = 80, 24
)

// usableSize returns the size to lay out for when the terminal reports w×h.
func usableSize(w, h int) (int, int) {
	if w <= 0 || h <= 0 {
		return defaultWidth, defaultHeight
	}
	return max(w, minWidth), max(h, minHeight)
}

// rateLimited is a directory that knows Okta's rate-limit budget.
type rateLimited interface{ RateLimit() directory.RateStatus }

// RefreshMsg asks the console to draw itself again, so that the header
// shows a change of the SIEMs' forwarding state while nobody types.
type RefreshMsg struct{}

// ShutdownMsg asks the console to stop, as on SIGTERM: a run in flight is
// cancelled and its answers recorded before the console quits.
type ShutdownMsg struct{}

// focusMsg tells a tab it was switched to.
type focusMsg struct{}

// View implements tea.Model.
func (m Model) View() tea.View {
	c := m.c
	var b strings.Builder
	// Header: what this console acts on.
	org := c.deps.OrgURL
	if org == "" {
		org = "no Okta org"
	}
	hdr := c.st.app.Render("ulc") + " " + c.st.dim.Render("org "+org)
	if rl, ok := c.deps.Directory.(rateLimited); ok {
		// The Okta client's last rate-limit headers: a bulk run shows how
		// close it is to the limit (the client paces itself before it).
		if rs := rl.RateLimit(); rs.Limit > 0 {
			budget := fmt.Sprintf("okta %d/%d", rs.Remaining, rs.Limit)
			if rs.Remaining*10 < rs.Limit {
				budget = c.st.outcome[actions.Cancelled].Render(budget + " until " + rs.Reset.Format("15:04:05"))
			} else {
				budget = c.st.dim.Render(budget)
			}
			hdr += c.st.dim.Render(" · ") + budget
		}
	}
	if c.deps.Forwarding != nil {
		// Before the audit path, which gives way first on a narrow screen.
		for _, fs := range c.deps.Forwarding() {
			label := safetext.Line(fs.Header(), 40)
			if fs.OK() {
				hdr += c.st.dim.Render(" · " + label)
			} else {
				hdr += c.st.dim.Render(" · ") + c.st.err.Render(label)
			}
		}
	}
	tail := ""
	if c.deps.ReadOnly {
		tail = " " + c.st.err.Render("READ-ONLY")
	}
	// The audit log's path loses its middle, not its file name, when the
	// header is short of room.
	path := safetext.Clean(c.deps.AuditPath)
	if room := c.width - ansi.StringWidth(hdr+" · audit "+tail); room >= 16 {
		path = shortPath(path, room)
	}
	hdr += c.st.dim.Render(" · audit "+path) + tail
	b.WriteString(ansi.Truncate(hdr, c.width, "…") + "\n")

	// Tab bar, with the pushed screens as a breadcrumb.
	var tabs []string
	for i, t := range m.tabs {
		label := string(rune('1'+i)) + " " + t.title()
		if i == m.tab {
			tabs = append(tabs, c.st.tabActive.Render(label))
		} else {
			tabs = append(tabs, c.st.tab.Render(label))
		}
	}
	bar := strings.Join(tabs, "")
	for _, s := range m.stack {
		bar += c.st.dim.Render(" › ") + c.st.title.Render(s.title())
	}
	if m.elsewhere() != nil {
		// The breadcrumb gives way: a run in flight must stay visible.
		flag := "  " + c.st.outcome["unknown"].Render("● run in flight (b)")
		if r := m.elsewhere(); !r.running {
			flag = "  " + c.st.outcome["unknown"].Render("● watching (b)")
			if r.alarmed() {
				flag = "  " + c.st.err.Render("⚠ alarm (b)")
			}
		}
		bar = ansi.Truncate(bar, max(c.width-ansi.StringWidth(flag), 0), "…") + flag
	}
	b.WriteString(ansi.Truncate(bar, c.width, "…") + "\n")

	// bubbles' help overruns a narrow terminal when not even its "…" fits.
	helpLines := strings.Split(m.helpView(), "\n")
	for i, l := range helpLines {
		helpLines[i] = ansi.Truncate(l, c.width, "…")
	}
	// On a small terminal the full help gives the screen at least a line,
	// and says it is cut.
	if most := max(c.height-4, 1); len(helpLines) > most {
		helpLines = helpLines[:most]
		helpLines[most-1] = ansi.Truncate(helpLines[most-1], c.width-1, "") + "…"
	}
	helpText := strings.Join(helpLines, "\n")
	// The screen lays itself out in what the help leaves: with the full
	// help open, its lists end in their "↓ more" line above it, not cut.
	c.helpLines = len(helpLines)
	body := m.top().view()
	lines := strings.Split(body, "\n")
	h := c.height - 3 - strings.Count(helpText, "\n") - 1
	for i := range max(h, 1) {
		if i < len(lines) {
			b.WriteString(ansi.Truncate(lines[i], c.width, ""))
		}
		b.WriteByte('\n')
	}

	// Status line, then help.
	// Statuses carry error texts and verdicts from outside.
	st := clean(m.status, 500)
	if m.quiting {
		st = "A run is in flight. Cancel it and quit? y/n (what was answered stays in the audit log)"
		if len(m.runs) == 0 {
			st = "Quit? y/n · the run has ended: " + clean(m.status, 200)
		}
	}
	if m.isErr || m.quiting {
		b.WriteString(ansi.Truncate(c.st.err.Render(st), c.width, "…") + "\n")
	} else {
		b.WriteString(ansi.Truncate(st, c.width, "…") + "\n")
	}
	b.WriteString(helpText)

	v := tea.NewView(b.String())
	v.AltScreen = true
	v.WindowTitle = "ulc"
	return v
}

// helpView is the help line: only the keys that work now. While a text
// field has focus, q and ? are text: ctrl+c quits then, and the screen
// says how to leave the field.
func (m Model) helpView() string {
	k := m.c.keys
	top := m.top()
	if m.quiting {
		return m.help.ShortHelpView([]key.Binding{withHelp(k.Yes, "y", "quit"), withHelp(k.No, "n", "stay")})
	}
	ks := top.keys()
	global := []key.Binding{k.Help, k.Quit}
	if top.typing() {
		global = []key.Binding{k.ForceQuit}
	}
	if len(m.stack) == 0 {
		global = append([]key.Binding{k.NextTab}, global...)
	}
	if m.elsewhere() != nil && !top.typing() {
		global = append(global, k.Board)
	}
	if m.full {
		if more, ok := top.(interface{ moreKeys() []key.Binding }); ok {
			ks = append(ks, more.moreKeys()...)
		}
		return m.help.FullHelpView([][]key.Binding{ks, global})
	}
	return m.shortHelp(ks, global)
}

// shortHelp is the one-line help: the screen's keys, then the global ones.
// When they do not all fit, tab, the list's / and esc, the arrows and then
// the screen's last keys give way, and ? says it lists them all: the keys
// still shown are whole and true, and the way to the others (? and q) is
// never what is cut off.
func (m Model) shortHelp(ks, global []key.Binding) string {
	h := m.help
	h.SetWidth(0) // measure unclipped
	line := h.ShortHelpView(append(slices.Clip(ks), global...))
	if ansi.StringWidth(line) <= m.c.width || !slices.ContainsFunc(global, func(b key.Binding) bool { return b.Help().Key == "?" }) {
		return m.help.ShortHelpView(append(slices.Clip(ks), global...))
	}
	// tab gives way first: the tab bar names the screens and their digits.
	global = slices.DeleteFunc(global, func(b key.Binding) bool { return b.Help().Key == "tab" })
	for i, b := range global {
		if b.Help().Key == "?" {
			global[i] = withHelp(b, "?", "all keys")
		}
	}
	fits := func(ks []key.Binding) bool {
		line = h.ShortHelpView(append(slices.Clip(ks), global...))
		return ansi.StringWidth(line) <= m.c.width
	}
	// Every list's own / and esc give way first, then the arrows, which
	// need no telling, then the screen's keys from the last.
	n := len(ks)
	for n > 0 && !fits(ks[:n]) {
		if k := ks[n-1].Help().Key; k != "/" && k != "esc" {
			break
		}
		n--
	}
	if n > 0 && fits(ks[:n]) {
		return line
	}
	rest := slices.DeleteFunc(slices.Clone(ks[:n]), func(b key.Binding) bool { return b.Help().Key == moveHelp })
	for n := len(rest); n > 0; n-- {
		if fits(rest[:n]) {
			return line
		}
	}
	return m.help.ShortHelpView(append(slices.Clip(ks[:min(len(ks), 1)]), global...))
}

// Done reports whether the console quit with no run left in flight.
func (m Model) Done() bool { return m.done && len(m.runs) == 0 }
