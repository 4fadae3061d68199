package sandbox

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"ulc/sandbox/caepfake"
	"ulc/sandbox/githubfake"
	"ulc/sandbox/googlefake"
	"ulc/sandbox/microsoftfake"
	"ulc/sandbox/slackfake"
	"ulc/sandbox/zoomfake"
)

// vendor is a running fake of a vendor's sign-out API.
type vendor interface {
	// TargetTOML writes the target's credential files into dir and
	// returns its [[target]] block.
	TargetTOML(name, dir string) (string, error)
	Close() error
}

// startVendors starts a fake of each vendor ulc has a connector for, with
// the directory's people as their users, and appends their targets to the
// registry at configPath. The demo shows one throttled (Microsoft: 429,
// then success after Retry-After) and one lacking a permission (Slack).
// logins are the GitHub logins of the directory's people (their Okta
// attribute githubUsername), the members of the GitHub organization.
func (s *Sandbox) startVendors(dir, configPath string, emails, logins []string) error {
	var blocks []string
	add := func(name string, v vendor, err error) error {
		if err != nil {
			return fmt.Errorf("sandbox: %s fake: %w", name, err)
		}
		s.vendors = append(s.vendors, v)
		block, err := v.TargetTOML(name, dir)
		if err != nil {
			return fmt.Errorf("sandbox: %s fake: %w", name, err)
		}
		blocks = append(blocks, block)
		return nil
	}
	// Google: the attacker's favourite way back in is an OAuth grant, so
	// the compromised user holds one that the sign-out deletes.
	grants := map[string][]googlefake.Grant{}
	if len(emails) > 0 {
		grants[trinity(emails)] = []googlefake.Grant{{
			ClientID: "1079146822741-mailsync.apps.googleusercontent.com", DisplayText: "Mail Sync Pro",
			Scopes: []string{"https://mail.google.com/"},
		}}
	}
	gw, err := googlefake.Start(googlefake.Options{Users: emails, Grants: grants, RevokeOAuthGrants: true})
	if err := add("google", gw, err); err != nil {
		return err
	}
	s.Google = gw
	ms, err := microsoftfake.Start(microsoftfake.Options{Users: emails, Throttle: 1})
	if err := add("m365", ms, err); err != nil {
		return err
	}
	s.Microsoft = ms
	// Slack: the admin token lacks the scope the session reset needs, so
	// the board shows a rejection that says which scope to add.
	sl, err := slackfake.Start(slackfake.Options{Users: emails, MissingPermission: true})
	if err := add("slack", sl, err); err != nil {
		return err
	}
	s.Slack = sl
	ce, err := caepfake.Start(caepfake.Options{Users: emails})
	if err := add("okta-itp", ce, err); err != nil {
		return err
	}
	s.CAEP = ce
	zm, err := zoomfake.Start(zoomfake.Options{Users: emails})
	if err := add("zoom", zm, err); err != nil {
		return err
	}
	s.Zoom = zm
	gh, err := githubfake.Start(githubfake.Options{Logins: logins})
	if err := add("github", gh, err); err != nil {
		return err
	}
	s.GitHub = gh
	f, err := os.OpenFile(configPath, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return fmt.Errorf("sandbox: %w", err)
	}
	_, werr := fmt.Fprintf(f, "\n# Vendors' sign-out APIs, each a fake on loopback.\n\n%s", strings.Join(blocks, "\n"))
	return errors.Join(werr, f.Close())
}

// trinity is the cast's compromised user, the first address that is hers
// (else the first one).
func trinity(emails []string) string {
	for _, e := range emails {
		if strings.HasPrefix(e, "trinity@") {
			return e
		}
	}
	return emails[0]
}

// closeVendors stops the vendor fakes.
func (s *Sandbox) closeVendors() error {
	var errs []error
	for _, v := range s.vendors {
		errs = append(errs, v.Close())
	}
	return errors.Join(errs...)
}
