package audit

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"
)

// migrationFiles holds the schema, one numbered file per change
// (0001_events.sql, 0002_...). A released migration is never edited: later
// versions add files, and Open applies the ones a log has not seen yet.
//
//go:embed migrations/*.sql
var migrationFiles embed.FS

// applicationID marks a SQLite file as a ulc audit log ("ulcA"); it is set
// by migration 1.
const applicationID = 0x756c6341

// migration is one embedded schema change.
type migration struct {
	version int
	name    string
	sql     string
}

// migrations returns the embedded migrations in version order.
func migrations() ([]migration, error) {
	names, err := fs.Glob(migrationFiles, "migrations/*.sql")
	if err != nil {
		return nil, err
	}
	var ms []migration
	for _, name := range names {
		base := path.Base(name)
		num, _, ok := strings.Cut(base, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v <= 0 {
			return nil, fmt.Errorf("migration %s: name must start with a positive number and '_'", base)
		}
		body, err := migrationFiles.ReadFile(name)
		if err != nil {
			return nil, err
		}
		ms = append(ms, migration{version: v, name: base, sql: string(body)})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].version < ms[j].version })
	for i := 1; i < len(ms); i++ {
		if ms[i].version == ms[i-1].version {
			return nil, fmt.Errorf("migrations %s and %s share version %d", ms[i-1].name, ms[i].name, ms[i].version)
		}
	}
	return ms, nil
}

// migrate checks that db is a ulc audit log (or an empty file) and applies
// the migrations it lacks, each in its own transaction and recorded in
// schema_migrations. Transactions are BEGIN IMMEDIATE (the DSN says so), and
// the applied version is read inside them, so two processes opening a fresh
// file at once apply each migration exactly once. Because the first
// transaction always takes the write lock, Open also proves up front that
// the file is writable, instead of an operator learning it mid-incident.
func migrate(ctx context.Context, db *sql.DB) error {
	ms, err := migrations()
	if err != nil {
		return err
	}
	if err := checkApplication(ctx, db); err != nil {
		return err
	}
	latest := ms[len(ms)-1].version
	for _, m := range ms {
		if err := applyMigration(ctx, db, m, latest); err != nil {
			return err
		}
	}
	return nil
}

// checkApplication refuses a SQLite database that belongs to some other
// application, so ulc never writes its tables into it. It reads inside a
// write transaction: another ulc process creating the same fresh file at
// this moment has either not started its first migration or finished it,
// never half-way (a half-made log would look foreign).
func checkApplication(ctx context.Context, db *sql.DB) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback() //nolint:errcheck // read only
	var appID, tables int64
	if err := tx.QueryRowContext(ctx, `PRAGMA application_id`).Scan(&appID); err != nil {
		return err
	}
	if appID == applicationID {
		return nil
	}
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_schema`).Scan(&tables); err != nil {
		return err
	}
	if appID != 0 || tables > 0 {
		return errForeign
	}
	return nil
}

// errForeign is a SQLite file of another application.
var errForeign = fmt.Errorf("is not a ulc audit log (it is a SQLite database of another application)")

// errNewer is a log written by a newer ulc: its rows may follow a schema
// (and so a canonical encoding) this version does not know.
type errNewer struct{ have, know int }

func (e errNewer) Error() string {
	return fmt.Sprintf("was written by a newer version of ulc (schema version %d; this one knows up to %d)", e.have, e.know)
}

// applyMigration applies m unless the log already has it, and refuses a log
// whose schema is newer than latest.
func applyMigration(ctx context.Context, db *sql.DB, m migration, latest int) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    INTEGER PRIMARY KEY,
		name       TEXT NOT NULL,
		applied_at TEXT NOT NULL
	) STRICT`); err != nil {
		return err
	}
	var have int
	if err := tx.QueryRowContext(ctx, `SELECT coalesce(max(version), 0) FROM schema_migrations`).Scan(&have); err != nil {
		return err
	}
	if have > latest {
		return errNewer{have: have, know: latest}
	}
	if have >= m.version {
		// Already applied (perhaps by another process a moment ago).
		return tx.Rollback()
	}
	if _, err := tx.ExecContext(ctx, m.sql); err != nil {
		return fmt.Errorf("migration %s: %w", m.name, err)
	}
	if _, err := tx.ExecContext(ctx,
		`INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)`,
		m.version, m.name, formatTime(time.Now())); err != nil {
		return err
	}
	return tx.Commit()
}
