package githubfake

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
)

func start(t *testing.T, o Options) *Server {
	t.Helper()
	s, err := Start(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// do sends one request with the headers a client of GitHub sends, minus
// those named in drop, and returns the status, headers and body.
func do(t *testing.T, s *Server, method, path, tok string, drop ...string) (int, http.Header, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, s.URL()+strings.TrimPrefix(path, "/"), nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Accept", "application/vnd.github+json")
	req.Header.Set("X-GitHub-Api-Version", APIVersion)
	req.Header.Set("User-Agent", "test")
	for _, h := range drop {
		req.Header.Del(h)
		if h == "User-Agent" {
			req.Header.Set(h, "") // net/http then sends none
		}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(body)
}

// TestChecksTheTokenAsGitHubDoes: no token, another token, no User-Agent
// and an unknown API version are refused as GitHub refuses them.
func TestChecksTheTokenAsGitHubDoes(t *testing.T) {
	s := start(t, Options{Logins: []string{"trinity-hale"}})
	list := "/orgs/whiterabbit/credential-authorizations?login=trinity-hale"
	if st, _, body := do(t, s, "GET", list, "", "Authorization"); st != 401 || !strings.Contains(body, `"message":"Bad credentials"`) {
		t.Errorf("no token: %d %s", st, body)
	}
	if st, _, _ := do(t, s, "GET", list, "ghp_"+strings.Repeat("0", 36)); st != 401 {
		t.Errorf("another token: %d", st)
	}
	if st, _, body := do(t, s, "GET", list, s.Token(), "User-Agent"); st != 403 || !strings.Contains(body, "User-Agent") {
		t.Errorf("no User-Agent: %d %s", st, body)
	}
	if st, _, _ := do(t, s, "GET", list, s.Token()); st != 200 {
		t.Errorf("the owner's token: %d", st)
	}
	req, _ := http.NewRequestWithContext(t.Context(), "GET", s.URL()+strings.TrimPrefix(list, "/"), nil)
	req.Header.Set("Authorization", "token "+s.Token()) // GitHub's older form
	req.Header.Set("User-Agent", "test")
	req.Header.Set("X-GitHub-Api-Version", "1999-01-01")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 400 {
		t.Errorf("unknown API version: %d", resp.StatusCode)
	}
}

// TestListAndRemove: the list filters by login and pages; a removal takes
// the authorization away once, then it is 404.
func TestListAndRemove(t *testing.T) {
	s := start(t, Options{Logins: []string{"trinity-hale", "neo-the-one"}, Credentials: 3})
	st, h, body := do(t, s, "GET", "/orgs/WhiteRabbit/credential-authorizations?login=trinity-hale&per_page=2", s.Token())
	var page []Authorization
	if err := json.Unmarshal([]byte(body), &page); err != nil || st != 200 || len(page) != 2 || page[0].Login != "trinity-hale" {
		t.Fatalf("page 1: %d %s", st, body)
	}
	if !strings.Contains(h.Get("Link"), `page=2`) || h.Get("X-Github-Request-Id") == "" || h.Get("X-Oauth-Scopes") != "admin:org, repo" {
		t.Errorf("headers %v", h)
	}
	id := page[0].CredentialID
	path := "/orgs/whiterabbit/credential-authorizations/" + itoa(id)
	if st, _, _ := do(t, s, "DELETE", path, s.Token()); st != 204 {
		t.Errorf("remove: %d", st)
	}
	if st, _, _ := do(t, s, "DELETE", path, s.Token()); st != 404 {
		t.Errorf("remove again: %d", st)
	}
	if s.Authorizations("trinity-hale") != 2 || s.Removed("trinity-hale") != 1 || s.Authorizations("neo-the-one") != 3 {
		t.Errorf("left %d, removed %d", s.Authorizations("trinity-hale"), s.Removed("trinity-hale"))
	}
	if st, _, _ := do(t, s, "GET", "/orgs/other/credential-authorizations", s.Token()); st != 404 {
		t.Errorf("another org: %d", st)
	}
}

// TestMissingPermissionAndSSO: a token without admin:org lists but cannot
// remove; one not authorized for SSO gets 403 with X-GitHub-SSO.
func TestMissingPermissionAndSSO(t *testing.T) {
	s := start(t, Options{Logins: []string{"trinity-hale"}, MissingPermission: true})
	if st, h, _ := do(t, s, "DELETE", "/orgs/whiterabbit/credential-authorizations/161196", s.Token()); st != 403 || h.Get("X-Oauth-Scopes") != "read:org, repo" {
		t.Errorf("remove without admin:org: %d %v", st, h)
	}
	sso := start(t, Options{Logins: []string{"trinity-hale"}, SSORequired: true})
	if st, h, _ := do(t, sso, "GET", "/orgs/whiterabbit/credential-authorizations", sso.Token()); st != 403 || !strings.HasPrefix(h.Get("X-Github-Sso"), "required; url=") {
		t.Errorf("without SSO: %d %v", st, h)
	}
}

func itoa(n int64) string {
	b, _ := json.Marshal(n)
	return string(b)
}
