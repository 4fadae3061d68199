package tui

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"ulc/actions"
)

// Watcher watches a finished run's users for signs of re-entry: it returns
// the watch's updates, the last with Done set, then closes the channel. A
// watch ends when its time is up or ctx is cancelled; the cause (an
// actions.WatchStop) is recorded as why.
type Watcher interface {
	Watch(ctx context.Context, runID string, o actions.WatchOptions) (<-chan actions.WatchUpdate, error)
}

// watchKey stops the watch, or starts another, on the board.
var watchKey = key.NewBinding(key.WithKeys("w"), key.WithHelp("w", "stop"))

// extendKey makes the watch in flight end later, by the board's watch
// window.
var extendKey = key.NewBinding(key.WithKeys("+"), key.WithHelp("+", "15m more"))

// boardWatch is the board's watch of its run's users, once the run is over.
type boardWatch struct {
	gen      int // which watch of this board the messages are about
	on       bool
	starting bool
	stop     context.CancelCauseFunc
	extend   chan time.Duration // to the watch in flight: end later by this much
	ch       <-chan actions.WatchUpdate
	until    time.Time
	signs    []actions.Sign
	tally    actions.WatchTally
	polls    int
	ended    bool   // a watch ran and is over
	reason   string // why it ended
	err      string // the last poll that failed, or why it could not start
	stopping bool   // w stopped it; the status says when it has ended
	again    bool   // "contain again?" asked after R
	planning bool   // the run of the containment again is being planned
}

type (
	watchStartedMsg struct {
		b   *boardScreen
		gen int
		ch  <-chan actions.WatchUpdate
		err error
	}
	watchUpdateMsg struct {
		b   *boardScreen
		gen int
		us  []actions.WatchUpdate
	}
	watchTickMsg struct {
		b   *boardScreen
		gen int
	}
	againPlannedMsg struct {
		b   *boardScreen
		p   *actions.Plan
		err error
	}
)

// watchFor is how long the board watches: Deps.Watch, or the default.
func (b *boardScreen) watchFor() time.Duration {
	if d := b.c.deps.Watch; d > 0 {
		return d
	}
	return actions.DefaultWatch
}

// canWatch reports whether this board's run can be watched: a run that
// sent something, to users Okta knows, with a watcher to ask.
func (b *boardScreen) canWatch() bool {
	if b.c.deps.Watcher == nil || b.c.deps.Watch < 0 || b.plan.Info.DryRun || b.err != nil {
		return false
	}
	return slices.ContainsFunc(b.plan.Info.Users, func(u actions.User) bool { return u.ID != "" })
}

// startWatch starts a watch of the run's users for watchFor.
func (b *boardScreen) startWatch() tea.Cmd {
	w := &b.watch
	if w.on || w.starting || !b.canWatch() {
		return nil
	}
	w.gen++
	w.starting, w.err, w.ended, w.reason = true, "", false, ""
	w.signs, w.tally, w.polls = nil, actions.WatchTally{}, 0
	ctx, stop := context.WithCancelCause(context.Background())
	w.stop = stop
	w.extend = make(chan time.Duration, 4)
	watcher, id, gen, d, ext := b.c.deps.Watcher, b.plan.RunID, w.gen, b.watchFor(), w.extend
	w.until = b.c.now().Add(d)
	return func() tea.Msg {
		ch, err := watcher.Watch(ctx, id, actions.WatchOptions{For: d, Extend: ext})
		if err != nil {
			stop(nil)
		}
		return watchStartedMsg{b: b, gen: gen, ch: ch, err: err}
	}
}

// stopWatch ends the watch in flight; it records why.
func (b *boardScreen) stopWatch(why actions.WatchStop) {
	if b.watch.stop != nil {
		b.watch.stop(why)
	}
}

// watching reports whether the board's watch is on (or starting).
func (b *boardScreen) watching() bool { return b.watch.on || b.watch.starting }

