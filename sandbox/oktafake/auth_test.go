package oktafake

import (
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestAuth(t *testing.T) {
	f := start(t, Options{})
	trinity := f.person("trinity")

	resp, b := f.do(http.MethodGet, "/api/v1/users", "", "")
	okErr(t, resp, b, http.StatusUnauthorized, "E0000005")
	resp, b = f.do(http.MethodGet, "/api/v1/users", "SSWS nope", "")
	if e := okErr(t, resp, b, http.StatusUnauthorized, "E0000011"); e.ErrorSummary != "Invalid token provided" {
		t.Errorf("summary %q", e.ErrorSummary)
	}
	resp, b = f.do(http.MethodGet, "/api/v1/users", "Bearer nope", "")
	okErr(t, resp, b, http.StatusUnauthorized, "E0000011")
	if !strings.Contains(resp.Header.Get("WWW-Authenticate"), `error="invalid_token"`) {
		t.Errorf("WWW-Authenticate %q", resp.Header.Get("WWW-Authenticate"))
	}
	resp, b = f.do(http.MethodGet, "/api/v1/users", "Basic dXNlcjpwYXNz", "")
	okErr(t, resp, b, http.StatusUnauthorized, "E0000005")

	// A read-only token reads but cannot change; a logs token reads only logs.
	f.do(http.MethodGet, "/api/v1/users/"+trinity.ID, "SSWS "+tokRead, "")
	resp, b = f.do(http.MethodDelete, "/api/v1/users/"+trinity.ID+"/sessions", "SSWS "+tokRead, "")
	if e := okErr(t, resp, b, http.StatusForbidden, "E0000006"); e.ErrorSummary != "You do not have permission to perform the requested action" {
		t.Errorf("summary %q", e.ErrorSummary)
	}
	if resp.Header.Get("WWW-Authenticate") != "" {
		t.Error("SSWS 403 with a WWW-Authenticate header")
	}
	resp, b = f.do(http.MethodPost, "/api/v1/users/"+trinity.ID+"/lifecycle/suspend", "SSWS "+tokRead, "")
	okErr(t, resp, b, http.StatusForbidden, "E0000006")
	resp, b = f.do(http.MethodGet, "/api/v1/users", "SSWS "+tokLogs, "")
	okErr(t, resp, b, http.StatusForbidden, "E0000006")
	resp, b = f.do(http.MethodGet, "/api/v1/logs", "SSWS "+tokRead, "")
	okErr(t, resp, b, http.StatusForbidden, "E0000006")
	if resp, _ := f.do(http.MethodGet, "/api/v1/logs?limit=1", "SSWS "+tokLogs, ""); resp.StatusCode != http.StatusOK {
		t.Errorf("logs token on logs: %d", resp.StatusCode)
	}
	if got := f.s.Sessions(trinity.ID); got < 2 {
		t.Errorf("a refused call changed something: %d sessions", got)
	}

	// Every error has a fresh errorId; every answer a request id and rate-limit headers.
	_, b1 := f.do(http.MethodGet, "/api/v1/users", "SSWS nope", "")
	_, b2 := f.do(http.MethodGet, "/api/v1/users", "SSWS nope", "")
	if string(b1) == string(b2) {
		t.Error("errorId repeats")
	}
	for _, path := range []string{"/api/v1/users?limit=1", "/api/v1/nothing", "/api/v1/users/nobody"} {
		resp, _ := f.do(http.MethodGet, path, "SSWS "+tokAll, "")
		for _, h := range []string{"X-Okta-Request-Id", "X-Rate-Limit-Limit", "X-Rate-Limit-Remaining", "X-Rate-Limit-Reset"} {
			if resp.Header.Get(h) == "" {
				t.Errorf("%s: no %s", path, h)
			}
		}
	}
	resp, b = f.do(http.MethodGet, "/api/v1/nothing", "SSWS "+tokAll, "")
	okErr(t, resp, b, http.StatusNotFound, "E0000008")
	resp, b = f.do(http.MethodPut, "/api/v1/logs", "SSWS "+tokAll, "")
	okErr(t, resp, b, http.StatusMethodNotAllowed, "E0000022")
	if resp.Header.Get("Allow") != "GET" {
		t.Errorf("Allow %q", resp.Header.Get("Allow"))
	}
}

func TestRateLimits(t *testing.T) {
	f := start(t, Options{})
	f.s.Force429(2)
	for i := range 2 {
		resp, b := f.do(http.MethodGet, "/api/v1/users?limit=1", "SSWS "+tokAll, "")
		e := okErr(t, resp, b, http.StatusTooManyRequests, "E0000047")
		if e.ErrorSummary != "API call exceeded rate limit due to too many requests." {
			t.Errorf("summary %q", e.ErrorSummary)
		}
		reset, err := strconv.ParseInt(resp.Header.Get("X-Rate-Limit-Reset"), 10, 64)
		if err != nil || reset <= time.Now().Unix()-1 || reset > time.Now().Unix()+5 {
			t.Errorf("forced 429 %d: reset %q", i, resp.Header.Get("X-Rate-Limit-Reset"))
		}
		if resp.Header.Get("X-Rate-Limit-Remaining") != "0" {
			t.Errorf("remaining %q", resp.Header.Get("X-Rate-Limit-Remaining"))
		}
	}
	f.get("/api/v1/users?limit=1", http.StatusOK)

	f.s.SetRateLimit(3, time.Minute)
	for i := range 3 {
		resp, _ := f.get("/api/v1/users?limit=1", http.StatusOK)
		if got := resp.Header.Get("X-Rate-Limit-Remaining"); got != strconv.Itoa(2-i) || resp.Header.Get("X-Rate-Limit-Limit") != "3" {
			t.Errorf("request %d: remaining %s", i, got)
		}
	}
	resp, b := f.do(http.MethodGet, "/api/v1/users?limit=1", "SSWS "+tokAll, "")
	okErr(t, resp, b, http.StatusTooManyRequests, "E0000047")
	reset, _ := strconv.ParseInt(resp.Header.Get("X-Rate-Limit-Reset"), 10, 64)
	if d := reset - time.Now().Unix(); d < 50 || d > 61 {
		t.Errorf("reset %d s ahead", d)
	}
	// Another bucket still has budget.
	f.get("/api/v1/logs?limit=1", http.StatusOK)
	// A short window refills.
	f.s.SetRateLimit(1, 50*time.Millisecond)
	f.get("/api/v1/users?limit=1", http.StatusOK)
	time.Sleep(60 * time.Millisecond)
	f.get("/api/v1/users?limit=1", http.StatusOK)
}
