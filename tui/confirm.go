package tui

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	"charm.land/bubbles/v2/textinput"
	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"ulc/actions"
	"ulc/config"
)

// The confirm screen's fields, in tab order, which is also their order on
// the screen, top to bottom.
const (
	fieldReason = iota
	fieldTicket
	fieldSteps
	fieldTargets
	fieldConfirm
	numFields
)

// stepDeactivate is the index of deactivate among the Okta steps.
const stepDeactivate = 4

// stepOption is one Okta step the operator can switch on or off.
type stepOption struct {
	label  string
	action actions.Action // "" for forget devices, an option of clear sessions
	on     bool
}

// confirmScreen shows the exact plan and asks for a reason, an optional
// ticket and typed confirmation before anything is sent.
type confirmScreen struct {
	c       *common
	people  []Person
	reason  textinput.Model
	ticket  textinput.Model
	confirm textinput.Model
	steps   []stepOption
	targets []config.Target
	enabled []bool
	field   int
	stepCur int
	tgtCur  int
	tgtOff  int
	err     string
	busy    bool
	// unusable is what the latest plan said about targets that cannot be
	// sent (target → reason): their credential is missing or unusable.
	unusable map[string]string
	// held is a plan with unusable targets, kept on screen so the operator
	// sees them before anything is sent; heldFor is the request it was
	// built for. Enter again with the same request sends it.
	held    *actions.Plan
	heldFor string
}

type planMsg struct {
	c    *confirmScreen
	plan *actions.Plan
	err  error
	key  string // requestKey of the request the plan was built for
}

func newConfirm(c *common, people []Person) *confirmScreen {
	mk := func(prompt, placeholder string) textinput.Model {
		in := newInput(prompt, placeholder, 500)
		in.SetWidth(confirmInputWidth(c.width))
		return in
	}
	s := &confirmScreen{
		c: c, people: people,
		reason: mk("Reason  › ", "why (required, recorded in the audit log)"),
		ticket: mk("Ticket  › ", "incident or change ticket (optional)"),
		steps: []stepOption{
			{label: "clear Okta sessions and tokens", action: actions.ActionClearSessions, on: true},
			{label: "forget devices", action: "", on: false},
			{label: "revoke grants", action: actions.ActionRevokeGrants},
			{label: "suspend", action: actions.ActionSuspend},
			{label: "deactivate", action: actions.ActionDeactivate},
			{label: "Okta Universal Logout (apps that trust Okta; needs ITP)", action: actions.ActionUniversalLogout},
		},
	}
	s.confirm = mk("Confirm › ", "type "+s.expected())
	for _, t := range c.deps.Targets {
		if t.Enabled {
			s.targets = append(s.targets, t)
			s.enabled = append(s.enabled, true)
		}
	}
	return s
}

// expected is what the operator must type: the login of one user (as the
// screen shows it), the number of users for several.
func (s *confirmScreen) expected() string {
	if len(s.people) == 1 {
		return clean(s.people[0].Login, 200)
	}
	return strconv.Itoa(len(s.people))
}

func (s *confirmScreen) title() string { return "Confirm" }
func (s *confirmScreen) typing() bool {
	return s.field == fieldReason || s.field == fieldTicket || s.field == fieldConfirm
}

func (s *confirmScreen) keys() []key.Binding {
	k := s.c.keys
	next, toConfirm := withHelp(k.NextField, "tab", "next"), withHelp(k.ToConfirm, "ctrl+g", "Confirm")
	dry := withHelp(k.DryRun, "ctrl+p", "dry run")
	switch s.field {
	case fieldSteps, fieldTargets:
		// ctrl+p works here too; the full help (?) lists it.
		return []key.Binding{k.Toggle, withHelp(k.Down, "↑↓", "move"), next, toConfirm, k.Back}
	case fieldConfirm:
		return []key.Binding{withHelp(k.Run, "enter", "send"), dry, next, k.Back}
	}
	return []key.Binding{next, toConfirm, dry, k.Back}
}

