package forward

import (
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"

	"ulc/config"
)

// ocsfSchema is the excerpt of the OCSF schema in testdata: the attributes
// of the classes and objects ulc writes, with their requirement, type and
// enum.
type ocsfSchema struct {
	Version    string                   `json:"version"`
	Types      map[string]string        `json:"types"`
	Base       map[string]ocsfAttr      `json:"base_event"`
	Classes    map[string]ocsfClassDef  `json:"classes"`
	Categories map[string]string        `json:"categories"`
	Objects    map[string]ocsfObjectDef `json:"objects"`
}

type ocsfAttr struct {
	Type        string `json:"type"`
	Requirement string `json:"requirement"`
	Enum        []int  `json:"enum"`
}

type ocsfClassDef struct {
	Caption      string                       `json:"caption"`
	CategoryUID  int                          `json:"category_uid"`
	Attributes   map[string]ocsfAttr          `json:"attributes"`
	EnumCaptions map[string]map[string]string `json:"enum_captions"`
}

type ocsfObjectDef struct {
	Attributes map[string]ocsfAttr `json:"attributes"`
	AtLeastOne []string            `json:"at_least_one"`
}

func loadOCSF(t *testing.T) ocsfSchema {
	t.Helper()
	data, err := os.ReadFile("testdata/ocsf-" + OCSFVersion + "-excerpt.json")
	if err != nil {
		t.Fatal(err)
	}
	var s ocsfSchema
	if err := json.Unmarshal(data, &s); err != nil {
		t.Fatal(err)
	}
	if s.Version != OCSFVersion {
		t.Fatalf("the excerpt is of OCSF %s, the lines say %s", s.Version, OCSFVersion)
	}
	return s
}

// validate returns every way ev breaks the schema: a missing required
// attribute, one the class does not define, a wrong type, a value outside
// its enum, a type_uid that is not class_uid*100+activity_id, a caption
// that is not the enum's.
func (s ocsfSchema) validate(ev map[string]any) []string {
	var problems []string
	classUID, ok := ev["class_uid"].(float64)
	if !ok {
		return []string{"class_uid is missing or not a number"}
	}
	key := strconv.Itoa(int(classUID))
	class, ok := s.Classes[key]
	if !ok {
		return []string{"class_uid " + key + " is not a class of the excerpt"}
	}
	attrs := map[string]ocsfAttr{}
	for k, v := range s.Base {
		attrs[k] = v
	}
	for k, v := range class.Attributes {
		attrs[k] = v
	}
	problems = append(problems, s.object("", ev, attrs, nil)...)
	num := func(k string) int { f, _ := ev[k].(float64); return int(f) }
	if num("category_uid") != class.CategoryUID {
		problems = append(problems, fmt.Sprintf("category_uid %d, class %s is in category %d", num("category_uid"), key, class.CategoryUID))
	}
	if want := num("class_uid")*100 + num("activity_id"); num("type_uid") != want {
		problems = append(problems, fmt.Sprintf("type_uid %d, want %d", num("type_uid"), want))
	}
	if ev["class_name"] != class.Caption {
		problems = append(problems, fmt.Sprintf("class_name %v, want %q", ev["class_name"], class.Caption))
	}
	if ev["category_name"] != s.Categories[strconv.Itoa(class.CategoryUID)] {
		problems = append(problems, fmt.Sprintf("category_name %v", ev["category_name"]))
	}
	for idName, nameAttr := range map[string]string{"activity_id": "activity_name", "status_id": "status"} {
		id := strconv.Itoa(num(idName))
		if _, set := ev[idName]; !set || id == "99" {
			continue // Other: the name is the source's own
		}
		if caption := class.EnumCaptions[idName][id]; ev[nameAttr] != caption {
			problems = append(problems, fmt.Sprintf("%s %v for %s %s, want %q", nameAttr, ev[nameAttr], idName, id, caption))
		}
	}
	if ev["type_name"] != fmt.Sprint(class.Caption, ": ", ev["activity_name"]) {
		problems = append(problems, fmt.Sprintf("type_name %v", ev["type_name"]))
	}
	return problems
}

// object checks the attributes of one object (the event itself when path
// is "").
func (s ocsfSchema) object(path string, obj map[string]any, attrs map[string]ocsfAttr, atLeastOne []string) []string {
	var problems []string
	for name, a := range attrs {
		if _, set := obj[name]; !set && a.Requirement == "required" {
			problems = append(problems, path+name+" is required")
		}
	}
	if len(atLeastOne) > 0 && !slices.ContainsFunc(atLeastOne, func(k string) bool { _, set := obj[k]; return set }) {
		problems = append(problems, fmt.Sprintf("%s needs at least one of %v", strings.TrimSuffix(path, "."), atLeastOne))
	}
	for name, v := range obj {
		a, ok := attrs[name]
		if !ok {
			problems = append(problems, path+name+" is not an attribute of the class or object")
			continue
		}
		problems = append(problems, s.value(path+name, v, a)...)
	}
	return problems
}

