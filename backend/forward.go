package backend

import (
	"context"
	"os"

	"ulc/forward"
)

// startForwarding prepares delivery of the audit log to the [[forward]]
// destinations of targets.toml, and starts it in the background unless the
// caller delivers itself (Options.ForwardManually) or only reads the log.
// A destination whose token or CA cannot be loaded does not stop anything:
// its status says why, and nothing is sent to it.
func (b *Backend) startForwarding(ctx context.Context) {
	if b.cfg == nil || len(b.cfg.Forwards) == 0 || b.log == nil {
		return
	}
	dests := make([]forward.Destination, 0, len(b.cfg.Forwards))
	for _, fw := range b.cfg.Forwards {
		d := forward.Destination{Config: fw}
		d.Token, d.Problem = fw.LoadToken(b.opts.Getenv)
		if d.Problem == nil {
			d.CA, d.Problem = fw.LoadCA(ctx)
		}
		dests = append(dests, d)
	}
	host := b.opts.Host
	if host == "" {
		host, _ = os.Hostname() // "" is written as "-"
	}
	b.fwd = forward.New(b.log, dests, forward.Options{Meta: forward.Meta{Host: host, Version: b.opts.Version}})
	if b.opts.Audit == AuditWrite && !b.opts.ForwardManually {
		b.fwdStarted = true
		b.fwd.Start()
		b.slog.Info("forwarding started", "destinations", len(dests))
	}
}

// Forwarding returns each destination's status as last seen by the
// background delivery, in the order of targets.toml; nil when there are
// none or nothing is delivered in the background (a read-only log).
func (b *Backend) Forwarding() []forward.Status {
	if b.fwd == nil || !b.fwdStarted {
		return nil
	}
	return b.fwd.Status()
}

// ForwardNames lists the configured destinations.
func (b *Backend) ForwardNames() []string {
	if b.fwd == nil {
		return nil
	}
	return b.fwd.Names()
}

// Forward delivers to destination name ("" for all) everything it has
// not received, now, and returns each one's status.
func (b *Backend) Forward(ctx context.Context, name string) []forward.Status {
	if b.fwd == nil {
		return nil
	}
	return b.fwd.Deliver(ctx, name)
}

// ForwardStatus reports how far behind each destination (name "" for all)
// is and whether it can be reached, sending nothing.
func (b *Backend) ForwardStatus(ctx context.Context, name string) ([]forward.Status, error) {
	if b.fwd == nil {
		return nil, nil
	}
	st, err := b.fwd.Probe(ctx, name)
	if err != nil {
		return nil, classify(ClassAudit, err)
	}
	return st, nil
}