// moreKeys are the keys the full help adds to the help line's.
func (s *confirmScreen) moreKeys() []key.Binding {
	k := s.c.keys
	ks := []key.Binding{k.PrevField, withHelp(k.Run, "enter", "next field (on Confirm: send)")}
	if s.field == fieldSteps || s.field == fieldTargets {
		ks = append(ks, withHelp(k.DryRun, "ctrl+p", "dry run"))
	}
	if s.field == fieldTargets {
		ks = append(ks, key.NewBinding(key.WithKeys("a"), key.WithHelp("a", "all targets on or off")))
	}
	return ks
}

func (s *confirmScreen) focus() tea.Cmd {
	s.reason.Blur()
	s.ticket.Blur()
	s.confirm.Blur()
	switch s.field {
	case fieldReason:
		return s.reason.Focus()
	case fieldTicket:
		return s.ticket.Focus()
	case fieldConfirm:
		return s.confirm.Focus()
	}
	return nil
}

// confirmInputWidth is the width of the form's text fields on a terminal
// width columns wide.
func confirmInputWidth(width int) int { return max(width-12, 20) }

func (s *confirmScreen) update(msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		for _, in := range []*textinput.Model{&s.reason, &s.ticket, &s.confirm} {
			in.SetWidth(confirmInputWidth(msg.Width))
		}
		return nil
	case pushedMsg:
		if msg.s == screen(s) {
			return s.focus()
		}
	case planMsg:
		if msg.c != s {
			return nil
		}
		s.busy = false
		if msg.err != nil {
			s.err = msg.err.Error()
			return nil
		}
		s.learn(msg.plan)
		if !msg.plan.Info.DryRun && len(msg.plan.Unusable()) > 0 {
			// Some targets cannot be sent: show them, and send only
			// when the operator confirms again. A dry run sends nothing
			// and its board shows them as failed, so it goes ahead.
			s.held, s.heldFor = msg.plan, msg.key
			s.field = fieldConfirm
			return s.focus()
		}
		b := newBoard(s.c, msg.plan)
		return tea.Sequence(pop, push(b))
	case tea.KeyPressMsg:
		return s.key(msg)
	}
	return s.forward(msg)
}

func (s *confirmScreen) forward(msg tea.Msg) tea.Cmd {
	var cmd tea.Cmd
	switch s.field {
	case fieldReason:
		s.reason, cmd = s.reason.Update(msg)
	case fieldTicket:
		s.ticket, cmd = s.ticket.Update(msg)
	case fieldConfirm:
		s.confirm, cmd = s.confirm.Update(msg)
	}
	return cmd
}

func (s *confirmScreen) key(msg tea.KeyPressMsg) tea.Cmd {
	k := s.c.keys
	if s.busy {
		return nil
	}
	switch {
	case key.Matches(msg, k.Back):
		return pop
	case key.Matches(msg, k.NextField):
		s.field = (s.field + 1) % numFields
		return s.focus()
	case key.Matches(msg, k.PrevField):
		s.field = (s.field + numFields - 1) % numFields
		return s.focus()
	case key.Matches(msg, k.DryRun):
		return s.submit(true)
	case key.Matches(msg, k.ToConfirm):
		s.field = fieldConfirm
		return s.focus()
	}
	switch s.field {
	case fieldSteps:
		switch {
		case key.Matches(msg, k.Up):
			s.stepCur = max(s.stepCur-1, 0)
		case key.Matches(msg, k.Down):
			s.stepCur = min(s.stepCur+1, len(s.steps)-1)
		case key.Matches(msg, jumpTop):
			s.stepCur = 0
		case key.Matches(msg, jumpBottom):
			s.stepCur = max(len(s.steps)-1, 0)
		case key.Matches(msg, k.Toggle):
			s.toggleStep(s.stepCur)
		case key.Matches(msg, k.Run):
			s.field = fieldTargets
		}
		return nil
	case fieldTargets:
		switch {
		case key.Matches(msg, k.Up):
			s.tgtCur = max(s.tgtCur-1, 0)
		case key.Matches(msg, k.Down):
			s.tgtCur = min(s.tgtCur+1, len(s.targets)-1)
		case key.Matches(msg, jumpTop):
			s.tgtCur = 0
		case key.Matches(msg, jumpBottom):
			s.tgtCur = max(len(s.targets)-1, 0)
		case key.Matches(msg, k.Toggle) && len(s.targets) > 0:
			s.enabled[s.tgtCur] = !s.enabled[s.tgtCur]
		case msg.String() == "a":
			all := !allTrue(s.enabled)
			for i := range s.enabled {
				s.enabled[i] = all
			}
		case key.Matches(msg, k.Run):
			s.field = fieldConfirm
			return s.focus()
		}
		return nil
	}
	if key.Matches(msg, k.Run) {
		if s.field == fieldConfirm {
			return s.submit(false)
		}
		s.field++
		return s.focus()
	}
	return s.forward(msg)
}