// waitWatch reads the next updates of the watch.
func (b *boardScreen) waitWatch() tea.Cmd {
	ch, gen := b.watch.ch, b.watch.gen
	return func() tea.Msg {
		u, ok := <-ch
		if !ok {
			return watchUpdateMsg{b: b, gen: gen, us: []actions.WatchUpdate{{Done: true, Tally: actions.WatchTally{Reason: "ended"}}}}
		}
		us := []actions.WatchUpdate{u}
		for !u.Done {
			select {
			case u, ok = <-ch:
				if !ok {
					return watchUpdateMsg{b: b, gen: gen, us: us}
				}
				us = append(us, u)
			default:
				return watchUpdateMsg{b: b, gen: gen, us: us}
			}
		}
		return watchUpdateMsg{b: b, gen: gen, us: us}
	}
}

func (b *boardScreen) watchTick() tea.Cmd {
	gen := b.watch.gen
	return tea.Tick(time.Second, func(time.Time) tea.Msg { return watchTickMsg{b: b, gen: gen} })
}

// updateWatch handles the watch's messages; false when msg is not one.
func (b *boardScreen) updateWatch(msg tea.Msg) (tea.Cmd, bool) {
	w := &b.watch
	switch msg := msg.(type) {
	case watchStartedMsg:
		if msg.b != b || msg.gen != w.gen {
			return nil, true
		}
		w.starting = false
		if msg.err != nil {
			w.err = "no watch: " + msg.err.Error()
			return nil, true
		}
		w.on, w.ch = true, msg.ch
		return tea.Batch(b.waitWatch(), b.watchTick()), true
	case watchUpdateMsg:
		if msg.b != b || msg.gen != w.gen {
			return nil, true
		}
		for _, u := range msg.us {
			if !u.Until.IsZero() {
				w.until = u.Until
			}
			w.polls = max(w.polls, u.Polls)
			if u.Head != "" {
				// The watch's events come after the run's: the head the
				// board shows is the log's after the latest of them.
				b.head = u.Head
			}
			if u.Err != "" {
				w.err = u.Err
			}
			if u.Sign != nil {
				w.signs = append(w.signs, *u.Sign)
				w.tally.Count(*u.Sign)
			}
			if u.Done {
				w.on, w.ended, w.reason = false, true, u.Tally.Reason
				w.polls = max(w.polls, u.Tally.Polls)
				if w.stopping {
					// The status said "stopping": say it is done.
					w.stopping = false
					return status("the watch stopped; what it saw is in the audit log (w watches again)", false), true
				}
				return nil, true
			}
		}
		return b.waitWatch(), true
	case watchTickMsg:
		if msg.b != b || msg.gen != w.gen || !w.on {
			return nil, true
		}
		return b.watchTick(), true
	case againPlannedMsg:
		if msg.b != b {
			return nil, true
		}
		w.planning = false
		if msg.err != nil {
			return status("contain again: "+msg.err.Error(), true), true
		}
		// This watch ends here: the new run's board watches after it.
		b.stopWatch(actions.WatchStopped)
		return tea.Sequence(pop, push(newBoard(b.c, msg.p))), true
	}
	return nil, false
}

// alarmed reports whether the watch saw a success after the run.
func (b *boardScreen) alarmed() bool { return b.watch.tally.Alarms > 0 }

// watchKeys are the watch's keys on the help line, as they work now.
func (b *boardScreen) watchKeys() []key.Binding {
	var ks []key.Binding
	if b.alarmed() && b.canContainAgain() {
		ks = append(ks, withHelp(b.c.keys.Retry, "R", "contain again"))
	}
	switch {
	case b.watch.on:
		ks = append(ks, watchKey, withHelp(extendKey, "+", short(b.watchFor())+" more"))
	case b.watch.starting || b.running || !b.canWatch():
	case b.watch.ended:
		ks = append(ks, withHelp(watchKey, "w", "watch "+short(b.watchFor())+" more"))
	default:
		ks = append(ks, withHelp(watchKey, "w", "watch "+short(b.watchFor())))
	}
	return ks
}

