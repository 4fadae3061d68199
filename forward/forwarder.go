package forward

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"ulc/audit"
	"ulc/config"
	"ulc/history"
	"ulc/internal/safetext"
)

// Destination is one [[forward]] with what it needs to send: the HEC
// token (for FormatHEC only) and the private CA, if any.
type Destination struct {
	Config config.Forward
	Token  string
	CA     []byte
	// Problem, when set, is why the destination cannot be sent to (its
	// token is not set, its ca_file cannot be read): it is reported as
	// its status, and nothing is sent to it.
	Problem error
}

// Status is how far one destination has received the log: the console
// reads it through the history package, which needs no cgo.
type Status = history.ForwardStatus

// Options tune a Forwarder; the zero value is what ulc uses.
type Options struct {
	// Meta is written into every line.
	Meta Meta
	// MinBackoff and MaxBackoff bound the wait before a destination that
	// failed is tried again (default 500ms, doubling up to 30s).
	MinBackoff, MaxBackoff time.Duration
	// Replay is how long a syslog stream's writes stay unconfirmed: when
	// the receiver is found to have closed the connection, what was
	// written in this window before is sent again, and the stored cursor
	// lags this far behind (default 2s). RFC 5425 has no
	// acknowledgements; the duplicates carry the same seq and hash.
	Replay time.Duration
	// Gather is how long the log must be quiet after a commit before the
	// background delivery sends (default 50ms); MaxGather bounds the wait
	// on a log that stays busy (default 1s).
	Gather, MaxGather time.Duration
	// PersistEvery is how often the cursors are written to the log while
	// events flow (default 1s), so the run's own writer is not kept
	// waiting for each of them.
	PersistEvery time.Duration
}

// Batch sizes: events per syslog write, per HEC request.
const (
	streamBatch = 200
	hecBatch    = 100
)

// Forwarder delivers the audit log to its destinations.
type Forwarder struct {
	log   *audit.Log
	opts  Options
	dests []*dest

	// stop ends the background loops after the attempt in flight; ctx
	// ends that attempt too, when it takes too long.
	stop    chan struct{}
	ctx     context.Context
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	once    sync.Once
	started bool
	// after is time.After; a test counts and ends the waits itself.
	after func(time.Duration) <-chan time.Time
}

// dest is one destination's sender, cursor and status.
type dest struct {
	cfg   config.Forward
	s     sender
	batch int

	// send serialises deliveries and guards s and failures.
	send     sync.Mutex
	failures int
	retryAt  time.Time

	// mu guards the cursor, the marks and the status.
	mu        sync.Mutex
	loaded    bool
	cur       cursor
	persisted int64
	marks     []mark
	st        Status
}

// cursor is the last event written to a destination.
type cursor struct {
	seq  int64
	hash string
}

// mark is one write on a syslog stream: the cursor before it and when.
type mark struct {
	before cursor
	at     time.Time
}

// New returns a Forwarder of log to dests. Nothing is sent until Start or
// Deliver. A destination that cannot be sent to is kept, with its problem
// as its status.
func New(log *audit.Log, dests []Destination, opts Options) *Forwarder {
	if opts.MinBackoff <= 0 {
		opts.MinBackoff = 500 * time.Millisecond
	}
	if opts.MaxBackoff <= 0 {
		opts.MaxBackoff = 30 * time.Second
	}
	if opts.Replay <= 0 {
		opts.Replay = 2 * time.Second
	}
	if opts.Gather <= 0 {
		opts.Gather = 50 * time.Millisecond
	}
	if opts.MaxGather <= 0 {
		opts.MaxGather = time.Second
	}
	if opts.PersistEvery <= 0 {
		opts.PersistEvery = time.Second
	}
	f := &Forwarder{log: log, opts: opts, stop: make(chan struct{}), after: time.After}
	f.ctx, f.cancel = context.WithCancel(context.Background())
	for _, d := range dests {
		var s sender = broken{d.Problem}
		if d.Problem == nil {
			var err error
			if s, err = newSender(d.Config, d.Token, d.CA); err != nil {
				s = broken{err}
			}
		}
		batch := streamBatch
		if s.acknowledged() {
			batch = hecBatch
		}
		f.dests = append(f.dests, &dest{cfg: d.Config, s: s, batch: batch, st: Status{Name: d.Config.Name}})
	}
	return f
}

