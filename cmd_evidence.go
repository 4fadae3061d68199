package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"ulc/actions"
	"ulc/audit"
	"ulc/backend"
	"ulc/config"
	"ulc/internal/safetext"
)

func newAuditEvidenceCmd(e *env) *cobra.Command {
	var xf struct {
		out  string
		json bool
	}
	c := &cobra.Command{
		Use:   "evidence RUN -o DIR|FILE.zip",
		Short: "Make a run into a self-verifying evidence bundle for the ticket",
		Long: `Writes the run, and every run linked to it by resumes, as a bundle a ticket
can hold: each run's events (one per line, with prev_hash and hash, so
the bundle verifies on its own), a report in Markdown and HTML (who, what,
when, from which host, why, the ticket, every target's outcome with its
reason and what stays alive), the configuration digest each run recorded,
the log's head hash at export, and SHA256SUMS over every file. The output
is a folder that does not exist or is empty, or a new .zip file: nothing
is overwritten. The log is only read, and must verify intact first.
Check a bundle with 'ulc audit verify --evidence'.`,
		Example: `  ulc audit evidence 20261121-194512-3f9a2c -o INC-4211-evidence.zip
  ulc audit evidence 20261121-194512 -o ./evidence`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) (err error) {
			if err := backend.CheckText(args[0]); err != nil {
				return usageErr("%v", err)
			}
			if xf.out == "" {
				return usageErr("-o is required: a new folder, or a file ending in .zip")
			}
			if err := checkEvidenceOut(xf.out); err != nil {
				return usageErr("-o: %v", err)
			}
			ctx := cmd.Context()
			b, err := e.openLog(ctx)
			if err != nil {
				return err
			}
			defer closeInto(&err, b)
			ev, err := b.Evidence(ctx, args[0])
			switch {
			case errors.Is(err, audit.ErrEvidenceLog), errors.Is(err, audit.ErrUnavailable):
				return &exitError{code: exitAudit, err: err}
			case err != nil:
				return &exitError{code: exitUsage, err: err}
			}
			now := time.Now().UTC()
			ev.Index.ExportedAt, ev.Index.ExportedBy, ev.Index.Version = now, operator()+"@"+hostname(), buildVersion()
			ev.Index.Residual, ev.Index.ResidualSource = evidenceResiduals(ctx, e.getenv, ev)
			files, err := ev.Files()
			if err != nil {
				return &exitError{code: exitAudit, err: err}
			}
			if err := audit.WriteEvidence(xf.out, files, now); err != nil {
				return &exitError{code: exitFailures, err: fmt.Errorf("writing the bundle: %w", err)}
			}
			events := 0
			for _, r := range ev.Index.Runs {
				events += r.Events
			}
			digest := audit.BundleDigest(files[audit.EvidenceManifest])
			if xf.json {
				return writeJSON(e.stdout, struct {
					RunID  string             `json:"run_id"`
					Output string             `json:"output"`
					Digest string             `json:"bundle_digest"`
					Head   audit.EvidenceHead `json:"head"`
					Runs   int                `json:"runs"`
					Events int                `json:"events"`
				}{ev.Index.RunID, xf.out, digest, ev.Index.Head, len(ev.Index.Runs), events})
			}
			fmt.Fprintf(e.stdout, "evidence of run %s: %s, %s, written to %s\n", safetext.Line(ev.Index.RunID, 60),
				plural(len(ev.Index.Runs), "run"), plural(events, "event"), safetext.Line(xf.out, 200))
			fmt.Fprintf(e.stdout, "bundle %s (paste into the ticket)\nlog head at export: event %d %s\n", digest, ev.Index.Head.Seq, ev.Index.Head.Hash)
			return nil
		},
	}
	c.Flags().StringVarP(&xf.out, "output", "o", "", "a new or empty folder, or a new file ending in .zip")
	c.Flags().BoolVar(&xf.json, "json", false, "print JSON")
	return c
}

// checkEvidenceOut refuses an output that would overwrite something, before
// anything is read: an existing zip, a folder that holds files, a file
// where a folder is asked for.
func checkEvidenceOut(out string) error {
	fi, err := os.Stat(out)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil
	case err != nil:
		return err
	case audit.IsZipName(out) || !fi.IsDir():
		return fmt.Errorf("%s already exists: name a new file or folder, nothing was overwritten", out)
	}
	entries, err := os.ReadDir(out)
	if err != nil {
		return err
	}
	if len(entries) > 0 {
		return fmt.Errorf("%s is not empty: name a new or empty folder, nothing was overwritten", out)
	}
	return nil
}