// toggleStep switches a step, keeping the combinations meaningful:
// forget devices is an option of clearing sessions.
func (s *confirmScreen) toggleStep(i int) {
	s.steps[i].on = !s.steps[i].on
	if i == 1 && s.steps[1].on {
		s.steps[0].on = true
	}
	if !s.steps[0].on {
		s.steps[1].on = false
	}
}

func allTrue(bs []bool) bool {
	for _, b := range bs {
		if !b {
			return false
		}
	}
	return true
}

// request is what the screen would send.
func (s *confirmScreen) request(dry bool) RunRequest {
	r := RunRequest{
		Users: usersOf(s.people), Reason: strings.TrimSpace(s.reason.Value()),
		Ticket: strings.TrimSpace(s.ticket.Value()), DryRun: dry,
		ForgetDevices: s.steps[1].on,
	}
	for _, st := range s.steps {
		if st.on && st.action != "" {
			r.OktaSteps = append(r.OktaSteps, st.action)
		}
	}
	for i, t := range s.targets {
		if s.enabled[i] {
			r.Targets = append(r.Targets, t.Name)
		}
	}
	return r
}

// submit checks the form and asks the runner for the plan.
func (s *confirmScreen) submit(dry bool) tea.Cmd {
	r := s.request(dry)
	switch {
	case r.Reason == "":
		s.err = "a reason is required: say why (it is recorded in the audit log)"
		s.field = fieldReason
		return s.focus()
	case len(r.Targets) == 0 && len(r.OktaSteps) == 0:
		s.err = "nothing to do: switch on an Okta step or a target"
		return nil
	case !dry && strings.TrimSpace(s.confirm.Value()) != s.expected():
		s.err = fmt.Sprintf("type %q in Confirm to send (or ctrl+p for a dry run)", s.expected())
		s.field = fieldConfirm
		return s.focus()
	}
	k := requestKey(r)
	if held := s.held; held != nil && !dry && k == s.heldFor {
		// The operator has seen which targets cannot be sent and
		// confirmed again: send exactly the plan they saw.
		s.held, s.err = nil, ""
		return tea.Sequence(pop, push(newBoard(s.c, held)))
	}
	s.held = nil
	s.err, s.busy = "", true
	runner := s.c.deps.Runner
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		p, err := runner.Plan(ctx, r)
		return planMsg{c: s, plan: p, err: err, key: k}
	}
}

// requestKey identifies a request by everything the operator chose, so a
// held plan is sent only for the very choices it was built for.
func requestKey(r RunRequest) string {
	var ids []string
	for _, u := range r.Users {
		ids = append(ids, u.ID+"/"+u.Key())
	}
	return fmt.Sprintf("%q %q %q %v %t %q %t", ids, r.Reason, r.Ticket, r.OktaSteps, r.ForgetDevices, r.Targets, r.DryRun)
}

