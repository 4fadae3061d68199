package config

import (
	"net/url"
	"strings"
	"testing"
)

// acceptedURL reports whether raw obeys the https-or-loopback rule.
func acceptedURL(raw string) bool {
	u, err := url.Parse(raw)
	return err == nil && u.User == nil && u.Hostname() != "" &&
		(u.Scheme == "https" || (u.Scheme == "http" && isLoopback(u.Hostname())))
}

// FuzzParseKinds: whatever the file, a target Parse accepts has what its
// kind needs and nothing of another kind, and no error repeats a value
// given for a credential key. (FuzzParse checks the GTR rules.)
func FuzzParseKinds(f *testing.F) {
	f.Add(lines(googleT...))
	f.Add(lines(m365T...))
	f.Add(lines(slackT...))
	f.Add(lines(caepT...))
	f.Add(lines(zoomT...))
	f.Add(lines(githubT...))
	f.Add(with(githubT[:5], `token_file = "t"`, `url = "http://127.0.0.1:2/api/v3"`))
	f.Add(with(zoomT, `client_secret_env = "Z"`, `token_url = "http://[::1]:1/oauth/token"`, `url = "http://127.0.0.1:2/v2"`))
	f.Add(with(m365T, `client_secret = "Zr8Q~s3cretValue1"`))
	f.Add(with(googleT, `url = "http://127.0.0.1:9/"`, `revoke_oauth_grants = true`, `token_env = "X"`))
	f.Add(lines(`[[target]]`, `name = "m"`, `kind = "microsoft"`, `tenant = "t"`, `client_id = "c"`, `client_cert_file = "c"`,
		`client_key_file = "k"`, `token_url = "http://[::1]:1/{tenant}/t"`))
	f.Add(lines(`[defaults]`, `jwt_iss = "i"`, `jwt_key_file = "k"`, `[[target]]`, `name = "c"`, `kind = "caep"`, `url = "https://r.example.com/"`))
	f.Fuzz(func(t *testing.T, data string) {
		file, err := Parse([]byte(data), "targets.toml")
		if err != nil {
			if strings.Contains(data, `"""`) || strings.Contains(data, `'''`) {
				return
			}
			for _, s := range secretsIn(data) {
				if strings.Contains(err.Error(), s) {
					t.Fatalf("error repeats the secret %q:\n%v", s, err)
				}
			}
			return
		}
		for _, tg := range file.Targets {
			kind := tg.EffectiveKind()
			if knownKind(kind) == "" || !acceptedURL(tg.URL) {
				t.Fatalf("target %q: kind %q, url %q", tg.Name, kind, tg.URL)
			}
			if kind != KindGTR && (tg.Subject != "" || tg.BodyKey != "" || tg.SubjectIss != "" || tg.JWTSub != "") {
				t.Fatalf("%s target %q has GTR settings", kind, tg.Name)
			}
			if kind != KindGoogle && (tg.CredentialsFile != "" || tg.Admin != "" || tg.RevokeOAuthGrants) {
				t.Fatalf("%s target %q has google settings", kind, tg.Name)
			}
			if kind != KindMicrosoft && (tg.Tenant != "" || tg.ClientCertFile != "" || tg.ClientKeyFile != "") {
				t.Fatalf("%s target %q has microsoft settings", kind, tg.Name)
			}
			if kind != KindMicrosoft && kind != KindZoom && (tg.ClientID != "" || tg.ClientSecretEnv != "" || tg.ClientSecretFile != "" || tg.TokenURL != "") {
				t.Fatalf("%s target %q has client credentials settings", kind, tg.Name)
			}
			if kind != KindZoom && tg.AccountID != "" {
				t.Fatalf("%s target %q has zoom settings", kind, tg.Name)
			}
			if kind != KindGitHub && (tg.Org != "" || tg.LoginAttribute != "") {
				t.Fatalf("%s target %q has github settings", kind, tg.Name)
			}
			switch kind {
			case KindGoogle:
				if tg.Auth != AuthServiceAccount || tg.CredentialsFile == "" || !isEmail(tg.Admin) || !strings.HasSuffix(tg.URL, "/") {
					t.Fatalf("google target %+v", tg)
				}
			case KindMicrosoft:
				secrets := 0
				for _, s := range []string{tg.ClientSecretEnv, tg.ClientSecretFile, tg.ClientCertFile} {
					if s != "" {
						secrets++
					}
				}
				ok := tg.Tenant != "" && tg.ClientID != "" && acceptedURL(tg.TokenURL) && !strings.ContainsAny(tg.TokenURL, "{}") && secrets == 1 &&
					((tg.Auth == AuthClientSecret && tg.ClientKeyFile == "") || (tg.Auth == AuthClientCertificate && tg.ClientCertFile != "" && tg.ClientKeyFile != ""))
				if !ok || !strings.HasSuffix(tg.URL, "/") {
					t.Fatalf("microsoft target %+v", tg)
				}
			case KindSlack:
				if tg.Auth != AuthBearer || (tg.TokenEnv == "") == (tg.TokenFile == "") || !strings.HasSuffix(tg.URL, "/") {
					t.Fatalf("slack target %+v", tg)
				}
			case KindZoom:
				if tg.Auth != AuthClientSecret || !zoomAccountRE.MatchString(tg.AccountID) || tg.ClientID == "" ||
					(tg.ClientSecretEnv == "") == (tg.ClientSecretFile == "") || !acceptedURL(tg.TokenURL) || !strings.HasSuffix(tg.URL, "/") {
					t.Fatalf("zoom target %+v", tg)
				}
			case KindGitHub:
				if tg.Auth != AuthBearer || !githubOrgRE.MatchString(tg.Org) || !oktaAttributeRE.MatchString(tg.LoginAttribute) ||
					(tg.TokenEnv == "") == (tg.TokenFile == "") || !strings.HasSuffix(tg.URL, "/") {
					t.Fatalf("github target %+v", tg)
				}
			case KindCAEP:
				if tg.Auth != AuthJWT || tg.JWTKeyFile == "" || tg.JWTIss == "" || (tg.TokenEnv != "" && tg.TokenFile != "") {
					t.Fatalf("caep target %+v", tg)
				}
			}
		}
	})
}
