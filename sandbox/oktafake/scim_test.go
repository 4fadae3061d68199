package oktafake

import (
	"testing"
	"time"
)

type fakeRecord map[string][]string

func (r fakeRecord) strs(a string) []string { return r[a] }
func (r fakeRecord) time(a string) (time.Time, bool) {
	if v := r[a]; len(v) == 1 {
		return parseTime(v[0])
	}
	return time.Time{}, false
}

func TestSCIMExpressions(t *testing.T) {
	rec := fakeRecord{
		"profile.lastName": {`O"Brien`}, "profile.login": {`a\b@x`}, "status": {"ACTIVE"},
		"target.id": {"00u1", "0oa2"}, "created": {"2024-05-01T10:00:00.000Z"},
	}
	all := &dialect{allowed: func(string, string) bool { return true }, isTime: func(a string) bool { return a == "created" }}
	cases := map[string]bool{
		`profile.lastName eq "O\"Brien"`:                                true,
		`profile.lastName eq "o\"brien"`:                                true,
		`profile.login eq "a\\b@x"`:                                     true,
		`status eq "ACTIVE" AND (status eq "X" OR target.id eq "0oa2")`: true,
		`target.id eq "0oa3" or not (status sw "act")`:                  false,
		`target.id ne "0oa2"`:                                           false,
		`created ge "2024-05-01T10:00:00Z" and created lt "2024-05-02"`: true,
		`created gt "2024-05-01T10:00:00.000Z"`:                         false,
		`nickName pr`:                                                   false,
		`nickName eq null`:                                              true,
		`((status ew "ive"))`:                                           true,
	}
	for expr, want := range cases {
		n, err := parseFilter(expr, all)
		if err != nil {
			t.Errorf("%s: %v", expr, err)
			continue
		}
		if got := eval(n, rec, all); got != want {
			t.Errorf("%s = %v, want %v", expr, got, want)
		}
	}
	for _, bad := range []string{``, `status`, `status eq`, `status eq "x" and`, `(status eq "x"`, `status eq "x")`,
		`status zz "x"`, `status eq unquoted`, `"status" eq "x"`, `status eq "x" "y"`, `.status eq "x"`, `created gt "not a time"`} {
		if _, err := parseFilter(bad, all); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
	if _, err := parseFilter(`not status eq "x"`, searchDialect); err == nil {
		t.Error("search accepted not")
	}
}
