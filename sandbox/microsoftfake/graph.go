package microsoftfake

import (
	"net/http"
	"strings"
	"time"
)

// graphError is Graph's OData error envelope.
type graphError struct {
	Error mainError `json:"error"`
}

type mainError struct {
	Code       string     `json:"code"`
	Message    string     `json:"message"`
	InnerError innerError `json:"innerError"`
}

type innerError struct {
	Date            string `json:"date"`
	RequestID       string `json:"request-id"`
	ClientRequestID string `json:"client-request-id"`
}

// begin sets the headers every Graph answer carries and returns the
// request id.
func begin(w http.ResponseWriter, r *http.Request) (requestID, clientRequestID string) {
	requestID = guid()
	clientRequestID = r.Header.Get("client-request-id")
	if clientRequestID == "" {
		clientRequestID = requestID
	}
	w.Header().Set("request-id", requestID)
	w.Header().Set("client-request-id", clientRequestID)
	return requestID, clientRequestID
}

func graphFail(w http.ResponseWriter, r *http.Request, status int, code, message string) {
	rid, crid := begin(w, r)
	writeJSON(w, status, graphError{Error: mainError{Code: code, Message: message, InnerError: innerError{
		Date: time.Now().UTC().Format("2006-01-02T15:04:05"), RequestID: rid, ClientRequestID: crid,
	}}})
}

// authorized checks the Bearer token of a Graph call, answering 401
// InvalidAuthenticationToken as Graph does when it is missing, unknown or
// expired.
func (s *Server) authorized(w http.ResponseWriter, r *http.Request) bool {
	h := r.Header.Get("Authorization")
	tok, ok := strings.CutPrefix(h, "Bearer ")
	if !ok || tok == "" {
		graphFail(w, r, http.StatusUnauthorized, "InvalidAuthenticationToken", "Access token is empty.")
		return false
	}
	s.mu.Lock()
	exp, known := s.tokens[tok]
	s.mu.Unlock()
	switch {
	case !known:
		graphFail(w, r, http.StatusUnauthorized, "InvalidAuthenticationToken", "IDX14100: JWT is not well formed, there are no dots (.).")
		return false
	case time.Now().After(exp):
		graphFail(w, r, http.StatusUnauthorized, "InvalidAuthenticationToken", "Lifetime validation failed, the token is expired.")
		return false
	}
	return true
}

// revoke is POST /v1.0/users/{id}/revokeSignInSessions (and its
// microsoft.graph.-prefixed form).
func (s *Server) revoke(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		graphFail(w, r, http.StatusMethodNotAllowed, "Request_BadRequest", "Specified HTTP method is not allowed for the request target.")
		return
	}
	if !s.authorized(w, r) {
		return
	}
	s.mu.Lock()
	s.revokes++
	throttle := s.throttled < s.o.Throttle
	if throttle {
		s.throttled++
	}
	s.mu.Unlock()
	if throttle {
		w.Header().Set("Retry-After", "1")
		graphFail(w, r, http.StatusTooManyRequests, "TooManyRequests", "Too many requests. Please try again later.")
		return
	}
	if s.o.MissingPermission {
		graphFail(w, r, http.StatusForbidden, "Authorization_RequestDenied", "Access to invalidate refresh tokens operation is denied.")
		return
	}
	id := r.PathValue("id")
	s.mu.Lock()
	u, err := s.lookup(id)
	if err == nil {
		u.readBack = u.validFrom // what a lagging read-back still answers
		u.validFrom = time.Now().UTC().Truncate(time.Second)
		u.signedOut++
	}
	s.mu.Unlock()
	if err != nil {
		graphFail(w, r, http.StatusNotFound, "Request_ResourceNotFound", "Resource '"+id+"' does not exist or one of its queried reference-property objects are not present.")
		return
	}
	begin(w, r)
	writeJSON(w, http.StatusOK, map[string]any{
		"@odata.context": "https://graph.microsoft.com/v1.0/$metadata#Edm.Boolean", "value": true,
	})
}

// selectable are the properties GET /v1.0/users/{id} answers with on
// $select; signInSessionsValidFromDateTime and accountEnabled are returned
// only on $select, as in Graph.
var selectable = map[string]bool{
	"id": true, "userPrincipalName": true, "mail": true, "displayName": true,
	"accountEnabled": true, "signInSessionsValidFromDateTime": true,
}

// getUser is GET /v1.0/users/{id}, with $select.
func (s *Server) getUser(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		graphFail(w, r, http.StatusMethodNotAllowed, "Request_BadRequest", "Specified HTTP method is not allowed for the request target.")
		return
	}
	if !s.authorized(w, r) {
		return
	}
	if s.o.NoReadPermission {
		graphFail(w, r, http.StatusForbidden, "Authorization_RequestDenied", "Insufficient privileges to complete the operation.")
		return
	}
	id := r.PathValue("id")
	var fields []string
	if sel := r.URL.Query().Get("$select"); sel != "" {
		for _, f := range strings.Split(sel, ",") {
			if !selectable[f] {
				graphFail(w, r, http.StatusBadRequest, "BadRequest", "Could not find a property named '"+f+"' on type 'microsoft.graph.user'.")
				return
			}
			fields = append(fields, f)
		}
	} else {
		fields = []string{"id", "userPrincipalName", "mail", "displayName"}
	}
	s.mu.Lock()
	u, err := s.lookup(id)
	var body map[string]any
	if err == nil {
		from := u.validFrom
		if s.lagging && !u.readBack.IsZero() {
			from = u.readBack
		}
		all := map[string]any{
			"id": u.id, "userPrincipalName": u.upn, "mail": u.upn, "displayName": u.upn,
			"accountEnabled": true, "signInSessionsValidFromDateTime": from.Format(time.RFC3339),
		}
		body = map[string]any{"@odata.context": "https://graph.microsoft.com/v1.0/$metadata#users(" + strings.Join(fields, ",") + ")/$entity"}
		for _, f := range fields {
			body[f] = all[f]
		}
	}
	s.mu.Unlock()
	if err != nil {
		graphFail(w, r, http.StatusNotFound, "Request_ResourceNotFound", "Resource '"+id+"' does not exist or one of its queried reference-property objects are not present.")
		return
	}
	begin(w, r)
	writeJSON(w, http.StatusOK, body)
}

// noRoute answers what Graph has no route for.
func (s *Server) noRoute(w http.ResponseWriter, r *http.Request) {
	graphFail(w, r, http.StatusBadRequest, "BadRequest", "Resource not found for the segment '"+strings.TrimPrefix(r.URL.Path, "/")+"'.")
}