// watchKeyPress handles w, and R after an alarm; false when msg is
// neither.
func (b *boardScreen) watchKeyPress(msg tea.KeyPressMsg) (tea.Cmd, bool) {
	w := &b.watch
	k := b.c.keys
	if w.again {
		switch {
		case key.Matches(msg, k.Yes):
			w.again = false
			return b.containAgain(), true
		case key.Matches(msg, k.No):
			w.again = false
			return status("nothing sent", false), true
		}
		return nil, true
	}
	switch {
	case key.Matches(msg, watchKey) && w.on:
		b.stopWatch(actions.WatchStopped)
		w.stopping = true
		return status("stopping the watch; what it saw stays in the audit log", false), true
	case key.Matches(msg, extendKey) && w.on:
		d := b.watchFor()
		select {
		case w.extend <- d:
		default:
			return status("the watch has extensions waiting; try again in a moment", true), true
		}
		// The time left changes when the watch says it has recorded the
		// new end.
		return status("watching "+short(d)+" more; the audit log records the new end", false), true
	case key.Matches(msg, watchKey) && !w.starting && !b.running && b.canWatch():
		return b.startWatch(), true
	case key.Matches(msg, k.Retry) && b.alarmed() && b.canContainAgain():
		if !w.planning {
			w.again = true
		}
		return nil, true
	}
	return nil, false
}

// canContainAgain reports whether R may run the containment again.
func (b *boardScreen) canContainAgain() bool {
	return !b.running && !b.c.deps.ReadOnly && !b.plan.Info.DryRun
}

// againSteps are the Okta steps of the containment again: the run's own,
// and suspend, clear sessions and revoke grants whatever it had, in the
// order a run takes them.
func (b *boardScreen) againSteps() []actions.Action {
	want := append(slices.Clone(b.plan.Info.OktaSteps), actions.ActionSuspend, actions.ActionClearSessions, actions.ActionRevokeGrants)
	var out []actions.Action
	for _, a := range actions.OktaActions {
		if slices.Contains(want, a) {
			out = append(out, a)
		}
	}
	return out
}

// containAgain plans the containment again: the run's users, the Okta
// steps of againSteps and every target of the run, as a new run linked to
// this one.
func (b *boardScreen) containAgain() tea.Cmd {
	w := &b.watch
	if w.planning {
		return nil
	}
	w.planning = true
	info := b.plan.Info
	req := RunRequest{
		Users: slices.Clone(info.Users), OktaSteps: b.againSteps(), Targets: slices.Clone(info.Targets),
		ForgetDevices: info.ForgetDevices, Ticket: info.Ticket, ResumeOf: b.plan.RunID,
		Reason: clean(fmt.Sprintf("again: the watch of run %s saw a success after it (%s)", b.plan.RunID, info.Reason), 500),
	}
	runner := b.c.deps.Runner
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		p, err := runner.Plan(ctx, req)
		return againPlannedMsg{b, p, err}
	}
}

// short is a duration as people write it: 15m, 1h30m, 45s.
func short(d time.Duration) string {
	s := d.Round(time.Second).String()
	s = strings.TrimSuffix(s, "0s")
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	if s == "" {
		return "0s"
	}
	return s
}

// signOrder sorts signs for the board: alarms first, then attempts, then
// earlier ones, each oldest first.
func signOrder(signs []actions.Sign) []actions.Sign {
	rank := map[actions.SignLevel]int{actions.SignAlarm: 0, actions.SignAttempt: 1, actions.SignEarlier: 2}
	out := slices.Clone(signs)
	slices.SortStableFunc(out, func(x, y actions.Sign) int { return rank[x.Level] - rank[y.Level] })
	return out
}

