package actions

import "ulc/config"

// kindGTR is the kind of targets that speak Global Token Revocation, the
// default.
const kindGTR = "gtr"

// kindOf is t's kind. Every target of this registry speaks GTR until the
// registry names kinds.
func kindOf(config.Target) string { return kindGTR }