func (s ocsfSchema) value(path string, v any, a ocsfAttr) []string {
	if def, ok := s.Objects[a.Type]; ok {
		m, ok := v.(map[string]any)
		if !ok {
			return []string{path + " is not an object"}
		}
		return s.object(path+".", m, def.Attributes, def.AtLeastOne)
	}
	switch s.Types[a.Type] {
	case "integer":
		f, ok := v.(float64)
		if !ok || f != float64(int64(f)) {
			return []string{fmt.Sprintf("%s = %v is not an integer", path, v)}
		}
		if len(a.Enum) > 0 && !slices.Contains(a.Enum, int(f)) {
			return []string{fmt.Sprintf("%s = %v is not one of %v", path, v, a.Enum)}
		}
	case "string":
		if s, ok := v.(string); !ok || s == "" {
			return []string{fmt.Sprintf("%s = %v is not a non-empty string", path, v)}
		}
	case "object":
		if _, ok := v.(map[string]any); !ok {
			return []string{path + " is not an object"}
		}
	default:
		return []string{path + ": type " + a.Type + " is not in the excerpt"}
	}
	return nil
}

// TestOCSFLinesValidate: every OCSF line of the sample run, each kind of
// event and outcome, is a valid event of its class in the OCSF schema
// excerpt shipped in testdata; sign-outs and revocations are Remediation
// Activity (7001), the suspend and the deactivate Account Change (3001).
func TestOCSFLinesValidate(t *testing.T) {
	schema := loadOCSF(t)
	classes := map[string]float64{}
	for i, line := range formatAll(t, config.FormatOCSF) {
		_, body, ok := strings.Cut(line, " - {")
		if !ok {
			t.Fatalf("line %d has no JSON after the syslog header: %s", i+1, line)
		}
		var ev map[string]any
		if err := json.Unmarshal([]byte("{"+body), &ev); err != nil {
			t.Fatalf("line %d: %v", i+1, err)
		}
		for _, p := range schema.validate(ev) {
			t.Errorf("line %d (%v): %s", i+1, ev["message"], p)
		}
		um, _ := ev["unmapped"].(map[string]any)
		classes[fmt.Sprint(um["kind"], " ", um["action"])] = ev["class_uid"].(float64)
	}
	for what, want := range map[string]float64{
		"result okta.suspend": 3001, "result okta.deactivate": 3001, "result gtr": 7001,
		"retry gtr": 7001, "run_started <nil>": 7001, "run_finished <nil>": 7001,
	} {
		if classes[what] != want {
			t.Errorf("%s is class %v, want %v", what, classes[what], want)
		}
	}
}

// TestOCSFValidatorCatches: the validator is not a rubber stamp; it names a
// missing required attribute, a wrong type, a value outside an enum and an
// attribute the class does not have.
func TestOCSFValidatorCatches(t *testing.T) {
	schema := loadOCSF(t)
	good := func() map[string]any {
		l := formatAll(t, config.FormatOCSF)[3] // the suspend's result, 3001
		_, body, _ := strings.Cut(l, " - {")
		var ev map[string]any
		if err := json.Unmarshal([]byte("{"+body), &ev); err != nil {
			t.Fatal(err)
		}
		return ev
	}
	if p := schema.validate(good()); len(p) != 0 {
		t.Fatalf("the good event fails: %v", p)
	}
	for name, change := range map[string]func(map[string]any){
		"user is required":                func(ev map[string]any) { delete(ev, "user") },
		"metadata.version is required":    func(ev map[string]any) { delete(ev["metadata"].(map[string]any), "version") },
		"time = 2026 is not an integer":   func(ev map[string]any) { ev["time"] = "2026" },
		"severity_id = 7 is not one of":   func(ev map[string]any) { ev["severity_id"] = 7.0 },
		"command_uid is not an attribute": func(ev map[string]any) { ev["command_uid"] = "x" },
		"type_uid 300199, want 300105":    func(ev map[string]any) { ev["type_uid"] = 300199.0 },
	} {
		ev := good()
		change(ev)
		if p := strings.Join(schema.validate(ev), "; "); !strings.Contains(p, name) {
			t.Errorf("%s: validator says %q", name, p)
		}
	}
}
