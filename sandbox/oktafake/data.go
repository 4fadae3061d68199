package oktafake

import (
	"strings"
	"time"
)

// user is one directory entry. Profiles never change after New, so the
// login, email and name indexes are built once.
type user struct {
	seq                                                                        int
	id                                                                         string
	status                                                                     string
	deleted                                                                    bool
	created, activated, statusChanged, lastLogin, lastUpdated, passwordChanged time.Time

	profile profile
	place   *place // home location, for generated sign-ins
	ua      *agent // usual browser

	detailed bool // sessions, grants, tokens and factors are materialised
	sessions []*session
	grants   []*grant
	tokens   []*refreshToken
	factors  []*factor
}

type profile struct {
	Login          string  `json:"login"`
	Email          string  `json:"email"`
	FirstName      string  `json:"firstName"`
	LastName       string  `json:"lastName"`
	DisplayName    string  `json:"displayName"`
	NickName       *string `json:"nickName,omitempty"`
	Department     string  `json:"department"`
	Title          string  `json:"title"`
	Organization   string  `json:"organization"`
	EmployeeNumber string  `json:"employeeNumber"`
	UserType       string  `json:"userType"`
	Manager        *string `json:"manager"`
	MobilePhone    *string `json:"mobilePhone"`
	SecondEmail    *string `json:"secondEmail"`
	City           string  `json:"city"`
	State          string  `json:"state"`
	CountryCode    string  `json:"countryCode"`
	Locale         string  `json:"locale"`
	Timezone       string  `json:"timezone"`
	// GitHubUsername is a custom attribute, as an org adds one in Okta's
	// Profile Editor for the people who have a GitHub login.
	GitHubUsername *string `json:"githubUsername,omitempty"`
}

// field returns a profile attribute by its Okta name.
func (p *profile) field(name string) (string, bool) {
	opt := func(s *string) (string, bool) {
		if s == nil {
			return "", false
		}
		return *s, true
	}
	switch name {
	case "login":
		return p.Login, true
	case "email":
		return p.Email, true
	case "firstName":
		return p.FirstName, true
	case "lastName":
		return p.LastName, true
	case "displayName":
		return p.DisplayName, true
	case "nickName":
		return opt(p.NickName)
	case "department":
		return p.Department, true
	case "title":
		return p.Title, true
	case "organization":
		return p.Organization, true
	case "employeeNumber":
		return p.EmployeeNumber, true
	case "userType":
		return p.UserType, true
	case "manager":
		return opt(p.Manager)
	case "mobilePhone":
		return opt(p.MobilePhone)
	case "secondEmail":
		return opt(p.SecondEmail)
	case "city":
		return p.City, true
	case "state":
		return p.State, true
	case "countryCode":
		return p.CountryCode, true
	case "locale":
		return p.Locale, true
	case "timezone":
		return p.Timezone, true
	case "githubUsername":
		return opt(p.GitHubUsername)
	}
	return "", false
}

func (u *user) person() Person {
	return Person{
		ID: u.id, Login: u.profile.Login, Email: u.profile.Email,
		FirstName: u.profile.FirstName, LastName: u.profile.LastName, Status: u.status,
		Department: u.profile.Department, Title: u.profile.Title, LastLogin: u.lastLogin,
		GitHubUsername: func() string { v, _ := u.profile.field("githubUsername"); return v }(),
	}
}

// strs and time make a user a SCIM record.
func (u *user) strs(attr string) []string {
	switch attr {
	case "id":
		return []string{u.id}
	case "status":
		return []string{u.status}
	case "type.id":
		return []string{userTypeID}
	}
	if name, ok := strings.CutPrefix(attr, "profile."); ok {
		if v, ok := u.profile.field(name); ok && v != "" {
			return []string{v}
		}
		return nil
	}
	if t, ok := u.time(attr); ok {
		return []string{oktaTime(t)}
	}
	return nil
}

func (u *user) time(attr string) (time.Time, bool) {
	var t time.Time
	switch attr {
	case "created":
		t = u.created
	case "activated":
		t = u.activated
	case "statusChanged":
		t = u.statusChanged
	case "lastUpdated":
		t = u.lastUpdated
	case "lastLogin":
		t = u.lastLogin
	case "passwordChanged":
		t = u.passwordChanged
	default:
		return time.Time{}, false
	}
	return t, !t.IsZero()
}

// userTypeID is the id of the default user type of the org.
const userTypeID = "oty1wh1teRabb1tDfLt"

type session struct {
	id      string
	created time.Time
	lastMFA time.Time
	place   *place
	ip      string
	ua      *agent
}

type grant struct {
	id      string
	app     *app
	scope   string
	created time.Time
}

type refreshToken struct {
	id      string
	app     *app
	scopes  []string
	created time.Time
}

type factor struct {
	id, factorType, provider, vendor, status string
	created                                  time.Time
	profile                                  map[string]string
}

// app is an OIDC app integration of the org; its client_id is its app id.
type app struct {
	id, name, host string
	scopes         []string
}

