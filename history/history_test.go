package history

import (
	"testing"

	"ulc/actions"
)

// A run the operator stopped is cancelled, whatever else failed in it.
func TestRunStateNamesWhatHappened(t *testing.T) {
	for _, tc := range []struct {
		r    RunSummary
		want string
	}{
		{RunSummary{Counts: map[actions.Outcome]int{actions.Revoked: 3}}, StateFinished},
		{RunSummary{Counts: map[actions.Outcome]int{actions.Revoked: 3, actions.NotFound: 1}}, StateFinished},
		{RunSummary{Counts: map[actions.Outcome]int{actions.Revoked: 3, actions.Failed: 1}}, StateFailures},
		{RunSummary{Counts: map[actions.Outcome]int{actions.Revoked: 1, actions.Cancelled: 2}}, StateCancelled},
		{RunSummary{Counts: map[actions.Outcome]int{actions.Failed: 1, actions.Cancelled: 2}}, StateCancelled},
		{RunSummary{Counts: map[actions.Outcome]int{actions.Planned: 4}, Info: actions.RunInfo{DryRun: true}}, StateDryRun},
		{RunSummary{Counts: map[actions.Outcome]int{actions.Unknown: 1}, Interrupted: true}, StateInterrupted},
		{RunSummary{Counts: map[actions.Outcome]int{actions.Cancelled: 1}, InProgress: true}, StateInProgress},
	} {
		if got := tc.r.State(); got != tc.want {
			t.Errorf("%v (interrupted %v, in progress %v): %q, want %q", tc.r.Counts, tc.r.Interrupted, tc.r.InProgress, got, tc.want)
		}
	}
}
