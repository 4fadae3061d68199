package audit

import (
	"context"
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
