package actions

import "ulc/config"

// kindGTR is the kind of targets that speak Global Token Revocation, the
// default.
const kindGTR = config.KindGTR

// kindOf is t's kind; a target built without one (in code, not from a
// registry) speaks GTR.
func kindOf(t config.Target) string {
	if t.Kind == "" {
		return kindGTR
	}
	return t.Kind
}
