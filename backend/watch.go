package backend

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"ulc/actions"
	"ulc/actions/okta"
)

// watchEvery is the least time between two rounds of a watch's polls: six
// System Log requests per user per minute at most, fewer when Okta's budget
// says so.
const watchEvery = 10 * time.Second

// watchSet is the backend's watches in flight: Close stops them and waits
// until each has recorded why it ended, before the audit log closes.
type watchSet struct {
	mu     sync.Mutex
	wg     sync.WaitGroup
	stops  map[int]context.CancelCauseFunc
	nextID int
	closed bool
}

// add registers a watch's stop; false once the backend is closing.
func (s *watchSet) add(stop context.CancelCauseFunc) (int, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return 0, false
	}
	if s.stops == nil {
		s.stops = map[int]context.CancelCauseFunc{}
	}
	s.nextID++
	s.stops[s.nextID] = stop
	s.wg.Add(1)
	return s.nextID, true
}

func (s *watchSet) done(id int) {
	s.mu.Lock()
	delete(s.stops, id)
	s.mu.Unlock()
	s.wg.Done()
}

// close stops every watch (each records that it ended because ulc quit)
// and waits for them.
func (s *watchSet) close() {
	s.mu.Lock()
	s.closed = true
	for _, stop := range s.stops {
		stop(actions.WatchQuit)
	}
	s.mu.Unlock()
	s.wg.Wait()
}

// StopWatches ends every watch in flight, each recording that ulc quit,
// and waits until they have; no watch starts after it. The console calls
// it before it prints the audit log's head on exit.
func (b *Backend) StopWatches() { b.watches.close() }

// watchedUser is one user of a watch and where their System Log is read.
type watchedUser struct {
	user actions.User
	cur  *okta.LogCursor
}

// Watch watches the users of run id (or of the only run whose id starts
// with it) for signs of re-entry, from now for o.For: it polls each
// user's System Log from the run's start, classifies what it reads
// (actions.ClassifySign), records each sign as a watch_sign event of the
// run in the audit log, and reports it on the channel it returns. The
// watch is recorded as started before Watch returns; it ends when its time
// is up or ctx is cancelled (the cause, an actions.WatchStop, says why),
// and then records watch_ended with its tally, sends a last update with
// Done set, and closes the channel. Its errors are *Error: a run that does
// not exist, a dry run or a run without Okta users is ClassUsage.
func (b *Backend) Watch(ctx context.Context, id string, o actions.WatchOptions) (<-chan actions.WatchUpdate, error) {
	if b.log == nil {
		return nil, &Error{Class: ClassAudit, Err: errors.New("no audit log is open")}
	}
	if o.For <= 0 {
		return nil, usagef("a watch needs a duration above zero")
	}
	st, err := b.log.Outcomes(ctx, id)
	if err != nil {
		return nil, classify(ClassUsage, err)
	}
	if st.Info.DryRun {
		return nil, usagef("run %s was a dry run: it sent nothing, so there is nothing to watch", st.RunID)
	}
	var users []watchedUser
	for _, u := range st.Info.Users {
		if !okta.ValidID(u.ID) {
			continue
		}
		cur, err := okta.NewLogCursor(u.ID, st.Started)
		if err != nil {
			return nil, classify(ClassUsage, err)
		}
		users = append(users, watchedUser{u, cur})
	}
	if len(users) == 0 {
		return nil, usagef("run %s has no user known to Okta (a --no-okta run): the System Log cannot be read for them", st.RunID)
	}
	if err := b.needOkta(ctx); err != nil {
		return nil, err
	}
	if o.Every <= 0 {
		o.Every = watchEvery
	}
	revokedAt := st.Finished
	if revokedAt.IsZero() {
		// A run that never recorded its end: its last answer is when the
		// revocation took effect, as far as the log knows.
		for _, s := range st.Steps {
			if s.Updated.After(revokedAt) {
				revokedAt = s.Updated
			}
		}
	}
	if revokedAt.IsZero() {
		revokedAt = time.Now()
	}
	now := time.Now()
	info := actions.WatchInfo{Since: st.Started.UTC(), RevokedAt: revokedAt.UTC(), Until: now.Add(o.For).UTC(),
		Operator: b.opts.Operator, Host: b.opts.Host}
	for _, u := range users {
		info.Users = append(info.Users, u.user.Key())
	}
	// Registered before watch_started is recorded: a backend closing
	// meanwhile either refuses the watch or waits for its watch_ended.
	wctx, stop := context.WithCancelCause(ctx)
	wid, ok := b.watches.add(stop)
	if !ok {
		stop(nil)
		return nil, &Error{Class: ClassAudit, Err: errors.New("the audit log is closing")}
	}
	if err := b.recordWatch(ctx, st.RunID, actions.KindWatchStarted, "", info); err != nil {
		b.watches.done(wid)
		stop(nil)
		return nil, err
	}
	_, head, _ := b.log.Head(ctx) // only shown; a failure leaves the run's own
	w := &watch{b: b, head: head, runID: st.RunID, users: users, revokedAt: revokedAt, until: now.Add(o.For), every: o.Every,
		extend: o.Extend, out: make(chan actions.WatchUpdate, 64)}
	b.slog.Info("watch started", "run", st.RunID, "users", len(users), "for", o.For.String())
	go func() {
		defer b.watches.done(wid)
		defer stop(nil)
		w.run(wctx)
	}()
	return w.out, nil
}

