package actions

import (
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"
)

// StepState is what is known about one step after applying its events.
type StepState struct {
	Step   int    `json:"step"`
	User   string `json:"user"`
	Target string `json:"name"`
	Action Action `json:"action"`
	// Kind is the kind of the step's target ("gtr", "google", ...), or
	// "okta" for an Okta step: what the JSON summary names each row by.
	Kind       string  `json:"kind"`
	Outcome    Outcome `json:"outcome"`
	HTTPStatus int     `json:"http_status"`
	Attempts   int     `json:"attempts"`
	LatencyMS  int64   `json:"latency_ms"`
	// StepMS is the whole step, from its first request leaving to its
	// result, the waits between retries included: LatencyMS (the
	// requests' own time together) when it sent one request.
	StepMS    int64  `json:"step_ms"`
	Error     string `json:"error"`
	RequestID string `json:"request_id,omitempty"`
	ErrorCode string `json:"error_code,omitempty"`
	ErrorID   string `json:"error_id,omitempty"`
	// Verified says whether a read-back confirmed the step took effect:
	// true or false when the system could be asked, null when it cannot
	// be (accepted is all that is known). Evidence is what was read.
	Verified *bool  `json:"verified"`
	Evidence string `json:"evidence,omitempty"`
	// Detail is the step's request as planned; nil when its planned event
	// is not in the log. A run's own state points at its plan's copy.
	Detail *StepDetail `json:"-"`
	// InFlight is true between an attempt and its retry or result.
	InFlight bool `json:"-"`
	// Updated is the time of the step's latest event.
	Updated time.Time `json:"-"`
}

// RunState is a run's state, derived from its events alone: the audit log
// never updates a row, and the console and summaries fold the same events.
type RunState struct {
	RunID    string
	Info     RunInfo
	Started  time.Time
	Finished time.Time
	// Done is true once the run_finished event was seen.
	Done bool
	// Steps are ordered by step number.
	Steps []*StepState
	// block is where new step states are taken from, a block at a time:
	// a plan of 200,000 steps costs 200 allocations, not 200,000.
	block []StepState
	// Watch is what the containment watches of the run saw, from their
	// events; nil when the run was never watched.
	Watch *WatchFindings
	// NoRequests, set before the first event, leaves every step's Detail
	// nil: for readers that need where each step ended, not what it sent
	// (a resume plans its requests again), at a fraction of the memory.
	NoRequests bool
}

// NewRunState returns an empty state for run id.
func NewRunState(id string) *RunState {
	return &RunState{RunID: id}
}

// Apply folds one event into the state. Events of other runs are ignored.
func (s *RunState) Apply(ev Event) {
	if s.RunID == "" {
		s.RunID = ev.RunID
	}
	if ev.RunID != s.RunID {
		return
	}
	if WatchKind(ev.Kind) {
		if s.Watch == nil {
			s.Watch = &WatchFindings{}
		}
		s.Watch.apply(ev)
		return
	}
	switch ev.Kind {
	case KindRunStarted:
		s.Started = ev.Time
		_ = json.Unmarshal(ev.Detail, &s.Info)
		return
	case KindRunFinished:
		s.Finished = ev.Time
		s.Done = true
		return
	}
	st := s.step(ev)
	st.Updated = ev.Time
	switch ev.Kind {
	case KindPlanned:
		// applyPlanned hands over a detail already decoded, and none here.
		if len(ev.Detail) > 0 && !s.NoRequests {
			d := new(StepDetail)
			_ = json.Unmarshal(ev.Detail, d)
			st.Detail = d
		}
	case KindAttempt:
		st.Attempts = max(st.Attempts, ev.Attempt)
		st.InFlight = true
		if ev.RequestID != "" {
			st.RequestID = ev.RequestID
		}
	case KindRetry:
		st.InFlight = false
		st.HTTPStatus, st.LatencyMS, st.Error = ev.HTTPStatus, ev.LatencyMS, ev.Error
	case KindResult:
		st.InFlight = false
		st.Outcome = ev.Outcome
		st.Attempts = max(st.Attempts, ev.Attempt)
		st.HTTPStatus, st.LatencyMS, st.Error = ev.HTTPStatus, ev.LatencyMS, ev.Error
		st.ErrorCode, st.ErrorID = ev.ErrorCode, ev.ErrorID
		st.Verified, st.Evidence, st.StepMS = nil, "", ev.LatencyMS
		var rd ResultDetail
		if len(ev.Detail) > 0 && json.Unmarshal(ev.Detail, &rd) == nil {
			st.Verified, st.Evidence = rd.Verified, rd.Evidence
			st.StepMS = max(rd.StepMS, ev.LatencyMS)
		}
		if ev.RequestID != "" {
			st.RequestID = ev.RequestID
		}
	}
}

// StepMillis is the whole time of the step a result event ends, from its
// first request leaving to the result: the recorded step time when it
// sent more than one request, else the result's latency.
func (e Event) StepMillis() int64 {
	if e.Kind != KindResult || e.Attempt < 2 || len(e.Detail) == 0 {
		return e.LatencyMS
	}
	var rd ResultDetail
	if json.Unmarshal(e.Detail, &rd) != nil {
		return e.LatencyMS
	}
	return max(rd.StepMS, e.LatencyMS)
}

