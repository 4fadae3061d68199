package actions

import (
	"regexp"
	"testing"
)

// Every probe's made-up subject is a name each kind accepts: a GitHub
// login of letters, digits and single hyphens above all ("ulc-check-" and
// the nonce), whatever the random draw.
func TestProbeNonceIsAValidNameForEveryKind(t *testing.T) {
	login := regexp.MustCompile(`^[a-z0-9]+(-[a-z0-9]+)*$`)
	seen := map[string]bool{}
	for range 2000 {
		n := probeNonce()
		if len(n) != 12 || !login.MatchString("ulc-check-"+n) {
			t.Fatalf("the nonce %q makes the GitHub login %q, which GitHub refuses", n, "ulc-check-"+n)
		}
		seen[n] = true
	}
	if len(seen) < 1990 {
		t.Errorf("only %d distinct nonces in 2000 draws", len(seen))
	}
}