// watch is one watch in flight.
type watch struct {
	b         *Backend
	runID     string
	users     []watchedUser
	revokedAt time.Time
	until     time.Time
	every     time.Duration
	extend    <-chan time.Duration
	out       chan actions.WatchUpdate
	tally     actions.WatchTally
	head      string // the audit log's head after the watch's last event
}

// record records one event of the watch, as recordWatch, and notes the
// log's head after it for the updates.
func (w *watch) record(ctx context.Context, kind actions.EventKind, user string, detail any) error {
	if err := w.b.recordWatch(ctx, w.runID, kind, user, detail); err != nil {
		return err
	}
	if _, h, err := w.b.log.Head(ctx); err == nil {
		w.head = h
	}
	return nil
}

func (w *watch) run(ctx context.Context) {
	defer close(w.out)
	w.send(ctx, actions.WatchUpdate{Until: w.until})
	var fatal, refused error
	for fatal == nil && refused == nil {
		fatal, refused = w.round(ctx)
		if fatal == nil && refused == nil && ctx.Err() == nil {
			// The round's count of requests: the watch is alive.
			w.send(ctx, actions.WatchUpdate{Until: w.until, Polls: w.tally.Polls})
			// An extension asked for during the round counts before the
			// deadline is looked at.
			fatal = w.pending(ctx)
		}
		if fatal != nil || refused != nil || ctx.Err() != nil || !time.Now().Before(w.until) {
			break
		}
		// The last round is at the deadline: a sign just before it is
		// still seen.
		next := time.Now().Add(w.b.okta.WatchInterval(len(w.users), w.every))
		if next.After(w.until) {
			next = w.until
		}
		if err := w.wait(ctx, next); err != nil {
			fatal = err
			break
		}
		if ctx.Err() != nil {
			break
		}
	}
	w.tally.Reason = string(actions.WatchTime)
	switch {
	case fatal != nil:
		w.tally.Reason = "audit log: " + fatal.Error()
	case refused != nil:
		// Every later poll would be refused the same way.
		w.tally.Reason = string(actions.WatchRefused)
	case ctx.Err() != nil:
		w.tally.Reason = string(actions.WatchCancelled)
		var why actions.WatchStop
		if errors.As(context.Cause(ctx), &why) {
			w.tally.Reason = string(why)
		}
	}
	last := actions.WatchUpdate{Until: w.until, Polls: w.tally.Polls, Done: true, Tally: w.tally}
	if err := w.record(context.WithoutCancel(ctx), actions.KindWatchEnded, "", w.tally); err != nil {
		last.Err = err.Error()
	}
	last.Head = w.head
	w.b.slog.Info("watch ended", "run", w.runID, "reason", w.tally.Reason, "alarms", w.tally.Alarms,
		"attempts", w.tally.Attempts, "polls", w.tally.Polls)
	if ctx.Err() == nil {
		w.out <- last
		return
	}
	select {
	case w.out <- last:
	default:
		// Stopped, and nobody reads the updates any more (the console
		// has gone): the end is recorded, which is what counts.
	}
}

