package oktafake

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// addLink adds a Link header line for one relation: the request's own URL
// for "self", or the same URL with some query parameters replaced.
func addLink(c *call, rel string, set map[string]string) {
	u := c.orgURL() + c.r.URL.EscapedPath()
	if set == nil {
		if c.r.URL.RawQuery != "" {
			u += "?" + c.r.URL.RawQuery
		}
	} else {
		q := url.Values{}
		for k, v := range c.query {
			q[k] = v
		}
		for k, v := range set {
			q.Set(k, v)
		}
		u += "?" + q.Encode()
	}
	c.h.Add("Link", "<"+u+`>; rel="`+rel+`"`)
}

func (c *call) orgURL() string { return c.srv.org(c.r) }

func badRequest(summary string, causes ...string) reply {
	return oktaErr(http.StatusBadRequest, "E0000001", summary, causes...)
}

// parseLimit reads the limit parameter: def when absent, at most max.
func parseLimit(q url.Values, def, max int) (int, bool) {
	v := q.Get("limit")
	if v == "" {
		return def, true
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		return 0, false
	}
	return min(n, max), true
}

// parseBool reads an optional boolean query parameter.
func parseBool(q url.Values, name string, def bool) (bool, bool) {
	v := q.Get(name)
	switch {
	case v == "":
		return def, true
	case strings.EqualFold(v, "true"):
		return true, true
	case strings.EqualFold(v, "false"):
		return false, true
	}
	return false, false
}

// userArg finds the user named by path segment i (id, login or short name).
func (s *Server) userArg(c *call, i int) (*user, *reply) {
	key := c.segs[i]
	if key == "me" && !c.who.bearer && s.admin != nil {
		return s.admin, nil
	}
	u := s.lookup(key)
	if u == nil {
		r := errNotFound(key, "User")
		return nil, &r
	}
	s.ensureDetails(u)
	return u, nil
}

// handleListUsers is GET /api/v1/users: q, search, filter or everything.
func (s *Server) handleListUsers(c *call) reply {
	q := c.query
	org := c.orgURL()
	search, filter, text := q.Get("search"), q.Get("filter"), q.Get("q")

	if search == "" && filter == "" && text != "" {
		limit, ok := parseLimit(q, 10, 200)
		if !ok {
			return badRequest("Api validation failed: limit", "limit: must be a positive integer")
		}
		addLink(c, "self", nil)
		return jsonReply(http.StatusOK, s.render(s.quickFind(text, limit), org))
	}

	limit, ok := parseLimit(q, 200, 200)
	if !ok {
		return badRequest("Api validation failed: limit", "limit: must be a positive integer")
	}
	after := q.Get("after")
	var page []*user
	var next string

	switch {
	case search != "":
		expr, err := parseFilter(search, searchDialect)
		if err != nil {
			return oktaErr(http.StatusBadRequest, "E0000031", "Invalid search criteria.", err.Error())
		}
		matches := s.match(expr, searchDialect)
		if sortBy := q.Get("sortBy"); sortBy != "" {
			desc := strings.EqualFold(q.Get("sortOrder"), "desc")
			page, next = sortedPage(matches, sortBy, desc, after, limit)
		} else {
			page, next = seqPage(s, matches, after, limit)
		}
	case filter != "":
		expr, err := parseFilter(filter, filterDialect)
		if err != nil {
			return oktaErr(http.StatusBadRequest, "E0000031", "Invalid search criteria.", err.Error())
		}
		page, next = seqPage(s, s.match(expr, filterDialect), after, limit)
	default:
		page, next = s.listAll(after, limit)
	}

	addLink(c, "self", nil)
	if next != "" {
		addLink(c, "next", map[string]string{"after": next})
	}
	return jsonReply(http.StatusOK, s.render(page, org))
}

func (s *Server) render(us []*user, org string) []userJSON {
	out := make([]userJSON, len(us))
	for i, u := range us {
		out[i] = u.json(org, false)
	}
	return out
}

