package backend

import (
	"context"
	"io/fs"

	"ulc/audit"
)

// Evidence collects the evidence bundle of run id (or the only run whose
// id starts with it): see audit.Log.Evidence. A log whose chain is broken
// is ClassAudit.
func (b *Backend) Evidence(ctx context.Context, id string) (*audit.Evidence, error) {
	if b.log == nil {
		return nil, errNoLog
	}
	return b.log.Evidence(ctx, id)
}

// CheckEvidence checks a bundle against the open log: see
// audit.Log.CheckEvidence.
func (b *Backend) CheckEvidence(ctx context.Context, fsys fs.FS) (audit.EvidenceResult, error) {
	if b.log == nil {
		return audit.EvidenceResult{}, errNoLog
	}
	return b.log.CheckEvidence(ctx, fsys)
}
