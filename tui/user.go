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
)

// activityDays is how far back the user view reads the System Log.
const activityDays = 14

// userScreen shows one person before acting: profile, status, factors and
// recent activity, so the operator sees the threat first.
type userScreen struct {
	c        *common
	p        Person
	activity []Activity
	factors  []Factor
	actErr   string
	facErr   string
	loading  int // answers still awaited
	ev       evidence
	cursor   int // the selected event among those shown, in full under the table
	offset   int
	// shown are the indexes of the events listed: all, or those whose
	// name, type, outcome, address, place or client contain the filter's
	// text; filtering is true while it is typed.
	shown     []int
	filter    textinput.Model
	filtering bool
}

type userLoadedMsg struct {
	id     string
	person *Person
	acts   []Activity
	facts  []Factor
	kind   string // "person", "activity", "factors"
	err    error
}

func newUser(c *common, p Person) *userScreen {
	return &userScreen{c: c, p: p, filter: newInput("filter › ", "event, outcome, address, place or client", 100)}
}

// load asks for the fresh record, the activity and the factors at once.
func (u *userScreen) load() tea.Cmd {
	u.loading = 3
	dir, id, since := u.c.deps.Directory, u.p.ID, u.c.now().AddDate(0, 0, -activityDays)
	ctx := func() (context.Context, context.CancelFunc) {
		return context.WithTimeout(context.Background(), 30*time.Second)
	}
	return tea.Batch(
		func() tea.Msg {
			c, cancel := ctx()
			defer cancel()
			p, err := dir.Get(c, id)
			return userLoadedMsg{id: id, person: &p, kind: "person", err: err}
		},
		func() tea.Msg {
			c, cancel := ctx()
			defer cancel()
			a, err := dir.Activity(c, id, since, 100)
			return userLoadedMsg{id: id, acts: a, kind: "activity", err: err}
		},
		func() tea.Msg {
			c, cancel := ctx()
			defer cancel()
			f, err := dir.Factors(c, id)
			return userLoadedMsg{id: id, facts: f, kind: "factors", err: err}
		},
	)
}

func (u *userScreen) title() string { return clean(u.p.Key(), 40) }
func (u *userScreen) typing() bool  { return u.filtering }

func (u *userScreen) keys() []key.Binding {
	k := u.c.keys
	if u.filtering {
		return []key.Binding{withHelp(k.Open, "enter", "keep filter"), withHelp(k.Back, "esc", "clear filter")}
	}
	back := k.Back
	if u.filter.Value() != "" {
		back = withHelp(k.Back, "esc", "clear filter") // esc clears a kept filter first
	}
	ks := []key.Binding{back}
	if len(u.shown) > 0 {
		ks = append(ks, moveKey(k, "select event"))
	}
	if len(u.activity) > 0 {
		ks = append(ks, k.Filter)
	}
	if !u.c.deps.ReadOnly {
		ks = append([]key.Binding{withHelp(k.Revoke, "r", "revoke this user")}, ks...)
	}
	return ks
}

// setFilter lists the events that match v (every one for ""), from the
// first.
func (u *userScreen) setFilter(v string) {
	if u.filter.Value() != v {
		u.filter.SetValue(v)
	}
	u.cursor, u.offset = 0, 0
	q := strings.ToLower(strings.TrimSpace(v))
	u.shown = u.shown[:0]
	for i, a := range u.activity {
		if q == "" || containsFold(eventName(a), q) || containsFold(a.EventType, q) || containsFold(a.Outcome, q) ||
			containsFold(a.IP, q) || containsFold(placeOf(a), q) || containsFold(a.Client, q) {
			u.shown = append(u.shown, i)
		}
	}
}

// filterKey handles a key while the filter is typed: enter keeps it, esc
// clears it, anything else edits it.
func (u *userScreen) filterKey(msg tea.KeyPressMsg) tea.Cmd {
	cmd, changed := editFilter(&u.filter, &u.filtering, u.c.keys, msg)
	if changed {
		u.setFilter(u.filter.Value())
	}
	return cmd
}

