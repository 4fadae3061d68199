package tui

import (
	"fmt"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	"charm.land/bubbles/v2/textinput"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/ansi"

	"ulc/actions"
	"ulc/config"
	"ulc/internal/safetext"
)

// common is shared by every screen: dependencies, size, styles, keys.
type common struct {
	deps   Deps
	width  int
	height int
	st     styles
	keys   keyMap
	// debounce overrides searchDebounce when non-zero (tests set a few ms).
	debounce time.Duration
	// helpLines is how many lines the help takes in the frame being drawn.
	helpLines int
}

// bodyHeight is the number of lines a screen may use: the whole terminal
// less the header, the tab bar, the status line and the help (one line,
// or the full help's lines while ? shows it).
func (c *common) bodyHeight() int { return max(c.height-3-max(c.helpLines, 1), 3) }

func (c *common) now() time.Time {
	if c.deps.Now != nil {
		return c.deps.Now()
	}
	return time.Now()
}

// styles are the console's looks. Every status is also spelled out in
// words, so nothing depends on colour alone (and NO_COLOR loses nothing).
type styles struct {
	app, title, tab, tabActive, dim, help, err, selected, marked, label, box lipgloss.Style
	outcome                                                                  map[actions.Outcome]lipgloss.Style
}

func newStyles() styles {
	green, red, yellow, blue, grey := lipgloss.Color("2"), lipgloss.Color("1"), lipgloss.Color("3"), lipgloss.Color("4"), lipgloss.Color("8")
	return styles{
		app:       lipgloss.NewStyle().Bold(true).Foreground(lipgloss.Color("5")),
		title:     lipgloss.NewStyle().Bold(true),
		tab:       lipgloss.NewStyle().Padding(0, 1),
		tabActive: lipgloss.NewStyle().Padding(0, 1).Bold(true).Reverse(true),
		dim:       lipgloss.NewStyle().Foreground(grey),
		help:      lipgloss.NewStyle().Foreground(grey),
		err:       lipgloss.NewStyle().Foreground(red).Bold(true),
		selected:  lipgloss.NewStyle().Reverse(true),
		marked:    lipgloss.NewStyle().Bold(true),
		label:     lipgloss.NewStyle().Bold(true).Width(12),
		box:       lipgloss.NewStyle().Border(lipgloss.RoundedBorder()).Padding(0, 1),
		outcome: map[actions.Outcome]lipgloss.Style{
			actions.Revoked:   lipgloss.NewStyle().Foreground(green),
			actions.Done:      lipgloss.NewStyle().Foreground(green),
			actions.NotFound:  lipgloss.NewStyle().Foreground(blue),
			actions.Rejected:  lipgloss.NewStyle().Foreground(red).Bold(true),
			actions.Failed:    lipgloss.NewStyle().Foreground(red).Bold(true),
			actions.Cancelled: lipgloss.NewStyle().Foreground(yellow),
			actions.Unknown:   lipgloss.NewStyle().Foreground(yellow).Bold(true),
			actions.NotSent:   lipgloss.NewStyle().Foreground(yellow),
			actions.Planned:   lipgloss.NewStyle().Foreground(blue),
		},
	}
}

// outcomeMark is an outcome as a symbol and a word.
func outcomeMark(o actions.Outcome) string {
	switch o {
	case actions.Revoked:
		return "✓ revoked"
	case actions.Done:
		return "✓ done"
	case actions.NotFound:
		return "∅ not found"
	case actions.Rejected:
		return "✗ rejected"
	case actions.Failed:
		return "✗ failed"
	case actions.Cancelled:
		return "⊘ cancelled"
	case actions.Unknown:
		return "? unknown"
	case actions.NotSent:
		return "· not sent"
	case actions.Planned:
		return "◇ planned"
	}
	return "· waiting"
}

// outcomeWord is an outcome in words, as the rows spell it: "not found",
// not the identifier "not_found".
func outcomeWord(o actions.Outcome) string { return strings.ReplaceAll(string(o), "_", " ") }

// shortMark is an outcome as one character, for the Targets screen's
// record of recent results.
func shortMark(o actions.Outcome) string {
	switch o {
	case actions.Revoked, actions.Done:
		return "✓"
	case actions.NotFound:
		return "∅"
	case actions.Rejected, actions.Failed:
		return "✗"
	case actions.Cancelled, actions.NotSent:
		return "⊘"
	case actions.Unknown:
		return "?"
	case actions.Planned:
		return "◇"
	}
	return "·"
}

