package okta

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"

	sdk "github.com/okta/okta-sdk-golang/v2/okta"
	"github.com/okta/okta-sdk-golang/v2/okta/query"

	"ulc/actions"
	"ulc/internal/safetext"
)

// Limits of one PollLogs call.
const (
	// watchPageSize is the page size of the watch's System Log requests.
	watchPageSize = 100
	// maxWatchPages bounds the pages one poll reads: a polling request
	// always has a next link (PROTOCOL.md §5.6), so a poll stops at the
	// first page that is not full, or here.
	maxWatchPages = 10
)

// ErrLogsRefused is in the chain of PollLogs's error when Okta refuses the
// credential the System Log (401 or 403: the scope okta.logs.read, or an
// admin role that may read it, is missing): polling again cannot help.
var ErrLogsRefused = errors.New("Okta refuses this credential the System Log")

// refusedError is a refusal's sentence, which also is ErrLogsRefused.
type refusedError struct{ error }

func (e refusedError) Unwrap() []error { return []error{e.error, ErrLogsRefused} }

// logsBucket is the rate-limit bucket of GET /api/v1/logs.
var logsBucket = bucketKey(http.MethodGet, "/api/v1/logs")

// LogCursor is where one user's watch is in the System Log: a polling
// request (since, no until, ascending) on the first poll, then the next
// link of the last page read, as Okta recommends for polling. Its zero
// value is not usable: make it with NewLogCursor.
type LogCursor struct {
	userID string
	since  time.Time
	next   string          // the path and query of the next page, on the org
	seen   map[string]bool // uuids handed out already
}

// NewLogCursor starts a watch of the System Log for the user with Okta id
// userID, from since (the run's start).
func NewLogCursor(userID string, since time.Time) (*LogCursor, error) {
	if !ValidID(userID) {
		return nil, fmt.Errorf("%q is not an Okta user id", safetext.Line(userID, 60))
	}
	if oldest := time.Now().Add(-logRetention); since.Before(oldest) {
		since = oldest
	}
	return &LogCursor{userID: userID, since: since.UTC(), seen: map[string]bool{}}, nil
}

// LogBudget is the rate-limit budget of the System Log as Okta last
// reported it (zero before the first answer): the watch paces itself by it
// so that the console's own reads of the log always find budget left.
func (c *Client) LogBudget() RateStatus {
	c.rt.mu.Lock()
	defer c.rt.mu.Unlock()
	b := c.rt.buckets[logsBucket]
	if b == nil {
		return RateStatus{}
	}
	return RateStatus{Limit: b.limit, Remaining: b.remaining, Reset: b.reset}
}

// PollLogs reads the user's System Log events that are new since the last
// poll: events the user did or that were done to them (filter actor.id or
// target.id), oldest first, each once. It returns them and the number of
// requests it made. Pages are followed only through next links on the org
// (the Okta credential goes nowhere else), at most maxWatchPages a poll.
func (c *Client) PollLogs(ctx context.Context, cur *LogCursor) ([]actions.LogEvent, int, error) {
	tctx, tr := withTrace(ctx)
	var (
		page []*sdk.LogEvent
		resp *sdk.Response
		err  error
	)
	requests := 1
	if cur.next == "" {
		qp := query.NewQueryParams(
			query.WithSince(cur.since.Format(oktaTime)),
			query.WithFilter(fmt.Sprintf(`actor.id eq "%s" or target.id eq "%s"`, cur.userID, cur.userID)),
			query.WithSortOrder("ASCENDING"),
			query.WithLimit(watchPageSize),
		)
		page, resp, err = c.sdk.LogEvent.GetLogs(tctx, qp)
	} else {
		resp, err = c.getPage(tctx, cur.next, &page)
	}
	var out []actions.LogEvent
	for {
		if err != nil {
			err = c.callError(err, resp, tr, "reading the System Log")
			if resp != nil && resp.Response != nil && (resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden) {
				err = refusedError{err}
			}
			return out, requests, err
		}
		for _, e := range page {
			if e == nil {
				continue
			}
			ev := logEventFrom(e)
			if ev.UUID != "" && cur.seen[ev.UUID] {
				continue
			}
			if ev.UUID != "" {
				cur.seen[ev.UUID] = true
			}
			out = append(out, ev)
		}
		ok, lerr := c.nextPage(resp)
		if lerr != nil {
			return out, requests, fmt.Errorf("reading the System Log: %w", lerr)
		}
		if !ok {
			return out, requests, nil
		}
		cur.next = cursorOnly(resp.NextPage)
		if len(page) < watchPageSize || requests >= maxWatchPages {
			return out, requests, nil
		}
		page = nil
		requests++
		resp, err = c.getPage(tctx, cur.next, &page)
	}
}

