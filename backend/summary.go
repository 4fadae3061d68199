package backend

import "ulc/actions"

// Summary is a run's result as the headless commands print it: the last
// line of --json output, and the two closing lines for people.
type Summary struct {
	Type   string `json:"type"`
	RunID  string `json:"run_id"`
	DryRun bool   `json:"dry_run,omitempty"`
	// Counts is how many steps ended in each outcome.
	Counts map[string]int `json:"counts"`
	// Result is the counts in words ("12 revoked, 1 failed").
	Result string `json:"result"`
	// Targets is every step's final state.
	Targets []*actions.StepState `json:"targets"`
	// Residual says, per target, what stays alive at the application
	// after its sign-out (tokens that live to expiry, grants), for the
	// follow-up.
	Residual map[string]string `json:"residual,omitempty"`
	// AuditDB and AuditHead name the log and its head hash after the run,
	// for the ticket.
	AuditDB   string `json:"audit_db"`
	AuditHead string `json:"audit_head"`
	// Error is why the run stopped short, if it did.
	Error string `json:"error,omitempty"`
}

// NewSummary summarises a finished run of plan p.
func NewSummary(p *actions.Plan, st *actions.RunState, head, auditPath string, err error) Summary {
	counts := map[string]int{}
	for o, n := range st.Counts() {
		if o != "" {
			counts[string(o)] = n
		}
	}
	s := Summary{Type: "summary", RunID: st.RunID, DryRun: st.Info.DryRun, Counts: counts,
		Result: actions.Tally(st.Counts(), nil), Targets: st.Steps, AuditDB: auditPath, AuditHead: head}
	if r := p.Residual(); len(r) > 0 {
		s.Residual = r
	}
	if s.Targets == nil {
		s.Targets = []*actions.StepState{}
	}
	if err != nil {
		s.Error = err.Error()
	}
	return s
}
