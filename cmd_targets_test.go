package main

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"ulc/sandbox"
	"ulc/sandbox/apps"
	"ulc/sandbox/caepfake"
	"ulc/sandbox/githubfake"
	"ulc/sandbox/googlefake"
	"ulc/sandbox/microsoftfake"
	"ulc/sandbox/slackfake"
	"ulc/sandbox/zoomfake"
)

// checkLines parses the output of ulc targets check: per target, its
// credential line ("ok"/"FAIL" and the rest) and its live line (the word
// and the verdict), when there is one.
type checkLine struct{ word, text string }

// checkLineRE is one line of ulc targets check: the word, the target's
// name, and the rest.
var checkLineRE = regexp.MustCompile(`^(ok|FAIL|WARN) +(\S+) +(.*)$`)

func checkLines(t *testing.T, out string) (cred, live map[string]checkLine) {
	t.Helper()
	cred, live = map[string]checkLine{}, map[string]checkLine{}
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		m := checkLineRE.FindStringSubmatch(l)
		if m == nil {
			t.Errorf("not a line of targets check: %q", l)
			continue
		}
		if rest, ok := strings.CutPrefix(m[3], "live: "); ok {
			live[m[2]] = checkLine{m[1], rest}
		} else {
			cred[m[2]] = checkLine{m[1], m[3]}
		}
	}
	return cred, live
}

// TestTargetsCheckLiveAgainstTheDemo: ulc targets check --live against the
// demo's sandbox proves every vendor target's credential with a harmless
// call. Microsoft throttles the check as it throttles the demo's run (429
// with Retry-After, then an answer), and the check waits as asked and
// reads ok; Slack's token lacks the scope the reset needs, which is a
// warning naming it. Nobody is signed out anywhere, and the CAEP receiver
// is only told about a subject that cannot exist.
func TestTargetsCheckLiveAgainstTheDemo(t *testing.T) {
	sb, _ := startSandboxWith(t, sandbox.Options{Vendors: true})
	code, out, errOut := ulc(t, "", "targets", "check", "--live", "--config", sb.ConfigPath)
	if code != exitUsage {
		t.Fatalf("exit %d, want 2 (the demo's down app and Slack's missing scope): %s\n%s", code, out, errOut)
	}
	_, live := checkLines(t, out)
	wants := map[string]struct{ word, says string }{
		"google":   {"ok", "credential accepted"},
		"m365":     {"ok", "credential accepted"}, // after one 429
		"slack":    {"WARN", "admin.users:write"},
		"okta-itp": {"ok", "credential accepted"},
		"zoom":     {"ok", "credential accepted"},
		"github":   {"ok", "credential accepted"},
		"chat":     {"ok", "credential accepted"}, // a GTR app
	}
	for name, w := range wants {
		if l := live[name]; l.word != w.word || !strings.Contains(l.text, w.says) {
			t.Errorf("%s: %s %q, want %s saying %q", name, l.word, l.text, w.word, w.says)
		}
	}
	// The check really was throttled: Graph answered the sign-out twice.
	if n := sb.Microsoft.RevokeCalls(); n != 2 {
		t.Errorf("Graph saw %d sign-out calls, want 2 (429, then the answer)", n)
	}
	for _, who := range []string{"trinity@whiterabbit.fake", "neo@whiterabbit.fake"} {
		if sb.Google.SignedOut(who)+sb.Microsoft.SignedOut(who)+sb.Slack.SignedOut(who)+sb.CAEP.SignedOut(who)+sb.Zoom.SignedOut(who) != 0 {
			t.Errorf("a check signed %s out", who)
		}
	}
	if sb.GitHub.Authorizations("trinity-hale") != 2 {
		t.Error("a check removed a GitHub credential authorization")
	}
	checkHarmlessSET(t, sb.CAEP)
}

// checkHarmlessSET checks what ulc targets check --live pushed to a CAEP
// receiver: one session-revoked SET whose subject is an address under the
// reserved .invalid domain (RFC 6761: no mailbox can have it), with a
// reason that says it is a check and a txn that says so too.
func checkHarmlessSET(t *testing.T, rc *caepfake.Server) {
	t.Helper()
	pushes := rc.Pushes()
	if len(pushes) != 1 {
		t.Fatalf("the receiver got %d pushes, want 1", len(pushes))
	}
	p := pushes[0]
	if !strings.HasSuffix(p.Email, ".invalid") || !strings.HasPrefix(p.Txn, "ulc-check-") ||
		!strings.Contains(p.Reason, "cannot exist") || strings.Contains(p.Reason, "signed this user out") {
		t.Errorf("the check pushed a SET about %q, txn %q, reason %q; want an address under .invalid, a ulc-check- txn and a reason saying it is a check", p.Email, p.Txn, p.Reason)
	}
}

// vendorRegistry is one target of each kind, each at its own fake, and the
// fakes.
type vendorRegistry struct {
	dir, path string
	blocks    map[string]string // target name → its [[target]] block
	google    *googlefake.Server
	microsoft *microsoftfake.Server
	slack     *slackfake.Server
	zoom      *zoomfake.Server
	github    *githubfake.Server
	caep      *caepfake.Server
	app       *apps.App
}