// applyPlanned is Apply for a planned event whose detail the caller has
// decoded already: a run in progress folds its own plan without decoding
// 200,000 details again.
func (s *RunState) applyPlanned(ev Event, d *StepDetail) {
	ev.Detail = nil
	s.Apply(ev)
	if st := s.Step(ev.Step); st != nil {
		st.Detail = d
	}
}

// stepBlock is how many step states are allocated together.
const stepBlock = 1024

// step returns the state of ev's step, new when ev is its first event.
func (s *RunState) step(ev Event) *StepState {
	if st := s.Step(ev.Step); st != nil {
		return st
	}
	if len(s.block) == cap(s.block) {
		s.block = make([]StepState, 0, stepBlock)
	}
	s.block = append(s.block, StepState{Step: ev.Step, User: ev.User, Target: ev.Target, Action: ev.Action, Kind: kindOf(ev.Action)})
	st := &s.block[len(s.block)-1]
	// Steps come in order but for a resumed or merged log: the new one
	// goes where its number puts it.
	i := len(s.Steps)
	if i > 0 && s.Steps[i-1].Step > ev.Step {
		i = sort.Search(len(s.Steps), func(j int) bool { return s.Steps[j].Step > ev.Step })
	}
	s.Steps = slices.Insert(s.Steps, i, st)
	return st
}

// State returns the state p.Events() fold to, the run before anything is
// sent, without encoding those events: a plan of 200,000 steps would
// otherwise be marshalled to JSON and decoded again just to be folded.
func (p *Plan) State() *RunState {
	s := NewRunState(p.RunID)
	s.Steps = make([]*StepState, 0, len(p.Steps))
	s.Apply(p.StartEvent())
	for i := range p.Steps {
		st := &p.Steps[i]
		s.applyPlanned(Event{RunID: p.RunID, Time: p.Created, Kind: KindPlanned, Step: st.N,
			User: st.User.Key(), Target: st.Target, Action: st.Action}, &st.Detail)
	}
	return s
}

// Unrecorded returns how many steps of the plan are missing from the log:
// the process died while the plan was being recorded. They were never sent
// (a step is sent only once its planned event is durable).
func (s *RunState) Unrecorded() int {
	planned := 0
	for _, st := range s.Steps {
		if st.Step > 0 {
			planned++
		}
	}
	return max(s.Info.Steps-planned, 0)
}

// Step returns the state of step n, or nil.
func (s *RunState) Step(n int) *StepState {
	// A run's steps are numbered 1, 2, ... and usually all there.
	if n >= 1 && n <= len(s.Steps) && s.Steps[n-1].Step == n {
		return s.Steps[n-1]
	}
	i := sort.Search(len(s.Steps), func(j int) bool { return s.Steps[j].Step >= n })
	if i < len(s.Steps) && s.Steps[i].Step == n {
		return s.Steps[i]
	}
	return nil
}

// Request returns the step's request as planned, or the zero request when
// its planned event is not known.
func (s *StepState) Request() StepDetail {
	if s.Detail == nil {
		return StepDetail{}
	}
	return *s.Detail
}

// Interrupted reports whether the run never finished. Only meaningful for a
// run that is not in progress in this process.
func (s *RunState) Interrupted() bool { return !s.Done }

// Settle gives every step without a result its honest outcome after the
// process that ran it died: Unknown when a request had left (an attempt was
// recorded), NotSent when none had. Call it only for runs known to be over.
func (s *RunState) Settle() {
	for _, st := range s.Steps {
		if st.Outcome != "" {
			continue
		}
		if st.Attempts > 0 {
			st.Outcome = Unknown
			if st.Error == "" {
				st.Error = "no answer was recorded before the process ended: the app may have signed the user out; resume the run to send it again"
			}
		} else {
			st.Outcome = NotSent
			if st.Error == "" {
				st.Error = "not sent: the process ended first; resume the run to send it"
			}
		}
		st.InFlight = false
	}
}

// Counts returns how many steps ended in each outcome; steps without an
// outcome yet are counted under the empty outcome.
func (s *RunState) Counts() map[Outcome]int {
	c := map[Outcome]int{}
	for _, st := range s.Steps {
		c[st.Outcome]++
	}
	return c
}

// Pending returns the number of steps without an outcome yet.
func (s *RunState) Pending() int { return s.Counts()[""] }

// AllSucceeded reports whether every step ended in Revoked, Done or NotFound
// (or Planned, for a dry run).
func (s *RunState) AllSucceeded() bool {
	for _, st := range s.Steps {
		if !st.Outcome.Success() && st.Outcome != Planned {
			return false
		}
	}
	return true
}

// Tally is counts as people read them, in the order of Outcomes:
// "10 revoked, 1 not_found, 1 failed". word names an outcome (nil: its
// code); outcomes with no step are left out.
func Tally(counts map[Outcome]int, word func(Outcome) string) string {
	var parts []string
	for _, o := range Outcomes {
		if n := counts[o]; n > 0 {
			w := string(o)
			if word != nil {
				w = word(o)
			}
			parts = append(parts, fmt.Sprintf("%d %s", n, w))
		}
	}
	return strings.Join(parts, ", ")
}

// kindOf is the Kind of a step of action a: its target's kind, or "okta".
func kindOf(a Action) string {
	if a.Okta() {
		return "okta"
	}
	return string(a)
}