// learn keeps what plan says about the usability of its targets.
func (s *confirmScreen) learn(plan *actions.Plan) {
	if s.unusable == nil {
		s.unusable = map[string]string{}
	}
	for _, t := range plan.Info.Targets {
		delete(s.unusable, t)
	}
	for _, u := range plan.Unusable() {
		s.unusable[u.Target] = u.Reason
	}
}

// unusableOn counts the switched-on targets known to be unusable.
func (s *confirmScreen) unusableOn() int {
	n := 0
	for i, t := range s.targets {
		if _, bad := s.unusable[t.Name]; bad && s.enabled[i] {
			n++
		}
	}
	return n
}

// holding reports whether a held plan still matches the screen's choices.
func (s *confirmScreen) holding() bool {
	return s.held != nil && requestKey(s.request(false)) == s.heldFor
}

func (s *confirmScreen) view() string {
	c := s.c
	var b strings.Builder
	who := fmt.Sprintf("%d users", len(s.people))
	if len(s.people) == 1 {
		p := s.people[0]
		who = fmt.Sprintf("%s (%s, %s)", clean(p.Login, 60), clean(p.FirstName+" "+p.LastName, 40), statusText(p.Status))
	}
	b.WriteString(c.st.title.Render("Log out "+who) + "\n")
	if len(s.people) == 1 && s.people[0].ID != "" {
		// The id is what Okta acts on: a look-alike login cannot hide here.
		b.WriteString(c.st.dim.Render("Okta id "+clean(s.people[0].ID, 40)) + "\n")
	}
	if len(s.people) > 1 {
		var names []string
		for _, p := range s.people {
			names = append(names, clean(p.Login, 40))
		}
		b.WriteString(c.st.dim.Render(clean(strings.Join(names, ", "), c.width*2)) + "\n")
	}
	// The fields, in tab order from top to bottom.
	b.WriteString(s.reason.View() + "\n")
	b.WriteString(s.ticket.View() + "\n")

	// Okta steps.
	label := "Okta steps"
	if s.field == fieldSteps {
		label = "› " + label
	}
	b.WriteString(c.st.title.Render(label) + "\n")
	for i, st := range s.steps {
		box := "[ ]"
		if st.on {
			box = "[x]"
		}
		line := box + " " + st.label
		if s.field == fieldSteps && i == s.stepCur {
			line = c.st.selected.Render(line)
		}
		b.WriteString("  " + line + "\n")
	}
	if s.steps[stepDeactivate].on {
		b.WriteString(c.st.err.Render(ansi.Truncate("  ⚠ deactivate cannot be undone from ulc: only an Okta admin can reactivate the user, who must then activate again", c.width, "…")) + "\n")
	}

	// Targets.
	on := 0
	for _, e := range s.enabled {
		if e {
			on++
		}
	}
	label = fmt.Sprintf("Targets: %d of %d", on, len(s.targets))
	if bad := s.unusableOn(); bad > 0 {
		label += fmt.Sprintf(", %d unusable", bad)
	}
	label += " (space toggles, a all)"
	if s.field == fieldTargets {
		label = "› " + label
	}
	b.WriteString(c.st.title.Render(label) + "\n")
	// What stays alive, wrapped under the list: a residual is a sentence
	// to act on, not to be cut at 80 columns.
	var residual []string
	if r := s.residualLine(); r != "" {
		residual = wrapIndented(r, c.width, 4)
		if len(residual) > maxResidualLines {
			residual = residual[:maxResidualLines]
			last := residual[maxResidualLines-1]
			residual[maxResidualLines-1] = ansi.Truncate(last, c.width-1, "") + "…"
		}
	}
	after := 3 + len(residual) // the table's header, and the lines below it: confirm, the hint
	h := max(c.bodyHeight()-strings.Count(b.String(), "\n")-after, 2)
	rows := make([][]string, len(s.targets))
	kinds := make([]string, len(s.targets))
	for i, t := range s.targets {
		box := "[ ]"
		if s.enabled[i] {
			box = "[x]"
		}
		kind, subject, auth := targetCells(t)
		kinds[i] = kind
		if auth == config.AuthJWT {
			auth = "signed JWT"
		}
		where := t.URL
		if why, bad := s.unusable[t.Name]; bad {
			// Its credential is missing: the reason replaces the URL,
			// and a switched-on box says it will not be sent.
			where = c.st.dim.Render(clean(why, 300))
			if s.enabled[i] {
				box = c.st.err.Render("[✗]")
				where = c.st.err.Render(clean(why, 300))
			}
		}
		rows[i] = []string{box, t.Name, where, subject, auth}
	}
	cur := -1
	if s.field == fieldTargets {
		cur = s.tgtCur
	}
	s.tgtOff = scroll(s.tgtCur, s.tgtOff, h, len(rows))
	cols, rows := withKind(mixedKinds(s.targets), []column{{"", 3}, {"TARGET", 14}, {"URL", 0}, {"SUBJECT", 8}, {"AUTH", 10}}, rows, 2, kinds)
	b.WriteString(c.table(cols, rows, cur, s.tgtOff, h) + "\n")
	for _, l := range residual {
		b.WriteString(c.st.dim.Render(l) + "\n")
	}

	b.WriteString(s.confirm.View() + "\n")
	switch {
	case s.busy:
		b.WriteString(c.st.dim.Render("building the plan…"))
	case s.err != "":
		b.WriteString(c.st.err.Render(clean(s.err, 300)))
	case s.holding():
		b.WriteString(c.st.err.Render(ansi.Truncate(s.heldText(), c.width, "…")))
	default:
		hint := "tab: the next field down · ctrl+g: Confirm, where enter sends"
		if s.field == fieldConfirm {
			hint = "enter sends; ctrl+p records the plan and sends nothing"
		}
		b.WriteString(c.st.dim.Render(ansi.Truncate(fmt.Sprintf("(%d requests) %s", s.requests(), hint), c.width, "…")))
	}
	return b.String()
}

