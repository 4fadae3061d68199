package actions_test

import (
	"testing"

	"ulc/actions"
)

// A plan keeps of a user's profile only the attributes its targets name
// users by: the GitHub login survives, the rest of the profile does not.
func TestProfileOnlyKeepsTheNamedAttributes(t *testing.T) {
	p := actions.NewProfile(map[string]string{"githubUsername": "trin", "department": "Ops", "title": "Operator"})
	kept := p.Only([]string{"githubUsername", "zoomEmail"})
	if v, ok := kept.Attr("githubUsername"); !ok || v != "trin" {
		t.Fatalf("githubUsername = %q, %v; want trin, true", v, ok)
	}
	for _, gone := range []string{"department", "title", "zoomEmail"} {
		if v, ok := kept.Attr(gone); ok {
			t.Errorf("%s = %q kept; only the named attributes should be", gone, v)
		}
	}
	if none := p.Only(nil); none == nil {
		t.Error("a resolved user's profile became nil: connectors read nil as \"not resolved through Okta\"")
	}
	var unresolved *actions.Profile
	if unresolved.Only([]string{"githubUsername"}) != nil {
		t.Error("a user not resolved through Okta gained a profile")
	}
}