// --- JSON shapes -----------------------------------------------------------

type href struct {
	Href   string `json:"href"`
	Method string `json:"method,omitempty"`
}

type userJSON struct {
	ID              string          `json:"id"`
	Status          string          `json:"status"`
	Created         string          `json:"created"`
	Activated       *string         `json:"activated"`
	StatusChanged   *string         `json:"statusChanged"`
	LastLogin       *string         `json:"lastLogin"`
	LastUpdated     string          `json:"lastUpdated"`
	PasswordChanged *string         `json:"passwordChanged"`
	Type            typeJSON        `json:"type"`
	Profile         *profile        `json:"profile"`
	Credentials     credentialsJSON `json:"credentials"`
	Links           map[string]href `json:"_links"`
}

type typeJSON struct {
	ID string `json:"id"`
}

type credentialsJSON struct {
	Password *struct{}    `json:"password,omitempty"`
	Provider providerJSON `json:"provider"`
}

type providerJSON struct {
	Type string `json:"type"`
	Name string `json:"name"`
}

// userJSON renders u; full adds the lifecycle links Okta puts on a single
// user (a collection carries only self).
func (u *user) json(org string, full bool) userJSON {
	self := org + "/api/v1/users/" + u.id
	j := userJSON{
		ID: u.id, Status: u.status, Created: oktaTime(u.created),
		Activated: optTime(u.activated), StatusChanged: optTime(u.statusChanged),
		LastLogin: optTime(u.lastLogin), LastUpdated: oktaTime(u.lastUpdated),
		PasswordChanged: optTime(u.passwordChanged),
		Type:            typeJSON{ID: userTypeID},
		Profile:         &u.profile,
		Credentials:     credentialsJSON{Provider: providerJSON{Type: "OKTA", Name: "OKTA"}},
		Links:           map[string]href{"self": {Href: self}},
	}
	if !u.passwordChanged.IsZero() {
		j.Credentials.Password = &struct{}{}
	}
	if full {
		post := func(rel, path string) { j.Links[rel] = href{Href: self + path, Method: "POST"} }
		j.Links["type"] = href{Href: org + "/api/v1/meta/types/user/" + userTypeID}
		j.Links["schema"] = href{Href: org + "/api/v1/meta/schemas/user/" + userTypeID}
		switch u.status {
		case "ACTIVE", "PASSWORD_EXPIRED", "RECOVERY":
			post("suspend", "/lifecycle/suspend")
			post("resetPassword", "/lifecycle/reset_password")
			post("expirePassword", "/lifecycle/expire_password")
			post("resetFactors", "/lifecycle/reset_factors")
			post("deactivate", "/lifecycle/deactivate")
		case "SUSPENDED":
			post("unsuspend", "/lifecycle/unsuspend")
			post("deactivate", "/lifecycle/deactivate")
		case "LOCKED_OUT":
			post("unlock", "/lifecycle/unlock")
			post("deactivate", "/lifecycle/deactivate")
		case "STAGED", "PROVISIONED":
			post("activate", "/lifecycle/activate")
			post("deactivate", "/lifecycle/deactivate")
		case "DEPROVISIONED":
			post("activate", "/lifecycle/activate")
		}
	}
	return j
}

type sessionJSON struct {
	ID                       string          `json:"id"`
	UserID                   string          `json:"userId"`
	Login                    string          `json:"login"`
	CreatedAt                string          `json:"createdAt"`
	ExpiresAt                string          `json:"expiresAt"`
	Status                   string          `json:"status"`
	LastPasswordVerification string          `json:"lastPasswordVerification"`
	LastFactorVerification   *string         `json:"lastFactorVerification,omitempty"`
	Amr                      []string        `json:"amr"`
	Idp                      idpJSON         `json:"idp"`
	MfaActive                bool            `json:"mfaActive"`
	Links                    map[string]href `json:"_links"`
}

type idpJSON struct {
	ID   string `json:"id"`
	Type string `json:"type"`
}

// sessionLifetime is how long an idle-free Okta session lasts in the fake.
const sessionLifetime = 24 * time.Hour

func (se *session) json(org string, u *user) sessionJSON {
	amr := []string{"pwd"}
	if !se.lastMFA.IsZero() {
		amr = append(amr, "mfa", "swk")
	}
	return sessionJSON{
		ID: se.id, UserID: u.id, Login: u.profile.Login,
		CreatedAt: oktaTime(se.created), ExpiresAt: oktaTime(se.created.Add(sessionLifetime)),
		Status: "ACTIVE", LastPasswordVerification: oktaTime(se.created),
		LastFactorVerification: optTime(se.lastMFA), Amr: amr,
		Idp:       idpJSON{ID: "00o1wh1teRabb1tIdP", Type: "OKTA"},
		MfaActive: !se.lastMFA.IsZero(),
		Links: map[string]href{
			"self":    {Href: org + "/api/v1/sessions/" + se.id},
			"refresh": {Href: org + "/api/v1/sessions/" + se.id + "/lifecycle/refresh", Method: "POST"},
			"user":    {Href: org + "/api/v1/users/" + u.id},
		},
	}
}

