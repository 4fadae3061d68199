package okta

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"
	"unicode"

	sdk "github.com/okta/okta-sdk-golang/v2/okta"
	"github.com/okta/okta-sdk-golang/v2/okta/query"

	"ulc/actions"
	"ulc/directory"
	"ulc/internal/safetext"
)

// The directory's plain types, shared with the console.
type (
	// Person is an Okta user as the console shows them.
	Person = directory.Person
	// Page is one page of search results.
	Page = directory.Page
	// Activity is one System Log event about a user.
	Activity = directory.Activity
	// Factor is one enrolled authentication factor.
	Factor = directory.Factor
	// RateStatus is Okta's rate-limit budget as last reported.
	RateStatus = directory.RateStatus
)

// ErrNotFound is wrapped by the errors of Get and Resolve for a user Okta
// does not have.
var ErrNotFound = errors.New("user not found in Okta")

// notFoundError says which user was not found.
type notFoundError struct{ ref string }

// Error implements error.
func (e *notFoundError) Error() string { return fmt.Sprintf("user %q not found in Okta", e.ref) }

// Unwrap makes errors.Is(err, ErrNotFound) true.
func (e *notFoundError) Unwrap() error { return ErrNotFound }

// Limits of one call.
const (
	// maxPageSize is Okta's largest page of users.
	maxPageSize = 200
	// maxPagesPerCall bounds the pages one Search or Activity call reads.
	maxPagesPerCall = 5
	// defaultSearchLimit is the number of people a Search returns when
	// limit is 0.
	defaultSearchLimit = 50
	// maxRefLen bounds a login, email or id given to Get or Resolve.
	maxRefLen = 256
)

// oktaID matches an Okta object id (00u...).
var oktaID = regexp.MustCompile(`^[A-Za-z0-9]{8,40}$`)

// ValidID reports whether id looks like an Okta object id, and is
// therefore safe to put in a request path as is.
func ValidID(id string) bool { return oktaID.MatchString(id) }

// expression recognises a query written in Okta's search syntax.
var expression = regexp.MustCompile(`(?i)(\s(eq|sw|co|gt|ge|lt|le|ne)\s)|(\spr(\s|\)|$))|^\s*\(?\s*(profile\.|status\b|id\s|created\b|activated\b|lastUpdated\b|statusChanged\b|lastLogin\b|type\.id\b)`)

// Search finds people. How query is read:
//
//   - "" lists every user except deprovisioned ones;
//   - an expression in Okta's search syntax (it contains an operator such
//     as " eq ", " sw ", " co ", " pr", " gt ", or starts with "profile.",
//     "status", "id ") is sent as search=, as the operator wrote it;
//   - an email or login (one word with an @) is looked up exactly:
//     filter=profile.login eq "…" first (consistent, case-sensitive), then
//     search=profile.login eq "…" or profile.email eq "…" (case-insensitive);
//   - one plain word is sent as q= (starts-with on first name, last name
//     and email);
//   - several plain words become search=profile.firstName sw "first" and
//     profile.lastName sw "rest", since q matches the whole string against
//     one attribute and would find nobody for "Thomas Anderson".
//
// Values are escaped inside quotes, so a query cannot inject a filter.
// limit is the number of people wanted (default 50, at most 1000); one call
// reads at most 5 pages of at most 200. Pass Page.Next as cursor (with the
// same query) to continue.
func (c *Client) Search(ctx context.Context, q string, limit int, cursor string) (Page, error) {
	if limit <= 0 {
		limit = defaultSearchLimit
	}
	limit = min(limit, maxPageSize*maxPagesPerCall)
	if cursor != "" {
		if err := checkCursor(cursor); err != nil {
			return Page{}, err
		}
		return c.listUsers(ctx, nil, cursor, limit)
	}
	q = strings.TrimSpace(q)
	if strings.IndexFunc(q, unicode.IsControl) >= 0 || len(q) > 1000 {
		return Page{}, errors.New("the search has control characters or is longer than 1000 characters")
	}
	words := strings.Fields(q)
	switch {
	case q == "":
		return c.listUsers(ctx, nil, "", limit)
	case expression.MatchString(q):
		return c.listUsers(ctx, []query.ParamOptions{query.WithSearch(q)}, "", limit)
	case len(words) == 1 && strings.Contains(q, "@"):
		page, err := c.listUsers(ctx, []query.ParamOptions{query.WithFilter(`profile.login eq ` + quote(q))}, "", limit)
		if err != nil || len(page.People) > 0 {
			return page, err
		}
		return c.listUsers(ctx, []query.ParamOptions{query.WithSearch(`profile.login eq ` + quote(q) + ` or profile.email eq ` + quote(q))}, "", limit)
	case len(words) == 1:
		return c.listUsers(ctx, []query.ParamOptions{query.WithQ(q)}, "", limit)
	}
	expr := fmt.Sprintf(`profile.firstName sw %s and profile.lastName sw %s`, quote(words[0]), quote(strings.Join(words[1:], " ")))
	return c.listUsers(ctx, []query.ParamOptions{query.WithSearch(expr)}, "", limit)
}