// quickFind is the q parameter: a starts-with match on first name, last
// name or email, without DEPROVISIONED users, in directory order.
func (s *Server) quickFind(text string, limit int) []*user {
	s.buildPrefixes()
	key := strings.ToLower(text)
	i := sort.Search(len(s.prefixes), func(i int) bool { return s.prefixes[i].key >= key })
	seen := map[int]bool{}
	var found []*user
	for ; i < len(s.prefixes) && strings.HasPrefix(s.prefixes[i].key, key); i++ {
		for _, u := range s.prefixes[i].us {
			if seen[u.seq] || u.deleted || u.status == "DEPROVISIONED" {
				continue
			}
			seen[u.seq] = true
			found = append(found, u)
		}
	}
	slices.SortFunc(found, func(a, b *user) int { return a.seq - b.seq })
	if len(found) > limit {
		found = found[:limit]
	}
	return found
}

// listAll pages through everyone but DEPROVISIONED users.
func (s *Server) listAll(after string, limit int) ([]*user, string) {
	start := 0
	if after != "" {
		u := s.byID[after]
		if u == nil {
			return nil, ""
		}
		start = u.seq + 1
	}
	var page []*user
	for i := start; i < len(s.users); i++ {
		u := s.users[i]
		if u.deleted || u.status == "DEPROVISIONED" {
			continue
		}
		if len(page) == limit {
			return page, page[len(page)-1].id
		}
		page = append(page, u)
	}
	return page, ""
}

// match returns the users an expression selects, in directory order,
// DEPROVISIONED users included (as search and filter do). It
// uses the id, login and email indexes where the expression allows and
// scans otherwise.
func (s *Server) match(expr node, d *dialect) []*user {
	pool, indexed := s.candidates(expr)
	if !indexed {
		pool = s.users
	}
	var out []*user
	for _, u := range pool {
		if u.deleted {
			continue
		}
		if eval(expr, u, d) {
			out = append(out, u)
		}
	}
	return out
}

// candidates narrows an expression to a superset of its matches using the
// indexes, in directory order; ok is false when it cannot.
func (s *Server) candidates(n node) ([]*user, bool) {
	switch n := n.(type) {
	case *cmpNode:
		if n.op != "eq" || n.isNil {
			return nil, false
		}
		switch n.attr {
		case "id":
			if u := s.byID[n.val]; u != nil {
				return []*user{u}, true
			}
			return nil, false // ids are exact, but search values are not: scan
		case "profile.login":
			if u := s.byLogin[strings.ToLower(n.val)]; u != nil {
				return []*user{u}, true
			}
			return []*user{}, true
		case "profile.email":
			return s.byEmail[strings.ToLower(n.val)], true
		}
	case *logicNode:
		l, lok := s.candidates(n.l)
		r, rok := s.candidates(n.r)
		if n.and {
			switch {
			case lok && rok:
				if len(r) < len(l) {
					return r, true
				}
				return l, true
			case lok:
				return l, true
			case rok:
				return r, true
			}
			return nil, false
		}
		if !lok || !rok {
			return nil, false
		}
		union := append(slices.Clone(l), r...)
		slices.SortFunc(union, func(a, b *user) int { return a.seq - b.seq })
		return slices.Compact(union), true
	}
	return nil, false
}

// seqPage pages through matches in directory order; the cursor is the id of
// the last user on the page.
func seqPage(s *Server, matches []*user, after string, limit int) ([]*user, string) {
	if after != "" {
		u := s.byID[after]
		if u == nil {
			return nil, ""
		}
		i, _ := slices.BinarySearchFunc(matches, u.seq+1, func(x *user, seq int) int { return x.seq - seq })
		matches = matches[i:]
	}
	if len(matches) > limit {
		return matches[:limit], matches[limit-1].id
	}
	return matches, ""
}

// sortedPage pages through matches ordered by an attribute, ties by id; the
// cursor encodes the sort value and id of the last user on the page.
func sortedPage(matches []*user, attr string, desc bool, after string, limit int) ([]*user, string) {
	key := func(u *user) string {
		if v := u.strs(attr); len(v) > 0 {
			return strings.ToLower(v[0])
		}
		return ""
	}
	type keyed struct {
		k string
		u *user
	}
	cmp := func(ak, aid, bk, bid string) int {
		c := strings.Compare(ak, bk)
		if c == 0 {
			c = strings.Compare(aid, bid)
		}
		if desc {
			return -c
		}
		return c
	}
	ks := make([]keyed, len(matches))
	for i, u := range matches {
		ks[i] = keyed{key(u), u}
	}
	slices.SortFunc(ks, func(a, b keyed) int { return cmp(a.k, a.u.id, b.k, b.u.id) })
	if after != "" {
		raw, err := base64.RawURLEncoding.DecodeString(after)
		ck, cid, ok := strings.Cut(string(raw), "\x00")
		if err != nil || !ok {
			return nil, ""
		}
		i := sort.Search(len(ks), func(i int) bool { return cmp(ks[i].k, ks[i].u.id, ck, cid) > 0 })
		ks = ks[i:]
	}
	var next string
	if len(ks) > limit {
		last := ks[limit-1]
		next = base64.RawURLEncoding.EncodeToString([]byte(last.k + "\x00" + last.u.id))
		ks = ks[:limit]
	}
	page := make([]*user, len(ks))
	for i, k := range ks {
		page[i] = k.u
	}
	return page, next
}

