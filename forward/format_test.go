package forward

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"ulc/actions"
	"ulc/audit"
	"ulc/config"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden")

// hostile is text from outside with every character a format must escape:
// quotes, brackets, pipes, equals signs, backslashes, a line break and a
// terminal escape sequence.
const hostile = "phished \"again\" [INC|42] a=b \\ c\nd \x1b[31mred"

// sampleRun is a small run with one of each kind of event: a suspend, a
// sign-out that is retried, a revocation, one that fails, a user not found,
// then the watch's denied attempt and its alarm.
func sampleRun(t testing.TB) []audit.Chained {
	t.Helper()
	at := time.Date(2026, 11, 21, 19, 45, 12, 123456000, time.UTC)
	info, err := json.Marshal(actions.RunInfo{
		Reason: hostile, Ticket: "INC-4211", Operator: "morpheus", Host: "soc-laptop-7", Version: "1.4.0",
		ConfigDigest: "sha256:9f2c", OktaOrg: "https://acme.okta.com",
		Users:   []actions.User{{ID: "00u1", Login: "trinity@whiterabbit.fake"}},
		Targets: []string{"chat", "vpn", "crm"}, Steps: 5,
	})
	if err != nil {
		t.Fatal(err)
	}
	counts, _ := json.Marshal(map[actions.Outcome]int{actions.Done: 1, actions.Revoked: 1, actions.Failed: 1, actions.NotFound: 1})
	user := "trinity@whiterabbit.fake"
	sign := func(sg actions.Sign) json.RawMessage {
		b, err := json.Marshal(sg)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	denied := sign(actions.Sign{Type: "watch_sign", RunID: "20261121-194512-3f9a2c", User: user, UserID: "00u1",
		Level: actions.SignAttempt, Time: at.Add(4 * time.Second), AfterS: 4, EventType: "user.session.start",
		Result: "FAILURE", Reason: "VERIFICATION_ERROR", IP: "203.0.113.66", City: "Amsterdam", Country: "Netherlands",
		Client: "CHROME on Windows 10", UUID: "d2d817b0-ee69-11f1", Advice: "the containment held: " + hostile})
	granted := sign(actions.Sign{Type: "watch_sign", RunID: "20261121-194512-3f9a2c", User: user, UserID: "00u1",
		Level: actions.SignAlarm, Time: at.Add(16 * time.Second), AfterS: 16, EventType: "app.oauth2.token.grant.refresh_token",
		Result: "SUCCESS", App: "Dock Control", IP: "203.0.113.66", City: "Amsterdam", Country: "Netherlands",
		Client: "CHROME on Windows 10", UUID: "d9ff25b0-ee69-11f1", Advice: "revoke the app's grants and tokens for the user in Okta"})
	evs := []actions.Event{
		{Kind: actions.KindRunStarted, Detail: info},
		{Kind: actions.KindPlanned, Step: 1, User: user, Target: actions.OktaTarget, Action: actions.ActionSuspend,
			Detail: json.RawMessage(`{"method":"POST","url":"https://acme.okta.com/api/v1/users/00u1/lifecycle/suspend","credential":"sha256:ab12"}`)},
		{Kind: actions.KindAttempt, Step: 1, User: user, Target: actions.OktaTarget, Action: actions.ActionSuspend, Attempt: 1, RequestID: "jti-1"},
		{Kind: actions.KindResult, Step: 1, User: user, Target: actions.OktaTarget, Action: actions.ActionSuspend, Attempt: 1, HTTPStatus: 200, Outcome: actions.Done, LatencyMS: 84, RequestID: "XoktaReq1"},
		{Kind: actions.KindRetry, Step: 2, User: user, Target: "chat", Action: actions.ActionGTR, Attempt: 1, HTTPStatus: 503, LatencyMS: 20, Error: "503 Service Unavailable"},
		{Kind: actions.KindResult, Step: 2, User: user, Target: "chat", Action: actions.ActionGTR, Attempt: 2, HTTPStatus: 204, Outcome: actions.Revoked, LatencyMS: 31},
		{Kind: actions.KindResult, Step: 3, User: user, Target: "vpn", Action: actions.ActionGTR, Attempt: 3, Outcome: actions.Failed, LatencyMS: 1000, Error: "no answer within 1s: " + hostile},
		{Kind: actions.KindResult, Step: 4, User: user, Target: "crm", Action: actions.ActionGTR, Attempt: 1, HTTPStatus: 404, Outcome: actions.NotFound, LatencyMS: 12, Error: "no such user"},
		{Kind: actions.KindResult, Step: 5, User: user, Target: actions.OktaTarget, Action: actions.ActionDeactivate, Attempt: 1, HTTPStatus: 403, Outcome: actions.Rejected, ErrorCode: "E0000006", Error: "You do not have permission"},
		{Kind: actions.KindRunFinished, Detail: counts},
		{Kind: actions.KindWatchSign, User: user, Detail: denied},
		{Kind: actions.KindWatchSign, User: user, Detail: granted},
	}
	out := make([]audit.Chained, len(evs))
	prev := audit.GenesisHash
	for i, ev := range evs {
		ev.Seq, ev.RunID, ev.Time = int64(41+i), "20261121-194512-3f9a2c", at.Add(time.Duration(i)*7*time.Millisecond)
		hash := strings.Repeat(string("0123456789abcdef"[i+1]), 64)
		out[i] = audit.Chained{Event: ev, PrevHash: prev, Hash: hash}
		prev = hash
	}
	return out
}

var sampleMeta = Meta{Host: "soc-laptop-7", Version: "1.4.0"}

func formatAll(t *testing.T, format string) []string {
	t.Helper()
	var lines []string
	for _, ev := range sampleRun(t) {
		l, err := Line(format, ev, sampleMeta)
		if err != nil {
			t.Fatal(err)
		}
		lines = append(lines, string(l))
	}
	return lines
}

// TestGoldenLines: each format's lines for the sample run are exactly the
// reviewed ones in testdata (go test ./forward -run Golden -update rewrites
// them), one line per event.
func TestGoldenLines(t *testing.T) {
	for _, format := range []string{config.FormatRFC5424, config.FormatCEF, config.FormatOCSF, config.FormatHEC} {
		t.Run(format, func(t *testing.T) {
			lines := formatAll(t, format)
			for i, l := range lines {
				if strings.ContainsAny(l, "\n\r\x1b") {
					t.Errorf("line %d holds a line break or an escape: %q", i+1, l)
				}
			}
			got := []byte(strings.Join(lines, "\n") + "\n")
			path := filepath.Join("testdata", format+".golden")
			if *update {
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("%s lines differ from %s:\n%s", format, path, got)
			}
		})
	}
}

// sdParams parses the SD-PARAMs of an RFC 5424 line's one SD-ELEMENT,
// undoing the escaping of RFC 5424 section 6.3.3.
func sdParams(t *testing.T, line string) (map[string]string, string) {
	t.Helper()
	i := strings.Index(line, "["+SDID+" ")
	if i < 0 {
		t.Fatalf("no [%s element: %s", SDID, line)
	}
	s := line[i+len(SDID)+2:]
	params := map[string]string{}
	for {
		name, rest, ok := strings.Cut(s, `="`)
		if !ok {
			t.Fatalf("bad structured data at %q", s)
		}
		var v strings.Builder
		j := 0
		for ; rest[j] != '"'; j++ {
			if rest[j] == '\\' && strings.ContainsRune(`"\]`, rune(rest[j+1])) {
				j++
			} else if rest[j] == ']' {
				t.Fatalf("unescaped ] in the value of %s: %s", name, line)
			}
			v.WriteByte(rest[j])
		}
		params[name] = v.String()
		s = rest[j+1:]
		if strings.HasPrefix(s, "]") {
			return params, strings.TrimPrefix(s, "] ")
		}
		s = strings.TrimPrefix(s, " ")
	}
}

// cefExtension parses the extension of a CEF line, undoing its escaping;
// a key starts after an unescaped space before "key=".
func cefExtension(t *testing.T, line string) map[string]string {
	t.Helper()
	_, cef, ok := strings.Cut(line, " - CEF:0|")
	if !ok {
		t.Fatalf("no CEF: %s", line)
	}
	// Seven header fields, separated by unescaped pipes.
	fields, cur, esc := 0, 0, false
	for ; cur < len(cef) && fields < 6; cur++ {
		switch {
		case esc:
			esc = false
		case cef[cur] == '\\':
			esc = true
		case cef[cur] == '|':
			fields++
		}
	}
	ext := cef[cur:]
	keyRE := regexp.MustCompile(`(?:^| )([A-Za-z0-9]+)=`)
	locs := keyRE.FindAllStringSubmatchIndex(ext, -1)
	out := map[string]string{}
	for i, l := range locs {
		end := len(ext)
		if i+1 < len(locs) {
			end = locs[i+1][0]
		}
		raw := ext[l[1]:end]
		if strings.Contains(strings.ReplaceAll(raw, `\=`, ""), "=") {
			t.Fatalf("unescaped = in the value of %s: %q", ext[l[2]:l[3]], raw)
		}
		out[ext[l[2]:l[3]]] = strings.NewReplacer(`\\`, `\`, `\=`, `=`).Replace(raw)
	}
	return out
}

// TestEscapingRoundTrips: hostile text (quotes, brackets, pipes, equals
// signs, backslashes, a line break, an escape sequence) read back from
// each format is the same printable line, so no field can end early or
// forge another.
func TestEscapingRoundTrips(t *testing.T) {
	want := "phished \"again\" [INC|42] a=b \\ c d red" // the line break became a space, the escape is gone
	rfc := formatAll(t, config.FormatRFC5424)[0]
	params, msg := sdParams(t, rfc)
	if params["reason"] != want || params["ticket"] != "INC-4211" || params["seq"] != "41" {
		t.Errorf("RFC 5424 params = %q", params)
	}
	if !strings.HasSuffix(msg, want) {
		t.Errorf("RFC 5424 msg = %q", msg)
	}
	ext := cefExtension(t, formatAll(t, config.FormatCEF)[0])
	if ext["reason"] != want || ext["cs4"] != "INC-4211" || ext["externalId"] != "41" || ext["suser"] != "morpheus" {
		t.Errorf("CEF extension = %q", ext)
	}
	failed := cefExtension(t, formatAll(t, config.FormatCEF)[6])
	if failed["msg"] != "no answer within 1s: "+want || failed["outcome"] != "failed" {
		t.Errorf("CEF of the failed step = %q", failed)
	}
	for _, format := range []string{config.FormatOCSF, config.FormatHEC} {
		line := formatAll(t, format)[0]
		if format == config.FormatOCSF {
			_, body, _ := strings.Cut(line, " - {")
			line = "{" + body
		}
		var v struct {
			Event    map[string]any `json:"event"`
			Unmapped map[string]any `json:"unmapped"`
		}
		if err := json.Unmarshal([]byte(line), &v); err != nil {
			t.Fatalf("%s: %v", format, err)
		}
		got := v.Event["reason"]
		if format == config.FormatOCSF {
			got = v.Unmapped["reason"]
		}
		if got != want {
			t.Errorf("%s reason = %q", format, got)
		}
	}
}

// TestNoDetailIsForwarded: the planned step's request (its URL, body and
// credential fingerprint) stays in the log; no format carries it.
func TestNoDetailIsForwarded(t *testing.T) {
	for _, format := range []string{config.FormatRFC5424, config.FormatCEF, config.FormatOCSF, config.FormatHEC} {
		for _, l := range formatAll(t, format) {
			for _, s := range []string{"sha256:ab12", "lifecycle/suspend", "acme.okta.com"} {
				if strings.Contains(l, s) {
					t.Errorf("%s line holds %q: %s", format, s, l)
				}
			}
		}
	}
}