// Names lists the destinations in the order of targets.toml.
func (f *Forwarder) Names() []string {
	out := make([]string, len(f.dests))
	for i, d := range f.dests {
		out[i] = d.cfg.Name
	}
	return out
}

// Start delivers in the background: what is behind at once, then after
// each commit of the log's writer, with backoff while a destination is
// down. It never makes the writer wait.
func (f *Forwarder) Start() {
	f.started = true
	for _, d := range f.dests {
		notify, unsubscribe := f.log.Subscribe()
		f.wg.Add(1)
		go func() {
			defer f.wg.Done()
			defer unsubscribe()
			f.loop(d, notify)
		}()
	}
	f.wg.Add(1)
	go func() {
		defer f.wg.Done()
		t := time.NewTicker(f.opts.PersistEvery)
		defer t.Stop()
		for {
			select {
			case <-f.stop:
				return
			case <-t.C:
				for _, d := range f.dests {
					_ = f.persist(f.ctx, d, false) // a failure is retried on the next tick; the status shows delivery
				}
			}
		}
	}()
}

func (f *Forwarder) loop(d *dest, notify <-chan struct{}) {
	// retry is the end of the wait after a failure; nil when no retry is
	// due, and the next commit is what sends.
	var retry <-chan time.Time
	if wait := f.attempt(f.ctx, d); wait > 0 {
		retry = f.after(wait)
	}
	for {
		select {
		case <-f.stop:
			return
		case <-notify:
			if retry != nil {
				// Down: the retry sends, after its wait. The status
				// says how far behind the destination now is.
				f.refresh(d)
				continue
			}
			// A run commits in quick succession: its events are sent
			// once the log has been quiet for Gather (or, on a log that
			// stays busy, after MaxGather), in fewer, larger deliveries
			// that leave the CPU to the run.
			if !f.gather(notify) {
				return
			}
		case <-retry:
		}
		retry = nil
		if wait := f.attempt(f.ctx, d); wait > 0 {
			retry = f.after(wait)
		}
	}
}

// refresh sets d's behind count from the log's head, when it can be read.
func (f *Forwarder) refresh(d *dest) {
	head, _, err := f.log.Head(f.ctx)
	if err != nil {
		return // the next attempt reports it
	}
	d.mu.Lock()
	d.st.Behind = max(0, head-d.cur.seq)
	d.mu.Unlock()
}

// gather waits until the log has had no commit for Gather, or MaxGather
// has passed; false when the Forwarder stops meanwhile.
func (f *Forwarder) gather(notify <-chan struct{}) bool {
	busy := time.NewTimer(f.opts.MaxGather)
	defer busy.Stop()
	quiet := time.NewTimer(f.opts.Gather)
	defer quiet.Stop()
	for {
		select {
		case <-f.stop:
			return false
		case <-notify:
			quiet.Reset(f.opts.Gather)
		case <-quiet.C:
			return true
		case <-busy.C:
			return true
		}
	}
}

// attempt delivers what d is behind, and returns how long to wait before
// the next try after a failure (0 after a success).
func (f *Forwarder) attempt(ctx context.Context, d *dest) time.Duration {
	d.send.Lock()
	defer d.send.Unlock()
	if _, err := f.deliver(ctx, d); err != nil {
		if ctx.Err() != nil {
			return 0
		}
		d.failures++
		wait := f.backoff(d.failures)
		d.retryAt = time.Now().Add(wait)
		return wait
	}
	d.failures, d.retryAt = 0, time.Time{}
	return 0
}

// backoff is the wait after the failures-th failure in a row: MinBackoff
// doubled for each failure before it, at most MaxBackoff, and then
// between half of that and all of it, so that many ulc processes whose
// SIEM comes back do not all try again at the same moment.
func (f *Forwarder) backoff(failures int) time.Duration {
	wait := f.opts.MaxBackoff
	if shift := failures - 1; shift < 62 && f.opts.MinBackoff <= f.opts.MaxBackoff>>shift {
		wait = f.opts.MinBackoff << shift
	}
	return wait/2 + rand.N(wait/2+1)
}