// handleGetUser is GET /api/v1/users/{idOrLogin}.
func (s *Server) handleGetUser(c *call) reply {
	u, rep := s.userArg(c, 3)
	if rep != nil {
		return *rep
	}
	c.h.Set("ETag", fmt.Sprintf(`W/"%x"`, u.lastUpdated.UnixNano()))
	return jsonReply(http.StatusOK, u.json(c.orgURL(), true))
}

// --- changes ---------------------------------------------------------------

// actor is who an API call acts as in the System Log: the admin behind the
// SSWS token, or the service app.
func (s *Server) actor(c *call) logActor {
	if c.who.bearer {
		return logActor{ID: c.who.clientID, Type: "PublicClientApp", AlternateID: c.who.clientID, DisplayName: c.who.clientID}
	}
	return userActor(s.admin)
}

// apiEvent is an event caused by an API call.
func (s *Server) apiEvent(c *call, tx string, e ev) {
	e.at = s.now()
	e.actor = s.actor(c)
	e.from = apiOrigin(c.r)
	e.tx = tx
	if e.debug == nil {
		e.debug = map[string]string{}
	}
	e.debug["requestUri"] = c.r.URL.Path
	if !c.who.bearer {
		e.txDetail = map[string]any{"requestApiTokenId": c.who.tokenID}
	} else {
		e.txDetail = map[string]any{"requestApiClientId": c.who.clientID}
	}
	s.addEvent(e)
	s.afterContainment(e)
}

// endSessions ends every session of u, writing one user.session.end per
// session under transaction tx, and returns how many it ended.
func (s *Server) endSessions(c *call, u *user, tx, why string) int {
	n := len(u.sessions)
	for _, se := range u.sessions {
		s.apiEvent(c, tx, ev{typ: "user.session.end", msg: "User logout from Okta", legacy: "core.user_auth.logout_success",
			targets: []logActor{userActor(u)}, auth: &logAuthContext{ExternalSessionID: se.id},
			debug: map[string]string{"reason": why}})
		delete(s.sessions, se.id)
	}
	u.sessions = nil
	return n
}

func (s *Server) touch(u *user, status string) {
	now := s.now()
	if status != u.status {
		u.status = status
		u.statusChanged = now
	}
	u.lastUpdated = now
}

// handleClearSessions is DELETE /api/v1/users/{id}/sessions.
func (s *Server) handleClearSessions(c *call) reply {
	u, rep := s.userArg(c, 3)
	if rep != nil {
		return *rep
	}
	oauth, ok1 := parseBool(c.query, "oauthTokens", false)
	forget, ok2 := parseBool(c.query, "forgetDevices", true)
	if !ok1 {
		return badRequest("Api validation failed: oauthTokens", "oauthTokens: must be true or false")
	}
	if !ok2 {
		return badRequest("Api validation failed: forgetDevices", "forgetDevices: must be true or false")
	}
	tx := seededID(s.rng, "", 27)
	revoked := 0
	if oauth {
		revoked = len(u.tokens)
		u.tokens = nil
	}
	ids := make([]string, len(u.sessions))
	for i, se := range u.sessions {
		ids[i] = se.id
	}
	s.apiEvent(c, tx, ev{typ: "user.session.clear", msg: "Clear user session", legacy: "core.user_auth.session_clear",
		targets: []logActor{userActor(u)}, auth: &logAuthContext{ExternalSessionID: strings.Join(ids, ",")},
		debug: map[string]string{
			"oauthTokens": strconv.FormatBool(oauth), "forgetDevices": strconv.FormatBool(forget),
			"sessionsCleared": strconv.Itoa(len(ids)), "revokedOAuthTokens": strconv.Itoa(revoked),
		}})
	s.endSessions(c, u, tx, "ADMIN_CLEAR_SESSIONS")
	return noContent()
}