// quote makes s a SCIM string literal: in quotes, with " and \ escaped.
func quote(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}

// checkCursor accepts only what Search hands out: a users list path.
func checkCursor(cursor string) error {
	u, err := url.Parse(cursor)
	if err != nil || u.Scheme != "" || u.Host != "" || u.Path != "/api/v1/users" || u.Fragment != "" || len(cursor) > 4096 {
		return errors.New("the search cursor is not one Search handed out")
	}
	return nil
}

// listUsers reads pages of users, from the start with opts or from cursor,
// until it has limit people, pages run out, or maxPagesPerCall.
func (c *Client) listUsers(ctx context.Context, opts []query.ParamOptions, cursor string, limit int) (Page, error) {
	pages := (limit + maxPageSize - 1) / maxPageSize
	size := (limit + pages - 1) / pages
	var (
		users []*sdk.User
		resp  *sdk.Response
		err   error
	)
	tctx, tr := withTrace(ctx)
	if cursor == "" {
		opts = append(opts, query.WithLimit(int64(size)))
		users, resp, err = c.sdk.User.ListUsers(tctx, query.NewQueryParams(opts...))
	} else {
		re := c.sdk.CloneRequestExecutor()
		var req *http.Request
		req, err = re.WithAccept("application/json").NewRequest(http.MethodGet, cursor, nil)
		if err == nil {
			resp, err = re.Do(tctx, req, &users)
		}
	}
	if err != nil {
		return Page{}, c.callError(err, resp, tr, "listing users")
	}
	out := Page{Total: -1}
	for _, u := range users {
		out.People = append(out.People, personFrom(u))
	}
	last := len(users)
	for n := 1; n < maxPagesPerCall && len(out.People) < limit && last > 0; n++ {
		ok, err := c.nextPage(resp)
		if err != nil {
			return Page{}, fmt.Errorf("listing users: %w", err)
		}
		if !ok {
			break
		}
		var more []*sdk.User
		next := resp
		resp, err = next.Next(tctx, &more)
		if err != nil {
			return Page{}, c.callError(err, resp, tr, "listing users")
		}
		for _, u := range more {
			out.People = append(out.People, personFrom(u))
		}
		last = len(more)
	}
	// A page that came back empty ends the search even when Okta offers a
	// next link, so a caller looping on Next always stops.
	if last > 0 {
		ok, err := c.nextPage(resp)
		if err != nil {
			return Page{}, fmt.Errorf("listing users: %w", err)
		}
		if ok && checkCursor(resp.NextPage) == nil {
			out.Next = resp.NextPage
		}
	}
	if cursor == "" && out.Next == "" {
		out.Total = len(out.People)
	}
	return out, nil
}

// Get returns the user with the Okta id or login ref. The value is escaped
// into the path (the SDK does not escape), "." and ".." are refused, and so
// is "me" (Okta's alias for the caller: the operator's own account). Okta
// cannot find a login containing "/" by path, so such a login is looked up
// with filter=profile.login eq "…" instead.
func (c *Client) Get(ctx context.Context, ref string) (Person, error) {
	ref, err := checkRef(ref)
	if err != nil {
		return Person{}, err
	}
	if strings.Contains(ref, "/") {
		return c.byFilter(ctx, ref, `profile.login eq `+quote(ref), "login")
	}
	tctx, tr := withTrace(ctx)
	u, resp, err := c.sdk.User.GetUser(tctx, url.PathEscape(ref))
	if err != nil {
		if resp != nil && resp.StatusCode == http.StatusNotFound {
			return Person{}, &notFoundError{ref: safetext.Line(ref, 120)}
		}
		return Person{}, c.callError(err, resp, tr, "looking up the user")
	}
	return personFrom(u), nil
}