func (s styles) renderOutcome(o actions.Outcome, text string) string {
	if st, ok := s.outcome[o]; ok {
		return st.Render(text)
	}
	return text
}

// keyMap holds every binding; screens enable the ones that apply.
type keyMap struct {
	Quit, ForceQuit, Help, NextTab, PrevTab, Tab1, Tab2, Tab3, Back key.Binding
	Up, Down, PageUp, PageDown, Top, Bottom, Open, Mark, Revoke     key.Binding
	Filter, More, ToConfirm                                         key.Binding
	NextField, PrevField, Toggle, Run, DryRun                       key.Binding
	Cancel, Retry, Resume, Verify, Check, Board, Yes, No            key.Binding
}

func newKeyMap() keyMap {
	b := func(keys []string, help, desc string) key.Binding {
		return key.NewBinding(key.WithKeys(keys...), key.WithHelp(help, desc))
	}
	return keyMap{
		Quit:      b([]string{"q"}, "q", "quit"),
		ForceQuit: b([]string{"ctrl+c"}, "ctrl+c", "quit"),
		Help:      b([]string{"?"}, "?", "help"),
		NextTab:   b([]string{"tab"}, "tab", "screens"),
		PrevTab:   b([]string{"shift+tab"}, "shift+tab", "previous screen"),
		Tab1:      b([]string{"1"}, "1", "search"),
		Tab2:      b([]string{"2"}, "2", "history"),
		Tab3:      b([]string{"3"}, "3", "targets"),
		Back:      b([]string{"esc"}, "esc", "back"),
		Up:        b([]string{"up", "k"}, "↑/k", "up"),
		Down:      b([]string{"down", "j"}, "↓/j", "down"),
		PageUp:    b([]string{"pgup", "ctrl+u"}, "pgup", "page up"),
		PageDown:  b([]string{"pgdown", "ctrl+d"}, "pgdn", "page down"),
		Top:       b([]string{"g", "home"}, "g", "top"),
		Bottom:    b([]string{"G", "end"}, "G", "bottom"),
		ToConfirm: b([]string{"ctrl+g"}, "ctrl+g", "go to Confirm"),
		Open:      b([]string{"enter"}, "enter", "open"),
		Mark:      b([]string{"space"}, "space", "mark"),
		Revoke:    b([]string{"r"}, "r", "revoke"),
		Filter:    b([]string{"/"}, "/", "filter"),
		More:      b([]string{"n"}, "n", "next page"),
		NextField: b([]string{"tab"}, "tab", "next field"),
		PrevField: b([]string{"shift+tab"}, "shift+tab", "previous field"),
		Toggle:    b([]string{"space"}, "space", "toggle"),
		Run:       b([]string{"enter"}, "enter", "run"),
		DryRun:    b([]string{"ctrl+p"}, "ctrl+p", "dry run (record plan, send nothing)"),
		Cancel:    b([]string{"x"}, "x", "cancel run"),
		Retry:     b([]string{"R"}, "R", "retry failed"),
		Resume:    b([]string{"R"}, "R", "resume"),
		Verify:    b([]string{"v"}, "v", "verify chain"),
		Check:     b([]string{"c"}, "c", "check target"),
		Board:     b([]string{"b"}, "b", "back to the live run"),
		Yes:       b([]string{"y"}, "y", "yes"),
		No:        b([]string{"n", "esc"}, "n", "no"),
	}
}

// moveKey is the help line's entry for a list: ↑/↓ move one row, g/G
// jump to the first and the last.
func moveKey(k keyMap, what string) key.Binding { return withHelp(k.Down, moveHelp, what) }

// moveHelp is the movement keys' name on the help line.
const moveHelp = "↑↓ g/G"

// column is one column of a table: a header and a width (0: share what is
// left; -1: hidden).
type column struct {
	title string
	width int
}

