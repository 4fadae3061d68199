package actions

import (
	"errors"
	"slices"
)

// ErrNothingToResume is returned when every step of a run succeeded, there
// or in a run that already resumed it.
var ErrNothingToResume = errors.New("nothing to resume: every step succeeded, in that run or in a run that resumed it")

// Resume is what a resumed run sends again: every step of the earlier run
// that did not end in success (revoked, done or not_found), and nothing
// else. GTR is idempotent, so sending a step whose answer was lost
// (unknown) again is safe.
type Resume struct {
	// Users, OktaSteps and Targets span the steps to send again; Skip
	// leaves out the combinations that already succeeded.
	Users     []User
	OktaSteps []Action
	Targets   []string
	Skip      func(u User, a Action, target string) bool
	// Steps is how many steps will be sent again.
	Steps int
}

// ResumeOf returns what resuming st sends. st should be settled (see
// RunState.Settle) when its process died. later are runs that already
// resumed st: what succeeded there is not sent again either. When st's
// plan was not recorded to the end (RunState.Unrecorded), its users ×
// steps × targets that did not succeed in st or in later are sent; later
// should then also hold the runs st resumed, whose successes st left out.
func ResumeOf(st *RunState, later ...*RunState) Resume {
	done := map[string]bool{}
	key := func(user string, a Action, target string) string { return user + "\x00" + string(a) + "\x00" + target }
	for _, l := range later {
		for _, s := range l.Steps {
			if s.Outcome.Success() {
				done[key(s.User, s.Action, s.Target)] = true
			}
		}
	}
	var r Resume
	okta := map[Action]bool{}
	again := map[string]bool{}
	for _, s := range st.Steps {
		if !s.Outcome.Retryable() || done[key(s.User, s.Action, s.Target)] {
			done[key(s.User, s.Action, s.Target)] = true
			continue
		}
		r.Steps++
		again[s.User] = true
		if !s.Action.Okta() {
			if !slices.Contains(r.Targets, s.Target) {
				r.Targets = append(r.Targets, s.Target)
			}
		} else {
			okta[s.Action] = true
		}
	}
	if n := st.Unrecorded(); n > 0 {
		// The process died while recording the plan: the steps missing
		// from the log were never sent. They are the users × steps ×
		// targets of the run that are not in it; sending again all of
		// the run's that did not succeed covers them.
		r.Steps += n
		for _, u := range st.Info.Users {
			again[u.Key()] = true
		}
		for _, t := range st.Info.Targets {
			if !slices.Contains(r.Targets, t) {
				r.Targets = append(r.Targets, t)
			}
		}
		for _, a := range st.Info.OktaSteps {
			okta[a] = true
		}
	}
	for _, a := range OktaActions {
		if okta[a] {
			r.OktaSteps = append(r.OktaSteps, a)
		}
	}
	for _, u := range st.Info.Users {
		if again[u.Key()] {
			r.Users = append(r.Users, u)
		}
	}
	r.Skip = func(u User, a Action, target string) bool { return done[key(u.Key(), a, target)] }
	return r
}

// Request returns the request that resumes st: the users, steps and targets
// of r, with st's reason, ticket and device setting, linked to st.
func (r Resume) Request(st *RunState) RunRequest {
	return RunRequest{
		Users: r.Users, Reason: st.Info.Reason, Ticket: st.Info.Ticket,
		OktaSteps: r.OktaSteps, ForgetDevices: st.Info.ForgetDevices, Targets: r.Targets,
		ResumeOf: st.RunID, Skip: r.Skip,
	}
}