// newVendorRegistry starts a fake of each kind, each set up the way a
// newcomer gets a credential wrong, and writes a targets.toml with one
// target per kind named after it (m365 for Microsoft, as in the demo).
func newVendorRegistry(t *testing.T) *vendorRegistry {
	t.Helper()
	r := &vendorRegistry{dir: t.TempDir(), blocks: map[string]string{}}
	r.path = filepath.Join(r.dir, "targets.toml")
	users := []string{"trinity@example.com"}
	var err error
	closeLater := func(c interface{ Close() error }) {
		t.Cleanup(func() { _ = c.Close() })
	}
	// Domain-wide delegation not granted for the client id.
	if r.google, err = googlefake.Start(googlefake.Options{Users: users, MissingPermission: true}); err != nil {
		t.Fatal(err)
	}
	closeLater(r.google)
	// The app registration lacks User.RevokeSessions.All.
	if r.microsoft, err = microsoftfake.Start(microsoftfake.Options{Users: users, MissingPermission: true}); err != nil {
		t.Fatal(err)
	}
	closeLater(r.microsoft)
	if r.slack, err = slackfake.Start(slackfake.Options{Users: users}); err != nil {
		t.Fatal(err)
	}
	closeLater(r.slack)
	r.slack.Revoke(r.slack.Token()) // the admin revoked the token
	// The app lacks the scope user:write:admin.
	if r.zoom, err = zoomfake.Start(zoomfake.Options{Users: users, MissingPermission: true}); err != nil {
		t.Fatal(err)
	}
	closeLater(r.zoom)
	// The token was never authorized for the organization's SSO.
	if r.github, err = githubfake.Start(githubfake.Options{Logins: []string{"trinity-hale"}, SSORequired: true}); err != nil {
		t.Fatal(err)
	}
	closeLater(r.github)
	// The transmitter is known but not allowed to send.
	if r.caep, err = caepfake.Start(caepfake.Options{Users: users, MissingPermission: true}); err != nil {
		t.Fatal(err)
	}
	closeLater(r.caep)
	fleet, err := apps.Start(apps.Options{Dir: filepath.Join(r.dir, "fleet"),
		Users: []apps.User{{ID: "00u1", Login: users[0], Email: users[0]}},
		Specs: []apps.Spec{{Name: "chat", Subject: apps.SubjectEmail, Auth: apps.AuthBearer}}})
	if err != nil {
		t.Fatal(err)
	}
	closeLater(fleet)
	r.app = fleet.App("chat")
	// A GTR target with a token the app never issued.
	writeFile(t, filepath.Join(r.dir, "gtr.token"), []byte("not-the-apps-token\n"))
	r.blocks["gtr"] = fmt.Sprintf("[[target]]\nname = \"gtr\"\nurl = %q\ntoken_file = %q\n", r.app.URL(), filepath.Join(r.dir, "gtr.token"))
	for name, v := range map[string]interface {
		TargetTOML(name, dir string) (string, error)
	}{"google": r.google, "m365": r.microsoft, "slack": r.slack, "zoom": r.zoom, "github": r.github, "caep": r.caep} {
		b, err := v.TargetTOML(name, r.dir)
		if err != nil {
			t.Fatal(err)
		}
		r.blocks[name] = b
	}
	r.write(t)
	return r
}

// write writes the registry's targets.toml from its blocks.
func (r *vendorRegistry) write(t *testing.T) {
	t.Helper()
	var b strings.Builder
	b.WriteString("[defaults]\ntimeout = \"2s\"\n")
	for _, name := range []string{"gtr", "google", "m365", "slack", "zoom", "github", "caep"} {
		b.WriteString("\n" + r.blocks[name])
	}
	writeFile(t, r.path, []byte(b.String()))
}

// sent returns what reached the fakes, per fake, in requests.
func (r *vendorRegistry) sent() map[string]int {
	ms, _ := r.microsoft.TokenRequests()
	zm, _ := r.zoom.TokenRequests()
	return map[string]int{
		"gtr": len(r.app.Received()), "google": len(r.google.Requests()), "m365": ms + r.microsoft.RevokeCalls(),
		"slack": len(r.slack.Requests()), "zoom": zm + r.zoom.RevokeCalls(), "github": len(r.github.Requests()), "caep": r.caep.Calls(),
	}
}