// getPage reads the page at path (a next link already checked to be on
// the org) into v.
func (c *Client) getPage(ctx context.Context, path string, v *[]*sdk.LogEvent) (*sdk.Response, error) {
	re := c.sdk.CloneRequestExecutor()
	req, err := re.WithAccept("application/json").WithContentType("application/json").NewRequest(http.MethodGet, path, nil)
	if err != nil {
		return nil, err
	}
	return re.Do(ctx, req, v)
}

// cursorOnly drops since and until from a next link that carries Okta's
// after cursor: the SDK carries the first request's parameters over, and
// Okta takes the cursor alone (after cannot be combined with since).
func cursorOnly(next string) string {
	u, err := url.Parse(next)
	if err != nil {
		return next
	}
	q := u.Query()
	if q.Get("after") == "" {
		return next
	}
	q.Del("since")
	q.Del("until")
	u.RawQuery = q.Encode()
	return u.String()
}

// logEventFrom converts a System Log event for the watch, sanitising every
// string.
func logEventFrom(e *sdk.LogEvent) actions.LogEvent {
	a := activityFrom(e)
	ev := actions.LogEvent{
		UUID: safetext.Line(e.Uuid, 60), EventType: a.EventType, Message: a.Message,
		IP: a.IP, City: a.City, Country: a.Country, Client: a.Client, Published: a.Time,
	}
	if o := e.Outcome; o != nil {
		ev.Result = safetext.Line(o.Result, 40)
		ev.Reason = safetext.Line(o.Reason, 160)
	}
	if ac := e.Actor; ac != nil {
		ev.ActorID = safetext.Line(ac.Id, 64)
		ev.ActorType = safetext.Line(ac.Type, 40)
		ev.ActorName = safetext.Line(ac.DisplayName, 120)
	}
	for _, t := range e.Target {
		if t == nil {
			continue
		}
		ev.Targets = append(ev.Targets, actions.LogTarget{
			ID: safetext.Line(t.Id, 64), Type: safetext.Line(t.Type, 40), Name: safetext.Line(t.DisplayName, 120),
		})
	}
	return ev
}

// watchShare is the part of the System Log's rate-limit budget the watch
// may spend: the console reads the log too (a user's activity), and other
// tools of the org share the bucket.
const watchShare = 4

// WatchInterval is how long the watch of users users should wait between
// polls, at least base: at most a quarter of the System Log's budget per
// minute as Okta last reported it, and, once half of the window's budget
// is spent, until the window resets.
func (c *Client) WatchInterval(users int, base time.Duration) time.Duration {
	return watchInterval(c.LogBudget(), c.rt.now(), users, base)
}

func watchInterval(b RateStatus, now time.Time, users int, base time.Duration) time.Duration {
	if b.Limit <= 0 {
		return base
	}
	share := max(b.Limit/watchShare, 1)
	d := max(base, time.Duration(max(users, 1))*time.Minute/time.Duration(share))
	if b.Remaining <= b.Limit/2 && b.Reset.After(now) {
		d = max(d, b.Reset.Sub(now))
	}
	return d
}
