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

	"ulc/actions"
)

// searchDebounce is how long typing must pause before the directory is
// asked: long enough that keys typed in a run ask once, short enough that
// the answer is on screen within 150 ms of the last key beyond Okta's own
// time (BenchmarkSearch100k).
const searchDebounce = 120 * time.Millisecond

// pageSize is how many people one search asks for.
const pageSize = 50

// searchScreen is the start screen: a query box that searches as you type,
// a results table, marks for bulk runs.
type searchScreen struct {
	c       *common
	input   textinput.Model
	people  []Person
	next    string // cursor of the next page
	marked  map[string]Person
	cursor  int
	offset  int
	inTable bool // focus: the table (else the query box)
	// away is true when the operator left an empty query box with esc:
	// nothing has focus, so q, ? and the digits are commands again.
	away bool

	seq     int // the latest query's number; older answers are dropped
	cancel  context.CancelFunc
	loading bool
	query   string // the query the results are for
	err     string
}

type searchTickMsg struct{ seq int }
type searchResultMsg struct {
	seq    int
	page   Page
	more   bool // a next page, appended
	err    error
	query  string
	cursor string
}

func newSearch(c *common) *searchScreen {
	in := newInput("search › ", `name or email, or an expression: profile.department eq "Finance"`, 256)
	in.SetWidth(c.width - 10)
	return &searchScreen{c: c, input: in, marked: map[string]Person{}}
}

func (s *searchScreen) init() tea.Cmd { return s.input.Focus() }

func (s *searchScreen) title() string { return "Search" }

func (s *searchScreen) typing() bool { return !s.inTable && !s.away }

func (s *searchScreen) keys() []key.Binding {
	k := s.c.keys
	if !s.inTable {
		var ks []key.Binding
		if len(s.people) > 0 {
			ks = append(ks, withHelp(k.Open, "enter/↓", "to results"))
		}
		switch {
		case s.away:
			ks = append(ks, withHelp(k.Filter, "/", "search"))
		case s.input.Value() != "":
			ks = append(ks, withHelp(k.Back, "esc", "clear"))
		default:
			ks = append(ks, withHelp(k.Back, "esc", "leave the box"))
		}
		return ks
	}
	ks := []key.Binding{k.Open, k.Mark}
	if !s.c.deps.ReadOnly {
		ks = append(ks, withHelp(k.Revoke, "r", "revoke"))
	}
	ks = append(ks, withHelp(k.Filter, "/", "search"))
	if s.next != "" {
		ks = append(ks, withHelp(k.More, "n", "more")) // only when Okta has another page
	}
	return ks
}

func withHelp(b key.Binding, keys, desc string) key.Binding {
	b.SetHelp(keys, desc)
	return b
}

func (s *searchScreen) update(msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		s.input.SetWidth(msg.Width - 10)
	case focusMsg:
		if !s.inTable && !s.away {
			return s.input.Focus()
		}
	case searchTickMsg:
		if msg.seq != s.seq {
			return nil
		}
		return s.startSearch("")
	case searchResultMsg:
		if msg.seq != s.seq {
			return nil // an answer to a query the operator already changed
		}
		s.loading = false
		if msg.err != nil {
			s.err = msg.err.Error()
			return nil
		}
		s.err = ""
		if msg.more {
			s.people = append(s.people, msg.page.People...)
		} else {
			s.people, s.cursor, s.offset = msg.page.People, 0, 0
		}
		s.next = msg.page.Next
		s.query = msg.query
		return nil
	case tea.KeyPressMsg:
		return s.key(msg)
	}
	if !s.inTable {
		var cmd tea.Cmd
		s.input, cmd = s.input.Update(msg)
		return cmd
	}
	return nil
}

