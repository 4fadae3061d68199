package config

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
)

func selectFixture(t *testing.T) *File {
	t.Helper()
	var src []string
	for _, tg := range []struct {
		name    string
		enabled bool
	}{{"todo", true}, {"ledger", false}, {"wiki", true}, {"crm", true}} {
		src = append(src, `[[target]]`, `name = "`+tg.name+`"`, `url = "https://`+tg.name+`.example.com/gtr"`, `auth = "none"`)
		if !tg.enabled {
			src = append(src, `enabled = false`)
		}
	}
	return parse(t, lines(src...))
}

func names(ts []Target) []string {
	out := make([]string, len(ts))
	for i, t := range ts {
		out[i] = t.Name
	}
	return out
}

func TestSelect(t *testing.T) {
	f := selectFixture(t)
	tests := []struct {
		name    string
		in      []string
		want    []string
		wantErr string
	}{
		{"no names: every enabled target in file order", nil, []string{"todo", "wiki", "crm"}, ""},
		{"empty list is the same", []string{}, []string{"todo", "wiki", "crm"}, ""},
		{"explicit names in the given order", []string{"crm", "todo"}, []string{"crm", "todo"}, ""},
		{"a disabled target when named", []string{"ledger"}, []string{"ledger"}, ""},
		{"unknown name", []string{"todo", "jira"}, nil,
			`targets.toml: unknown target "jira"; known targets: todo, ledger, wiki, crm`},
		{"repeated name", []string{"todo", "todo"}, nil, `targets.toml: target "todo" is selected twice`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := f.Select(tt.in)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("err = %v, want %s", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(names(got), tt.want) {
				t.Errorf("Select(%q) = %q, want %q", tt.in, names(got), tt.want)
			}
		})
	}
}

func TestSelectUnknownNameInALargeRegistry(t *testing.T) {
	var src []string
	for i := range 25 {
		src = append(src, `[[target]]`, fmt.Sprintf(`name = "app%02d"`, i), `url = "https://a.example.com/"`, `auth = "none"`)
	}
	_, err := parse(t, lines(src...)).Select([]string{"nope"})
	if err == nil || !strings.HasSuffix(err.Error(), "app19 and 5 more") {
		t.Errorf("err = %v", err)
	}
	_, err = parse(t, "").Select([]string{"nope"})
	if want := `targets.toml: unknown target "nope"; the file defines no targets`; err == nil || err.Error() != want {
		t.Errorf("err = %v, want %s", err, want)
	}
}