// handleLifecycle is POST /api/v1/users/{id}/lifecycle/{op}.
func (s *Server) handleLifecycle(c *call) reply {
	u, rep := s.userArg(c, 3)
	if rep != nil {
		return *rep
	}
	if _, ok := parseBool(c.query, "sendEmail", false); !ok {
		return badRequest("Api validation failed: sendEmail", "sendEmail: must be true or false")
	}
	tx := seededID(s.rng, "", 27)
	event := func(typ, msg, legacy string) {
		s.apiEvent(c, tx, ev{typ: typ, msg: msg, legacy: legacy, targets: []logActor{userActor(u)}})
	}
	switch op := c.segs[5]; op {
	case "suspend":
		if u.status != "ACTIVE" {
			return badRequest("Cannot suspend a user that is not active", "Cannot suspend a user that is not active")
		}
		s.touch(u, "SUSPENDED")
		event("user.lifecycle.suspend", "Suspend Okta user", "core.user.config.user_status.suspended")
	case "unsuspend":
		if u.status != "SUSPENDED" {
			return badRequest("Cannot unsuspend a user that is not suspended", "Cannot unsuspend a user that is not suspended")
		}
		s.touch(u, "ACTIVE")
		event("user.lifecycle.unsuspend", "Unsuspend Okta user", "core.user.config.user_status.unsuspended")
	case "unlock":
		switch u.status {
		case "LOCKED_OUT":
			s.touch(u, "ACTIVE")
			event("user.account.unlock", "Unlock user account", "core.user.account.unlocked")
		case "ACTIVE": // unblocks unknown devices; nothing to do here
		default:
			return badRequest("Cannot unlock a user that is not locked out", "Cannot unlock a user that is not locked out")
		}
	case "deactivate":
		if u.status == "DEPROVISIONED" {
			return badRequest("Cannot deactivate a user that is already deactivated", "Cannot deactivate a user that is already deactivated")
		}
		s.deactivate(c, u, tx)
	}
	return jsonReply(http.StatusOK, struct{}{})
}

func (s *Server) deactivate(c *call, u *user, tx string) {
	s.touch(u, "DEPROVISIONED")
	s.apiEvent(c, tx, ev{typ: "user.lifecycle.deactivate", msg: "Deactivate Okta user", legacy: "core.user.config.user_deactivated",
		targets: []logActor{userActor(u)}})
	s.endSessions(c, u, tx, "USER_DEACTIVATED")
	u.tokens, u.grants = nil, nil
}

// handleDeleteUser is DELETE /api/v1/users/{id}: deactivates, or deletes a
// deactivated user.
func (s *Server) handleDeleteUser(c *call) reply {
	u, rep := s.userArg(c, 3)
	if rep != nil {
		return *rep
	}
	tx := seededID(s.rng, "", 27)
	if u.status != "DEPROVISIONED" {
		s.deactivate(c, u, tx)
		return noContent()
	}
	u.deleted = true
	s.apiEvent(c, tx, ev{typ: "user.lifecycle.delete.initiated", msg: "Delete Okta user", legacy: "core.user.config.user_deleted",
		targets: []logActor{userActor(u)}})
	return noContent()
}

// --- grants, clients, tokens, factors --------------------------------------

// pageByID pages a small list whose items have ids; the cursor is an id.
func pageByID[T any](c *call, items []T, id func(T) string, def int) ([]T, reply, bool) {
	limit, ok := parseLimit(c.query, def, 200)
	if !ok {
		return nil, badRequest("Api validation failed: limit", "limit: must be an integer between 1 and 200"), false
	}
	if after := c.query.Get("after"); after != "" {
		i := slices.IndexFunc(items, func(t T) bool { return id(t) == after })
		if i < 0 {
			items = nil
		} else {
			items = items[i+1:]
		}
	}
	addLink(c, "self", nil)
	if len(items) > limit {
		items = items[:limit]
		addLink(c, "next", map[string]string{"after": id(items[limit-1])})
	}
	return items, reply{}, true
}

