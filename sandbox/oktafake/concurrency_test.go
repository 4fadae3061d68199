package oktafake

import (
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"
)

func TestConcurrentUse(t *testing.T) {
	f := start(t, Options{People: 200})
	people := f.s.People()
	ctx := t.Context()
	var wg sync.WaitGroup
	for g := range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 15 {
				p := people[(g*31+i*7)%len(people)]
				var path, method string
				switch i % 5 {
				case 0:
					method, path = http.MethodGet, "/api/v1/users?limit=20&search="+q(`profile.lastName sw "`+p.LastName[:1]+`"`)
				case 1:
					method, path = http.MethodDelete, "/api/v1/users/"+p.ID+"/sessions?oauthTokens=true"
				case 2:
					method, path = http.MethodGet, "/api/v1/logs?limit=20&sortOrder=DESCENDING"
				case 3:
					method, path = http.MethodPost, "/api/v1/users/"+p.ID+"/lifecycle/suspend"
				default:
					method, path = http.MethodGet, "/api/v1/users/"+p.ID+"/grants"
				}
				req, err := http.NewRequestWithContext(ctx, method, f.ts.URL+path, nil)
				if err != nil {
					t.Error(err)
					return
				}
				req.Header.Set("Authorization", "SSWS "+tokAll)
				resp, err := f.ts.Client().Do(req)
				if err != nil {
					t.Error(err)
					return
				}
				resp.Body.Close()
				if resp.StatusCode >= 500 {
					t.Errorf("%s %s: %d", method, path, resp.StatusCode)
				}
				_ = f.s.Sessions(p.ID)
				_ = f.s.People()
			}
		}()
	}
	wg.Wait()
	if f.s.Requests() != 6*15 {
		t.Errorf("Requests() = %d", f.s.Requests())
	}
}

func TestOrgURLOption(t *testing.T) {
	f := start(t, Options{OrgURL: "https://whiterabbit.okta.fake/"})
	resp, b := f.get("/api/v1/users?limit=1", http.StatusOK)
	l := links(t, resp.Header)
	if !strings.HasPrefix(l["self"][0], "https://whiterabbit.okta.fake/api/v1/users?") || !strings.HasPrefix(l["next"][0], "https://whiterabbit.okta.fake/api/v1/users?") {
		t.Errorf("links %v", l)
	}
	var us []testUser
	_ = json.Unmarshal(b, &us)
	if us[0].Links["self"].Href != "https://whiterabbit.okta.fake/api/v1/users/"+us[0].ID {
		t.Errorf("self %v", us[0].Links)
	}
	key := testRSAKey(t)
	f.s.AddServiceApp("0oaproxied", &key.PublicKey)
	c := claimsFor(f, "0oaproxied")
	c["aud"] = "https://whiterabbit.okta.fake/oauth2/v1/token"
	if status, a := f.token(assertion(t, key, "RS256", c), "okta.users.read"); status != http.StatusOK {
		t.Errorf("assertion for the public org URL: %d %+v", status, a)
	}
}
