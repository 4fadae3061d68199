// Package sandbox runs a stand-in for a whole incident on loopback: an
// Okta-compatible directory (sandbox/oktafake) and a fleet of demo target
// applications (sandbox/apps), with a generated targets.toml that points ulc
// at both. ulc demo, the end-to-end tests and drills use it.
package sandbox

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"ulc/sandbox/apps"
	"ulc/sandbox/caepfake"
	"ulc/sandbox/githubfake"
	"ulc/sandbox/googlefake"
	"ulc/sandbox/microsoftfake"
	"ulc/sandbox/oktafake"
	"ulc/sandbox/slackfake"
	"ulc/sandbox/zoomfake"
)

// Options configures a sandbox.
type Options struct {
	// Dir receives targets.toml, the credential files and the keys.
	Dir string
	// People is how many generated people join the curated cast.
	People int
	// OktaAddr is the Okta fake's listen address (default 127.0.0.1:0).
	OktaAddr string
	// Specs are the demo apps (nil: apps.DefaultSpecs()).
	Specs []apps.Spec
	// RateLimit, when set, is the Okta fake's budget of requests per
	// minute per endpoint, for drilling how ulc paces itself.
	RateLimit int
	// Vendors also starts a fake of each vendor's sign-out API ulc has a
	// connector for (Microsoft Graph, ...) and registers them as targets.
	Vendors bool
}

// Sandbox is a running Okta fake and its demo apps.
type Sandbox struct {
	// Okta is the directory; OktaURL its org URL.
	Okta    *oktafake.Server
	OktaURL string
	// Fleet is the demo apps.
	Fleet *apps.Fleet
	// ConfigPath is the generated targets.toml, with an [okta] table.
	ConfigPath string
	// TokenFile holds the Okta API token (mode 0600).
	TokenFile string
	// Google, Microsoft, Slack, CAEP, Zoom and GitHub are the vendor
	// fakes, with Options.Vendors.
	Google    *googlefake.Server
	Microsoft *microsoftfake.Server
	Slack     *slackfake.Server
	CAEP      *caepfake.Server
	Zoom      *zoomfake.Server
	GitHub    *githubfake.Server

	srv     *http.Server
	vendors []vendor
}

// Start starts the Okta fake and the apps and writes the configuration.
func Start(o Options) (*Sandbox, error) {
	if o.Dir == "" {
		return nil, errors.New("sandbox: no directory given")
	}
	if err := os.MkdirAll(o.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("sandbox: %w", err)
	}
	addr := o.OktaAddr
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	// Binding a local address does not block, and Start has no caller's
	// context to honour; a name in OktaAddr is resolved without one.
	var lc net.ListenConfig
	ln, err := lc.Listen(context.Background(), "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("sandbox: Okta fake: %w", err)
	}
	okta := oktafake.New(oktafake.Options{People: o.People})
	token := randomToken()
	okta.AddToken(token)
	if o.RateLimit > 0 {
		okta.SetRateLimit(o.RateLimit, time.Minute)
	}
	s := &Sandbox{
		Okta: okta, OktaURL: "http://" + ln.Addr().String(),
		srv: &http.Server{Handler: okta, ReadHeaderTimeout: 10 * time.Second},
	}
	go s.srv.Serve(ln) //nolint:errcheck // ends with Close

	s.TokenFile = filepath.Join(o.Dir, "okta.token")
	if err := os.WriteFile(s.TokenFile, []byte(token+"\n"), 0o600); err != nil {
		return nil, errors.Join(fmt.Errorf("sandbox: %w", err), s.Close())
	}
	var users []apps.User
	for _, p := range okta.People() {
		users = append(users, apps.User{ID: p.ID, Login: p.Login, Email: p.Email})
	}
	fleet, err := apps.Start(apps.Options{Dir: o.Dir, Users: users, Issuer: s.OktaURL, Specs: o.Specs})
	if err != nil {
		return nil, errors.Join(err, s.Close())
	}
	s.Fleet = fleet
	snippet := fmt.Sprintf("# The sandbox's Okta-compatible directory.\n[okta]\norg_url = %q\ntoken_file = \"okta.token\"\n", s.OktaURL)
	if err := apps.WriteConfig(fleet, snippet); err != nil {
		return nil, errors.Join(err, s.Close())
	}
	s.ConfigPath = fleet.ConfigPath
	if o.Vendors {
		var emails, logins []string
		for _, p := range okta.People() {
			emails = append(emails, p.Email)
			if p.GitHubUsername != "" {
				logins = append(logins, p.GitHubUsername)
			}
		}
		if err := s.startVendors(o.Dir, s.ConfigPath, emails, logins); err != nil {
			return nil, errors.Join(err, s.Close())
		}
	}
	return s, nil
}

// Close stops everything.
func (s *Sandbox) Close() error {
	errs := []error{s.closeVendors()}
	if s.Fleet != nil {
		errs = append(errs, s.Fleet.Close())
	}
	if s.srv != nil {
		errs = append(errs, s.srv.Close())
	}
	return errors.Join(errs...)
}

func randomToken() string {
	b := make([]byte, 20)
	_, _ = rand.Read(b)
	return "00sandbox" + hex.EncodeToString(b)
}
