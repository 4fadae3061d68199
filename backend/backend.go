// Package backend is the one facade the console and every command of ulc
// call. It opens the target registry, the Okta connection and the audit log;
// it plans and runs requests, resumes runs (with the whole chain of earlier
// resumes), probes targets and answers the history queries. The console
// reaches it only through the small interfaces tui declares; the commands
// parse flags, call it, print and map its errors to exit statuses.
package backend

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"ulc/actions/okta"
	"ulc/audit"
	"ulc/config"
	"ulc/forward"
)

// OktaMode says when the backend connects to Okta.
type OktaMode int

// The ways a backend uses Okta.
const (
	// OktaNone never connects: users are taken as typed (--no-okta) or
	// the command does not act on users.
	OktaNone OktaMode = iota
	// OktaRequired connects at Open and fails without an Okta org.
	OktaRequired
	// OktaOnDemand connects the first time a plan needs Okta (a resume of
	// a run that had Okta steps).
	OktaOnDemand
)

// AuditMode says how the backend opens the audit log.
type AuditMode int

// The ways a backend opens the audit log.
const (
	// AuditNone opens no audit log.
	AuditNone AuditMode = iota
	// AuditWrite opens it for runs: created when missing, migrated,
	// checked for corruption before anything can be sent.
	AuditWrite
	// AuditRead opens an existing log read-only, without migration or a
	// writer: what an auditor with a read-only copy needs.
	AuditRead
)

// Options say what to open.
type Options struct {
	// ConfigPath is targets.toml; "" opens no registry.
	ConfigPath string
	// Okta says whether and when to connect to Okta.
	Okta OktaMode
	// Audit says how to open the audit log at AuditPath ("" means
	// DefaultAuditPath).
	Audit     AuditMode
	AuditPath string
	// Getenv reads the environment (credentials named by token_env, the
	// Okta SDK's variables); nil means os.Getenv.
	Getenv func(string) string
	// Home is the home directory for ~/.okta/okta.yaml; "" skips it.
	Home string
	// Version, Operator and Host are recorded with every run.
	Version, Operator, Host string
	// Logger receives a structured record of what the backend does, never
	// a secret; nil discards it.
	Logger *slog.Logger
	// ForwardManually keeps the audit log's delivery to the [[forward]]
	// destinations from starting in the background, for a caller that
	// delivers with Forward itself. Otherwise a backend that writes the
	// log delivers what is behind at once and then after each commit.
	ForwardManually bool
}

// Backend is an open configuration, Okta connection and audit log.
type Backend struct {
	opts Options
	cfg  *config.File
	okta *okta.Client
	log  *audit.Log
	fwd  *forward.Forwarder
	// fwdStarted says whether fwd delivers in the background.
	fwdStarted bool
	slog       *slog.Logger
	// watches are the watches in flight; Close ends them first.
	watches watchSet
}

// Open opens what opts ask for, in the order a run needs it: the registry,
// then Okta, then the audit log. Its errors are *Error with a Class.
func Open(ctx context.Context, opts Options) (*Backend, error) {
	if opts.Getenv == nil {
		opts.Getenv = os.Getenv
	}
	b := &Backend{opts: opts, slog: opts.Logger}
	if b.slog == nil {
		b.slog = slog.New(slog.DiscardHandler)
	}
	if err := b.open(ctx); err != nil {
		// The open failed part-way: what was opened is closed, and the
		// first failure is the one to report.
		return nil, errors.Join(err, b.Close())
	}
	return b, nil
}

func (b *Backend) open(ctx context.Context) error {
	if b.opts.ConfigPath != "" {
		cfg, err := LoadConfig(ctx, b.opts.ConfigPath)
		if err != nil {
			return err
		}
		b.cfg = cfg
		b.slog.Info("config loaded", "path", cfg.Path, "digest", cfg.Digest, "targets", len(cfg.Targets))
	}
	if b.opts.Okta == OktaRequired {
		if err := b.connectOkta(ctx); err != nil {
			return err
		}
	}
	var err error
	switch b.opts.Audit {
	case AuditWrite:
		err = b.openAudit(ctx, false)
	case AuditRead:
		err = b.openAudit(ctx, true)
	}
	if err == nil {
		b.startForwarding(ctx)
	}
	return err
}

