package audit

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"ulc/actions"
)

// An extended watch's report says who extended it, by how much, and when
// it was then due to end, between its start and its end.
func TestEvidenceReportsAWatchExtension(t *testing.T) {
	at := time.Date(2026, 11, 21, 14, 30, 0, 0, time.UTC)
	info, _ := json.Marshal(actions.WatchInfo{Users: []string{"trinity@whiterabbit.fake"}, Until: at.Add(15 * time.Minute), Operator: "analyst"})
	ext, _ := json.Marshal(actions.WatchExtension{By: "15m0s", Until: at.Add(30 * time.Minute), Operator: "analyst"})
	tally, _ := json.Marshal(actions.WatchTally{Reason: "time", Polls: 9})
	w := watchOf([]actions.Event{
		{RunID: "r1", Time: at, Kind: actions.KindWatchStarted, Detail: info},
		{RunID: "r1", Time: at.Add(time.Minute), Kind: actions.KindWatchExtended, Detail: ext},
		{RunID: "r1", Time: at.Add(30 * time.Minute), Kind: actions.KindWatchEnded, Detail: tally},
	})
	if w == nil {
		t.Fatal("no watch in the report")
	}
	var labels []string
	var extended string
	for _, f := range w.Facts {
		labels = append(labels, f.Label)
		if f.Label == "Watch extended" {
			extended = f.Value
		}
	}
	if got := strings.Join(labels, ", "); got != "Watch started, Watched, Revoked at, Due to end, Watch extended, Watch ended" {
		t.Errorf("the watch's facts are %s", got)
	}
	if !strings.Contains(extended, "by analyst, by 15m0s: due to end ") || !strings.Contains(extended, timeText(at.Add(30*time.Minute))) {
		t.Errorf("the extension reads %q", extended)
	}
}