// heldText is the confirmation asked for a held plan: how many targets
// will be recorded as failed without being sent, and that enter sends the
// rest.
func (s *confirmScreen) heldText() string {
	bad := len(s.held.Unusable())
	sendable := 0
	for _, st := range s.held.Steps {
		if st.Blocked == "" {
			sendable++
		}
	}
	what := fmt.Sprintf("%d targets will", bad)
	if bad == 1 {
		what = "1 target will"
	}
	if sendable == 0 {
		return "✗ " + what + " be recorded as failed and nothing sent: enter again records it"
	}
	return "✗ " + what + " be recorded as failed and not sent: enter again sends the rest"
}

// requests counts the requests the current choices would send.
func (s *confirmScreen) requests() int {
	r := s.request(false)
	return len(s.people) * (len(r.OktaSteps) + len(r.Targets))
}

// maxResidualLines is how many lines a residual may take under the list.
const maxResidualLines = 3

// residualLine says, before sending, what the sign-outs leave alive: the
// selected target's residual while the list has focus, else how many
// switched-on targets leave something. "" when none does.
func (s *confirmScreen) residualLine() string {
	res := s.c.deps.Residual
	if len(res) == 0 {
		return ""
	}
	if s.field == fieldTargets && s.tgtCur < len(s.targets) {
		t := s.targets[s.tgtCur]
		if r := res[t.Name]; r != "" {
			return "    still alive after " + clean(t.Name, 20) + "'s sign-out: " + clean(r, 400)
		}
	}
	n := 0
	for i, t := range s.targets {
		if s.enabled[i] && res[t.Name] != "" {
			n++
		}
	}
	switch n {
	case 0:
		return ""
	case 1:
		return "    1 target leaves something alive after sign-out: tab to the list to read it"
	}
	// Short enough for 80 columns whole.
	return fmt.Sprintf("    %d targets leave something alive after sign-out: tab to the list for each", n)
}