// byFilter finds exactly one user with a filter or search expression.
func (c *Client) byFilter(ctx context.Context, ref, expr, what string) (Person, error) {
	opt := query.WithFilter(expr)
	if strings.Contains(expr, " or ") || what == "email" {
		opt = query.WithSearch(expr)
	}
	page, err := c.listUsers(ctx, []query.ParamOptions{opt}, "", 10)
	if err != nil {
		return Person{}, err
	}
	switch len(page.People) {
	case 0:
		return Person{}, &notFoundError{ref: safetext.Line(ref, 120)}
	case 1:
		return page.People[0], nil
	}
	return Person{}, fmt.Errorf("%d Okta users have the %s %q; give the login or the Okta id", len(page.People), what, safetext.Line(ref, 120))
}

// checkRef validates a login, email or id given to Get or Resolve.
func checkRef(ref string) (string, error) {
	ref = strings.TrimSpace(ref)
	switch {
	case ref == "":
		return "", errors.New("no user given: give an email, login or Okta user id")
	case len(ref) > maxRefLen:
		return "", fmt.Errorf("%q is too long for a login, email or Okta id", safetext.Line(ref, 40))
	case strings.IndexFunc(ref, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) >= 0:
		return "", fmt.Errorf("%q is not an email, login or Okta user id (use search to find people by name)", safetext.Line(ref, 120))
	case ref == "." || ref == "..":
		return "", fmt.Errorf("%q is not a login", ref)
	case strings.EqualFold(ref, "me"):
		return "", errors.New(`"me" is Okta's name for the caller (the operator's own account); give the user's login, email or id`)
	}
	return ref, nil
}

// Resolve implements actions.Directory: it takes an email, a login or an
// Okta user id (not a search) and returns the one user it names. An email
// that is not a login is looked up as profile.email; several users with
// that email are an error, never a guess.
func (c *Client) Resolve(ctx context.Context, ref string) (actions.User, error) {
	defer lookedUp(ctx)
	ref, err := checkRef(ref)
	if err != nil {
		return actions.User{}, err
	}
	p, err := c.Get(ctx, ref)
	if errors.Is(err, ErrNotFound) && strings.Contains(ref, "@") {
		p, err = c.byFilter(ctx, ref, `profile.email eq `+quote(ref), "email")
	}
	if err != nil {
		return actions.User{}, err
	}
	if !ValidID(p.ID) {
		return actions.User{}, fmt.Errorf("Okta returned user %q without a valid id", safetext.Line(ref, 120))
	}
	return p.User, nil
}

// personFrom converts an SDK user, sanitising every string.
func personFrom(u *sdk.User) Person {
	if u == nil {
		return Person{}
	}
	var prof sdk.UserProfile
	if u.Profile != nil {
		prof = *u.Profile
	}
	str := func(k string) string {
		v, _ := prof[k].(string)
		return safetext.Line(v, 200)
	}
	p := Person{
		User: actions.User{
			ID:      safetext.Line(u.Id, 64),
			Login:   str("login"),
			Email:   str("email"),
			Status:  safetext.Line(u.Status, 40),
			Profile: profileOf(prof),
		},
		FirstName:  str("firstName"),
		LastName:   str("lastName"),
		Department: str("department"),
		Title:      str("title"),
		City:       str("city"),
		Country:    str("countryCode"),
	}
	p.Name = str("displayName")
	if p.Name == "" {
		p.Name = strings.TrimSpace(p.FirstName + " " + p.LastName)
	}
	if p.Country == "" {
		p.Country = str("country")
	}
	for _, t := range []struct {
		dst *time.Time
		src *time.Time
	}{{&p.Created, u.Created}, {&p.LastLogin, u.LastLogin}, {&p.StatusChanged, u.StatusChanged}} {
		if t.src != nil {
			*t.dst = *t.src
		}
	}
	return p
}

// maxProfileAttrs bounds the attributes kept of one profile: Okta allows a
// few hundred custom attributes, and a profile with more is not a person's.
const maxProfileAttrs = 512