// watchLines are the watch's lines under the table, in at most max lines
// (at least the header): its state and time left, one line per sign (as
// many as fit, then "↓ N more"), and under an alarm what to do.
func (b *boardScreen) watchLines(maxLines int) []string {
	c, w := b.c, &b.watch
	if !w.on && !w.starting && !w.ended && w.err == "" {
		return nil
	}
	var head string
	counts := fmt.Sprintf("%s · %s", plural(w.tally.Alarms, "alarm"), plural(w.tally.Attempts, "attempt"))
	if w.tally.Earlier > 0 {
		counts += fmt.Sprintf(" · %d earlier", w.tally.Earlier)
	}
	switch {
	case w.starting:
		head = "watch: starting…"
	case w.on:
		left := max(w.until.Sub(c.now()), 0).Truncate(time.Second)
		head = fmt.Sprintf("watching the System Log: %s left · %s · %s", clock(left), counts, plural(w.polls, "poll"))
	case w.ended:
		head = fmt.Sprintf("watch ended (%s): %s · %s", watchEndWords(w.reason), counts, plural(w.polls, "poll"))
	default:
		head = ""
	}
	var lines []string
	if head != "" {
		lines = append(lines, c.st.title.Render(ansi.Truncate(head, c.width, "…")))
	}
	if w.err != "" {
		lines = append(lines, c.st.err.Render(ansi.Truncate(clean(w.err, 300), c.width, "…")))
	}
	// The alarm is read whole: the signs give way to it first (down to
	// the line saying how many more), and it is cut only on a screen too
	// small for it.
	alarm := b.alarmText()
	fit := maxLines - len(lines)
	if len(w.signs) > 0 {
		fit--
	}
	if len(alarm) > max(fit, 1) {
		fit = max(fit, 1)
		alarm = alarm[:fit]
		alarm[fit-1] = strings.TrimRight(ansi.Truncate(alarm[fit-1], c.width-1, ""), " ") + "…"
	}
	for i := range alarm {
		alarm[i] = c.st.err.Render(strings.TrimRight(alarm[i], " "))
	}
	room := maxLines - len(lines) - len(alarm)
	signs := signOrder(w.signs)
	if len(signs) > room {
		room = max(room-1, 0) // the line saying how many more
	}
	for i, s := range signs {
		if i >= room {
			lines = append(lines, c.st.dim.Render(fmt.Sprintf("↓ %d more (ulc audit show %s lists them)", len(signs)-i, b.plan.RunID)))
			break
		}
		l := signLine(s, c.width)
		switch s.Level {
		case actions.SignAlarm:
			l = c.st.err.Render(l)
		case actions.SignEarlier:
			l = c.st.dim.Render(l)
		}
		lines = append(lines, l)
	}
	lines = append(lines, alarm...)
	if len(lines) > maxLines {
		lines = lines[:max(maxLines, 1)]
	}
	return lines
}

// watchEndWords says why a watch ended, from the reason it recorded.
func watchEndWords(reason string) string {
	why := map[string]string{"time": "its time is up", "stopped": "stopped", "quit": "the console closed", "cancelled": "cancelled",
		"refused": "Okta refuses ulc's credential the System Log: it needs okta.logs.read"}[reason]
	if why == "" {
		why = clean(reason, 80)
	}
	return why
}

// watchFindingLines are what the watches of a run saw, for its view in
// History: a line with the counts and how the last watch ended (or until
// when it watches), then up to maxSigns signs, alarms first, and how many
// more the timeline has.
func watchFindingLines(c *common, f *actions.WatchFindings, now time.Time, maxSigns int) []string {
	if f == nil || f.Watches == 0 {
		return nil
	}
	counts := fmt.Sprintf("%s · %s", plural(f.Alarms, "alarm"), plural(f.Attempts, "attempt"))
	if f.Earlier > 0 {
		counts += fmt.Sprintf(" · %d earlier", f.Earlier)
	}
	state := ""
	switch {
	case f.Ended != "":
		state = "ended: " + watchEndWords(f.Ended)
	case f.Until.After(now):
		state = "watching until " + f.Until.Local().Format("15:04:05")
	default:
		state = "its process ended before it said why"
	}
	head := counts + " · " + state
	if f.Polls > 0 {
		head += " · " + plural(f.Polls, "poll")
	}
	if f.Watches > 1 {
		head = fmt.Sprintf("%d watches: %s", f.Watches, head)
	}
	if f.Alarms > 0 {
		head = c.st.err.Render("⚠ " + head)
	}
	lines := []string{ansi.Truncate(c.st.label.Render("Watch")+" "+head, c.width, "…")}
	signs := signOrder(f.Signs)
	total := f.Alarms + f.Attempts + f.Earlier
	for i, s := range signs {
		if i >= maxSigns {
			break
		}
		l := "  " + signLine(s, c.width-2)
		switch s.Level {
		case actions.SignAlarm:
			l = c.st.err.Render(l)
		case actions.SignEarlier:
			l = c.st.dim.Render(l)
		}
		lines = append(lines, l)
	}
	if shown := min(len(signs), maxSigns); total > shown {
		lines = append(lines, c.st.dim.Render(fmt.Sprintf("  ↓ %d more: t shows them in the timeline", total-shown)))
	}
	return lines
}