type grantJSON struct {
	ID          string            `json:"id"`
	Status      string            `json:"status"`
	Created     string            `json:"created"`
	CreatedBy   actorJSON         `json:"createdBy"`
	LastUpdated string            `json:"lastUpdated"`
	Issuer      string            `json:"issuer"`
	ClientID    string            `json:"clientId"`
	UserID      string            `json:"userId"`
	ScopeID     string            `json:"scopeId"`
	Source      string            `json:"source"`
	Links       map[string]titled `json:"_links"`
}

type actorJSON struct {
	ID   string `json:"id"`
	Type string `json:"type"`
}

type titled struct {
	Href  string `json:"href"`
	Title string `json:"title,omitempty"`
}

func (g *grant) json(org string, u *user) grantJSON {
	return grantJSON{
		ID: g.id, Status: "ACTIVE", Created: oktaTime(g.created),
		CreatedBy: actorJSON{ID: u.id, Type: "User"}, LastUpdated: oktaTime(g.created),
		Issuer: org, ClientID: g.app.id, UserID: u.id, ScopeID: g.scope, Source: "END_USER",
		Links: map[string]titled{
			"self":   {Href: org + "/api/v1/users/" + u.id + "/grants/" + g.id},
			"app":    {Href: org + "/api/v1/apps/" + g.app.id, Title: g.app.name},
			"client": {Href: org + "/oauth2/v1/clients/" + g.app.id, Title: g.app.name},
			"user":   {Href: org + "/api/v1/users/" + u.id, Title: u.profile.DisplayName},
		},
	}
}

type clientJSON struct {
	ClientID   string            `json:"client_id"`
	ClientName string            `json:"client_name"`
	ClientURI  string            `json:"client_uri"`
	LogoURI    string            `json:"logo_uri"`
	Links      map[string]titled `json:"_links"`
}

func (a *app) clientJSON(org string, u *user) clientJSON {
	base := org + "/api/v1/users/" + u.id + "/clients/" + a.id
	return clientJSON{
		ClientID: a.id, ClientName: a.name,
		ClientURI: "https://" + a.host, LogoURI: "https://" + a.host + "/logo.png",
		Links: map[string]titled{
			"self":   {Href: org + "/oauth2/v1/clients/" + a.id},
			"grants": {Href: base + "/grants"},
			"tokens": {Href: base + "/tokens"},
		},
	}
}

type tokenJSON struct {
	ID          string            `json:"id"`
	Status      string            `json:"status"`
	Created     string            `json:"created"`
	LastUpdated string            `json:"lastUpdated"`
	ExpiresAt   string            `json:"expiresAt"`
	Issuer      string            `json:"issuer"`
	ClientID    string            `json:"clientId"`
	UserID      string            `json:"userId"`
	Scopes      []string          `json:"scopes"`
	Links       map[string]titled `json:"_links"`
}

// refreshLifetime is the lifetime of generated refresh tokens.
const refreshLifetime = 90 * 24 * time.Hour

func (t *refreshToken) json(org string, u *user) tokenJSON {
	self := org + "/api/v1/users/" + u.id + "/clients/" + t.app.id + "/tokens/" + t.id
	return tokenJSON{
		ID: t.id, Status: "ACTIVE", Created: oktaTime(t.created), LastUpdated: oktaTime(t.created),
		ExpiresAt: oktaTime(t.created.Add(refreshLifetime)), Issuer: org,
		ClientID: t.app.id, UserID: u.id, Scopes: t.scopes,
		Links: map[string]titled{
			"self":   {Href: self},
			"app":    {Href: org + "/api/v1/apps/" + t.app.id, Title: t.app.name},
			"client": {Href: org + "/oauth2/v1/clients/" + t.app.id, Title: t.app.name},
			"user":   {Href: org + "/api/v1/users/" + u.id, Title: u.profile.DisplayName},
			"revoke": {Href: self},
		},
	}
}

type factorJSON struct {
	ID          string            `json:"id"`
	FactorType  string            `json:"factorType"`
	Provider    string            `json:"provider"`
	VendorName  string            `json:"vendorName"`
	Status      string            `json:"status"`
	Created     string            `json:"created"`
	LastUpdated string            `json:"lastUpdated"`
	Profile     map[string]string `json:"profile"`
	Links       map[string]href   `json:"_links"`
}

func (f *factor) json(org string, u *user) factorJSON {
	self := org + "/api/v1/users/" + u.id + "/factors/" + f.id
	links := map[string]href{
		"self": {Href: self},
		"user": {Href: org + "/api/v1/users/" + u.id},
	}
	if f.status == "ACTIVE" {
		links["verify"] = href{Href: self + "/verify", Method: "POST"}
	}
	return factorJSON{
		ID: f.id, FactorType: f.factorType, Provider: f.provider, VendorName: f.vendor,
		Status: f.status, Created: oktaTime(f.created), LastUpdated: oktaTime(f.created),
		Profile: f.profile, Links: links,
	}
}