// profileOf keeps the string attributes of an Okta profile (custom ones
// included, such as githubUsername), each made safe to print, for the
// connectors that name a user by one of them.
func profileOf(prof sdk.UserProfile) *actions.Profile {
	attrs := map[string]string{}
	for k, v := range prof {
		s, ok := v.(string)
		if !ok || len(k) > 100 || len(attrs) >= maxProfileAttrs {
			continue
		}
		attrs[k] = safetext.Line(s, 200)
	}
	return actions.NewProfile(attrs)
}

// Limits of Activity.
const (
	defaultActivityLimit = 50
	maxActivityLimit     = 1000
	// logRetention is how far back the System Log goes; Okta refuses a
	// since older than 180 days and has nothing older than 90.
	logRetention = 90 * 24 * time.Hour
	// defaultActivitySince is Okta's own default window.
	defaultActivitySince = 7 * 24 * time.Hour
)

// oktaTime is the ISO 8601 form Okta's since and until take.
const oktaTime = "2006-01-02T15:04:05.000Z"

// Activity returns the user's recent System Log events, newest first: a
// bounded query (since, until now) for events the user did or that were
// done to them, at most limit (default 50, at most 1000) over at most 5
// pages. A zero since means the last 7 days; since is clamped to Okta's 90
// days of retention.
func (c *Client) Activity(ctx context.Context, userID string, since time.Time, limit int) ([]Activity, error) {
	if !ValidID(userID) {
		return nil, fmt.Errorf("%q is not an Okta user id", safetext.Line(userID, 60))
	}
	if limit <= 0 {
		limit = defaultActivityLimit
	}
	limit = min(limit, maxActivityLimit)
	now := time.Now().UTC()
	if since.IsZero() {
		since = now.Add(-defaultActivitySince)
	}
	if oldest := now.Add(-logRetention); since.Before(oldest) {
		since = oldest
	}
	if !since.Before(now) {
		return nil, nil
	}
	qp := query.NewQueryParams(
		query.WithSince(since.UTC().Format(oktaTime)),
		query.WithUntil(now.Format(oktaTime)),
		query.WithFilter(fmt.Sprintf(`actor.id eq "%s" or target.id eq "%s"`, userID, userID)),
		query.WithSortOrder("DESCENDING"),
		query.WithLimit(int64(min(limit, maxActivityLimit))),
	)
	tctx, tr := withTrace(ctx)
	events, resp, err := c.sdk.LogEvent.GetLogs(tctx, qp)
	if err != nil {
		return nil, c.callError(err, resp, tr, "reading the System Log")
	}
	out := make([]Activity, 0, len(events))
	add := func(evs []*sdk.LogEvent) {
		for _, e := range evs {
			if len(out) < limit && e != nil {
				out = append(out, activityFrom(e))
			}
		}
	}
	add(events)
	last := len(events)
	for n := 1; n < maxPagesPerCall && len(out) < limit && last > 0; n++ {
		ok, err := c.nextPage(resp)
		if err != nil {
			return nil, fmt.Errorf("reading the System Log: %w", err)
		}
		if !ok {
			break
		}
		var more []*sdk.LogEvent
		next := resp
		resp, err = next.Next(tctx, &more)
		if err != nil {
			return nil, c.callError(err, resp, tr, "reading the System Log")
		}
		add(more)
		last = len(more)
	}
	return out, nil
}

// activityFrom converts a System Log event, sanitising every string.
func activityFrom(e *sdk.LogEvent) Activity {
	a := Activity{
		EventType: safetext.Line(e.EventType, 80),
		Message:   safetext.Line(e.DisplayMessage, 200),
	}
	if e.Published != nil {
		a.Time = *e.Published
	}
	if o := e.Outcome; o != nil {
		a.Outcome = safetext.Line(o.Result, 40)
		if r := safetext.Line(o.Reason, 120); r != "" {
			a.Outcome += ": " + r
		}
	}
	if cl := e.Client; cl != nil {
		a.IP = safetext.Line(cl.IpAddress, 60)
		a.Device = safetext.Line(cl.Device, 60)
		if g := cl.GeographicalContext; g != nil {
			a.City = safetext.Line(g.City, 80)
			a.Country = safetext.Line(g.Country, 80)
		}
		if ua := cl.UserAgent; ua != nil {
			browser, os := safetext.Line(ua.Browser, 60), safetext.Line(ua.Os, 60)
			switch {
			case browser != "" && os != "" && !strings.EqualFold(browser, "unknown"):
				a.Client = browser + " on " + os
			case browser != "" && !strings.EqualFold(browser, "unknown"):
				a.Client = browser
			case os != "":
				a.Client = os
			default:
				a.Client = safetext.Line(ua.RawUserAgent, 120)
			}
		}
	}
	return a
}