// table renders rows under a header, clipping each cell to its column and
// only the visible rows (from offset, height rows). The selected row is
// highlighted when cursor >= 0.
func (c *common) table(cols []column, rows [][]string, cursor, offset, height int) string {
	width := max(c.width, 20)
	fixed := 0
	flex := 0
	for _, col := range cols {
		switch {
		case col.width == 0:
			flex++
		case col.width > 0:
			fixed += col.width + 1
		}
	}
	flexW := 10
	if flex > 0 {
		flexW = max((width-fixed)/flex, 8)
	}
	widths := make([]int, len(cols))
	for i, col := range cols {
		widths[i] = col.width
		if col.width == 0 {
			widths[i] = flexW
		}
	}
	line := func(cells []string) string {
		var b strings.Builder
		for i, w := range widths {
			if w < 0 {
				continue // hidden at this width
			}
			cell := ""
			if i < len(cells) {
				cell = cells[i]
			}
			if b.Len() > 0 {
				b.WriteByte(' ')
			}
			b.WriteString(fit(cell, w))
		}
		// Columns wider than the terminal lose their end with a sign.
		return ansi.Truncate(b.String(), width, "…")
	}
	hdr := make([]string, len(cols))
	for i, col := range cols {
		hdr[i] = col.title
	}
	out := []string{c.st.title.Render(line(hdr))}
	n := len(rows)
	vis := visibleRows(n, height)
	if cursor >= 0 {
		offset = scroll(cursor, offset, height, n)
	}
	offset = max(min(offset, n-vis), 0)
	for i := offset; i < n && i < offset+vis; i++ {
		l := line(rows[i])
		if i == cursor {
			l = c.st.selected.Render(ansi.Strip(l) + strings.Repeat(" ", max(width-ansi.StringWidth(l), 0)))
		}
		out = append(out, l)
	}
	if vis < n {
		// The list does not fit: say where the window is, and what lies
		// beyond it, rather than drop rows without a sign.
		out = append(out, c.st.dim.Render(ansi.Truncate(position(offset, vis, n), width, "…")))
	}
	return strings.Join(out, "\n")
}

// visibleRows is how many of n rows a table height rows high shows: all of
// them when they fit, else one less, for the line saying where the window
// is.
func visibleRows(n, height int) int {
	if n <= height {
		return n
	}
	return max(height-1, 1)
}

// position says where a window of vis rows from offset is in n rows:
// "↑ 11 more · 12–14 of 14", "1–13 of 14 · ↓ 1 more".
func position(offset, vis, n int) string {
	last := min(offset+vis, n)
	var parts []string
	if offset > 0 {
		parts = append(parts, fmt.Sprintf("↑ %d more", offset))
	}
	parts = append(parts, fmt.Sprintf("%d–%d of %d", offset+1, last, n))
	if last < n {
		parts = append(parts, fmt.Sprintf("↓ %d more", n-last))
	}
	return strings.Join(parts, " · ")
}

// fit pads or truncates s (which may hold styling) to exactly w cells.
func fit(s string, w int) string {
	if w <= 0 {
		return ""
	}
	sw := ansi.StringWidth(s)
	if sw > w {
		return ansi.Truncate(s, w, "…")
	}
	return s + strings.Repeat(" ", w-sw)
}

// scroll keeps cursor visible in a table height rows high of n rows (one
// of which says where the window is when they do not all fit).
func scroll(cursor, offset, height, n int) int {
	height = visibleRows(n, height)
	if cursor < offset {
		offset = cursor
	}
	if cursor >= offset+height {
		offset = cursor - height + 1
	}
	return max(min(offset, n-height), 0)
}

// newInput returns a text field with a steady cursor: a blinking one
// redraws the screen twice a second for nothing.
func newInput(prompt, placeholder string, limit int) textinput.Model {
	in := textinput.New()
	in.Prompt = prompt
	in.Placeholder = placeholder
	in.CharLimit = limit
	st := in.Styles()
	st.Cursor.Blink = false
	in.SetStyles(st)
	return in
}

// editFilter handles a key while a list's filter in is typed (editing):
// enter keeps the filter, esc clears it, anything else edits it. It
// reports whether the filter's text changed, for the list to show what
// it now matches.
func editFilter(in *textinput.Model, editing *bool, k keyMap, msg tea.KeyPressMsg) (tea.Cmd, bool) {
	switch {
	case key.Matches(msg, k.Open):
		*editing = false
		in.Blur()
		return nil, false
	case key.Matches(msg, k.Back):
		*editing = false
		in.Blur()
		was := in.Value()
		in.SetValue("")
		return nil, was != ""
	}
	before := in.Value()
	var cmd tea.Cmd
	*in, cmd = in.Update(msg)
	return cmd, in.Value() != before
}