func (u *userScreen) update(msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case pushedMsg:
		if msg.s == screen(u) {
			return u.load()
		}
	case userLoadedMsg:
		if msg.id != u.p.ID {
			return nil
		}
		u.loading--
		switch msg.kind {
		case "person":
			if msg.err == nil {
				u.p = *msg.person
			}
		case "activity":
			u.activity = msg.acts
			u.ev = readEvidence(msg.acts)
			u.setFilter(u.filter.Value())
			if msg.err != nil {
				u.actErr = msg.err.Error()
			}
		case "factors":
			u.factors = msg.facts
			if msg.err != nil {
				u.facErr = msg.err.Error()
			}
		}
	case tea.KeyPressMsg:
		if u.filtering {
			return u.filterKey(msg)
		}
		k := u.c.keys
		last := max(len(u.shown)-1, 0)
		switch {
		case key.Matches(msg, k.Back) && u.filter.Value() != "":
			u.setFilter("")
		case key.Matches(msg, k.Back):
			return pop
		case key.Matches(msg, k.Filter) && len(u.activity) > 0:
			u.filtering = true
			return u.filter.Focus()
		case key.Matches(msg, k.Revoke) && !u.c.deps.ReadOnly:
			return push(newConfirm(u.c, []Person{u.p}))
		case key.Matches(msg, k.Down):
			u.cursor = min(u.cursor+1, last)
		case key.Matches(msg, k.Up):
			u.cursor = max(u.cursor-1, 0)
		case key.Matches(msg, k.PageDown):
			u.cursor = min(u.cursor+u.page(), last)
		case key.Matches(msg, k.PageUp):
			u.cursor = max(u.cursor-u.page(), 0)
		case key.Matches(msg, jumpTop):
			u.cursor = 0
		case key.Matches(msg, jumpBottom):
			u.cursor = last
		}
	}
	return nil
}

// page is how far pgup/pgdn move: about a table's height.
func (u *userScreen) page() int { return max(u.c.bodyHeight()-12, 1) }

func (u *userScreen) view() string {
	c, p := u.c, u.p
	now := c.now()
	var b strings.Builder
	row := func(label, value string) {
		b.WriteString(c.st.label.Render(label) + " " + value + "\n")
	}
	// The profile in five lines, so the sign-in evidence below gets most
	// of an 80×24 terminal.
	row("Name", strings.Join(nonEmpty(clean(p.FirstName+" "+p.LastName, 60), clean(p.Login, 80)), " · "))
	status := statusText(p.Status) + c.st.dim.Render(" since "+ago(p.StatusChanged, now)+" · Okta id "+clean(p.ID, 40))
	row("Status", status)
	if p.Email != p.Login {
		row("Email", clean(p.Email, 80))
	}
	job := strings.Join(nonEmpty(clean(p.Title, 40), clean(p.Department, 40)), ", ")
	place := strings.Join(nonEmpty(clean(p.City, 40), clean(p.Country, 40)), ", ")
	if r := strings.Join(nonEmpty(job, place), " · "); r != "" {
		row("Role", r)
	}
	row("Last sign-in", ago(p.LastLogin, now))
	switch {
	case u.facErr != "":
		row("Factors", c.st.dim.Render("unavailable: "+clean(u.facErr, 100)))
	case u.loading > 0 && u.factors == nil:
		row("Factors", c.st.dim.Render("loading…"))
	case len(u.factors) == 0:
		row("Factors", "none enrolled")
	default:
		var fs []string
		for _, f := range u.factors {
			fs = append(fs, fmt.Sprintf("%s (%s)", clean(f.Type, 30), strings.ToLower(clean(f.Status, 20))))
		}
		row("Factors", strings.Join(fs, ", "))
	}
	title := fmt.Sprintf("Recent activity (last %d days)", activityDays)
	if len(u.activity) > 0 {
		title += " " + u.ev.summary
	}
	fmt.Fprintf(&b, "%s\n", ansi.Truncate(c.st.title.Render(title), c.width, "…"))
	switch {
	case u.actErr != "":
		b.WriteString(c.st.err.Render("System Log unavailable: "+clean(u.actErr, 150)) + "\n")
	case u.activity == nil && u.loading > 0:
		b.WriteString(c.st.dim.Render("loading…") + "\n")
	case len(u.activity) == 0:
		b.WriteString(c.st.dim.Render("no events") + "\n")
	default:
		if line := c.filterLine(u.filter, u.filtering, len(u.shown), len(u.activity), "events"); line != "" {
			b.WriteString(line + "\n")
		}
		detail := u.detail()
		h := max(c.bodyHeight()-strings.Count(b.String(), "\n")-1-len(detail), 2)
		u.cursor = min(max(u.cursor, 0), max(len(u.shown)-1, 0))
		u.offset = scroll(u.cursor, u.offset, h, len(u.shown))
		b.WriteString(c.table(u.columns(), u.rows(), u.cursor, u.offset, h) + "\n")
		b.WriteString(strings.Join(detail, "\n"))
	}
	return b.String()
}

