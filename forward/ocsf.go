package forward

import (
	"strconv"

	"ulc/actions"
)

// OCSF classes the OCSF lines use (schema 1.3.0).
const (
	// ocsfRemediation is Remediation Activity (category 7, Remediation):
	// a sign-out, a token or grant revocation, and the run that does them.
	ocsfRemediation = 7001
	// ocsfAccountChange is Account Change (category 3, Identity & Access
	// Management): Okta's suspend and deactivate.
	ocsfAccountChange = 3001
)

// ocsfClass returns the class, category and activity of r, with the
// activity's name.
//
// Steps that end sessions or revoke tokens are Remediation Activity with
// activity 2, Evict ("removes an adversary or malicious resource"). A
// suspend or a deactivate changes the account: Account Change, activity 5,
// Disable. The run's own events (run_started with who and why,
// run_finished with the tally) open and close the remediation: they are
// Remediation Activity too, activity 99 Other, so that a SIEM finds a whole
// run in one class, joined by metadata.correlation_uid.
func ocsfClass(r record) (class, category, activity int, activityName, className, categoryName string) {
	switch actions.Action(r.Action) {
	case actions.ActionSuspend, actions.ActionDeactivate:
		return ocsfAccountChange, 3, 5, "Disable", "Account Change", "Identity & Access Management"
	}
	if r.Step != 0 {
		return ocsfRemediation, 7, 2, "Evict", "Remediation Activity", "Remediation"
	}
	name := "Other"
	switch actions.EventKind(r.Kind) {
	case actions.KindRunStarted:
		name = "Run Started"
	case actions.KindRunFinished:
		name = "Run Finished"
	}
	return ocsfRemediation, 7, 99, name, "Remediation Activity", "Remediation"
}

// ocsfStatus is status_id and status of r. Remediation Activity adds 3
// "Does Not Exist" (the user has no account at the application) and 6
// "Error" (no answer, or a server error, after the retries) to the base
// event's 0 Unknown, 1 Success, 2 Failure and 99 Other.
func ocsfStatus(r record, class int) (int, string) {
	switch actions.Outcome(r.Outcome) {
	case actions.Revoked, actions.Done:
		return 1, "Success"
	case actions.NotFound:
		if class == ocsfRemediation {
			return 3, "Does Not Exist"
		}
		return 99, r.Outcome
	case actions.Rejected:
		return 2, "Failure"
	case actions.Failed:
		if class == ocsfRemediation {
			return 6, "Error"
		}
		return 2, "Failure"
	case "":
		if r.Kind == string(actions.KindRetry) {
			return 2, "Failure"
		}
		return 0, "Unknown"
	}
	return 99, r.Outcome // cancelled, unknown, not_sent, planned
}

// ocsfSeverity is severity_id and severity: Critical for a watch alarm
// (someone got in after the run), High for a step that did not succeed
// (the attacker may keep access there), Medium for a denied attempt the
// watch saw, Low for a retry, Informational otherwise.
func ocsfSeverity(r record) (int, string) {
	switch {
	case r.alarm():
		return 5, "Critical"
	case r.Kind == string(actions.KindRetry):
		return 2, "Low"
	case r.failed():
		return 4, "High"
	case r.attempt():
		return 3, "Medium"
	}
	return 1, "Informational"
}

// ocsf is the OCSF event of r, as a JSON object.
func ocsf(r record, m Meta) map[string]any {
	class, category, activity, activityName, className, categoryName := ocsfClass(r)
	statusID, status := ocsfStatus(r, class)
	sevID, sev := ocsfSeverity(r)
	product := map[string]any{"name": "Universal Logout Console", "vendor_name": AppName}
	if m.Version != "" {
		product["version"] = m.Version
	}
	metadata := map[string]any{
		"version":         OCSFVersion,
		"product":         product,
		"uid":             r.Hash,
		"sequence":        r.Seq,
		"correlation_uid": r.Run,
		"original_time":   r.Time.Format("2006-01-02T15:04:05.000000Z07:00"),
		"log_name":        "audit",
	}
	ev := map[string]any{
		"class_uid":     class,
		"class_name":    className,
		"category_uid":  category,
		"category_name": categoryName,
		"activity_id":   activity,
		"activity_name": activityName,
		"type_uid":      int64(class)*100 + int64(activity),
		"type_name":     className + ": " + activityName,
		"time":          r.Time.UnixMilli(),
		"severity_id":   sevID,
		"severity":      sev,
		"status_id":     statusID,
		"status":        status,
		"message":       r.summary(),
		"metadata":      metadata,
	}
	if r.HTTPStatus != 0 {
		ev["status_code"] = itoa(int64(r.HTTPStatus))
	}
	if r.Error != "" {
		ev["status_detail"] = r.Error
	}
	if class == ocsfRemediation {
		uid := r.Run
		if r.Step != 0 {
			uid += "/" + itoa(int64(r.Step))
		}
		ev["command_uid"] = uid
	} else {
		ev["user"] = map[string]any{"name": r.User}
	}
	if r.Operator != "" {
		ev["actor"] = map[string]any{"user": map[string]any{"name": r.Operator}}
	}
	unmapped := map[string]any{}
	for _, f := range r.fields() {
		if f.raw {
			n, err := parseInt(f.value)
			if err == nil {
				unmapped[f.name] = n
				continue
			}
			unmapped[f.name] = f.value == "true"
			continue
		}
		unmapped[f.name] = f.value
	}
	ev["unmapped"] = unmapped
	return ev
}

func parseInt(s string) (int64, error) { return strconv.ParseInt(s, 10, 64) }