// alarmText is the alarm and what to do about it (or, after R, the
// question), wrapped to the screen's width; nil without an alarm.
func (b *boardScreen) alarmText() []string {
	c, w := b.c, &b.watch
	if !b.alarmed() {
		return nil
	}
	var last actions.Sign
	for _, s := range w.signs {
		if s.Level == actions.SignAlarm {
			last = s
		}
	}
	advice := clean(last.Advice, 400)
	if advice != "" {
		advice = strings.ToUpper(advice[:1]) + advice[1:]
	}
	text := fmt.Sprintf("⚠ ALARM: someone got in after the run (%s). %s", plural(w.tally.Alarms, "success"), advice)
	if w.again {
		text = fmt.Sprintf("Run the containment again for %s: %s and every target of the run, as a new run? y/n",
			runUsers(b.plan.Info.Users), stepsPhrase(b.againSteps()))
	}
	return strings.Split(wrap(text, c.width), "\n")
}

// watchHeight is how many lines the watch may take when the table has
// free lines: its header, its error, the whole alarm and as many signs as
// leave the table room for a few rows.
func (b *boardScreen) watchHeight(free int) int {
	w := &b.watch
	if !w.on && !w.starting && !w.ended && w.err == "" {
		return 0
	}
	want := 1 + len(w.signs)
	if w.err != "" {
		want++
	}
	want += len(b.alarmText())
	// The table keeps its header, three rows and its position line.
	return max(min(want, free-5), 1)
}

// clock is a duration as mm:ss, or h:mm:ss.
func clock(d time.Duration) string {
	s := int(d / time.Second)
	if s >= 3600 {
		return fmt.Sprintf("%d:%02d:%02d", s/3600, s/60%60, s%60)
	}
	return fmt.Sprintf("%d:%02d", s/60, s%60)
}

// runUsers names a run's users: one, or the first and how many more.
func runUsers(us []actions.User) string {
	switch len(us) {
	case 0:
		return "nobody"
	case 1:
		return clean(us[0].Key(), 60)
	}
	return fmt.Sprintf("%s and %d more", clean(us[0].Key(), 60), len(us)-1)
}

// stepsPhrase names Okta steps as the board's rows do.
func stepsPhrase(as []actions.Action) string {
	var names []string
	for _, a := range as {
		names = append(names, stepName(&actions.StepState{Action: a}))
	}
	return strings.Join(names, ", ")
}

// signLine is a sign as one board line of at most width columns: its mark,
// time, event, outcome (denied for an attempt), the app it names and how
// long after the revocation, then where it came from as far as it fits.
func signLine(s actions.Sign, width int) string {
	mark, result := "⚠", strings.ToLower(s.Result)
	switch s.Level {
	case actions.SignAttempt:
		mark, result = "✓", "denied"
	case actions.SignEarlier:
		mark = "·"
	}
	core := fmt.Sprintf("%s %s %s", mark, s.Time.Local().Format("15:04:05"), s.EventType)
	if result != "" {
		core += " " + result
	}
	if s.App != "" {
		core += " to " + s.App
	}
	sec, word := s.AfterS, "after"
	if sec < 0 {
		sec, word = -sec, "before"
	}
	tail := fmt.Sprintf(" — %d s %s", sec, word)
	if sec >= 60 {
		tail = fmt.Sprintf(" — %d min %s", sec/60, word)
	}
	if ansi.StringWidth(core+tail) > width && result != "" {
		// The outcome gives way before the app: the mark says it.
		core = strings.Replace(core, " "+result, "", 1)
	}
	line := core
	for i, w := range []string{s.IP, s.City, s.Country} {
		if w == "" {
			continue
		}
		if i == 0 || line == core {
			w = "from " + w
		}
		if ansi.StringWidth(line+" "+w+tail) > width {
			break
		}
		line += " " + w
	}
	if s.App == "" && s.Client != "" && ansi.StringWidth(line+" via "+s.Client+tail) <= width {
		line += " via " + s.Client
	}
	return ansi.Truncate(clean(line+tail, 400), width, "…")
}