// columns are the activity table's: the client only where it fits (the
// selected event's detail line always names it).
func (u *userScreen) columns() []column {
	time := "TIME"
	if u.ev.zone != "" {
		time += " " + u.ev.zone
	}
	cols := []column{{time, u.ev.timeWidth}, {"OUTCOME", 11}, {"EVENT", 0}, {"IP", 16}, {"PLACE", 17}, {"CLIENT", 18}}
	if u.c.width < 110 {
		cols[5].width = -1
	}
	return cols
}

// rows are the activity table's rows, marks included.
func (u *userScreen) rows() [][]string {
	rows := make([][]string, len(u.shown))
	for r, i := range u.shown {
		a := u.activity[i]
		ip, place := clean(a.IP, 40), placeOf(a)
		if u.ev.newIP[i] {
			ip = newMark + ip
		}
		if u.ev.newPlace[i] {
			place = newMark + place
		}
		when := localTime(a.Time)
		if u.ev.zone != "" {
			when = a.Time.Local().Format(dayMinute) // the zone is in the header
		}
		rows[r] = []string{when, u.outcomeCell(a.Outcome), eventName(a), ip, place, clean(a.Client, 40)}
	}
	return rows
}

// detail is the selected event in full, wrapped: its whole name, Okta's
// event type, the outcome with its reason, the client and where it came
// from, and when that place and address were first seen in the window.
func (u *userScreen) detail() []string {
	c := u.c
	if u.cursor < 0 || u.cursor >= len(u.shown) {
		return nil
	}
	i := u.shown[u.cursor]
	a := u.activity[i]
	parts := []string{eventName(a)}
	if t := clean(a.EventType, 80); t != "" && t != eventName(a) {
		parts[0] += " (" + t + ")"
	}
	if o := clean(a.Outcome, 160); o != "" {
		// Okta's reason often repeats the event's name: say it once.
		if r, reason, ok := strings.Cut(o, ": "); ok && reason == eventName(a) {
			o = r
		}
		parts = append(parts, o)
	}
	from := strings.Join(nonEmpty(clean(a.Client, 60), clean(a.Device, 30)), ", ")
	where := strings.Join(nonEmpty(clean(a.IP, 40), placeOf(a)), " ")
	if where != "" {
		from = strings.Join(nonEmpty(from, "from "+where), " ")
	}
	if from != "" {
		parts = append(parts, from)
	}
	pl, ip := u.ev.firstPlace[placeOf(a)], u.ev.firstIP[a.IP]
	switch newPl, newIP := u.ev.newPlace[i], u.ev.newIP[i]; {
	case newPl && newIP && pl.Equal(ip):
		parts = append(parts, "place and address first seen "+localTime(pl))
	case newPl && newIP:
		parts = append(parts, "place first seen "+localTime(pl), "address first seen "+localTime(ip))
	case newPl:
		parts = append(parts, "place first seen "+localTime(pl))
	case newIP:
		parts = append(parts, "address first seen "+localTime(ip))
	}
	text := fmt.Sprintf("%d/%d %s", u.cursor+1, len(u.shown), strings.Join(parts, " · "))
	lines := strings.Split(wrap(text, c.width), "\n")
	if len(lines) > 3 {
		lines = append(lines[:2], ansi.Truncate(lines[2], c.width-1, "")+"…")
	}
	for i, l := range lines {
		lines[i] = strings.TrimRight(l, " ")
	}
	lines = append(lines, c.st.dim.Render(ansi.Truncate(newMark+"not seen before in the window · ✓ success ✗ failure · ↑/↓ selects", c.width, "…")))
	return lines
}

// newMark flags an IP or a place not seen before in the window: not where
// its oldest event came from, nor from where the user was before.
const newMark = "*"

