package github_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"ulc/actions"
	"ulc/actions/github"
	"ulc/config"
	"ulc/internal/journaltest"
	"ulc/sandbox/githubfake"
)

func init() { actions.Register(config.KindGitHub, github.Connector{}) }

// directory resolves emails to users whose Okta profile holds the given
// githubUsername ("" for a profile without it), as the okta package does.
type directory map[string]string

func (d directory) Resolve(_ context.Context, ref string) (actions.User, error) {
	attrs := map[string]string{"login": ref, "email": ref, "department": "Engineering"}
	if login := d[ref]; login != "" {
		attrs["githubUsername"] = login
	}
	id := fmt.Sprintf("00u%017x", len(ref)*7919+int(ref[0]))
	return actions.User{ID: id, Login: ref, Email: ref, Profile: actions.NewProfile(attrs)}, nil
}

// load writes targets.toml with block and parses it with the config
// package.
func load(t *testing.T, dir, block string) *config.File {
	t.Helper()
	src := "[defaults]\ntimeout = \"10s\"\nretries = 2\nmax_retry_wait = \"3s\"\nconcurrency = 1\n\n" + block
	path := filepath.Join(dir, "targets.toml")
	if err := os.WriteFile(path, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := config.Load(path)
	if err != nil {
		t.Fatalf("config: %v\n%s", err, src)
	}
	return f
}

// fakeTarget starts a fake organization and returns it with its parsed
// target; edit may change the block.
func fakeTarget(t *testing.T, o githubfake.Options, edit func(block, dir string) string) (*githubfake.Server, *config.File) {
	t.Helper()
	s, err := githubfake.Start(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	dir := t.TempDir()
	block, err := s.TargetTOML("github", dir)
	if err != nil {
		t.Fatal(err)
	}
	if edit != nil {
		block = edit(block, dir)
	}
	return s, load(t, dir, block)
}

// urlTarget is a kind "github" target at url with the token in GH_T.
func urlTarget(t *testing.T, url string) *config.File {
	t.Helper()
	return load(t, t.TempDir(), "[[target]]\nname = \"github\"\nkind = \"github\"\norg = \"acme\"\nlogin_attribute = \"githubUsername\"\ntoken_env = \"GH_T\"\nurl = \""+url+"\"\n")
}

// token is the owner's token urlTarget's targets use.
const token = "ghp_16C7e42F292c6912E7710c838347Ae178B4a"

// outcome is one user's step as the engine recorded it.
type outcome struct {
	res   actions.Event
	calls []string
	evs   []actions.Event
}

// run plans and executes a run for users against f through the engine,
// resolving them with dir (nil: without Okta, as ulc revoke --no-okta),
// and returns each user's step and every event.
func run(t *testing.T, f *config.File, dir actions.Directory, getenv func(string) string, users ...string) (map[string]outcome, []actions.Event) {
	t.Helper()
	ctx := context.Background()
	if dir == nil {
		dir = actions.StaticDirectory{}
	}
	if getenv == nil {
		getenv = func(k string) string {
			if k == "GH_T" {
				return token
			}
			return ""
		}
	}
	p, err := actions.BuildPlan(ctx, actions.Request{
		Users: users, Reason: "test", Operator: "tester",
		Targets: f.Targets, Defaults: f.Defaults, Getenv: getenv, Version: "test",
	}, dir)
	if err != nil {
		t.Fatalf("plan: %v", err)
	}
	j := &journaltest.Journal{}
	if _, err := (&actions.Executor{Journal: j, BackoffBase: journaltest.BackoffBase}).Execute(ctx, p); err != nil {
		t.Fatalf("execute: %v", err)
	}
	evs := j.Events()
	out := map[string]outcome{}
	for _, ev := range evs {
		if ev.Step == 0 {
			continue
		}
		o := out[ev.User]
		o.evs = append(o.evs, ev)
		switch ev.Kind {
		case actions.KindAttempt:
			o.calls = append(o.calls, journaltest.Calls(t, []actions.Event{ev})...)
		case actions.KindResult:
			o.res = ev
		}
		out[ev.User] = o
	}
	return out, evs
}

// expect checks a step's outcome, its calls in order, and its sentence.
func expect(t *testing.T, o outcome, want actions.Outcome, calls string, errRE string) {
	t.Helper()
	if o.res.Outcome != want {
		t.Errorf("outcome %q (%s), want %q", o.res.Outcome, o.res.Error, want)
	}
	if got := strings.Join(o.calls, ","); got != calls {
		t.Errorf("calls %s, want %s", got, calls)
	}
	if o.res.Attempt != len(o.calls) {
		t.Errorf("result says %d attempts, %d were recorded", o.res.Attempt, len(o.calls))
	}
	// The engine cuts a sentence at 300 characters: what to do must fit.
	if strings.HasSuffix(o.res.Error, "…") || len(o.res.Error) >= 300 {
		t.Errorf("the sentence is cut short: %q", o.res.Error)
	}
	if !regexp.MustCompile(errRE).MatchString(o.res.Error) {
		t.Errorf("error %q does not match %q", o.res.Error, errRE)
	}
}

// repeat is n copies of s joined by commas.
func repeat(s string, n int) string {
	return strings.TrimSuffix(strings.Repeat(s+",", n), ",")
}

// writeFile writes a private file.
func writeFile(path, content string) error {
	return os.WriteFile(path, []byte(content), 0o600)
}
