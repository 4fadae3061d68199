package tui

import (
	"context"
	"fmt"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
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
	offset   int
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
	return &userScreen{c: c, p: p}
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
func (u *userScreen) typing() bool  { return false }

func (u *userScreen) keys() []key.Binding {
	k := u.c.keys
	ks := []key.Binding{k.Back, withHelp(k.Down, "↑/↓", "scroll")}
	if !u.c.deps.ReadOnly {
		ks = append([]key.Binding{withHelp(k.Revoke, "r", "revoke this user")}, ks...)
	}
	return ks
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
		k := u.c.keys
		switch {
		case key.Matches(msg, k.Back):
			return pop
		case key.Matches(msg, k.Revoke) && !u.c.deps.ReadOnly:
			return push(newConfirm(u.c, []Person{u.p}))
		case key.Matches(msg, k.Down):
			u.offset++
		case key.Matches(msg, k.Up):
			u.offset = max(u.offset-1, 0)
		}
	}
	return nil
}

func (u *userScreen) view() string {
	c, p := u.c, u.p
	now := c.now()
	var b strings.Builder
	row := func(label, value string) {
		b.WriteString(c.st.label.Render(label) + " " + value + "\n")
	}
	row("Name", clean(p.FirstName+" "+p.LastName, 60))
	row("Login", clean(p.Login, 80))
	if p.Email != p.Login {
		row("Email", clean(p.Email, 80))
	}
	row("Status", statusText(p.Status)+c.st.dim.Render(" since "+ago(p.StatusChanged, now)))
	row("Okta id", clean(p.ID, 40))
	job := strings.TrimSpace(strings.Join(nonEmpty(clean(p.Title, 40), clean(p.Department, 40)), ", "))
	if job != "" {
		row("Role", job)
	}
	if p.City != "" || p.Country != "" {
		row("Location", strings.Join(nonEmpty(clean(p.City, 40), clean(p.Country, 40)), ", "))
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
	fmt.Fprintf(&b, "\n%s\n", c.st.title.Render(fmt.Sprintf("Recent activity (last %d days)", activityDays)))
	switch {
	case u.actErr != "":
		b.WriteString(c.st.err.Render("System Log unavailable: "+clean(u.actErr, 150)) + "\n")
	case u.activity == nil && u.loading > 0:
		b.WriteString(c.st.dim.Render("loading…") + "\n")
	case len(u.activity) == 0:
		b.WriteString(c.st.dim.Render("no events") + "\n")
	default:
		rows := make([][]string, len(u.activity))
		for i, a := range u.activity {
			place := strings.Join(nonEmpty(clean(a.City, 20), clean(a.Country, 20)), ", ")
			ev := clean(a.Message, 60)
			if ev == "" {
				ev = clean(a.EventType, 60)
			}
			if a.Outcome != "" && a.Outcome != "SUCCESS" {
				ev += " [" + clean(a.Outcome, 12) + "]"
			}
			rows[i] = []string{a.Time.Local().Format("01-02 15:04"), ev, clean(a.IP, 40), place, clean(a.Client, 40)}
		}
		h := max(c.bodyHeight()-strings.Count(b.String(), "\n")-1, 2)
		u.offset = min(u.offset, max(len(rows)-visibleRows(len(rows), h), 0))
		b.WriteString(c.table([]column{{"TIME", 11}, {"EVENT", 0}, {"IP", 15}, {"PLACE", 18}, {"CLIENT", 18}}, rows, -1, u.offset, h))
	}
	return b.String()
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