// wait waits until next or until ctx is done, extending the watch by each
// duration its Extend channel sends meanwhile. Its error is an extension
// that could not be recorded: the watch stops.
func (w *watch) wait(ctx context.Context, next time.Time) error {
	t := time.NewTimer(time.Until(next))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			return nil
		case d := <-w.extend:
			if err := w.extendBy(ctx, d); err != nil {
				return err
			}
		}
	}
}

// pending takes the extensions already asked for, without waiting.
func (w *watch) pending(ctx context.Context) error {
	for {
		select {
		case d := <-w.extend:
			if err := w.extendBy(ctx, d); err != nil {
				return err
			}
		default:
			return nil
		}
	}
}

// extendBy moves the watch's end d later, recorded and reported.
func (w *watch) extendBy(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return nil
	}
	until := w.until.Add(d)
	x := actions.WatchExtension{By: d.String(), Until: until.UTC(), Operator: w.b.opts.Operator, Host: w.b.opts.Host}
	if err := w.record(context.WithoutCancel(ctx), actions.KindWatchExtended, "", x); err != nil {
		return err
	}
	w.until = until
	w.b.slog.Info("watch extended", "run", w.runID, "by", d.String(), "until", until.UTC())
	w.send(ctx, actions.WatchUpdate{Until: w.until, Polls: w.tally.Polls})
	return nil
}

// round polls every user's System Log once and records and reports each
// new sign. It returns fatal when a sign could not be recorded (a watch
// that cannot write the audit log stops), and refused when Okta refuses
// the credential the System Log (reported as the round's error too).
func (w *watch) round(ctx context.Context) (fatal, refused error) {
	for _, u := range w.users {
		evs, n, err := w.b.okta.PollLogs(ctx, u.cur)
		w.tally.Polls += n
		if err != nil && ctx.Err() == nil {
			w.send(ctx, actions.WatchUpdate{Until: w.until, Polls: w.tally.Polls,
				Err: fmt.Sprintf("%s: %v", u.user.Key(), err)})
			if errors.Is(err, okta.ErrLogsRefused) {
				return nil, err
			}
		}
		for _, ev := range evs {
			s, ok := actions.ClassifySign(ev, w.runID, u.user.Key(), u.user.ID, w.revokedAt)
			if !ok {
				continue
			}
			if err := w.record(context.WithoutCancel(ctx), actions.KindWatchSign, u.user.Key(), s); err != nil {
				return err, nil
			}
			w.tally.Count(s)
			w.send(ctx, actions.WatchUpdate{Sign: &s, Until: w.until, Polls: w.tally.Polls})
		}
		if ctx.Err() != nil {
			return nil, nil
		}
	}
	return nil, nil
}

// send reports u, unless the watch is being stopped and nobody reads.
func (w *watch) send(ctx context.Context, u actions.WatchUpdate) {
	u.Head = w.head
	select {
	case w.out <- u:
	case <-ctx.Done():
	}
}

// recordWatch records one watch event of run id, durably.
func (b *Backend) recordWatch(ctx context.Context, run string, kind actions.EventKind, user string, detail any) error {
	raw, err := json.Marshal(detail)
	if err != nil {
		return &Error{Class: ClassAudit, Err: err}
	}
	ev := actions.Event{RunID: run, Kind: kind, User: user, Detail: raw}
	if err := b.log.Record(ctx, true, ev); err != nil {
		return &Error{Class: ClassAudit, Err: fmt.Errorf("%w: %v", actions.ErrAudit, err)}
	}
	return nil
}