// LoadConfig loads targets.toml. A missing file gets a sentence that says
// what to do instead of a bare "no such file".
func LoadConfig(ctx context.Context, path string) (*config.File, error) {
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		return nil, usagef("%s does not exist: write one (the ulc repository's targets.toml is a commented example), pass --config, or try 'ulc demo'", path)
	}
	f, err := config.LoadContext(ctx, path)
	if err != nil {
		return nil, classify(ClassUsage, err)
	}
	return f, nil
}

// connectOkta resolves the Okta connection the SDK's way plus the [okta]
// table, and checks the credential with one cheap call.
func (b *Backend) connectOkta(ctx context.Context) error {
	var table config.Okta
	where := "targets.toml"
	if b.cfg != nil {
		table, where = b.cfg.Okta, b.cfg.Path
	}
	settings, ok, err := okta.ResolveSettings(table, b.opts.Getenv, b.opts.Home)
	if err != nil {
		return classify(ClassUsage, err)
	}
	if !ok {
		return usagef("no Okta org is configured: set OKTA_CLIENT_ORGURL and OKTA_CLIENT_TOKEN, or add an [okta] table to %s (or try 'ulc demo')", where)
	}
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	start := time.Now()
	client, err := okta.Connect(cctx, settings)
	if err != nil {
		if ctx.Err() != nil {
			return classify(ClassUsage, fmt.Errorf("connecting to Okta: %w", ctx.Err()))
		}
		return classify(ClassUsage, err)
	}
	b.okta = client
	b.slog.Info("okta connected", "org", client.OrgURL(), "ms", time.Since(start).Milliseconds())
	return nil
}

// openAudit opens the audit log; a failure is ClassAudit: nothing was sent.
func (b *Backend) openAudit(ctx context.Context, readOnly bool) error {
	path := b.opts.AuditPath
	if path == "" {
		path = DefaultAuditPath(b.opts.Getenv)
	}
	start := time.Now()
	if readOnly {
		if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
			return usagef("no audit log yet at %s: nothing has been run with it (ulc demo writes its own; --audit-db names another)", path)
		} else if err != nil {
			return usagef("audit log %s: %v", path, err)
		}
		l, err := audit.OpenReadOnly(path)
		if err != nil {
			return classify(ClassAudit, err)
		}
		b.log = l
	} else {
		l, err := audit.Open(path)
		if err != nil {
			return classify(ClassAudit, fmt.Errorf("%w; nothing was sent", err))
		}
		b.log = l
	}
	b.slog.Info("audit log open", "path", path, "read_only", readOnly, "ms", time.Since(start).Milliseconds())
	return nil
}

// Close ends the watches in flight (each records why it ended), stops
// forwarding (after one last bounded attempt to deliver the last events)
// and closes the audit log.
func (b *Backend) Close() error {
	b.watches.close()
	if b.fwd != nil {
		// Forwarding never changes a command's outcome: what was not
		// stored is delivered again next time.
		if err := b.fwd.Close(); err != nil {
			b.slog.Warn("forwarding", "err", err.Error())
		}
	}
	if b.log != nil {
		return b.log.Close()
	}
	return nil
}

// Config returns the target registry, nil when none was opened.
func (b *Backend) Config() *config.File { return b.cfg }

// Targets returns the registry's targets in file order.
func (b *Backend) Targets() []config.Target {
	if b.cfg == nil {
		return nil
	}
	return b.cfg.Targets
}

// Okta returns the Okta client, nil when not connected.
func (b *Backend) Okta() *okta.Client { return b.okta }

// OrgURL is the Okta org's URL, "" when not connected.
func (b *Backend) OrgURL() string {
	if b.okta == nil {
		return ""
	}
	return b.okta.OrgURL()
}

// AuditPath is the audit log's file.
func (b *Backend) AuditPath() string {
	if b.log == nil {
		return ""
	}
	return b.log.Path()
}

// DefaultAuditPath is $ULC_AUDIT_DB, else $XDG_DATA_HOME/ulc/audit.db, else
// ~/.local/share/ulc/audit.db.
func DefaultAuditPath(getenv func(string) string) string {
	if p := getenv("ULC_AUDIT_DB"); p != "" {
		return p
	}
	dir := getenv("XDG_DATA_HOME")
	if dir == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			home = "."
		}
		dir = filepath.Join(home, ".local", "share")
	}
	return filepath.Join(dir, "ulc", "audit.db")
}