// Factors returns the user's enrolled factors. An error here should not
// break the user view: the caller decides what to show.
func (c *Client) Factors(ctx context.Context, userID string) ([]Factor, error) {
	if !ValidID(userID) {
		return nil, fmt.Errorf("%q is not an Okta user id", safetext.Line(userID, 60))
	}
	tctx, tr := withTrace(ctx)
	factors, resp, err := c.sdk.UserFactor.ListFactors(tctx, userID)
	if err != nil {
		return nil, c.callError(err, resp, tr, "listing factors")
	}
	out := make([]Factor, 0, len(factors))
	for _, f := range factors {
		uf, ok := f.(*sdk.UserFactor)
		if !ok || uf == nil {
			continue
		}
		out = append(out, Factor{
			Type:     safetext.Line(uf.FactorType, 60),
			Provider: safetext.Line(uf.Provider, 60),
			Status:   safetext.Line(uf.Status, 40),
		})
	}
	return out, nil
}

// callError turns a failed read into an error: one sentence saying what
// was being done and what Okta (or the network) answered.
func (c *Client) callError(err error, resp *sdk.Response, tr *trace, doing string) error {
	return fmt.Errorf("%s: %s", doing, c.sentence(err, resp, tr.get(), "Okta refused"))
}

// linkValue is one <url>; params entry of a Link header.
var linkValue = regexp.MustCompile(`<([^>]*)>([^<]*)`)

// nextPage reports whether resp links a next page, and points the SDK's
// NextPage at it. Okta sends one Link line per relation, but an
// intermediary may join them into one line; the SDK then takes the joined
// line's first link (self) for the next page and would read the first page
// forever. This reads every link of every line.
//
// The SDK would prefix the org URL to whatever path the link has, so that
// <@evil.example/x> becomes https://acme.okta.com@evil.example/x (the host
// evil.example). A next link is followed only when it is a path on the
// org: a relative link starting with "/" (not "//"), or an absolute URL
// with the org's scheme, host and port. Any other next link is an error
// (the transport would refuse it anyway; this says why, and stops before).
func (c *Client) nextPage(resp *sdk.Response) (bool, error) {
	if resp == nil || resp.Response == nil {
		return false, nil
	}
	for _, line := range resp.Header.Values("Link") {
		for _, m := range linkValue.FindAllStringSubmatch(line, -1) {
			if !strings.Contains(m[2], `rel="next"`) {
				continue
			}
			raw := strings.TrimSpace(m[1])
			u, err := url.Parse(raw)
			if err != nil {
				return false, errors.New("Okta's next-page link is not a URL; ulc stopped rather than guess the next page")
			}
			if !c.onOrgPath(raw, u) {
				return false, c.offOrgLink(u)
			}
			// As the SDK does: the org URL is prefixed again, and the
			// request's own parameters carry over unless the link sets them.
			u.Scheme, u.Host = "", ""
			if resp.Request != nil {
				q := resp.Request.URL.Query()
				for k, v := range u.Query() {
					q.Set(k, v[0])
				}
				u.RawQuery = q.Encode()
			}
			resp.NextPage = u.String()
			return resp.NextPage != resp.Self, nil
		}
	}
	return false, nil
}

// onOrgPath reports whether the link raw (parsed as u) names a path on the
// org, whose text can safely follow the org URL.
func (c *Client) onOrgPath(raw string, u *url.URL) bool {
	path := u.EscapedPath()
	if !strings.HasPrefix(path, "/") || strings.HasPrefix(path, "//") || u.Opaque != "" {
		return false
	}
	if u.Scheme == "" && u.Host == "" && u.User == nil {
		return strings.HasPrefix(raw, "/") && !strings.HasPrefix(raw, "//")
	}
	return c.rt.onOrg(u)
}

// offOrgLink explains a next-page link that leads off the org.
func (c *Client) offOrgLink(u *url.URL) error {
	dest := "a path that is not on the org"
	if u.Host != "" {
		dest = safetext.Line(originOf(u).String(), 120)
	}
	return fmt.Errorf("Okta's next-page link leads to %s, not to %s; ulc does not follow it", dest, c.orgURL)
}