func (s *searchScreen) key(msg tea.KeyPressMsg) tea.Cmd {
	k := s.c.keys
	if s.away {
		switch {
		case key.Matches(msg, k.Open), msg.String() == "down":
			if len(s.people) > 0 {
				s.away, s.inTable = false, true
			}
		case key.Matches(msg, k.Filter):
			s.away = false
			return s.input.Focus()
		}
		return nil
	}
	if !s.inTable {
		switch {
		case key.Matches(msg, k.Open), msg.String() == "down":
			if len(s.people) > 0 {
				s.inTable = true
				s.input.Blur()
			}
			return nil
		case key.Matches(msg, k.Back) && s.input.Value() == "":
			// Leave the box: q, ? and the digits are commands again.
			s.away = true
			s.input.Blur()
			return nil
		case key.Matches(msg, k.Back):
			s.input.SetValue("")
			return s.changed()
		}
		before := s.input.Value()
		var cmd tea.Cmd
		s.input, cmd = s.input.Update(msg)
		if s.input.Value() != before {
			return tea.Batch(cmd, s.changed())
		}
		return cmd
	}
	n := len(s.people)
	switch {
	case key.Matches(msg, k.Filter), key.Matches(msg, k.Back):
		s.inTable = false
		return s.input.Focus()
	case key.Matches(msg, k.Up):
		if s.cursor == 0 {
			s.inTable = false
			return s.input.Focus()
		}
		s.cursor--
	case key.Matches(msg, k.Down):
		if s.cursor < n-1 {
			s.cursor++
		} else if s.next != "" && !s.loading {
			return s.startSearch(s.next)
		}
	case key.Matches(msg, jumpTop):
		s.cursor = 0
	case key.Matches(msg, jumpBottom):
		s.cursor = max(n-1, 0) // the last found; ↓ there asks for more
	case key.Matches(msg, k.PageDown):
		s.cursor = min(s.cursor+s.rows(), max(n-1, 0))
	case key.Matches(msg, k.PageUp):
		s.cursor = max(s.cursor-s.rows(), 0)
	case key.Matches(msg, k.More):
		if s.next != "" && !s.loading {
			return s.startSearch(s.next)
		}
	case key.Matches(msg, k.Mark):
		if n > 0 {
			p := s.people[s.cursor]
			if _, ok := s.marked[p.ID]; ok {
				delete(s.marked, p.ID)
			} else {
				s.marked[p.ID] = p
			}
			s.cursor = min(s.cursor+1, n-1)
		}
	case key.Matches(msg, k.Open):
		if n > 0 {
			return push(newUser(s.c, s.people[s.cursor]))
		}
	case key.Matches(msg, k.Revoke) && !s.c.deps.ReadOnly:
		users := s.selection()
		if len(users) == 0 {
			return nil
		}
		return push(newConfirm(s.c, users))
	}
	return nil
}

// selection is the marked people, or else the selected one.
func (s *searchScreen) selection() []Person {
	if len(s.marked) > 0 {
		var out []Person
		for _, p := range s.people {
			if _, ok := s.marked[p.ID]; ok {
				out = append(out, p)
			}
		}
		// Marked people from earlier searches still count.
		var earlier []Person
		for id, p := range s.marked {
			if !containsPerson(out, id) {
				earlier = append(earlier, p)
			}
		}
		slices.SortFunc(earlier, func(a, b Person) int { return strings.Compare(a.Key(), b.Key()) })
		return append(out, earlier...)
	}
	if len(s.people) == 0 {
		return nil
	}
	return []Person{s.people[s.cursor]}
}

func containsPerson(ps []Person, id string) bool {
	for _, p := range ps {
		if p.ID == id {
			return true
		}
	}
	return false
}

// changed starts the debounce timer for a new query.
func (s *searchScreen) changed() tea.Cmd {
	s.seq++
	seq := s.seq
	if strings.TrimSpace(s.input.Value()) == "" {
		if s.cancel != nil {
			s.cancel()
		}
		s.people, s.next, s.err, s.loading, s.query = nil, "", "", false, ""
		return nil
	}
	d := searchDebounce
	if s.c.debounce > 0 {
		d = s.c.debounce
	}
	return tea.Tick(d, func(time.Time) tea.Msg { return searchTickMsg{seq} })
}