func (s *Server) handleListGrants(c *call) reply {
	u, rep := s.userArg(c, 3)
	if rep != nil {
		return *rep
	}
	grants := u.grants
	if scope := c.query.Get("scopeId"); scope != "" {
		grants = slices.DeleteFunc(slices.Clone(grants), func(g *grant) bool { return g.scope != scope })
	}
	return s.grantsReply(c, u, grants)
}

func (s *Server) grantsReply(c *call, u *user, grants []*grant) reply {
	page, rep, ok := pageByID(c, grants, func(g *grant) string { return g.id }, 20)
	if !ok {
		return rep
	}
	out := make([]grantJSON, len(page))
	for i, g := range page {
		out[i] = g.json(c.orgURL(), u)
	}
	return jsonReply(http.StatusOK, out)
}

func (s *Server) findGrant(c *call) (*user, int, *reply) {
	u, rep := s.userArg(c, 3)
	if rep != nil {
		return nil, 0, rep
	}
	i := slices.IndexFunc(u.grants, func(g *grant) bool { return g.id == c.segs[5] })
	if i < 0 {
		r := errNotFound(c.segs[5], "OAuth2ScopeConsentGrant")
		return nil, 0, &r
	}
	return u, i, nil
}

func (s *Server) handleGetGrant(c *call) reply {
	u, i, rep := s.findGrant(c)
	if rep != nil {
		return *rep
	}
	return jsonReply(http.StatusOK, u.grants[i].json(c.orgURL(), u))
}

func (s *Server) handleRevokeGrant(c *call) reply {
	u, i, rep := s.findGrant(c)
	if rep != nil {
		return *rep
	}
	s.revokeGrants(c, u, []*grant{u.grants[i]})
	return noContent()
}

func (s *Server) handleRevokeGrants(c *call) reply {
	u, rep := s.userArg(c, 3)
	if rep != nil {
		return *rep
	}
	s.revokeGrants(c, u, slices.Clone(u.grants))
	return noContent()
}

func (s *Server) revokeGrants(c *call, u *user, gs []*grant) {
	tx := seededID(s.rng, "", 27)
	for _, g := range gs {
		s.apiEvent(c, tx, ev{typ: "app.oauth2.as.consent.revoke", msg: "A consent is revoked", legacy: "app.oauth2.as.consent.revoke",
			targets: []logActor{userActor(u), appTarget(g.app)}, debug: map[string]string{"grantId": g.id, "scope": g.scope}})
	}
	u.grants = slices.DeleteFunc(u.grants, func(g *grant) bool { return slices.Contains(gs, g) })
}

// clients are the apps holding grants or refresh tokens for u, in app order.
func (s *Server) clients(u *user) []*app {
	var out []*app
	for _, a := range s.apps {
		has := slices.ContainsFunc(u.grants, func(g *grant) bool { return g.app == a }) ||
			slices.ContainsFunc(u.tokens, func(t *refreshToken) bool { return t.app == a })
		if has {
			out = append(out, a)
		}
	}
	return out
}

func (s *Server) handleListClients(c *call) reply {
	u, rep := s.userArg(c, 3)
	if rep != nil {
		return *rep
	}
	cs := s.clients(u)
	addLink(c, "self", nil)
	out := make([]clientJSON, len(cs))
	for i, a := range cs {
		out[i] = a.clientJSON(c.orgURL(), u)
	}
	return jsonReply(http.StatusOK, out)
}

// clientArg finds the user (segment 3) and the app (segment 5).
func (s *Server) clientArg(c *call) (*user, *app, *reply) {
	u, rep := s.userArg(c, 3)
	if rep != nil {
		return nil, nil, rep
	}
	a := s.appByID[c.segs[5]]
	if a == nil {
		r := errNotFound(c.segs[5], "AppInstance")
		return nil, nil, &r
	}
	return u, a, nil
}

func (s *Server) handleListClientGrants(c *call) reply {
	u, a, rep := s.clientArg(c)
	if rep != nil {
		return *rep
	}
	return s.grantsReply(c, u, slices.DeleteFunc(slices.Clone(u.grants), func(g *grant) bool { return g.app != a }))
}

