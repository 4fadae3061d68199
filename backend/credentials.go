package backend

import (
	"context"
	"errors"
	"time"

	"ulc/config"
)

// CredentialProblems returns, per enabled target of the registry whose
// credential cannot be used as configured (an environment variable not
// set, a file missing or unreadable, a key that does not parse, a CA file
// without a certificate), the sentence saying so, for the console to flag
// before any run. It loads each credential the way a run's plan does and
// sends nothing anywhere; the sentences never hold a secret.
func (b *Backend) CredentialProblems(ctx context.Context) map[string]string {
	out := map[string]string{}
	if b.cfg == nil {
		return out
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	for _, t := range b.cfg.Targets {
		if !t.Enabled {
			continue
		}
		if _, err := t.LoadCA(ctx); err != nil {
			out[t.Name] = err.Error()
			continue
		}
		if _, err := t.LoadCredentialContext(ctx, b.opts.Getenv); err != nil && errors.Is(err, config.ErrCredential) {
			out[t.Name] = err.Error()
		}
	}
	return out
}