// filterLine is a list's filter as it is typed (editing) or kept, with
// how many of all the nouns it shows and, when none, how to clear it; ""
// without a filter.
func (c *common) filterLine(in textinput.Model, editing bool, shown, all int, nouns string) string {
	if !editing && in.Value() == "" {
		return ""
	}
	line := in.View()
	if !editing {
		line = "filter › " + clean(in.Value(), 100)
	}
	line += c.st.dim.Render(fmt.Sprintf("  %d of %d %s", shown, all, nouns))
	if shown == 0 {
		line += c.st.dim.Render(" · none matches; esc clears it")
	}
	return ansi.Truncate(line, c.width, "…")
}

// clean is safetext.Line for text from outside.
func clean(s string, n int) string { return safetext.Line(s, n) }

// ago is a short relative time: "3m ago", "5h ago", "2d ago", "never".
func ago(t, now time.Time) string {
	if t.IsZero() {
		return "never"
	}
	d := now.Sub(t)
	switch {
	case d < time.Minute:
		return "just now"
	case d < time.Hour:
		return fmt.Sprintf("%dm ago", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh ago", int(d.Hours()))
	}
	return fmt.Sprintf("%dd ago", int(d.Hours()/24))
}

// wrap word-wraps s to width.
func wrap(s string, width int) string {
	return lipgloss.NewStyle().Width(max(width, 10)).Render(s)
}

// targetCells are a target's kind, subject format and credential as the
// target tables show them. Only Global Token Revocation targets have a
// subject format; the other kinds name how they authenticate.
func targetCells(t config.Target) (kind, subject, auth string) {
	switch t.EffectiveKind() {
	case config.KindGTR:
		return config.KindGTR, t.Subject, t.Auth
	case config.KindGoogle:
		auth = "SA key" // a service account's key, with domain-wide delegation
	case config.KindMicrosoft:
		auth = "secret"
		if t.ClientCertFile != "" {
			auth = "cert"
		}
	case config.KindCAEP:
		auth = "SET" // a signed Security Event Token
	default:
		auth = "token"
	}
	return clean(t.Kind, 12), "-", auth
}

// mixedKinds reports whether the registry has targets of another kind than
// Global Token Revocation: only then do the target tables spend a column on
// the kind.
func mixedKinds(ts []config.Target) bool {
	for _, t := range ts {
		if t.EffectiveKind() != config.KindGTR {
			return true
		}
	}
	return false
}

// withKind inserts the kind column at i of cols and of every formatted row
// (a nil row is one out of view), when the registry mixes kinds.
func withKind(mixed bool, cols []column, rows [][]string, i int, kinds []string) ([]column, [][]string) {
	if !mixed {
		return cols, rows
	}
	cols = append(cols[:i:i], append([]column{{"KIND", 9}}, cols[i:]...)...)
	for r := range rows {
		if rows[r] == nil {
			continue // a row out of view, not formatted
		}
		rows[r] = append(rows[r][:i:i], append([]string{kinds[r]}, rows[r][i:]...)...)
	}
	return cols, rows
}

// withPath is text, then sep and a file's path, in lines of at most width
// cells: a path that does not fit is shortened in its middle, keeping its
// start and its file name ("/tmp/ulc-demo-…/audit.db"), and goes on a line
// of its own when the rest of text's line would leave it too little room.
func withPath(text, sep, path string, width int) string {
	path = safetext.Clean(path)
	if ansi.StringWidth(text+sep+path) <= width {
		return text + sep + path
	}
	name := path[strings.LastIndexByte(path, '/')+1:]
	room := width - ansi.StringWidth(text+sep)
	if room >= min(ansi.StringWidth(name)+8, ansi.StringWidth(path)) {
		return text + sep + shortPath(path, room)
	}
	return ansi.Truncate(text, width, "…") + "\n" + shortPath(path, width)
}

// shortPath fits path into width cells with "…" in its middle, its file
// name kept whole when the name alone fits.
func shortPath(path string, width int) string {
	if ansi.StringWidth(path) <= width {
		return path
	}
	tail := path[strings.LastIndexByte(path, '/')+1:]
	if i := strings.LastIndexByte(path, '/'); i >= 0 {
		tail = path[i:] // with its slash: "…/audit.db"
	}
	tw := ansi.StringWidth(tail)
	if tw+1 >= width {
		// Not even the name fits: its end, which says what it is.
		return "…" + ansi.TruncateLeft(tail, tw-(width-1), "")
	}
	return ansi.Truncate(path, width-tw-1, "") + "…" + tail
}
