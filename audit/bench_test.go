package audit

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"

	"ulc/actions"
)

// BenchmarkRecordGroupCommit is the fan-out's load: many goroutines (64 on
// two CPUs) each waiting for its own single event to be durable. Group
// commit lets them share fsyncs; compare with BenchmarkRecordSerial.
func BenchmarkRecordGroupCommit(b *testing.B) {
	l := openLog(b, newPath(b))
	ev := actions.Event{RunID: "bench", Kind: actions.KindResult, Step: 1, User: "alice@corp.example",
		Target: "slack", Action: actions.ActionGTR, Attempt: 1, HTTPStatus: 204, Outcome: actions.Revoked, LatencyMS: 12}
	b.SetParallelism(32) // × GOMAXPROCS goroutines
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := l.Record(context.Background(), true, ev); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.StopTimer()
	report(b, l)
}

// BenchmarkRecordSerial is one goroutine waiting for each event in turn:
// one transaction, one fsync per event.
func BenchmarkRecordSerial(b *testing.B) {
	l := openLog(b, newPath(b))
	ev := actions.Event{RunID: "bench", Kind: actions.KindResult, Step: 1, User: "alice@corp.example",
		Target: "slack", Action: actions.ActionGTR, Attempt: 1, HTTPStatus: 204, Outcome: actions.Revoked, LatencyMS: 12}
	for b.Loop() {
		if err := l.Record(context.Background(), true, ev); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	report(b, l)
}

func report(b *testing.B, l *Log) {
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
	if c := l.commits.Load(); c > 0 {
		b.ReportMetric(float64(b.N)/float64(c), "events/commit")
	}
}

// BenchmarkRecordPlan1000 is what holds a run's first request: the plan of
// one user at 1,000 targets (run_started and 1,000 planned events, each
// with its request's detail) recorded durably in one batch.
func BenchmarkRecordPlan1000(b *testing.B) {
	l := openLog(b, newPath(b))
	evs := fanOutPlan(1000)
	for b.Loop() {
		if err := l.Record(context.Background(), true, evs...); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/1000/float64(b.N), "ms/plan")
}

// fanOutPlan is a run's plan for one user at n GTR targets, as
// actions.Plan.Events makes it.
func fanOutPlan(n int) []actions.Event {
	info, _ := json.Marshal(actions.RunInfo{Reason: "bench", Operator: "it-ops", Host: "ops-01", Version: "bench",
		Users: []actions.User{{ID: "00u1a2b3c4d5e6f7g8h9", Login: "neo@corp.example", Email: "neo@corp.example"}}})
	evs := []actions.Event{{RunID: "bench", Time: base, Kind: actions.KindRunStarted, Detail: info}}
	for i := range n {
		d, _ := json.Marshal(actions.StepDetail{Method: "POST", URL: fmt.Sprintf("https://app-%04d.corp.example/api/v1/global-token-revocation", i),
			Body: `{"sub_id":{"format":"email","email":"neo@corp.example"}}`, SubjectFormat: "email", Auth: "bearer",
			Credential: "sha256:3f2a9c1d", TimeoutMS: 10000, Retries: 3})
		evs = append(evs, actions.Event{RunID: "bench", Time: base, Kind: actions.KindPlanned, Step: i + 1,
			User: "neo@corp.example", Target: fmt.Sprintf("app-%04d", i), Action: actions.ActionGTR, Detail: d})
	}
	return evs
}