// startSearch asks the directory, cancelling the previous query.
func (s *searchScreen) startSearch(cursor string) tea.Cmd {
	if s.cancel != nil {
		s.cancel()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	s.cancel = cancel
	s.loading = true
	if cursor == "" {
		s.seq++
	}
	seq, query, dir := s.seq, strings.TrimSpace(s.input.Value()), s.c.deps.Directory
	return func() tea.Msg {
		defer cancel()
		page, err := dir.Search(ctx, query, pageSize, cursor)
		if ctx.Err() == context.Canceled {
			return nil
		}
		return searchResultMsg{seq: seq, page: page, more: cursor != "", err: err, query: query, cursor: cursor}
	}
}

func (s *searchScreen) rows() int { return max(s.c.bodyHeight()-4, 1) }

func (s *searchScreen) view() string {
	c := s.c
	var b strings.Builder
	b.WriteString(s.input.View() + "\n")
	switch {
	case s.err != "":
		// Okta's whole message, wrapped: what it says about a refused
		// expression is how to fix it.
		b.WriteString(c.st.err.Render(wrap("search failed: "+clean(s.err, 800), c.width)) + "\n")
	case s.loading:
		b.WriteString(c.st.dim.Render("searching…") + "\n")
	case s.query == "" && s.away:
		b.WriteString(c.st.dim.Render("/ to search again") + "\n")
	case s.query == "":
		b.WriteString(c.st.dim.Render("results appear as you type") + "\n")
	default:
		more := ""
		if s.next != "" {
			more = " (more: n)"
		}
		marked := ""
		if len(s.marked) > 0 {
			marked = fmt.Sprintf(" · %d marked", len(s.marked))
		}
		count := fmt.Sprintf("%d people", len(s.people))
		if len(s.people) == 1 {
			count = "1 person"
		}
		fmt.Fprintf(&b, "%s%s%s\n", count, more, marked)
	}
	b.WriteString("\n")
	if len(s.people) == 0 {
		if s.query != "" && !s.loading && s.err == "" {
			b.WriteString(c.st.dim.Render(trimLines(wrap("nobody matches; Okta's plain search matches the start of first name, last name or email", c.width))) + "\n")
		}
		return b.String()
	}
	now := c.now()
	rows := make([][]string, len(s.people))
	for i, p := range s.people {
		mark := " "
		if _, ok := s.marked[p.ID]; ok {
			mark = "●"
		}
		rows[i] = []string{mark, clean(p.FirstName+" "+p.LastName, 40), clean(p.Login, 60),
			statusText(p.Status), ago(p.LastLogin, now), clean(p.Department, 30)}
	}
	cursor := -1
	if s.inTable {
		cursor = s.cursor
	}
	s.offset = scroll(s.cursor, s.offset, s.rows(), len(rows))
	cols := []column{{"", 1}, {"NAME", 18}, {"LOGIN", 0}, {"STATUS", 11}, {"SIGNED IN", 9}, {"DEPARTMENT", 12}}
	if c.width >= 110 {
		cols[1].width, cols[5].width = 24, 20
	}
	b.WriteString(c.table(cols, rows, cursor, s.offset, s.rows()))
	return b.String()
}

// statusText spells an Okta status for people, not only for colour.
func statusText(s string) string {
	switch s {
	case "ACTIVE":
		return "active"
	case "SUSPENDED":
		return "SUSPENDED"
	case "DEPROVISIONED":
		return "deactivated"
	case "LOCKED_OUT":
		return "LOCKED OUT"
	case "PASSWORD_EXPIRED":
		return "pw expired"
	}
	return strings.ToLower(clean(s, 20))
}

// usersOf returns the actions users of people.
func usersOf(ps []Person) []actions.User {
	out := make([]actions.User, len(ps))
	for i, p := range ps {
		out[i] = p.User
	}
	return out
}