// TestTargetsCheckLiveSaysWhatToFix: against a registry with one wrong
// credential per kind, ulc targets check --live fails each target with the
// sentence that says what to fix, and no secret appears in its output.
func TestTargetsCheckLiveSaysWhatToFix(t *testing.T) {
	r := newVendorRegistry(t)
	code, out, errOut := ulc(t, "", "targets", "check", "--live", "--config", r.path)
	if code != exitUsage || !strings.Contains(errOut, "7 of 7 targets cannot be used") {
		t.Fatalf("exit %d, want 2 with all 7 unusable: %s\n%s", code, out, errOut)
	}
	cred, live := checkLines(t, out)
	wants := map[string][]string{
		"gtr":    {"401", "check token_file"},
		"google": {"unauthorized_client", r.google.ClientID(), googlefake.Scope},
		"m365":   {"User.RevokeSessions.All", "admin consent"},
		"slack":  {"token_revoked"},
		"zoom":   {"user:write:admin"},
		"github": {"SSO"},
		"caep":   {"access_denied", "allow session-revoked events"},
	}
	for name, says := range wants {
		if c := cred[name]; c.word != "ok" {
			t.Errorf("%s: the credential did not load: %s %q", name, c.word, c.text)
		}
		l := live[name]
		if l.word != "FAIL" && l.word != "WARN" {
			t.Errorf("%s: live %s %q, want FAIL or WARN", name, l.word, l.text)
		}
		for _, s := range says {
			if !strings.Contains(l.text, s) {
				t.Errorf("%s: live %q does not say %q", name, l.text, s)
			}
		}
	}
	for _, s := range vendorSecrets(t, r.dir) {
		if strings.Contains(out+errOut, s) {
			t.Errorf("the output holds a credential (%d bytes long)", len(s))
		}
	}
}

// TestTargetsCheckLoadsEveryKindWithoutSending: ulc targets check without
// --live validates a target of every kind and loads its credential, and
// nothing reaches any fake; a credential that cannot be loaded (a variable
// not set, a file others can read, a file that is not there) is a FAIL
// line naming the target and what is missing.
func TestTargetsCheckLoadsEveryKindWithoutSending(t *testing.T) {
	r := newVendorRegistry(t)
	code, out, errOut := ulc(t, "", "targets", "check", "--config", r.path)
	if code != exitOK {
		t.Fatalf("exit %d, want 0: %s\n%s", code, out, errOut)
	}
	cred, live := checkLines(t, out)
	for name := range r.blocks {
		kind := map[string]string{"m365": "microsoft"}[name]
		if kind == "" {
			kind = name
		}
		if c := cred[name]; c.word != "ok" || !strings.HasPrefix(c.text, kind+" ") {
			t.Errorf("%s: %s %q, want ok with kind %s", name, c.word, c.text, kind)
		}
	}
	if len(live) != 0 {
		t.Errorf("a check without --live reported live lines: %v", live)
	}
	for name, n := range r.sent() {
		if n != 0 {
			t.Errorf("a check without --live sent %d requests to %s", n, name)
		}
	}

	// Break a credential of each kind in its own way.
	t.Setenv("ULC_TEST_UNSET_SECRET", "")
	t.Setenv("ULC_TEST_UNSET_TOKEN", "")
	replaceKey := func(name, key, line string) {
		re := regexp.MustCompile(`(?m)^` + key + ` = .*$`)
		if !re.MatchString(r.blocks[name]) {
			t.Fatalf("%s's block has no %s:\n%s", name, key, r.blocks[name])
		}
		r.blocks[name] = re.ReplaceAllLiteralString(r.blocks[name], line)
	}
	replaceKey("m365", "client_secret_file", `client_secret_env = "ULC_TEST_UNSET_SECRET"`)
	replaceKey("slack", "token_file", `token_env = "ULC_TEST_UNSET_TOKEN"`)
	replaceKey("zoom", "client_secret_file", fmt.Sprintf("client_secret_file = %q", filepath.Join(r.dir, "absent-secret")))
	if err := os.Chmod(filepath.Join(r.dir, "google-service-account.json"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Join(r.dir, "caep-caep.pem"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(r.dir, "github.token")); err != nil {
		t.Fatal(err)
	}
	r.write(t)
	code, out, errOut = ulc(t, "", "targets", "check", "--config", r.path)
	if code != exitUsage || !strings.Contains(errOut, "6 of 7 targets cannot be used") {
		t.Fatalf("exit %d, want 2 with 6 of 7 unusable: %s\n%s", code, out, errOut)
	}
	cred, _ = checkLines(t, out)
	wants := map[string][]string{
		"m365":   {"ULC_TEST_UNSET_SECRET", "not set"},
		"slack":  {"ULC_TEST_UNSET_TOKEN", "not set"},
		"zoom":   {"absent-secret"},
		"google": {"google-service-account.json", "chmod 600"},
		"caep":   {"caep-caep.pem", "chmod 600"},
		"github": {"github.token"},
	}
	for name, says := range wants {
		c := cred[name]
		if c.word != "FAIL" {
			t.Errorf("%s: %s %q, want FAIL", name, c.word, c.text)
		}
		for _, s := range says {
			if !strings.Contains(c.text, s) {
				t.Errorf("%s: %q does not say %q", name, c.text, s)
			}
		}
	}
	if c := cred["gtr"]; c.word != "ok" {
		t.Errorf("gtr: %s %q, want ok", c.word, c.text)
	}
	for name, n := range r.sent() {
		if n != 0 {
			t.Errorf("a check without --live sent %d requests to %s", n, name)
		}
	}
}
