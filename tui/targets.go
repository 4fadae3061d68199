package tui

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"ulc/actions"
)

// recentResults is how many past results per target the screen shows.
const recentResults = 10

// targetsScreen is the registry with each target's recent record, and a
// check of reachability and credential.
type targetsScreen struct {
	c      *common
	stats  map[string][]actions.StepState
	probes map[string]ProbeResult
	busy   map[string]bool
	err    string
	cursor int
	offset int
}

type statsLoadedMsg struct {
	stats map[string][]actions.StepState
	err   error
}
type probedMsg struct {
	name string
	res  ProbeResult
}

func newTargets(c *common) *targetsScreen {
	return &targetsScreen{c: c, probes: map[string]ProbeResult{}, busy: map[string]bool{}}
}

func (t *targetsScreen) title() string { return "Targets" }
func (t *targetsScreen) typing() bool  { return false }
func (t *targetsScreen) keys() []key.Binding {
	k := t.c.keys
	ks := []key.Binding{withHelp(k.Down, "↑/↓", "select")}
	if !t.c.deps.ReadOnly && t.c.deps.Prober != nil {
		ks = append(ks, withHelp(k.Check, "c", "check reachability and credential"))
	}
	return ks
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
		return status(msg.name+": "+msg.res.Verdict, !msg.res.Outcome.Success())
	case tea.KeyPressMsg:
		k := t.c.keys
		n := len(t.c.deps.Targets)
		switch {
		case key.Matches(msg, k.Up):
			t.cursor = max(t.cursor-1, 0)
		case key.Matches(msg, k.Down):
			t.cursor = min(t.cursor+1, max(n-1, 0))
		case key.Matches(msg, k.PageDown):
			t.cursor = min(t.cursor+t.rows(), max(n-1, 0))
		case key.Matches(msg, k.PageUp):
			t.cursor = max(t.cursor-t.rows(), 0)
		case key.Matches(msg, k.Check) && !t.c.deps.ReadOnly && t.c.deps.Prober != nil && n > 0:
			tg := t.c.deps.Targets[t.cursor]
			if t.busy[tg.Name] {
				return nil
			}
			t.busy[tg.Name] = true
			prober := t.c.deps.Prober
			return tea.Sequence(status("checking "+tg.Name+"…", false), func() tea.Msg {
				ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
				defer cancel()
				return probedMsg{tg.Name, prober.Probe(ctx, tg)}
			})
		}
	}
	return nil
}

func (t *targetsScreen) rows() int { return max(t.c.bodyHeight()-3, 1) }

func (t *targetsScreen) view() string {
	c := t.c
	var b strings.Builder
	fmt.Fprintf(&b, "%d targets registered\n", len(c.deps.Targets))
	if t.err != "" {
		b.WriteString(c.st.err.Render("cannot read the record: "+clean(t.err, 200)) + "\n")
	}
	rows := make([][]string, len(c.deps.Targets))
	kinds := make([]string, len(c.deps.Targets))
	for i, tg := range c.deps.Targets {
		recent := t.stats[tg.Name]
		var marks strings.Builder
		ok, lat := 0, []int64{}
		for _, s := range recent {
			marks.WriteString(c.st.renderOutcome(s.Outcome, shortMark(s.Outcome)))
			if s.Outcome.Success() {
				ok++
			}
			if s.HTTPStatus != 0 {
				lat = append(lat, s.LatencyMS)
			}
		}
		rate, med := "-", "-"
		if len(recent) > 0 {
			rate = fmt.Sprintf("%d%%", 100*ok/len(recent))
		}
		if len(lat) > 0 {
			slices.Sort(lat)
			med = fmt.Sprintf("%dms", lat[len(lat)/2])
		}
		state := "on"
		if !tg.Enabled {
			state = "off"
		}
		// The last column is the URL, or what a check found.
		last := tg.URL
		switch p, ok := t.probes[tg.Name]; {
		case t.busy[tg.Name]:
			last = "checking…"
		case ok:
			last = c.st.renderOutcome(p.Outcome, shortMark(p.Outcome)+" "+clean(p.Verdict, 300))
		}
		kind, subject, auth := targetCells(tg)
		kinds[i] = kind
		rows[i] = []string{tg.Name, state, subject, auth, marks.String(), rate, med, last}
	}
	t.offset = scroll(t.cursor, t.offset, t.rows(), len(rows))
	cols, rows := withKind(mixedKinds(t.c.deps.Targets), []column{{"TARGET", 14}, {"", 3}, {"SUBJECT", 7}, {"AUTH", 6}, {"RECENT", recentResults},
		{"OK", 4}, {"MEDIAN", 6}, {"URL / CHECK", 0}}, rows, 2, kinds)
	b.WriteString(c.table(cols, rows, t.cursor, t.offset, t.rows()))
	b.WriteString("\n" + c.st.dim.Render("recent, oldest first: "+legend))
	return b.String()
}
