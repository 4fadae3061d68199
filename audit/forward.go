package audit

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"ulc/actions"
)

// Cursor is how far one forwarding destination has received the log: the
// seq and hash of the last event it acknowledged. It lives in its own table,
// outside the hash chain, because it changes in place.
type Cursor struct {
	// Name is the [[forward]] destination's name.
	Name string
	// Seq is the last event delivered, 0 when nothing was.
	Seq int64
	// Hash is that event's hash, "" when nothing was delivered.
	Hash string
	// Updated is when the cursor last moved.
	Updated time.Time
}

// Cursors returns every destination's cursor, by name. A log whose schema
// predates forwarding (opened read-only) has none.
func (l *Log) Cursors(ctx context.Context) ([]Cursor, error) {
	if err := l.usable(); err != nil {
		return nil, err
	}
	rows, err := l.db.QueryContext(ctx, `SELECT name, seq, hash, updated_at FROM forward_cursor ORDER BY name`)
	if err != nil {
		if noCursorTable(err) {
			return nil, l.settled(nil)
		}
		return nil, l.wrap(err)
	}
	defer rows.Close()
	var out []Cursor
	for rows.Next() {
		var c Cursor
		var updated string
		if err := rows.Scan(&c.Name, &c.Seq, &c.Hash, &updated); err != nil {
			return nil, l.wrap(err)
		}
		c.Updated, _ = time.Parse(time.RFC3339Nano, updated) // zero if damaged: bookkeeping only
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, l.wrap(err)
	}
	return out, l.settled(nil)
}

// Cursor returns the cursor of destination name; a destination that has
// received nothing yet has Seq 0.
func (l *Log) Cursor(ctx context.Context, name string) (Cursor, error) {
	cs, err := l.Cursors(ctx)
	if err != nil {
		return Cursor{}, err
	}
	if i := slices.IndexFunc(cs, func(c Cursor) bool { return c.Name == name }); i >= 0 {
		return cs[i], nil
	}
	return Cursor{Name: name}, nil
}

// SetCursor records that destination name has received every event up to
// seq, whose hash is hash. A cursor never moves back: a slower process
// delivering the same destination cannot undo a faster one's progress.
func (l *Log) SetCursor(ctx context.Context, name string, seq int64, hash string) error {
	if l.readOnly {
		return l.readOnlyErr()
	}
	if err := l.usable(); err != nil {
		return err
	}
	if name == "" || seq <= 0 || hash == "" {
		return fmt.Errorf("audit: SetCursor needs a name, a seq and a hash")
	}
	_, err := l.db.ExecContext(ctx, `INSERT INTO forward_cursor (name, seq, hash, updated_at) VALUES (?, ?, ?, ?)
		ON CONFLICT (name) DO UPDATE SET seq = excluded.seq, hash = excluded.hash, updated_at = excluded.updated_at
		WHERE excluded.seq > forward_cursor.seq`,
		name, seq, hash, formatTime(time.Now()))
	return l.wrap(err)
}

// Chained is an event with its place in the hash chain: what a destination
// receives, so that it can drop a duplicate by seq and hash.
type Chained struct {
	actions.Event
	// PrevHash is the hash of the event before it.
	PrevHash string
	// Hash is the event's own hash.
	Hash string
}

// EventsAfter returns up to limit events with seq greater than after, in
// seq order, with their hashes.
func (l *Log) EventsAfter(ctx context.Context, after int64, limit int) ([]Chained, error) {
	if err := l.usable(); err != nil {
		return nil, err
	}
	if limit <= 0 {
		limit = 1000
	}
	var out []Chained
	err := l.scanQuery(ctx, ` WHERE seq > ? ORDER BY seq LIMIT ?`, []any{after, limit},
		func(ev actions.Event, prevHash, hash string) error {
			out = append(out, Chained{Event: ev, PrevHash: prevHash, Hash: hash})
			return nil
		})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Subscribe returns a channel that receives a signal after each commit of
// this process's writer (several commits may share one signal), and a
// function that ends the subscription. The writer never waits for a
// subscriber.
func (l *Log) Subscribe() (<-chan struct{}, func()) {
	ch := make(chan struct{}, 1)
	l.subsMu.Lock()
	l.subs = append(l.subs, ch)
	l.subsMu.Unlock()
	return ch, func() {
		l.subsMu.Lock()
		defer l.subsMu.Unlock()
		l.subs = slices.DeleteFunc(l.subs, func(c chan struct{}) bool { return c == ch })
	}
}

// notify signals every subscriber without blocking.
func (l *Log) notify() {
	l.subsMu.Lock()
	defer l.subsMu.Unlock()
	for _, ch := range l.subs {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
}

// noCursorTable reports an error of a log without the forward_cursor table
// (schema version 1, read-only).
func noCursorTable(err error) bool {
	return err != nil && strings.Contains(err.Error(), "no such table: forward_cursor")
}