// evidenceResiduals says, per target of the bundle's runs, what stays
// alive after a successful sign-out, and how that was established: as
// each run recorded it; for a run recorded before runs held it, from its
// own targets.toml when that is still there unchanged (its digest is the
// one the run recorded), through the target's connector.
func evidenceResiduals(ctx context.Context, getenv func(string) string, ev *audit.Evidence) (map[string]string, string) {
	out := map[string]string{}
	fromRun, fromConfig := false, false
	loaded := map[string]bool{}
	for _, run := range ev.Runs {
		info := run.State.Info
		for name, r := range info.Residual {
			if _, done := out[name]; !done && r != "" {
				out[name] = r
				fromRun = true
			}
		}
		key := info.ConfigPath + "\x00" + info.ConfigDigest
		if info.Residual != nil || info.ConfigPath == "" || loaded[key] {
			continue
		}
		loaded[key] = true
		cfg, err := config.LoadContext(ctx, info.ConfigPath)
		if err != nil || cfg.Digest != info.ConfigDigest {
			continue
		}
		for _, t := range cfg.Targets {
			if _, done := out[t.Name]; done {
				continue
			}
			if r := actions.ResidualOf(ctx, t, getenv); r != "" {
				out[t.Name] = r
				fromConfig = true
			}
		}
	}
	var how []string
	if fromRun {
		how = append(how, "as each run recorded it when it was planned")
	}
	if fromConfig {
		how = append(how, "from the targets.toml each run recorded, unchanged since (same digest), through each target's connector")
	}
	return out, strings.Join(how, "; ")
}

// verifyEvidence is ulc audit verify --evidence: the bundle alone, or with
// --audit-db against that log too.
func verifyEvidence(ctx context.Context, e *env, path string, asJSON bool) (err error) {
	if _, serr := os.Stat(path); serr != nil {
		return usageErr("--evidence: %v", serr)
	}
	fsys, closer, oerr := audit.OpenEvidence(path)
	var res audit.EvidenceResult
	switch {
	case oerr != nil:
		res.Problems = []audit.EvidenceProblem{{File: path, Problem: "cannot be read as a bundle: " + oerr.Error()}}
	case e.flags.auditPath != "":
		defer closeInto(&err, closer)
		b, berr := e.openLog(ctx)
		if berr != nil {
			return berr
		}
		defer closeInto(&err, b)
		if res, err = b.CheckEvidence(ctx, fsys); err != nil {
			return &exitError{code: exitAudit, err: err}
		}
	default:
		defer closeInto(&err, closer)
		res = audit.VerifyEvidence(fsys)
	}
	if asJSON {
		if err := writeJSON(e.stdout, res); err != nil {
			return err
		}
	} else {
		printEvidenceResult(e, res)
	}
	if !res.OK {
		return &exitError{code: exitFailures}
	}
	return nil
}

// printEvidenceResult writes a bundle check for a person.
func printEvidenceResult(e *env, res audit.EvidenceResult) {
	w := e.stdout
	if !res.OK {
		n := len(res.Problems) + res.More
		fmt.Fprintf(w, "BROKEN: %s in the bundle of run %s\n", plural(n, "problem"), safetext.Line(orNone(res.RunID), 60))
		for _, p := range res.Problems {
			fmt.Fprintf(w, "  %s\n", safetext.Line(p.String(), 0))
		}
		if res.More > 0 {
			fmt.Fprintf(w, "  and %d more\n", res.More)
		}
		return
	}
	what := "intact"
	if res.AuditDB != "" {
		what = "intact, and a true extract of " + safetext.Line(res.AuditDB, 200)
	}
	fmt.Fprintf(w, "%s: run %s, %s, %s", what, safetext.Line(res.RunID, 60), plural(res.Runs, "run"), plural(res.Events, "event"))
	if res.Omitted > 0 {
		fmt.Fprintf(w, " (and %d of other runs as hashes only)", res.Omitted)
	}
	fmt.Fprintf(w, "\nbundle %s\nlog head at export: event %d %s\n", res.Digest, res.Head.Seq, res.Head.Hash)
}

func orNone(s string) string {
	if s == "" {
		return "(unknown)"
	}
	return s
}