// deliver sends d everything after its cursor; d.send is held.
func (f *Forwarder) deliver(ctx context.Context, d *dest) (int64, error) {
	if err := f.load(ctx, d); err != nil {
		return 0, f.failed(d, err)
	}
	head, _, err := f.log.Head(ctx)
	if err != nil {
		return 0, f.failed(d, err)
	}
	var n int64
	retried := false
	for {
		d.mu.Lock()
		cur := d.cur
		d.mu.Unlock()
		evs, err := f.log.EventsAfter(ctx, cur.seq, d.batch)
		if err != nil {
			return n, f.failed(d, err)
		}
		if len(evs) == 0 {
			d.mu.Lock()
			d.st.Behind, d.st.Error = max(0, head-d.cur.seq), ""
			d.mu.Unlock()
			return n, nil
		}
		lines := make([][]byte, len(evs))
		for i, ev := range evs {
			if lines[i], err = Line(d.cfg.Format, ev, f.opts.Meta); err != nil {
				return n, f.failed(d, err)
			}
		}
		err = d.s.send(ctx, lines)
		if err != nil {
			f.rewind(d)
			if errors.Is(err, errLost) && !retried {
				retried = true // dial again once, at once
				continue
			}
			return n, f.failed(d, err)
		}
		last := evs[len(evs)-1]
		head = max(head, last.Seq)
		d.mu.Lock()
		if !d.s.acknowledged() {
			now := time.Now()
			d.marks = append(d.marks, mark{before: d.cur, at: now})
			for len(d.marks) > 0 && now.Sub(d.marks[0].at) > f.opts.Replay {
				d.marks = d.marks[1:]
			}
		}
		d.cur = cursor{last.Seq, last.Hash}
		d.st.Delivered += int64(len(evs))
		d.st.Behind, d.st.Error = max(0, head-d.cur.seq), ""
		d.mu.Unlock()
		n += int64(len(evs))
	}
}