func (s *Server) handleRevokeClientGrants(c *call) reply {
	u, a, rep := s.clientArg(c)
	if rep != nil {
		return *rep
	}
	s.revokeGrants(c, u, slices.DeleteFunc(slices.Clone(u.grants), func(g *grant) bool { return g.app != a }))
	return noContent()
}

func (s *Server) handleListTokens(c *call) reply {
	u, a, rep := s.clientArg(c)
	if rep != nil {
		return *rep
	}
	tokens := slices.DeleteFunc(slices.Clone(u.tokens), func(t *refreshToken) bool { return t.app != a })
	page, rep2, ok := pageByID(c, tokens, func(t *refreshToken) string { return t.id }, 20)
	if !ok {
		return rep2
	}
	out := make([]tokenJSON, len(page))
	for i, t := range page {
		out[i] = t.json(c.orgURL(), u)
	}
	return jsonReply(http.StatusOK, out)
}

func (s *Server) handleRevokeTokens(c *call) reply {
	u, a, rep := s.clientArg(c)
	if rep != nil {
		return *rep
	}
	s.revokeTokens(c, u, func(t *refreshToken) bool { return t.app == a })
	return noContent()
}

func (s *Server) findToken(c *call) (*user, *refreshToken, *reply) {
	u, a, rep := s.clientArg(c)
	if rep != nil {
		return nil, nil, rep
	}
	i := slices.IndexFunc(u.tokens, func(t *refreshToken) bool { return t.app == a && t.id == c.segs[7] })
	if i < 0 {
		r := errNotFound(c.segs[7], "OAuth2RefreshToken")
		return nil, nil, &r
	}
	return u, u.tokens[i], nil
}

func (s *Server) handleGetToken(c *call) reply {
	u, t, rep := s.findToken(c)
	if rep != nil {
		return *rep
	}
	return jsonReply(http.StatusOK, t.json(c.orgURL(), u))
}

func (s *Server) handleRevokeToken(c *call) reply {
	u, t, rep := s.findToken(c)
	if rep != nil {
		return *rep
	}
	s.revokeTokens(c, u, func(x *refreshToken) bool { return x == t })
	return noContent()
}

func (s *Server) revokeTokens(c *call, u *user, which func(*refreshToken) bool) {
	tx := seededID(s.rng, "", 27)
	for _, t := range u.tokens {
		if which(t) {
			s.apiEvent(c, tx, ev{typ: "app.oauth2.as.token.revoke", msg: "OAuth2 token revocation request", legacy: "app.oauth2.as.token.revoke",
				targets: []logActor{userActor(u), appTarget(t.app)}, debug: map[string]string{"tokenId": t.id, "tokenType": "refresh_token"}})
		}
	}
	u.tokens = slices.DeleteFunc(u.tokens, which)
}

func (s *Server) handleListFactors(c *call) reply {
	u, rep := s.userArg(c, 3)
	if rep != nil {
		return *rep
	}
	addLink(c, "self", nil)
	out := make([]factorJSON, len(u.factors))
	for i, f := range u.factors {
		out[i] = f.json(c.orgURL(), u)
	}
	return jsonReply(http.StatusOK, out)
}

// --- sessions by id ----------------------------------------------------------

func (s *Server) sessionArg(c *call) (*user, *session, *reply) {
	id := c.segs[3]
	u := s.sessions[id]
	if u != nil {
		for _, se := range u.sessions {
			if se.id == id {
				return u, se, nil
			}
		}
	}
	r := errNotFound(id, "Session")
	return nil, nil, &r
}

func (s *Server) handleGetSession(c *call) reply {
	u, se, rep := s.sessionArg(c)
	if rep != nil {
		return *rep
	}
	return jsonReply(http.StatusOK, se.json(c.orgURL(), u))
}

func (s *Server) handleEndSession(c *call) reply {
	u, se, rep := s.sessionArg(c)
	if rep != nil {
		return *rep
	}
	tx := seededID(s.rng, "", 27)
	s.apiEvent(c, tx, ev{typ: "user.session.end", msg: "User logout from Okta", legacy: "core.user_auth.logout_success",
		targets: []logActor{userActor(u)}, auth: &logAuthContext{ExternalSessionID: se.id},
		debug: map[string]string{"reason": "ADMIN_END_SESSION"}})
	u.sessions = slices.DeleteFunc(u.sessions, func(x *session) bool { return x == se })
	delete(s.sessions, se.id)
	return noContent()
}
