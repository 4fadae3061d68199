package apps

import (
	"fmt"
	"testing"
)

func TestDefaultSpecs(t *testing.T) {
	specs := DefaultSpecs()
	if len(specs) != 13 {
		t.Fatalf("%d default apps, want 13", len(specs))
	}
	if err := checkSpecs(specs, testIssuer); err != nil {
		t.Fatal(err)
	}
	count := map[Behaviour]int{}
	auth := map[string]int{}
	subjects := map[string]int{}
	for _, s := range specs {
		count[s.Behaviour]++
		auth[s.Auth+" "+s.Alg]++
		subjects[s.Subject]++
	}
	for _, b := range []Behaviour{Flaky, Down, Legacy, OK200} {
		if count[b] != 1 {
			t.Errorf("%d apps are %s, want 1", count[b], b)
		}
	}
	// Two slow apps: one answers late but in time, one never in time.
	var late, never int
	for _, s := range specs {
		switch {
		case s.Behaviour != Slow:
		case s.Timeout > 0 && s.Delay > s.Timeout:
			never++
		default:
			late++
		}
	}
	if late != 1 || never != 1 {
		t.Errorf("slow apps: %d answer late, %d never in time; want 1 and 1", late, never)
	}
	if auth["jwt ES256"] != 1 || auth["jwt RS256"] != 1 {
		t.Errorf("jwt apps: %v", auth)
	}
	if subjects[SubjectEmail] == 0 || subjects[SubjectOpaque] == 0 || subjects[SubjectIssSub] == 0 {
		t.Errorf("subject formats: %v", subjects)
	}

	// The compromised user has an account everywhere except crm; the rest
	// of the cast everywhere.
	for _, s := range specs {
		for _, u := range []User{trinity, neo, morpheus} {
			knows := s.Knows == nil || s.Knows(u)
			if want := !(u == trinity && s.Name == "crm"); knows != want {
				t.Errorf("%s knows %s: %v, want %v", s.Name, u.Login, knows, want)
			}
		}
	}

	// Among a crowd, some users are unknown at some apps, the same ones on
	// every call, and every app knows most people.
	crowd := make([]User, 200)
	for i := range crowd {
		crowd[i] = User{ID: fmt.Sprintf("00uCROWD%06d", i), Login: fmt.Sprintf("user%d@whiterabbit.fake", i)}
	}
	again := DefaultSpecs()
	for i, s := range specs {
		if s.Knows == nil {
			continue
		}
		unknown := 0
		for _, u := range crowd {
			k := s.Knows(u)
			if k != again[i].Knows(u) {
				t.Fatalf("%s: Knows(%s) is not deterministic", s.Name, u.Login)
			}
			if !k {
				unknown++
			}
		}
		if unknown == 0 || unknown > len(crowd)*6/10 {
			t.Errorf("%s: %d of %d users unknown", s.Name, unknown, len(crowd))
		}
	}

	// Session counts are deterministic and at least 1.
	for _, u := range crowd[:20] {
		if n := sessionCount(u, "chat"); n < 1 || n > 3 || n != sessionCount(u, "chat") {
			t.Fatalf("sessionCount(%s) = %d", u.Login, n)
		}
	}
}
