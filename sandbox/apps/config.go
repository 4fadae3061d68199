package apps

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"ulc/sandbox/internal/tomlstr"
)

// OktaMarker starts the place in targets.toml where the [okta] table goes.
const OktaMarker = "# ---- [okta] ----"

// WriteConfig writes f.ConfigPath: a targets.toml for the fleet that
// config.Load accepts as is. okta is an optional TOML snippet, starting with
// its own [okta] header, such as
//
//	[okta]
//	org_url = "http://127.0.0.1:1234"
//	token_file = "okta.token"
//
// placed between [defaults] and the targets (after OktaMarker). Start
// writes the file with okta = ""; a caller that also runs the Okta fake
// calls WriteConfig again with its snippet. Relative paths in the snippet
// are relative to f.Dir. The file is replaced atomically (mode 0600).
func WriteConfig(f *Fleet, okta string) error {
	if f == nil {
		return errors.New("apps: WriteConfig needs a fleet")
	}
	var b strings.Builder
	b.WriteString(`# targets.toml for the ulc sandbox: demo applications on 127.0.0.1 that
# receive Global Token Revocation requests. Written by ulc/sandbox/apps on
# every start, so edits are lost. The token files (*.token) and signing keys
# (ulc-signing-*.pem) it names sit next to it, mode 0600.

[defaults]
timeout = "3s"          # the slow app (about 2 s) answers late, not timed out
retries = 2             # the flaky app fails twice, then succeeds on the third attempt
max_retry_wait = "5s"

`)
	b.WriteString(OktaMarker + "\n")
	if s := strings.TrimSpace(okta); s != "" {
		b.WriteString(s + "\n")
	} else {
		b.WriteString("# (none: the Okta fake writes its [okta] table here)\n")
	}
	b.WriteString("# ---- end [okta] ----\n")

	for _, a := range f.Apps {
		s := a.spec
		fmt.Fprintf(&b, "\n# %s\n[[target]]\n", describe(s))
		fmt.Fprintf(&b, "name = %s\n", tomlstr.Quote(s.Name))
		fmt.Fprintf(&b, "url = %s\n", tomlstr.Quote(a.url))
		fmt.Fprintf(&b, "subject = %s\n", tomlstr.Quote(s.Subject))
		if s.Subject == SubjectIssSub {
			fmt.Fprintf(&b, "subject_iss = %s\n", tomlstr.Quote(f.issuer))
		}
		if s.Behaviour == Legacy {
			b.WriteString("body_key = \"subject\"\n")
		}
		if s.Timeout > 0 {
			fmt.Fprintf(&b, "timeout = %s\n", tomlstr.Quote(s.Timeout.String()))
		}
		switch s.Auth {
		case AuthBearer:
			b.WriteString("auth = \"bearer\"\n")
			fmt.Fprintf(&b, "token_file = %s\n", tomlstr.Quote(a.tokenFile))
		case AuthJWT:
			b.WriteString("auth = \"jwt\"\n")
			fmt.Fprintf(&b, "jwt_key_file = %s\n", tomlstr.Quote(a.keyFile))
			fmt.Fprintf(&b, "jwt_key_id = %s\n", tomlstr.Quote(a.keyID))
			fmt.Fprintf(&b, "jwt_iss = %s\n", tomlstr.Quote(JWTIssuer))
			fmt.Fprintf(&b, "jwt_sub = %s\n", tomlstr.Quote(s.Name+"-client"))
		}
	}

	f.mu.Lock()
	defer f.mu.Unlock()
	return writeSecret(f.ConfigPath, []byte(b.String()))
}

// describe is the comment line above a target: what the app does.
func describe(s Spec) string {
	var what string
	switch s.Behaviour {
	case Slow:
		what = fmt.Sprintf("slow: answers after about %s", humanDuration(s.Delay))
		if s.Timeout > 0 && s.Delay > s.Timeout {
			what = fmt.Sprintf("hangs: answers only after %s, past its %s timeout", humanDuration(s.Delay), humanDuration(s.Timeout))
		}
	case Flaky:
		what = "flaky: answers 503 twice per user, then 204"
	case Down:
		what = "down: nothing listens on this port, so connections are refused"
	case Legacy:
		what = `legacy: reads only the pre -03 body key "subject"`
	case OK200:
		what = "ok200: answers 200 with a JSON body instead of 204, as Auth0 does"
	case RateLimited:
		what = "rate_limited: answers 429 with Retry-After: 1 to the first request per user"
	default:
		what = "normal: answers 204 and ends the user's sessions"
	}
	how := "bearer token"
	if s.Auth == AuthJWT {
		how = "signed JWT " + s.Alg
	}
	return fmt.Sprintf("%s (%s subject, %s)", what, s.Subject, how)
}

// humanDuration writes 2s as "2 s" and 1500ms as "1.5 s".
func humanDuration(d time.Duration) string {
	return strings.TrimSuffix(strings.TrimRight(fmt.Sprintf("%.1f", d.Seconds()), "0"), ".") + " s"
}
