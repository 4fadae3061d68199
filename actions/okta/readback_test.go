package okta

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	sdk "github.com/okta/okta-sdk-golang/v2/okta"

	"ulc/actions"
	"ulc/sandbox/oktafake"
)

// TestSuspendReadBackSeesTheWrongStatus: Okta accepts the suspend, but by
// the read-back the user is ACTIVE again (another admin or a workflow
// unsuspended her in between). The step stays done, as Okta answered, and
// the read-back says it did not hold: verified false, with the status read.
func TestSuspendReadBackSeesTheWrongStatus(t *testing.T) {
	fx := newFixture(t, oktafake.Options{})
	trinity := fx.byLogin(t, "trinity@whiterabbit.fake")
	suspend := "/api/v1/users/" + trinity.ID + "/lifecycle/suspend"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fx.fake.ServeHTTP(w, r)
		if r.Method == http.MethodPost && r.URL.Path == suspend {
			// Right after Okta answered: someone else unsuspends her.
			un := httptest.NewRequestWithContext(r.Context(), http.MethodPost, strings.TrimSuffix(suspend, "suspend")+"unsuspend", http.NoBody)
			un.Header.Set("Authorization", "SSWS "+testToken)
			un.Header.Set("Accept", "application/json")
			rec := httptest.NewRecorder()
			fx.fake.ServeHTTP(rec, un)
			if rec.Code != http.StatusOK {
				t.Errorf("unsuspend at the fake: %d %s", rec.Code, rec.Body)
			}
		}
	}))
	t.Cleanup(srv.Close)
	fx.url = srv.URL
	c := fx.connect(t)

	ans := c.Do(context.Background(), actions.ActionSuspend, actions.User{ID: trinity.ID, Login: trinity.Login}, false)
	if ans.Err != nil || ans.HTTPStatus != 200 {
		t.Fatalf("suspend: %+v", ans)
	}
	if got := fx.byLogin(t, trinity.Login).Status; got != "ACTIVE" {
		t.Fatalf("the fake has her %s, want ACTIVE again", got)
	}
	if ans.Verified == nil || *ans.Verified {
		t.Fatalf("verified %v, want false: the read-back found her ACTIVE", ans.Verified)
	}
	if !strings.HasPrefix(ans.Evidence, "status ACTIVE, lastLogin ") {
		t.Errorf("evidence %q, want the status read", ans.Evidence)
	}
}

// TestVerdict: the read-back's verdict for each status and last sign-in.
func TestVerdict(t *testing.T) {
	since := time.Date(2026, 11, 21, 14, 30, 0, 0, time.UTC)
	before, after := since.Add(-time.Hour), since.Add(2*time.Second)
	for _, c := range []struct {
		name     string
		a        actions.Action
		status   string
		last     *time.Time
		verified bool
		evidence string
	}{
		{"suspended, never signed in", actions.ActionSuspend, "SUSPENDED", nil, true, "status SUSPENDED, lastLogin never"},
		{"suspended, signed in before", actions.ActionSuspend, "SUSPENDED", &before, true, "status SUSPENDED, lastLogin 2026-11-21T13:30:00Z"},
		{"still active after a suspend", actions.ActionSuspend, "ACTIVE", &before, false, "status ACTIVE, lastLogin 2026-11-21T13:30:00Z"},
		{"suspended, yet signed in since", actions.ActionSuspend, "SUSPENDED", &after, false, "status SUSPENDED, lastLogin 2026-11-21T14:30:02Z, after the step began"},
		{"active after a deactivate", actions.ActionDeactivate, "ACTIVE", nil, false, "status ACTIVE, lastLogin never"},
		{"deprovisioned", actions.ActionDeactivate, "DEPROVISIONED", &before, true, "status DEPROVISIONED, lastLogin 2026-11-21T13:30:00Z"},
		{"sessions cleared, signed in since", actions.ActionClearSessions, "ACTIVE", &after, false, "lastLogin 2026-11-21T14:30:02Z, after the step began"},
		{"sessions cleared", actions.ActionClearSessions, "ACTIVE", &before, true, "lastLogin 2026-11-21T13:30:00Z"},
	} {
		ok, ev := verdict(&sdk.User{Status: c.status, LastLogin: c.last}, c.a, since)
		if ok == nil || *ok != c.verified || ev != c.evidence {
			t.Errorf("%s: verified %v, evidence %q; want %v, %q", c.name, ok, ev, c.verified, c.evidence)
		}
	}
}
