package sandbox

import (
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"ulc/config"
)

func TestStartWritesAUsableConfig(t *testing.T) {
	dir := t.TempDir()
	sb, err := Start(Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	closeAtEnd(t, sb)
	f, err := config.Load(sb.ConfigPath)
	if err != nil {
		t.Fatalf("the generated targets.toml does not load: %v", err)
	}
	if f.Okta.OrgURL != sb.OktaURL || len(f.Targets) != len(sb.Fleet.Apps) {
		t.Fatalf("config names org %q and %d targets; sandbox runs %q and %d apps", f.Okta.OrgURL, len(f.Targets), sb.OktaURL, len(sb.Fleet.Apps))
	}
	for _, tg := range f.Targets {
		if tg.Name == "reports" && tg.Timeout != time.Second {
			t.Errorf("the hanging app's target has timeout %s, want its own 1s", tg.Timeout)
		}
	}
	token, err := f.Okta.LoadToken(nil)
	if err != nil || token == "" {
		t.Fatalf("Okta token: %q %v", token, err)
	}
	if fi, err := os.Stat(sb.TokenFile); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("token file mode: %v %v", fi.Mode(), err)
	}
	req, err := http.NewRequestWithContext(t.Context(), "GET", sb.OktaURL+"/api/v1/users?limit=1", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "SSWS "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("the Okta fake refused its own token: %v %v", resp, err)
	}
	resp.Body.Close()
}

func TestRateLimitSwitch(t *testing.T) {
	sb, err := Start(Options{Dir: t.TempDir(), RateLimit: 3})
	if err != nil {
		t.Fatal(err)
	}
	closeAtEnd(t, sb)
	b, err := os.ReadFile(sb.TokenFile)
	if err != nil {
		t.Fatal(err)
	}
	var codes []int
	for range 5 {
		req, err := http.NewRequestWithContext(t.Context(), "GET", sb.OktaURL+"/api/v1/users?limit=1", nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "SSWS "+strings.TrimSpace(string(b)))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		codes = append(codes, resp.StatusCode)
		if resp.StatusCode == 429 && resp.Header.Get("X-Rate-Limit-Reset") == "" {
			t.Fatal("a 429 without X-Rate-Limit-Reset")
		}
	}
	if codes[0] != 200 || codes[4] != 429 {
		t.Fatalf("answers %v: want the budget of 3 spent, then 429", codes)
	}
}

// closeAtEnd stops sb when the test ends and fails the test if that fails.
func closeAtEnd(t *testing.T, sb *Sandbox) {
	t.Helper()
	t.Cleanup(func() {
		if err := sb.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
}