// load reads d's stored cursor, once.
func (f *Forwarder) load(ctx context.Context, d *dest) error {
	d.mu.Lock()
	loaded := d.loaded
	d.mu.Unlock()
	if loaded {
		return nil
	}
	c, err := f.log.Cursor(ctx, d.cfg.Name)
	if err != nil {
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.loaded {
		d.cur, d.persisted, d.loaded = cursor{c.Seq, c.Hash}, c.Seq, true
	}
	return nil
}

// failed records err as d's status and returns it. The behind count is
// the log's head less the cursor, when the head can be read.
func (f *Forwarder) failed(d *dest, err error) error {
	msg := safetext.Line(err.Error(), 200)
	head, _, herr := f.log.Head(context.WithoutCancel(f.ctx))
	d.mu.Lock()
	defer d.mu.Unlock()
	d.st.Error = msg
	if herr == nil {
		d.st.Behind = max(0, head-d.cur.seq)
	}
	return err
}

// rewind moves d's cursor back to before the writes of the replay window:
// the receiver may not have read them before it closed the connection.
func (f *Forwarder) rewind(d *dest) {
	d.mu.Lock()
	defer d.mu.Unlock()
	now := time.Now()
	for _, m := range d.marks {
		if now.Sub(m.at) <= f.opts.Replay {
			d.cur = m.before
			break
		}
	}
	d.marks = nil
}

// persist stores d's cursor in the log: all of it when full, else only as
// far as writes outside the replay window.
func (f *Forwarder) persist(ctx context.Context, d *dest, full bool) error {
	d.mu.Lock()
	c := d.cur
	if !full {
		now := time.Now()
		for _, m := range d.marks {
			if now.Sub(m.at) <= f.opts.Replay {
				c = m.before
				break
			}
		}
	}
	skip := !d.loaded || c.seq <= d.persisted
	d.mu.Unlock()
	if skip {
		return nil
	}
	if err := f.log.SetCursor(ctx, d.cfg.Name, c.seq, c.hash); err != nil {
		return err
	}
	d.mu.Lock()
	d.persisted = max(d.persisted, c.seq)
	d.mu.Unlock()
	return nil
}

// settle is how long a syslog stream is given to show that the receiver
// closed it before its last writes count as delivered.
const settle = 100 * time.Millisecond

// finish persists d's whole cursor if its last writes were not refused:
// for a syslog stream, after settle, the connection must still be open.
func (f *Forwarder) finish(ctx context.Context, d *dest) error {
	d.mu.Lock()
	pending := len(d.marks) > 0
	d.mu.Unlock()
	if ss, ok := d.s.(*streamSender); ok && pending {
		select {
		case <-time.After(settle):
		case <-ctx.Done():
		}
		if ss.conn == nil || !open(ss.conn) {
			// What was written on it is not known to have arrived.
			_ = ss.close() // already closed by the receiver
			f.rewind(d)
			return f.failed(d, errLost)
		}
	}
	return f.persist(ctx, d, true)
}

// Deliver sends destination name (every destination when name is "")
// everything it is behind, now, and stores the cursors. It returns each
// destination's status; a destination that could not be reached has its
// Error set, and the rest stays behind for the next try.
func (f *Forwarder) Deliver(ctx context.Context, name string) []Status {
	var out []Status
	for _, d := range f.dests {
		if name != "" && d.cfg.Name != name {
			continue
		}
		d.send.Lock()
		_, err := f.deliver(ctx, d)
		if err == nil {
			err = f.finish(ctx, d)
		} else {
			_ = f.persist(ctx, d, false) // keep what did arrive; the delivery error is the status
		}
		if err != nil {
			_ = f.failed(d, err)
		}
		d.send.Unlock()
		out = append(out, d.status())
	}
	return out
}

// Probe reports how far each destination is (name "" for all) and whether
// it can be reached, sending nothing.
func (f *Forwarder) Probe(ctx context.Context, name string) ([]Status, error) {
	head, _, err := f.log.Head(ctx)
	if err != nil {
		return nil, err
	}
	var out []Status
	for _, d := range f.dests {
		if name != "" && d.cfg.Name != name {
			continue
		}
		c, err := f.log.Cursor(ctx, d.cfg.Name)
		if err != nil {
			return nil, err
		}
		st := Status{Name: d.cfg.Name, Behind: max(0, head-c.Seq)}
		d.send.Lock()
		if perr := d.s.probe(ctx); perr != nil {
			st.Error = safetext.Line(perr.Error(), 200)
		}
		d.send.Unlock()
		out = append(out, st)
	}
	return out, nil
}

// Status returns every destination's status as last seen, without
// waiting for a delivery in flight.
func (f *Forwarder) Status() []Status {
	out := make([]Status, len(f.dests))
	for i, d := range f.dests {
		out[i] = d.status()
	}
	return out
}

func (d *dest) status() Status {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.st
}

// Close stops the background delivery, makes one last bounded attempt
// for each destination that is not waiting out a failure (the run's last
// events) when it was started, stores the cursors and closes the
// connections.
func (f *Forwarder) Close() error {
	var errs []error
	f.once.Do(func() {
		// An attempt in flight is let finish, briefly: cut short, a
		// collector that had the events would get them again.
		close(f.stop)
		done := make(chan struct{})
		go func() { f.wg.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(2 * time.Second):
			f.cancel()
			<-done
		}
		f.cancel()
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		for _, d := range f.dests {
			d.send.Lock()
			if f.started && time.Now().After(d.retryAt) {
				if _, err := f.deliver(ctx, d); err == nil {
					_ = f.finish(ctx, d) // a failure leaves the cursor behind: delivered again next time
				}
			}
			if err := f.persist(ctx, d, false); err != nil {
				errs = append(errs, fmt.Errorf("forward %q: storing its cursor: %w", d.cfg.Name, err))
			}
			_ = d.s.close() // nothing is lost by a failed close: the cursor says what arrived
			d.send.Unlock()
		}
	})
	return errors.Join(errs...)
}
