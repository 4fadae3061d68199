package okta

import (
	"context"
	"strings"

	"github.com/okta/okta-sdk-golang/v2/okta/query"

	"ulc/actions"
)

// Bounds of one batched lookup: logins per filter request, and the
// filter's length in characters (a few kilobytes of URL is what every
// proxy on the way accepts).
const (
	maxBatchLogins = 20
	maxBatchFilter = 2000
)

// Prefetch looks up, before the plan asks for them one by one, the refs
// that are logins (one word with an @) in as few requests as Okta allows:
// GET /api/v1/users?filter=profile.login eq "a" or profile.login eq "b" …,
// up to maxBatchLogins logins a request. A login is unique in an org
// regardless of case, so a user whose login equals a ref (in any case) is
// the user GET /api/v1/users/{login} would have returned. The Directory it
// returns answers those refs from what was found and sends every other
// ref (ids, short names, emails that are not logins, logins not found, a
// batch that failed) through Resolve as before.
func (c *Client) Prefetch(ctx context.Context, refs []string) actions.Directory {
	d := &prefetched{c: c, found: map[string]actions.User{}}
	mult := map[string]int{} // lower-cased login → how many refs name it
	var logins []string
	for _, ref := range refs {
		r, err := checkRef(ref)
		if err != nil || !batchable(r) {
			continue
		}
		k := strings.ToLower(r)
		if mult[k] == 0 {
			logins = append(logins, r)
		}
		mult[k]++
	}
	if len(logins) < 2 {
		return d
	}
	for len(logins) > 0 && ctx.Err() == nil {
		n, expr := batchFilter(logins)
		batch := logins[:n]
		logins = logins[n:]
		page, err := c.listUsers(ctx, []query.ParamOptions{query.WithFilter(expr)}, "", maxBatchLogins)
		if err != nil {
			continue // these go through Resolve one by one
		}
		want := map[string]bool{}
		for _, l := range batch {
			want[strings.ToLower(l)] = true
		}
		for _, p := range page.People {
			k := strings.ToLower(p.Login)
			if want[k] && ValidID(p.ID) {
				d.found[k] = p.User
				delete(want, k)
				lookedUpN(ctx, mult[k])
			}
		}
	}
	return d
}

// batchable reports whether ref (checked by checkRef) can be looked up by
// login in a batch: one word with an @, and no quote or backslash
// (nothing to escape in the filter).
func batchable(ref string) bool {
	return strings.Contains(ref, "@") && !strings.ContainsAny(ref, `"\`)
}

// batchFilter returns how many of logins (at least one) fit in one filter
// and that filter.
func batchFilter(logins []string) (int, string) {
	var b strings.Builder
	n := 0
	for _, l := range logins {
		clause := `profile.login eq ` + quote(l)
		if n > 0 {
			clause = " or " + clause
		}
		if n == maxBatchLogins || n > 0 && b.Len()+len(clause) > maxBatchFilter {
			break
		}
		b.WriteString(clause)
		n++
	}
	return n, b.String()
}

// prefetched is the Directory Prefetch returns.
type prefetched struct {
	c     *Client
	found map[string]actions.User // by lower-cased login
}

// Resolve implements actions.Directory.
func (d *prefetched) Resolve(ctx context.Context, ref string) (actions.User, error) {
	if r, err := checkRef(ref); err == nil && batchable(r) {
		if u, ok := d.found[strings.ToLower(r)]; ok {
			return u, nil // counted as looked up when found
		}
	}
	return d.c.Resolve(ctx, ref)
}
