package oktafake

import (
	"fmt"
	mrand "math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Domain is the email domain of the fake org.
const Domain = "whiterabbit.fake"

// place is a home city, with the network facts a System Log event carries.
// IP addresses come from the documentation ranges (RFC 5737) and AS numbers
// from the documentation range (RFC 5398), so nothing points at a real
// network.
type place struct {
	city, state, country, countryCode, postal string
	lat, lon                                  float64
	tz                                        string
	offset                                    int // hours from UTC
	isp, asOrg, domain                        string
	asn                                       int64
	net                                       string // first three octets
	phone                                     string // mobile number prefix
	proxy                                     bool
}

var places = []*place{
	{"Chicago", "Illinois", "United States", "US", "60601", 41.8853, -87.6229, "America/Chicago", -6, "Lakeshore Cable", "lakeshore cable llc", "lakeshore-cable.fake", 64496, "192.0.2", "+131255501", false},
	{"New York", "New York", "United States", "US", "10013", 40.7209, -74.0048, "America/New_York", -5, "Hudson Fiber", "hudson fiber inc.", "hudsonfiber.fake", 64497, "192.0.2", "+121255501", false},
	{"San Francisco", "California", "United States", "US", "94107", 37.7697, -122.3933, "America/Los_Angeles", -8, "Bayline Broadband", "bayline broadband", "bayline.fake", 64498, "192.0.2", "+141555501", false},
	{"Seattle", "Washington", "United States", "US", "98101", 47.6101, -122.3344, "America/Los_Angeles", -8, "Cascade Net", "cascade net", "cascadenet.fake", 64499, "192.0.2", "+120655501", false},
	{"Austin", "Texas", "United States", "US", "78701", 30.2711, -97.7437, "America/Chicago", -6, "Lone Star Fiber", "lone star fiber", "lonestarfiber.fake", 64500, "192.0.2", "+151255501", false},
	{"Toronto", "Ontario", "Canada", "CA", "M5V 3L9", 43.6426, -79.3871, "America/Toronto", -5, "Northern Lights Telecom", "northern lights telecom", "nltelecom.fake", 64501, "198.51.100", "+141655501", false},
	{"London", "England", "United Kingdom", "GB", "EC2A 4NE", 51.5226, -0.0837, "Europe/London", 0, "Thames Broadband", "thames broadband plc", "thamesbb.fake", 64502, "198.51.100", "+447700900", false},
	{"Sydney", "New South Wales", "Australia", "AU", "2000", -33.8688, 151.2093, "Australia/Sydney", 10, "Harbour Internet", "harbour internet pty", "harbournet.fake", 64503, "198.51.100", "+61491570", false},
	{"Dublin", "Leinster", "Ireland", "IE", "D02 X285", 53.3498, -6.2603, "Europe/Dublin", 0, "Liffey Networks", "liffey networks", "liffeynet.fake", 64504, "198.51.100", "+35315550", false},
}

// zionHQ is the office network; amsterdam is where Trinity's attacker
// signs in from: a hosting provider behind a proxy.
var (
	zionHQ    = places[0]
	amsterdam = &place{"Amsterdam", "North Holland", "Netherlands", "NL", "1012 JS", 52.3740, 4.8897, "Europe/Amsterdam", 1, "Nebula Hosting B.V.", "nebula hosting b.v.", "nebula-hosting.fake", 64510, "203.0.113", "+3161555", true}
)

const (
	officeIP   = "198.51.100.7"
	officeZone = "Zion HQ"
	attackerIP = "203.0.113.66"
)

// agent is a browser as the System Log describes it.
type agent struct{ raw, os, browser, device string }

var agents = []*agent{
	{"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36", "Mac OS X", "CHROME", "Computer"},
	{"Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0", "Windows 10", "FIREFOX", "Computer"},
	{"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0", "Windows 10", "EDGE", "Computer"},
	{"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15", "Mac OS X", "SAFARI", "Computer"},
	{"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36", "Linux", "CHROME", "Computer"},
	{"Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1", "iOS", "SAFARI", "Mobile"},
	{"Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36", "Android", "CHROME", "Mobile"},
}

// attackerAgent is an old Chrome on Windows, unlike anything Trinity uses.
var attackerAgent = &agent{"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/118.0.0.0 Safari/537.36", "Windows 10", "CHROME", "Computer"}

var appDefs = []struct {
	name, host string
	scopes     []string
}{
	{"Zion Mainframe", "zion." + Domain, []string{"profile", "email", "offline_access"}},
	{"Nebuchadnezzar Ops", "ops." + Domain, []string{"profile", "offline_access"}},
	{"Construct Training", "construct." + Domain, []string{"profile", "email"}},
	{"Kitchen HR Portal", "hr." + Domain, []string{"profile", "email"}},
	{"Mero Ledger", "ledger." + Domain, []string{"profile", "offline_access"}},
	{"Hovercraft Chat", "chat." + Domain, []string{"profile", "email", "offline_access"}},
	{"Dock Control", "dock." + Domain, []string{"profile", "offline_access"}},
}

// deptApps lists, per department, the apps its people use besides Zion
// Mainframe and Hovercraft Chat.
var deptApps = map[string][]int{
	"Security":    {2, 6},
	"Engineering": {1, 2},
	"Operations":  {1, 6},
	"Finance":     {4},
	"HR":          {3},
	"Sales":       {4},
	"Marketing":   {3},
	"Legal":       {3},
}

type castMember struct {
	first, last, display, nick, login, dept, title, status, userType string
	// github is the custom profile attribute githubUsername, for the
	// people who have a GitHub login in the org's GitHub organization.
	github   string
	home, ua int
	manager  string
}

// cast is the curated directory: believable people at whiterabbit.fake.
var cast = []castMember{
	{first: "Trinity", last: "Hale", login: "trinity", dept: "Security", title: "Senior Security Engineer", status: "ACTIVE", home: 0, ua: 0, manager: "Morpheus Grant", github: "trinity-hale"},
	{first: "Thomas", last: "Anderson", nick: "Neo", login: "neo", dept: "Engineering", title: "Senior Software Engineer", status: "ACTIVE", home: 0, ua: 4, manager: "Morpheus Grant", github: "neo-the-one"},
	{first: "Morpheus", last: "Grant", login: "morpheus", dept: "Operations", title: "Director of Operations", status: "ACTIVE", home: 0, ua: 3, manager: "Jason Lock"},
	{first: "Niobe", last: "Castillo", login: "niobe", dept: "Operations", title: "Logistics Lead", status: "ACTIVE", home: 4, ua: 2, manager: "Jason Lock"},
	{first: "Oracle", last: "Amari", display: "The Oracle", login: "oracle", dept: "HR", title: "Chief People Officer", status: "ACTIVE", home: 0, ua: 3},
	{first: "Tank", last: "Bryant", login: "tank", dept: "Operations", title: "Operator", status: "ACTIVE", home: 0, ua: 1, manager: "Morpheus Grant"},
	{first: "Dozer", last: "Bryant", login: "dozer", dept: "Operations", title: "Operator", status: "ACTIVE", home: 0, ua: 1, manager: "Morpheus Grant"},
	{first: "Zee", last: "Bryant", login: "zee", dept: "Operations", title: "Dock Operations Specialist", status: "ACTIVE", home: 0, ua: 0, manager: "Niobe Castillo"},
	{first: "Switch", last: "Navarro", login: "switch", dept: "Engineering", title: "Systems Engineer", status: "LOCKED_OUT", home: 2, ua: 0, manager: "Morpheus Grant"},
	{first: "Apoc", last: "Lindqvist", login: "apoc", dept: "Engineering", title: "Network Engineer", status: "ACTIVE", home: 3, ua: 4, manager: "The Architect"},
	{first: "Mouse", last: "Fenwick", login: "mouse", dept: "Engineering", title: "Junior Developer", status: "ACTIVE", home: 2, ua: 1, manager: "The Architect"},
	{first: "Cypher", last: "Reagan", login: "cypher", dept: "Finance", title: "Financial Analyst", status: "DEPROVISIONED", home: 1, ua: 2, manager: "Hamann Voss"},
	{first: "Agent", last: "Smith", login: "agent.smith", dept: "Security", title: "Compliance Auditor", status: "SUSPENDED", home: 1, ua: 2, manager: "Seraph Wing"},
	{first: "Agent", last: "Brown", login: "agent.brown", dept: "Legal", title: "Compliance Investigator", status: "PROVISIONED", home: 1, ua: 2, manager: "Dillard Okoye"},
	{first: "Agent", last: "Jones", login: "agent.jones", dept: "Legal", title: "Compliance Investigator", status: "STAGED", home: 1, ua: 2, manager: "Dillard Okoye"},
	{first: "Link", last: "Harper", login: "link", dept: "Operations", title: "Operator", status: "ACTIVE", home: 0, ua: 0, manager: "Niobe Castillo"},
	{first: "Ghost", last: "Aurelius", login: "ghost+contractor", dept: "Security", title: "Security Consultant", status: "ACTIVE", userType: "Contractor", home: 5, ua: 1, manager: "Seraph Wing"},
	{first: "Sparks", last: "Molina", login: "sparks", dept: "Operations", title: "Communications Officer", status: "ACTIVE", home: 4, ua: 2, manager: "Niobe Castillo"},
	{first: "Kid", last: "Okonkwo", login: "kid", dept: "Operations", title: "Operations Trainee", status: "STAGED", home: 0, ua: 6, manager: "Morpheus Grant"},
	{first: "Jason", last: "Lock", login: "jason.lock", dept: "Operations", title: "Chief Operating Officer", status: "ACTIVE", home: 0, ua: 2},
	{first: "Hamann", last: "Voss", login: "hamann", dept: "Finance", title: "Chief Financial Officer", status: "ACTIVE", home: 1, ua: 3},
	{first: "Merovingian", last: "Bouchard", display: "The Merovingian", login: "merovingian", dept: "Finance", title: "Head of Treasury", status: "LOCKED_OUT", home: 6, ua: 3, manager: "Hamann Voss"},
	{first: "Persephone", last: "Bouchard", login: "persephone", dept: "HR", title: "HR Business Partner", status: "ACTIVE", home: 6, ua: 3, manager: "The Oracle"},
	{first: "Keymaker", last: "Ishida", display: "The Keymaker", login: "keymaker", dept: "Engineering", title: "Identity and Access Engineer", status: "ACTIVE", home: 3, ua: 4, manager: "The Architect"},
	{first: "Architect", last: "Halvorsen", display: "The Architect", login: "architect", dept: "Engineering", title: "Chief Architect", status: "ACTIVE", home: 2, ua: 3, manager: "Jason Lock"},
	{first: "Seraph", last: "Wing", login: "seraph", dept: "Security", title: "Security Operations Lead", status: "ACTIVE", home: 0, ua: 4, manager: "Jason Lock"},
	{first: "Sati", last: "Kandra", login: "sati", dept: "Engineering", title: "Engineering Intern", status: "STAGED", home: 7, ua: 5, manager: "Rama Kandra"},
	{first: "Rama", last: "Kandra", login: "rama.kandra", dept: "Engineering", title: "Infrastructure Engineer", status: "ACTIVE", home: 7, ua: 0, manager: "The Architect"},
	{first: "Kamala", last: "Kandra", login: "kamala.kandra", dept: "HR", title: "Payroll Specialist", status: "ACTIVE", home: 7, ua: 2, manager: "The Oracle"},
	{first: "Bane", last: "Kowalski", login: "bane", dept: "Operations", title: "Operator", status: "ACTIVE", home: 0, ua: 1, manager: "Morpheus Grant"},
	{first: "Roland", last: "Pierce", login: "roland", dept: "Operations", title: "Fleet Captain", status: "ACTIVE", home: 4, ua: 2, manager: "Jason Lock"},
	{first: "Maggie", last: "Chen", login: "maggie", dept: "HR", title: "Occupational Health Nurse", status: "ACTIVE", home: 5, ua: 3, manager: "The Oracle"},
	{first: "Soren", last: "Lund", login: "soren", dept: "Operations", title: "Operator", status: "ACTIVE", home: 3, ua: 1, manager: "Roland Pierce"},
	{first: "Trainman", last: "Mobil", display: "The Trainman", login: "trainman", dept: "Engineering", title: "Integration Engineer", status: "PROVISIONED", home: 6, ua: 4, manager: "The Architect"},
	{first: "Kenji", last: "Mifune", login: "mifune", dept: "Security", title: "Physical Security Lead", status: "ACTIVE", home: 0, ua: 2, manager: "Seraph Wing"},
	{first: "Frank", last: "Rhineheart", login: "rhineheart", dept: "Engineering", title: "Engineering Manager", status: "DEPROVISIONED", home: 0, ua: 2, manager: "The Architect"},
	{first: "Jae", last: "Choi", login: "choi", dept: "Sales", title: "Account Executive", status: "ACTIVE", home: 1, ua: 0, manager: "Hamann Voss"},
	{first: "Dujour", last: "Lapin", login: "dujour", dept: "Marketing", title: "Marketing Manager", status: "ACTIVE", home: 1, ua: 3, manager: "Jae Choi"},
	{first: "Dillard", last: "Okoye", login: "dillard", dept: "Legal", title: "General Counsel", status: "ACTIVE", home: 8, ua: 2, manager: "Jason Lock"},
	{first: "Ballard", last: "Quinn", login: "ballard", dept: "Operations", title: "Fleet Captain", status: "ACTIVE", home: 8, ua: 0, manager: "Jason Lock"},
	{first: "Thomas", last: "Anderson", login: "thomas.anderson", dept: "Finance", title: "Accounts Payable Specialist", status: "ACTIVE", home: 8, ua: 2, manager: "Hamann Voss"},
	{first: "Construct", last: "Loader", login: "svc/construct", dept: "Engineering", title: "Service Account", status: "ACTIVE", userType: "Service", home: 0, ua: 4, manager: "Keymaker Ishida"},
}

// Names for generated people.
var (
	firstNames = strings.Fields(`Aaliyah Aaron Abigail Adam Adrian Aisha Alan Alba Alejandro Alex Alice Amara Amir Ana Andre
		Angela Anika Anton Arjun Asha Ava Beatriz Ben Bianca Bruno Caleb Camila Carlos Chen Chloe Clara Daniel Dara
		David Diego Dmitri Elena Eli Emeka Emma Ethan Eva Farah Felix Fatima Gabriel Grace Hana Hannah Hugo Ibrahim
		Ines Isaac Isabel Ivan Jada James Jia Jonas Jorge Julia Kai Kamal Karin Kenji Laila Lars Leah Leo Lina Lucas
		Lucia Maya Mateo Mei Mia Mikhail Nadia Naomi Nia Noah Nora Olga Omar Oscar Priya Rafael Rana Rohan Rosa Ruth
		Sami Sara Sofia Tariq Theo Uma Victor Wei Yara Yusuf Zara Zoe`)
	lastNames = strings.Fields(`Abbott Adeyemi Alvarez Andersen Bailey Baker Banerjee Barros Becker Bennett Brooks Campbell
		Carvalho Castro Chen Cohen Costa Cruz Dang Das Diaz Dubois Edwards Eriksson Evans Fischer Flores Fong Garcia
		Ghosh Gomez Gray Hansen Hayes Hoffmann Hughes Ibrahim Ito Jensen Johansson Kaur Kelly Khan Kim Kowalczyk
		Kumar Larsen Lee Lewis Lindberg Lopez Martin Mendes Meyer Mills Moreau Morris Murphy Nakamura Nguyen Novak
		Okafor Olsen Ortiz Park Patel Perez Petrov Price Quinn Ramos Reed Reyes Rivera Rossi Russo Saito Santos
		Schmidt Shah Silva Singh Sokolov Sousa Suzuki Tanaka Torres Tran Vargas Vogel Walker Wang Weber Wong Yamamoto
		Young Zhang Zhou`)
	deptTitles = map[string][]string{
		"Security":    {"Security Analyst", "Security Engineer", "Incident Responder", "GRC Analyst"},
		"Finance":     {"Accountant", "Financial Analyst", "Controller", "Payroll Analyst"},
		"Engineering": {"Software Engineer", "Site Reliability Engineer", "QA Engineer", "Data Engineer", "Engineering Manager"},
		"HR":          {"Recruiter", "HR Generalist", "People Operations Specialist"},
		"Operations":  {"Operations Analyst", "Operator", "Logistics Coordinator", "Facilities Manager"},
		"Sales":       {"Account Executive", "Sales Engineer", "Customer Success Manager"},
		"Marketing":   {"Content Strategist", "Product Marketing Manager", "Designer"},
		"Legal":       {"Paralegal", "Counsel", "Privacy Analyst"},
	}
	departments = []string{"Engineering", "Engineering", "Engineering", "Operations", "Operations", "Sales", "Finance", "Security", "HR", "Marketing", "Legal"}
)

// prefixEntry is one distinct lower-cased first name, last name or email
// and the users who have it, in directory order.
type prefixEntry struct {
	key string
	us  []*user
}

// build creates the directory and its history.
func (s *Server) build(extra int) {
	now := s.now()
	rng := mrand.New(mrand.NewPCG(uint64(s.seed), 0xca57))
	for _, d := range appDefs {
		a := &app{id: seededID(rng, "0oa", 17), name: d.name, host: d.host, scopes: d.scopes}
		s.apps = append(s.apps, a)
		s.appByID[a.id] = a
	}
	for i := range cast {
		s.addUser(s.castUser(rng, now, &cast[i]))
	}
	s.admin = s.byLogin["seraph@"+Domain]
	gen := mrand.New(mrand.NewPCG(uint64(s.seed), 0x9e0))
	s.nameCount = map[string]int{}
	for i := range extra {
		s.addUser(s.generatedUser(gen, now, i))
	}
	s.nameCount = nil
	s.building = true
	s.seedHistory(rng, now)
	s.building = false
	slices.SortFunc(s.events, byKey)
}

func (s *Server) addUser(u *user) {
	for s.byID[u.id] != nil { // practically never
		u.id = u.id[:19] + string(alnum[len(s.users)%len(alnum)])
	}
	u.seq = len(s.users)
	s.users = append(s.users, u)
	s.byID[u.id] = u
	login := strings.ToLower(u.profile.Login)
	s.byLogin[login] = u
	if short, _, ok := strings.Cut(login, "@"); ok {
		s.byShort[short] = append(s.byShort[short], u)
	}
	email := strings.ToLower(u.profile.Email)
	s.byEmail[email] = append(s.byEmail[email], u)
}

// buildPrefixes builds the index behind q on first use: sorting the
// names of a large directory is the slowest part of it and most runs never
// ask.
func (s *Server) buildPrefixes() {
	if s.prefixes != nil {
		return
	}
	byKey := make(map[string][]*user, len(s.users)+1000)
	for _, u := range s.users {
		first, last, email := strings.ToLower(u.profile.FirstName), strings.ToLower(u.profile.LastName), strings.ToLower(u.profile.Email)
		byKey[first] = append(byKey[first], u)
		if last != first {
			byKey[last] = append(byKey[last], u)
		}
		if email != first && email != last {
			byKey[email] = append(byKey[email], u)
		}
	}
	s.prefixes = make([]prefixEntry, 0, len(byKey))
	for k, us := range byKey {
		s.prefixes = append(s.prefixes, prefixEntry{k, us})
	}
	slices.SortFunc(s.prefixes, func(a, b prefixEntry) int { return strings.Compare(a.key, b.key) })
}

// lookup finds a user by id, login or unambiguous login short name.
func (s *Server) lookup(key string) *user {
	if u := s.byID[key]; u != nil && !u.deleted {
		return u
	}
	lower := strings.ToLower(key)
	if u := s.byLogin[lower]; u != nil && !u.deleted {
		return u
	}
	var found *user
	for _, u := range s.byShort[lower] {
		if u.deleted {
			continue
		}
		if found != nil {
			return nil
		}
		found = u
	}
	return found
}

// phone is a mobile number in a range reserved for fiction where there is
// one (555-01xx in North America, 07700 900xxx in the UK).
func phone(p *place, n int) *string {
	mod := 1000
	if strings.HasPrefix(p.phone, "+1") {
		mod = 100
	}
	d := strconv.Itoa(mod + n%mod) // a leading 1 keeps the zero padding
	v := p.phone + d[1:]
	return &v
}

func ptr(s string) *string { return &s }

// days returns d days as a duration.
func days(d float64) time.Duration { return time.Duration(d * float64(24*time.Hour)) }

func (s *Server) castUser(rng *mrand.Rand, now time.Time, c *castMember) *user {
	login := c.login + "@" + Domain
	display := c.display
	if display == "" {
		display = c.first + " " + c.last
	}
	userType := c.userType
	if userType == "" {
		userType = "Employee"
	}
	p := places[c.home]
	u := &user{
		id:     seededID(rng, "00u", 17),
		status: c.status,
		place:  p,
		ua:     agents[c.ua],
		profile: profile{
			Login: login, Email: login, FirstName: c.first, LastName: c.last, DisplayName: display,
			Department: c.dept, Title: c.title, Organization: "White Rabbit",
			EmployeeNumber: fmt.Sprintf("WR-%05d", 1000+rng.IntN(9000)), UserType: userType,
			City: p.city, State: p.state, CountryCode: p.countryCode, Locale: "en_US", Timezone: p.tz,
		},
	}
	if c.nick != "" {
		u.profile.NickName = ptr(c.nick)
	}
	if c.manager != "" {
		u.profile.Manager = ptr(c.manager)
	}
	if c.github != "" {
		u.profile.GitHubUsername = ptr(c.github)
	}
	if c.userType != "Service" {
		u.profile.MobilePhone = phone(p, 10+rng.IntN(89))
	}
	u.created = now.Add(-days(400 + rng.Float64()*1500)).Truncate(time.Second)
	switch c.status {
	case "STAGED":
		u.created = now.Add(-days(2 + rng.Float64()*7)).Truncate(time.Second)
		u.statusChanged = time.Time{}
	case "PROVISIONED":
		u.created = now.Add(-days(3 + rng.Float64()*4)).Truncate(time.Second)
		u.activated = u.created.Add(2 * time.Minute)
		u.statusChanged = u.activated
	default:
		u.activated = u.created.Add(time.Duration(1+rng.IntN(48)) * time.Hour)
		u.statusChanged = u.activated
		u.passwordChanged = now.Add(-days(5 + rng.Float64()*80)).Truncate(time.Second)
	}
	u.lastUpdated = maxTime(u.created, u.statusChanged, u.passwordChanged)
	u.detailed = true // the cast's sessions, grants and factors come from the history
	return u
}

func (s *Server) generatedUser(rng *mrand.Rand, now time.Time, i int) *user {
	first := firstNames[rng.IntN(len(firstNames))]
	last := lastNames[rng.IntN(len(lastNames))]
	base := strings.ToLower(first + "." + last)
	login := base + "@" + Domain
	for s.byLogin[login] != nil {
		s.nameCount[base]++
		login = base + strconv.Itoa(s.nameCount[base]+1) + "@" + Domain
	}
	dept := departments[rng.IntN(len(departments))]
	titles := deptTitles[dept]
	p := places[rng.IntN(len(places))]
	u := &user{
		id:    seededID(rng, "00u", 17),
		place: p,
		ua:    agents[rng.IntN(len(agents))],
		profile: profile{
			Login: login, Email: login, FirstName: first, LastName: last, DisplayName: first + " " + last,
			Department: dept, Title: titles[rng.IntN(len(titles))], Organization: "White Rabbit",
			EmployeeNumber: "WR-" + strconv.Itoa(100000+i), UserType: "Employee",
			MobilePhone: phone(p, i), City: p.city, State: p.state, CountryCode: p.countryCode,
			Locale: "en_US", Timezone: p.tz,
		},
	}
	u.created = now.Add(-days(30 + rng.Float64()*2000)).Truncate(time.Second)
	r := rng.IntN(100)
	switch {
	case r < 88:
		u.status = "ACTIVE"
	case r < 91:
		u.status = "SUSPENDED"
	case r < 93:
		u.status = "LOCKED_OUT"
	case r < 95:
		u.status = "STAGED"
	case r < 96:
		u.status = "PROVISIONED"
	case r < 97:
		u.status = "PASSWORD_EXPIRED"
	default:
		u.status = "DEPROVISIONED"
	}
	if u.status != "STAGED" {
		u.activated = u.created.Add(time.Duration(1+rng.IntN(72)) * time.Hour)
	}
	u.statusChanged = u.activated
	if u.status != "ACTIVE" && u.status != "STAGED" {
		u.statusChanged = now.Add(-days(rng.Float64() * 25)).Truncate(time.Second)
	}
	if u.status != "STAGED" && u.status != "PROVISIONED" {
		u.passwordChanged = maxTime(u.activated, now.Add(-days(1+rng.Float64()*120))).Truncate(time.Second)
		u.lastLogin = now.Add(-days(rng.Float64() * 20)).Truncate(time.Second)
		if u.status != "ACTIVE" {
			u.lastLogin = minTime(u.lastLogin, u.statusChanged)
		}
	}
	u.lastUpdated = maxTime(u.created, u.statusChanged, u.passwordChanged)
	return u
}

func maxTime(ts ...time.Time) time.Time {
	var m time.Time
	for _, t := range ts {
		if t.After(m) {
			m = t
		}
	}
	return m
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// homeIP is a user's stable home address.
func homeIP(u *user) string {
	return fmt.Sprintf("%s.%d", u.place.net, 10+(u.seq*37)%240)
}

// ensureDetails materialises a generated user's sessions, grants, refresh
// tokens and factors, deterministically from the seed and the user.
func (s *Server) ensureDetails(u *user) {
	if u.detailed {
		return
	}
	u.detailed = true
	rng := mrand.New(mrand.NewPCG(uint64(s.seed), 0xde7a11_0000_0000|uint64(u.seq)))
	now := s.now()
	if !u.lastLogin.IsZero() {
		s.addFactors(rng, u, u.activated.Add(time.Hour))
	}
	if u.status != "ACTIVE" {
		return
	}
	home := origin{place: u.place, ip: homeIP(u), ua: u.ua}
	for range rng.IntN(3) {
		at := now.Add(-time.Duration(10+rng.IntN(20*60)) * time.Minute).Truncate(time.Second)
		s.openSession(rng, u, home, at, true)
	}
	s.addGrants(rng, u, now)
}

func (s *Server) openSession(rng *mrand.Rand, u *user, o origin, at time.Time, mfa bool) *session {
	se := &session{id: seededID(rng, "idx", 22), created: at, place: o.place, ip: o.ip, ua: o.ua}
	if mfa {
		se.lastMFA = at
	}
	u.sessions = append(u.sessions, se)
	s.sessions[se.id] = u
	return se
}

func (s *Server) addFactors(rng *mrand.Rand, u *user, at time.Time) {
	phoneName := "iPhone"
	if u.ua.os == "Android" || rng.IntN(3) == 0 {
		phoneName = "Pixel"
	}
	u.factors = append(u.factors, &factor{
		id: seededID(rng, "opf", 17), factorType: "push", provider: "OKTA", vendor: "OKTA", status: "ACTIVE", created: at,
		profile: map[string]string{"credentialId": u.profile.Login, "deviceType": "SmartPhone_" + phoneName, "name": u.profile.FirstName + "'s " + phoneName, "platform": map[string]string{"iPhone": "IOS", "Pixel": "ANDROID"}[phoneName], "version": "9.31.0"},
	})
	switch rng.IntN(3) {
	case 0:
		if u.profile.MobilePhone != nil {
			u.factors = append(u.factors, &factor{
				id: seededID(rng, "mbl", 17), factorType: "sms", provider: "OKTA", vendor: "OKTA", status: "ACTIVE", created: at.Add(time.Hour),
				profile: map[string]string{"phoneNumber": *u.profile.MobilePhone},
			})
		}
	case 1:
		u.factors = append(u.factors, &factor{
			id: seededID(rng, "fwf", 17), factorType: "webauthn", provider: "FIDO", vendor: "FIDO", status: "ACTIVE", created: at.Add(2 * time.Hour),
			profile: map[string]string{"authenticatorName": "YubiKey 5 NFC", "credentialId": seededID(rng, "", 43)},
		})
	}
}

// addGrants gives a user consent grants (and refresh tokens where the app
// was granted offline_access) for one to three of their department's apps.
func (s *Server) addGrants(rng *mrand.Rand, u *user, now time.Time) {
	choices := append([]int{0, 5}, deptApps[u.profile.Department]...)
	rng.Shuffle(len(choices), func(i, j int) { choices[i], choices[j] = choices[j], choices[i] })
	n := 1 + rng.IntN(min(3, len(choices)))
	picked := choices[:n]
	slices.Sort(picked)
	for _, i := range picked {
		a := s.apps[i]
		at := now.Add(-days(1 + rng.Float64()*60)).Truncate(time.Second)
		offline := false
		for _, sc := range a.scopes {
			u.grants = append(u.grants, &grant{id: seededID(rng, "oag", 17), app: a, scope: sc, created: at})
			offline = offline || sc == "offline_access"
		}
		if offline {
			u.tokens = append(u.tokens, &refreshToken{id: seededID(rng, "oar", 17), app: a, scopes: append([]string{"openid"}, a.scopes...), created: now.Add(-days(rng.Float64() * 6)).Truncate(time.Second)})
		}
	}
}

// --- System Log history ----------------------------------------------------

// lifecycleAt is when a cast member's non-ACTIVE status began, relative to now.
var lifecycleAt = map[string]time.Duration{
	"agent.smith": 5*24*time.Hour + 3*time.Hour,
	"switch":      26 * time.Hour,
	"merovingian": 3*24*time.Hour + 7*time.Hour,
	"cypher":      12*24*time.Hour + 2*time.Hour,
	"rhineheart":  20*24*time.Hour + 5*time.Hour,
}

func (s *Server) seedHistory(rng *mrand.Rand, now time.Time) {
	for i := range cast {
		c := &cast[i]
		u := s.users[i]
		switch {
		case c.userType == "Service":
			s.addGrants(rng, u, now)
			continue
		case c.status == "STAGED" || c.status == "PROVISIONED":
			s.provisionHistory(u, c)
			continue
		}
		end := now
		if d, ok := lifecycleAt[c.login]; ok {
			end = now.Add(-d)
		}
		s.addFactors(rng, u, u.activated.Add(time.Hour))
		s.dailyHistory(rng, u, now, end)
		switch c.status {
		case "ACTIVE":
			s.ensureActiveSessions(rng, u, now)
			s.addGrants(rng, u, now)
		case "SUSPENDED":
			s.adminEvent(u, end, "user.lifecycle.suspend", "Suspend Okta user", "core.user.config.user_status.suspended")
			u.statusChanged = end
		case "DEPROVISIONED":
			s.adminEvent(u, end, "user.lifecycle.deactivate", "Deactivate Okta user", "core.user.config.user_deactivated")
			u.statusChanged = end
		case "LOCKED_OUT":
			s.lockOut(u, end)
			u.statusChanged = end
		}
		if c.login == "bane" {
			s.failedAttempts(u, now.Add(-30*time.Hour), 3)
		}
		u.lastUpdated = maxTime(u.lastUpdated, u.statusChanged)
		u.sessions = slices.DeleteFunc(u.sessions, func(se *session) bool {
			gone := c.status != "ACTIVE" || now.Sub(se.created) > sessionLifetime
			if gone {
				delete(s.sessions, se.id)
			}
			return gone
		})
	}
	s.trinityIncident(rng, s.byLogin["trinity@"+Domain], now)
}

// localDay returns midnight, local to p, of the day t falls on.
func localDay(t time.Time, p *place) time.Time {
	loc := time.FixedZone(p.tz, p.offset*3600)
	l := t.In(loc)
	return time.Date(l.Year(), l.Month(), l.Day(), 0, 0, 0, 0, loc)
}

// dailyHistory writes a month of working days: a sign-in most mornings,
// a few apps, sometimes a sign-out, now and then a mistyped password.
func (s *Server) dailyHistory(rng *mrand.Rand, u *user, now, end time.Time) {
	home := origin{place: u.place, ip: homeIP(u), ua: u.ua}
	office := origin{place: zionHQ, ip: officeIP, ua: u.ua, zone: officeZone}
	apps := append([]int{0, 5}, deptApps[u.profile.Department]...)
	for d := 30; d >= 0; d-- {
		day := localDay(now.Add(-days(float64(d))), u.place)
		if wd := day.Weekday(); (wd == time.Saturday || wd == time.Sunday) && rng.IntN(8) != 0 {
			continue
		}
		start := day.Add(8*time.Hour + time.Duration(rng.IntN(150))*time.Minute + time.Duration(rng.IntN(60))*time.Second).UTC()
		if !start.Before(end) {
			break
		}
		o := home
		if u.place == zionHQ && rng.IntN(2) == 0 {
			o = office
		}
		if rng.IntN(25) == 0 {
			s.signInFailure(u, o, start.Add(-2*time.Minute), "INVALID_CREDENTIALS")
		}
		se := s.signIn(rng, u, o, start)
		at := start
		for range 1 + rng.IntN(3) {
			at = at.Add(time.Duration(5+rng.IntN(180)) * time.Minute)
			if !at.Before(end) {
				break
			}
			s.sso(u, o, at, s.apps[apps[rng.IntN(len(apps))]], se.id)
		}
		if logout := start.Add(time.Duration(8*60+rng.IntN(120)) * time.Minute); rng.IntN(5) < 2 && logout.Before(end) {
			s.signOut(u, o, logout, se)
		}
	}
}

// ensureActiveSessions gives an ACTIVE person one to three live sessions.
func (s *Server) ensureActiveSessions(rng *mrand.Rand, u *user, now time.Time) {
	live := 0
	for _, se := range u.sessions {
		if now.Sub(se.created) <= sessionLifetime {
			live++
		}
	}
	if live == 0 {
		at := now.Add(-time.Duration(30+rng.IntN(9*60)) * time.Minute)
		s.signIn(rng, u, origin{place: u.place, ip: homeIP(u), ua: u.ua}, at)
	}
	if rng.IntN(3) == 0 {
		mobile := agents[5]
		if u.ua.os == "Windows 10" || u.ua.os == "Linux" {
			mobile = agents[6]
		}
		at := now.Add(-time.Duration(20+rng.IntN(6*60)) * time.Minute)
		s.signIn(rng, u, origin{place: u.place, ip: homeIP(u), ua: mobile}, at)
	}
}

func pushFactor(u *user) *factor {
	for _, f := range u.factors {
		if f.factorType == "push" {
			return f
		}
	}
	return nil
}

func factorTarget(f *factor, name string) logActor {
	return logActor{ID: f.id, Type: "AuthenticatorEnrollment", AlternateID: "unknown", DisplayName: name}
}

var (
	signOnPolicy = logActor{ID: "00p1wh1teRabb1tSoP", Type: "PolicyEntity", AlternateID: "unknown", DisplayName: "Default Policy"}
	signOnRule   = logActor{ID: "0pr1wh1teRabb1tRul", Type: "PolicyRule", AlternateID: "00p1wh1teRabb1tSoP", DisplayName: "Require MFA"}
)

// signIn writes a successful sign-in (policy, MFA, session start) and opens
// the session.
func (s *Server) signIn(rng *mrand.Rand, u *user, o origin, at time.Time) *session {
	se := s.openSession(rng, u, o, at.Add(20*time.Second), true)
	tx := seededID(s.rng, "", 27)
	auth := func(cred string) *logAuthContext {
		return &logAuthContext{AuthenticationProvider: "OKTA_AUTHENTICATION_PROVIDER", CredentialType: cred, ExternalSessionID: se.id}
	}
	s.addEvent(ev{at: at, typ: "policy.evaluate_sign_on", msg: "Evaluation of sign-on policy", legacy: "core.user.sign_on_policy.evaluated",
		result: "ALLOW", reason: "Sign-on policy evaluation resulted in AUTHENTICATED", actor: userActor(u),
		targets: []logActor{signOnPolicy, signOnRule}, from: o, auth: auth("PASSWORD"), tx: tx,
		debug: map[string]string{"behaviors": "{New Geo-Location=NEGATIVE, New Device=NEGATIVE, New IP=NEGATIVE}"}})
	if f := pushFactor(u); f != nil {
		s.addEvent(ev{at: at.Add(15 * time.Second), typ: "user.authentication.auth_via_mfa", msg: "Authentication of user via MFA",
			legacy: "core.user.factor.attempt_success", actor: userActor(u), targets: []logActor{factorTarget(f, "Okta Verify")},
			from: o, auth: &logAuthContext{AuthenticationProvider: "FACTOR_PROVIDER", CredentialProvider: "OKTA_CREDENTIAL_PROVIDER", CredentialType: "OTP", ExternalSessionID: se.id}, tx: tx,
			debug: map[string]string{"factor": "OKTA_VERIFY_PUSH"}})
	}
	s.addEvent(ev{at: at.Add(20 * time.Second), typ: "user.session.start", msg: "User login to Okta", legacy: "core.user_auth.login_success",
		actor: userActor(u), from: o, auth: auth("PASSWORD"), tx: tx,
		debug: map[string]string{"requestUri": "/idp/idx/authenticators/poll", "threatSuspected": "false"}})
	if t := se.created; t.After(u.lastLogin) {
		u.lastLogin = t
	}
	return se
}

func (s *Server) signInFailure(u *user, o origin, at time.Time, reason string) {
	s.addEvent(ev{at: at, typ: "user.session.start", msg: "User login to Okta", legacy: "core.user_auth.login_failed",
		result: "FAILURE", reason: reason, severity: "WARN", actor: userActor(u), from: o,
		auth:  &logAuthContext{AuthenticationProvider: "OKTA_AUTHENTICATION_PROVIDER", CredentialType: "PASSWORD"},
		debug: map[string]string{"requestUri": "/idp/idx/identify", "threatSuspected": "false"}})
}

func (s *Server) sso(u *user, o origin, at time.Time, a *app, sessionID string) {
	s.addEvent(ev{at: at, typ: "user.authentication.sso", msg: "User single sign on to app", legacy: "app.auth.sso",
		actor: userActor(u), targets: []logActor{appTarget(a), userActor(u)}, from: o,
		auth:  &logAuthContext{AuthenticationProvider: "OKTA_AUTHENTICATION_PROVIDER", CredentialType: "PASSWORD", ExternalSessionID: sessionID},
		debug: map[string]string{"initiationType": "SP_INITIATED", "signOnMode": "OpenID Connect"}})
}

func (s *Server) signOut(u *user, o origin, at time.Time, se *session) {
	s.addEvent(ev{at: at, typ: "user.session.end", msg: "User logout from Okta", legacy: "core.user_auth.logout_success",
		actor: userActor(u), from: o, auth: &logAuthContext{ExternalSessionID: se.id}})
	u.sessions = slices.DeleteFunc(u.sessions, func(x *session) bool { return x == se })
	delete(s.sessions, se.id)
}

func (s *Server) failedAttempts(u *user, at time.Time, n int) {
	o := origin{place: u.place, ip: homeIP(u), ua: u.ua}
	for i := range n {
		s.signInFailure(u, o, at.Add(time.Duration(i*40)*time.Second), "INVALID_CREDENTIALS")
	}
}

func (s *Server) lockOut(u *user, at time.Time) {
	s.failedAttempts(u, at.Add(-4*time.Minute), 5)
	s.addEvent(ev{at: at, typ: "user.account.lock", msg: "Max sign in attempts exceeded", legacy: "core.user.account.locked",
		severity: "WARN", actor: userActor(u), targets: []logActor{userActor(u)}, from: origin{place: u.place, ip: homeIP(u), ua: u.ua},
		debug: map[string]string{"threshold": "5"}})
}

// adminEvent is a change made by the security team in the Admin Console.
func (s *Server) adminEvent(u *user, at time.Time, typ, msg, legacy string) {
	s.addEvent(ev{at: at, typ: typ, msg: msg, legacy: legacy, actor: userActor(s.admin), targets: []logActor{userActor(u)},
		from:  origin{place: zionHQ, ip: officeIP, ua: s.admin.ua, zone: officeZone},
		debug: map[string]string{"requestUri": "/api/internal/users/" + u.id + "/lifecycle"}})
}

func (s *Server) provisionHistory(u *user, c *castMember) {
	s.adminEvent(u, u.created, "user.lifecycle.create", "Create Okta user", "core.user.config.user_creation.success")
	if c.status == "PROVISIONED" {
		s.adminEvent(u, u.activated, "user.lifecycle.activate", "Activate Okta user", "core.user.config.user_activated")
	}
}

// trinityIncident is the story the demo is about. Trinity signed in from
// Chicago this morning as usual. Hours later someone with her password
// signed in from a hosting provider in Amsterdam, pushed Okta Verify until
// she approved (three denials first), enrolled a Google Authenticator factor
// of their own, and went straight to the finance ledger and the mainframe.
// Both sessions are still alive.
func (s *Server) trinityIncident(rng *mrand.Rand, u *user, now time.Time) {
	if u == nil {
		return
	}
	bad := origin{place: amsterdam, ip: attackerIP, ua: attackerAgent}
	push := pushFactor(u)
	t0 := now.Add(-5*time.Hour - 10*time.Minute).Truncate(time.Second)
	tx := seededID(s.rng, "", 27)
	s.addEvent(ev{at: t0, typ: "policy.evaluate_sign_on", msg: "Evaluation of sign-on policy", legacy: "core.user.sign_on_policy.evaluated",
		result: "CHALLENGE", reason: "Sign-on policy evaluation resulted in CHALLENGE", actor: userActor(u),
		targets: []logActor{signOnPolicy, signOnRule}, from: bad, tx: tx,
		auth:  &logAuthContext{AuthenticationProvider: "OKTA_AUTHENTICATION_PROVIDER", CredentialType: "PASSWORD"},
		debug: map[string]string{"behaviors": "{New Geo-Location=POSITIVE, New Device=POSITIVE, New IP=POSITIVE, New City=POSITIVE, New Country=POSITIVE}", "risk": "{level=HIGH, reasons=Anomalous Location, New Device}"}})
	for i := range 3 {
		at := t0.Add(time.Duration(40+i*70) * time.Second)
		s.addEvent(ev{at: at, typ: "system.push.send_factor_verify_push", msg: "Push notification sent for factor verification",
			actor: userActor(u), targets: []logActor{factorTarget(push, "Okta Verify")}, from: bad, tx: tx})
		s.addEvent(ev{at: at.Add(25 * time.Second), typ: "user.mfa.okta_verify.deny_push", msg: "User rejected Okta push verify",
			legacy: "core.user.factor.attempt_fail", result: "FAILURE", reason: "User rejected Okta push verify", severity: "WARN",
			actor: userActor(u), targets: []logActor{factorTarget(push, "Okta Verify")}, from: bad, tx: tx})
	}
	t1 := t0.Add(6 * time.Minute)
	s.addEvent(ev{at: t1, typ: "system.push.send_factor_verify_push", msg: "Push notification sent for factor verification",
		actor: userActor(u), targets: []logActor{factorTarget(push, "Okta Verify")}, from: bad, tx: tx})
	s.addEvent(ev{at: t1.Add(9 * time.Second), typ: "user.authentication.auth_via_mfa", msg: "Authentication of user via MFA",
		legacy: "core.user.factor.attempt_success", actor: userActor(u), targets: []logActor{factorTarget(push, "Okta Verify")}, from: bad, tx: tx,
		auth: &logAuthContext{AuthenticationProvider: "FACTOR_PROVIDER", CredentialProvider: "OKTA_CREDENTIAL_PROVIDER", CredentialType: "OTP"}})
	se := s.openSession(rng, u, bad, t1.Add(12*time.Second), true)
	s.addEvent(ev{at: t1.Add(12 * time.Second), typ: "user.session.start", msg: "User login to Okta", legacy: "core.user_auth.login_success",
		actor: userActor(u), from: bad, tx: tx,
		auth:  &logAuthContext{AuthenticationProvider: "OKTA_AUTHENTICATION_PROVIDER", CredentialType: "PASSWORD", ExternalSessionID: se.id},
		debug: map[string]string{"requestUri": "/idp/idx/authenticators/poll", "threatSuspected": "false", "risk": "{level=HIGH, reasons=Anomalous Location, New Device}"}})
	u.lastLogin = maxTime(u.lastLogin, se.created)
	s.addEvent(ev{at: t1.Add(40 * time.Second), typ: "user.risk.change", msg: "User risk level changed", severity: "WARN",
		actor:   logActor{ID: "0oa1wh1teRabb1tITP", Type: "PublicClientApp", AlternateID: "Okta Identity Threat Protection", DisplayName: "Okta Identity Threat Protection"},
		targets: []logActor{userActor(u)}, from: bad, auth: &logAuthContext{ExternalSessionID: se.id},
		debug: map[string]string{"previousLevel": "LOW", "level": "HIGH", "detectionName": "Anomalous Location", "reasons": "Sign-in from a new country through a hosting provider"}})

	totp := &factor{id: seededID(rng, "uft", 17), factorType: "token:software:totp", provider: "GOOGLE", vendor: "GOOGLE", status: "ACTIVE",
		created: t1.Add(14 * time.Minute), profile: map[string]string{"credentialId": u.profile.Login}}
	u.factors = append(u.factors, totp)
	s.addEvent(ev{at: totp.created, typ: "user.mfa.factor.activate", msg: "Activate factor or authenticator", legacy: "core.user.factor.activate",
		actor: userActor(u), targets: []logActor{userActor(u), factorTarget(totp, "Google Authenticator")}, from: bad,
		auth:  &logAuthContext{AuthenticationProvider: "OKTA_AUTHENTICATION_PROVIDER", CredentialType: "PASSWORD", ExternalSessionID: se.id},
		debug: map[string]string{"factor": "GOOGLE_OTP", "factorIntent": "ENROLLMENT"}})
	u.lastUpdated = totp.created

	for i, a := range []int{4, 0, 4, 6, 0} {
		s.sso(u, bad, t1.Add(time.Duration(25+i*47)*time.Minute), s.apps[a], se.id)
	}
}