// evidence is what the screen works out once per load of the activity:
// which addresses and places are new, and a one-line summary.
type evidence struct {
	newIP, newPlace []bool
	// firstIP and firstPlace are the times each new address and place
	// was first seen.
	firstIP, firstPlace map[string]time.Time
	// zone is the local zone's name when every event is in it (then the
	// header says it once); timeWidth is the TIME column's width.
	zone      string
	timeWidth int
	summary   string
}

// readEvidence marks each event whose IP or place was first seen after
// the window's oldest event (that event is the baseline: nothing before it
// to compare with), and counts the failures. acts are newest first, as
// Okta sends them.
func readEvidence(acts []Activity) evidence {
	ev := evidence{newIP: make([]bool, len(acts)), newPlace: make([]bool, len(acts)),
		firstIP: map[string]time.Time{}, firstPlace: map[string]time.Time{}}
	if len(acts) == 0 {
		return ev
	}
	baseIP, basePlace := acts[len(acts)-1].IP, placeOf(acts[len(acts)-1])
	zones := map[string]bool{}
	var newPlaces []string
	failed := 0
	for i := len(acts) - 1; i >= 0; i-- {
		a := acts[i]
		zone, _ := a.Time.Local().Zone()
		zones[zone] = true
		if outcomeClass(a.Outcome) == "failure" {
			failed++
		}
		if ip := a.IP; ip != "" && ip != baseIP {
			if _, ok := ev.firstIP[ip]; !ok {
				ev.firstIP[ip] = a.Time
			}
			ev.newIP[i] = true
		}
		if pl := placeOf(a); pl != "" && pl != basePlace {
			if _, ok := ev.firstPlace[pl]; !ok {
				ev.firstPlace[pl] = a.Time
				newPlaces = append(newPlaces, pl)
			}
			ev.newPlace[i] = true
		}
	}
	ev.timeWidth = len(dayMinute)
	if len(zones) == 1 {
		for z := range zones {
			ev.zone = z
		}
	} else {
		ev.timeWidth = 4
		for _, a := range acts {
			ev.timeWidth = max(ev.timeWidth, ansi.StringWidth(localTime(a.Time)))
		}
	}
	var s []string
	if failed > 0 {
		s = append(s, plural(failed, "failure"))
	}
	if len(newPlaces) > 0 {
		slices.Reverse(newPlaces) // newest first, as the table
		s = append(s, "new: "+strings.Join(newPlaces, "; "))
	}
	if len(s) > 0 {
		ev.summary = "· " + strings.Join(s, " · ")
	}
	return ev
}

// dayMinute is how the activity table shows a time.
const dayMinute = "01-02 15:04"

// placeOf is where an event came from: "City, Country".
func placeOf(a Activity) string {
	return strings.Join(nonEmpty(clean(a.City, 30), clean(a.Country, 30)), ", ")
}

// eventName is an event's display message, else its type.
func eventName(a Activity) string {
	if m := clean(a.Message, 200); m != "" {
		return m
	}
	return clean(a.EventType, 80)
}

// localTime is an event's time on the local clock, with the zone: a
// System Log read during an incident is compared with other clocks.
func localTime(t time.Time) string { return t.Local().Format(dayMinute + " MST") }

// outcomeClass reads Okta's outcome ("SUCCESS", "FAILURE: reason", "DENY",
// "CHALLENGE", ...) as success, failure or another word.
func outcomeClass(o string) string {
	r, _, _ := strings.Cut(o, ":")
	switch strings.ToUpper(strings.TrimSpace(r)) {
	case "SUCCESS", "ALLOW":
		return "success"
	case "FAILURE", "DENY":
		return "failure"
	case "":
		return ""
	}
	return strings.ToLower(clean(strings.TrimSpace(r), 12))
}

// outcomeCell is the OUTCOME column: a symbol and a word, coloured.
func (u *userScreen) outcomeCell(o string) string {
	switch w := outcomeClass(o); w {
	case "success":
		return u.c.st.outcome[actions.Revoked].Render("✓ success")
	case "failure":
		return u.c.st.outcome[actions.Failed].Render("✗ failure")
	case "":
		return u.c.st.dim.Render("-")
	default:
		return u.c.st.outcome[actions.Unknown].Render("? " + w)
	}
}

func nonEmpty(ss ...string) []string {
	var out []string
	for _, s := range ss {
		if strings.TrimSpace(s) != "" {
			out = append(out, s)
		}
	}
	return out
}

// pushedMsg tells a screen it was just opened, so it can start loading.
type pushedMsg struct{ s screen }
