package actions_test

import (
	"context"
	"reflect"
	"testing"

	"ulc/actions"
)

// TestPlanStateIsTheFoldOfItsEvents: the state a board starts from is the
// one folding the plan's recorded events gives, request details included.
func TestPlanStateIsTheFoldOfItsEvents(t *testing.T) {
	f := setup(t, bearerTarget("chat", "http://127.0.0.1:1/gtr"), bearerTarget("wiki", "http://127.0.0.1:2/gtr"))
	p, err := actions.BuildPlan(context.Background(), actions.Request{
		Users: []string{"alice@example.com", "bob@example.com"}, Reason: "test", Ticket: "SEC-1",
		Targets: f.Targets, Defaults: f.Defaults, Getenv: getenv,
	}, actions.StaticDirectory{})
	if err != nil {
		t.Fatal(err)
	}
	want := actions.NewRunState(p.RunID)
	for _, ev := range p.Events() {
		want.Apply(ev)
	}
	got := p.State()
	if len(got.Steps) != 4 || got.Steps[3].Detail.URL != "http://127.0.0.1:2/gtr" || got.Info.Ticket != "SEC-1" {
		t.Fatalf("state of %d steps, last request %q, ticket %q", len(got.Steps), got.Steps[len(got.Steps)-1].Detail.URL, got.Info.Ticket)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Plan.State differs from the fold of Plan.Events:\n got %+v\nwant %+v", got, want)
	}
}
