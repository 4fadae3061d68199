package actions

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"ulc/internal/safetext"
)

// The audit log's event kinds of the containment watch. They carry the run
// id of the run they watch, so they are hash-chained with it and shown with
// it; RunState.Apply leaves them out of the run's steps.
const (
	// KindWatchStarted opens a watch; Detail holds WatchInfo.
	KindWatchStarted EventKind = "watch_started"
	// KindWatchSign records one sign of re-entry; Detail holds the Sign.
	KindWatchSign EventKind = "watch_sign"
	// KindWatchExtended moves a watch's end later; Detail holds
	// WatchExtension.
	KindWatchExtended EventKind = "watch_extended"
	// KindWatchEnded closes a watch; Detail holds WatchTally.
	KindWatchEnded EventKind = "watch_ended"
)

// WatchKind reports whether k is an event kind of the containment watch.
func WatchKind(k EventKind) bool {
	return k == KindWatchStarted || k == KindWatchSign || k == KindWatchExtended || k == KindWatchEnded
}

// WatchExtension is what a watch records when the operator extends it.
type WatchExtension struct {
	// By is how much later the watch now ends, as a Go duration ("15m0s").
	By string `json:"by"`
	// Until is when the watch is now due to end.
	Until time.Time `json:"until"`
	// Operator and Host say who extended it from where.
	Operator string `json:"operator,omitempty"`
	Host     string `json:"host,omitempty"`
}

// WatchInfo is what a watch records when it starts.
type WatchInfo struct {
	// Users are the run's users being watched.
	Users []string `json:"users"`
	// Since is the lower bound of the System Log query: the run's start.
	Since time.Time `json:"since"`
	// RevokedAt is when the run ended; a success after it is an alarm.
	RevokedAt time.Time `json:"revoked_at"`
	// Until is when the watch is due to end (it may be stopped or
	// extended).
	Until time.Time `json:"until"`
	// Operator and Host say who watched from where.
	Operator string `json:"operator,omitempty"`
	Host     string `json:"host,omitempty"`
}

// WatchTally is what a watch records when it ends.
type WatchTally struct {
	Alarms   int `json:"alarms"`
	Attempts int `json:"attempts"`
	Earlier  int `json:"earlier"`
	// Polls is how many System Log requests the watch made.
	Polls int `json:"polls"`
	// Reason is why it ended: "time", "stopped", "cancelled".
	Reason string `json:"reason"`
}

// keptSigns is how many signs WatchFindings keeps; its counts are exact.
const keptSigns = 100

// WatchFindings is what the watches of a run saw, folded from their audit
// events (a run may be watched more than once: the board's watch, then
// ulc watch).
type WatchFindings struct {
	// Watches is how many watches started.
	Watches int
	// Signs are the signs recorded, oldest first: the first keptSigns.
	Signs []Sign
	// Alarms, Attempts and Earlier count every sign recorded.
	Alarms, Attempts, Earlier int
	// Polls is the System Log requests of the watches that ended.
	Polls int
	// Until is when the last watch was due to end (after any extension).
	Until time.Time
	// Ended is why the last watch ended: "time", "stopped", ...; "" while
	// it runs, or when its process went away before it could say.
	Ended string
}

func (w *WatchFindings) apply(ev Event) {
	switch ev.Kind {
	case KindWatchStarted:
		var i WatchInfo
		_ = json.Unmarshal(ev.Detail, &i)
		w.Watches++
		w.Until, w.Ended = i.Until, ""
	case KindWatchExtended:
		var x WatchExtension
		if json.Unmarshal(ev.Detail, &x) == nil {
			w.Until = x.Until
		}
	case KindWatchSign:
		var s Sign
		if json.Unmarshal(ev.Detail, &s) != nil {
			return
		}
		var t WatchTally
		t.Count(s)
		w.Alarms, w.Attempts, w.Earlier = w.Alarms+t.Alarms, w.Attempts+t.Attempts, w.Earlier+t.Earlier
		if len(w.Signs) < keptSigns {
			w.Signs = append(w.Signs, s)
		}
	case KindWatchEnded:
		var t WatchTally
		_ = json.Unmarshal(ev.Detail, &t)
		w.Polls += t.Polls
		w.Ended = t.Reason
		if w.Ended == "" {
			w.Ended = "ended"
		}
	}
}

// SignLevel says how bad a sign of re-entry is.
type SignLevel string

// The levels of a sign.
const (
	// SignAlarm is a success for the user after the run: someone is still
	// getting in. Run the containment again and find what was missed.
	SignAlarm SignLevel = "alarm"
	// SignAttempt is a denied attempt after the run: the attacker is
	// trying, and the containment holds.
	SignAttempt SignLevel = "attempt"
	// SignEarlier is a sign from the run's start to its end: before the
	// revocation took effect. Shown for the record.
	SignEarlier SignLevel = "earlier"
)

// LogEvent is one System Log event as the watch reads it, every string
// already sanitised by the Okta client.
type LogEvent struct {
	UUID      string
	Published time.Time
	EventType string
	Message   string
	// Result is outcome.result (SUCCESS, FAILURE, ALLOW, DENY, CHALLENGE,
	// ...); Reason is outcome.reason.
	Result, Reason string
	// Actor is who did it.
	ActorID, ActorType, ActorName string
	// Targets are the event's targets.
	Targets []LogTarget
	// Where it came from.
	IP, City, Country, Client string
}

// LogTarget is one target of a System Log event.
type LogTarget struct {
	ID, Type, Name string
}

// Sign is one sign of re-entry the watch saw for a user: one line on the
// board, one JSON line headless, one watch_sign event in the audit log.
type Sign struct {
	Type string `json:"type"` // "watch_sign"
	// RunID is the run being watched.
	RunID string `json:"run_id"`
	// User is the user's key and UserID their Okta id.
	User   string `json:"user"`
	UserID string `json:"user_id"`
	// Level is alarm, attempt or earlier.
	Level SignLevel `json:"level"`
	// Time is when Okta logged it; AfterS is how many seconds after the
	// revocation (the run's end), negative for an earlier sign.
	Time   time.Time `json:"time"`
	AfterS int64     `json:"after_revocation_s"`
	// EventType, Result and Reason are Okta's.
	EventType string `json:"event_type"`
	Result    string `json:"result"`
	Reason    string `json:"reason,omitempty"`
	// App is the app the event names (an SSO or a token grant), if any.
	App string `json:"app,omitempty"`
	// IP, City, Country and Client say where it came from.
	IP      string `json:"ip,omitempty"`
	City    string `json:"city,omitempty"`
	Country string `json:"country,omitempty"`
	Client  string `json:"client,omitempty"`
	// UUID is the System Log event's uuid, for finding it in Okta.
	UUID string `json:"uuid"`
	// Advice says what to do about it.
	Advice string `json:"advice"`
}

// signTypes are the event types that are signs of re-entry whatever their
// outcome; a prefix ends in ".".
var signTypes = []string{
	"user.session.start",
	"user.authentication.sso",
	"user.authentication.auth_via_mfa",
	"app.oauth2.token.grant",
	"app.oauth2.as.token.grant",
	"user.mfa.factor.activate",
	"user.mfa.factor.reset_all",
	"user.account.update_password",
	"system.push.send_factor_verify_push",
	"policy.evaluate_sign_on",
}

func isSignType(t string) bool {
	for _, s := range signTypes {
		if t == s || strings.HasPrefix(t, s+".") {
			return true
		}
	}
	return false
}

// successResult reports whether an outcome result means the thing worked.
func successResult(result string) bool {
	switch strings.ToUpper(result) {
	case "SUCCESS", "ALLOW":
		return true
	}
	return false
}

// ClassifySign decides whether ev is a sign of re-entry of the user with
// Okta id userID, and how bad: the event types of signTypes whether done
// by the user or done to them by something that is not another person (a
// client app, a policy), and any other event the user did successfully.
// Events another person did to the user (an admin's lifecycle change, the
// run's own steps) are not signs. A success after revokedAt is an alarm; a
// denial (FAILURE, DENY, CHALLENGE, ...) after it an attempt; anything
// before it is earlier.
func ClassifySign(ev LogEvent, runID, user, userID string, revokedAt time.Time) (Sign, bool) {
	byUser := ev.ActorID == userID
	toUser := false
	for _, t := range ev.Targets {
		if t.ID == userID {
			toUser = true
		}
	}
	success := successResult(ev.Result)
	switch {
	case isSignType(ev.EventType) && (byUser || toUser && !strings.EqualFold(ev.ActorType, "User")):
	case byUser && success:
	default:
		return Sign{}, false
	}
	s := Sign{
		Type: "watch_sign", RunID: runID, User: user, UserID: userID,
		Time: ev.Published.UTC(), AfterS: int64(ev.Published.Sub(revokedAt) / time.Second),
		EventType: ev.EventType, Result: ev.Result, Reason: ev.Reason,
		IP: ev.IP, City: ev.City, Country: ev.Country, Client: ev.Client, UUID: ev.UUID,
	}
	for _, t := range ev.Targets {
		if strings.EqualFold(t.Type, "AppInstance") || strings.EqualFold(t.Type, "PublicClientApp") {
			s.App = t.Name
			break
		}
	}
	if s.App == "" && ev.ActorID != userID && !strings.EqualFold(ev.ActorType, "User") && ev.ActorName != "" {
		s.App = ev.ActorName // a client app granted itself the user's token
	}
	switch {
	case ev.Published.Before(revokedAt):
		s.Level = SignEarlier
		s.Advice = "before the revocation took effect; for the record"
	case success:
		s.Level = SignAlarm
		s.Advice = alarmAdvice(s)
	default:
		s.Level = SignAttempt
		s.Advice = "denied: the containment holds; someone is still trying with the user's credentials, so reset the password and factors"
	}
	return s, true
}

func alarmAdvice(s Sign) string {
	switch {
	case strings.HasPrefix(s.EventType, "app.oauth2.") && s.App != "":
		return fmt.Sprintf("a token was granted after the run: %s is not covered by the run; revoke the app's grants and tokens for the user in Okta (the containment again with revoke grants: R on the board), and add %s to targets.toml if it can sign users out", s.App, s.App)
	case strings.HasPrefix(s.EventType, "user.mfa.factor"), s.EventType == "user.account.update_password":
		return "the user's credentials changed after the run: reset the password and every factor, then run the containment again (R on the board)"
	}
	return "someone signed in after the run: run the containment again with suspend (R on the board) and reset the password and factors"
}

// Line is the sign as one line for people, such as
// "⚠ 04:12 user.session.start from 203.0.113.66 Amsterdam NL via Okta Dashboard — 2 min after revocation".
func (s Sign) Line() string {
	mark := "⚠"
	switch s.Level {
	case SignAttempt:
		mark = "✓"
	case SignEarlier:
		mark = "·"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s %s", mark, s.Time.Local().Format("15:04:05"), s.EventType)
	if s.Result != "" {
		b.WriteString(" " + strings.ToLower(s.Result))
	}
	if s.IP != "" || s.City != "" {
		b.WriteString(" from")
		for _, w := range []string{s.IP, s.City, s.Country} {
			if w != "" {
				b.WriteString(" " + w)
			}
		}
	}
	if s.App != "" {
		b.WriteString(" to " + s.App)
	} else if s.Client != "" {
		b.WriteString(" via " + s.Client)
	}
	b.WriteString(" — " + relative(s.AfterS))
	if s.Level == SignAttempt {
		b.WriteString(" (denied: the containment holds)")
	}
	return safetext.Line(b.String(), 300)
}

// relative says how long after (or before) the revocation.
func relative(sec int64) string {
	word := "after"
	if sec < 0 {
		word, sec = "before", -sec
	}
	switch {
	case sec < 60:
		return fmt.Sprintf("%d s %s revocation", sec, word)
	case sec < 3600:
		return fmt.Sprintf("%d min %s revocation", sec/60, word)
	}
	return fmt.Sprintf("%.1f h %s revocation", float64(sec)/3600, word)
}

// WatchUpdate is what a watch reports as it goes: a sign, a change of its
// deadline, a poll that failed, or its end.
type WatchUpdate struct {
	// Sign is a new sign, or nil.
	Sign *Sign
	// Until is when the watch is due to end.
	Until time.Time
	// Polls is how many System Log requests the watch has made.
	Polls int
	// Err is a poll that failed, in one sentence; the watch goes on.
	Err string
	// Done is set on the last update; Tally then holds the totals.
	Done  bool
	Tally WatchTally
	// Head is the audit log's head hash once the watch's latest event is
	// recorded (what ulc audit verify --head takes); "" when unknown.
	Head string
}

// Count adds s to the tally.
func (t *WatchTally) Count(s Sign) {
	switch s.Level {
	case SignAlarm:
		t.Alarms++
	case SignAttempt:
		t.Attempts++
	default:
		t.Earlier++
	}
}

// DefaultWatch is how long a run's users are watched after it, unless the
// operator says otherwise.
const DefaultWatch = 15 * time.Minute

// WatchOptions say how a watch goes.
type WatchOptions struct {
	// For is how long to watch from now.
	For time.Duration
	// Every is the least time between two rounds of polls (0: 10 s); the
	// System Log's rate-limit budget may stretch it.
	Every time.Duration
	// Extend, when not nil, moves the watch's end later by each duration
	// it receives while the watch runs; each extension is recorded and
	// reported with the new end (WatchUpdate.Until).
	Extend <-chan time.Duration
}

// WatchStop is a reason to end a watch early, given as the cause when its
// context is cancelled (context.WithCancelCause); the watch records it as
// why it ended. A context cancelled without one records "cancelled".
type WatchStop string

// The reasons a watch ends.
const (
	// WatchTime: the window is over.
	WatchTime WatchStop = "time"
	// WatchStopped: the operator stopped it.
	WatchStopped WatchStop = "stopped"
	// WatchQuit: the console (or the process) closed.
	WatchQuit WatchStop = "quit"
	// WatchCancelled: the process was interrupted (ctrl+c, a signal).
	WatchCancelled WatchStop = "cancelled"
	// WatchRefused: Okta refuses the credential the System Log.
	WatchRefused WatchStop = "refused"
)

// Error implements error, so that a WatchStop can be a context's cause.
func (s WatchStop) Error() string { return "watch " + string(s) }

// DescribeWatch is one line about a watch event for people, as timelines
// show it, and false for an event of another kind.
func DescribeWatch(ev Event) (string, bool) {
	switch ev.Kind {
	case KindWatchStarted:
		var i WatchInfo
		_ = json.Unmarshal(ev.Detail, &i)
		line := fmt.Sprintf("watch_started of %s until %s", plural(len(i.Users), "user"), i.Until.Local().Format("15:04:05"))
		if i.Operator != "" {
			line += " by " + i.Operator
			if i.Host != "" {
				line += "@" + i.Host
			}
		}
		return safetext.Line(line, 300), true
	case KindWatchSign:
		var s Sign
		if json.Unmarshal(ev.Detail, &s) != nil {
			return "watch_sign", true
		}
		line := fmt.Sprintf("watch_sign %s %s: %s", s.Level, s.User, s.Line())
		if s.UUID != "" {
			line += " [" + s.UUID + "]"
		}
		return safetext.Line(line, 400), true
	case KindWatchExtended:
		var x WatchExtension
		_ = json.Unmarshal(ev.Detail, &x)
		line := fmt.Sprintf("watch_extended by %s until %s", x.By, x.Until.Local().Format("15:04:05"))
		if x.Operator != "" {
			line += " by " + x.Operator
			if x.Host != "" {
				line += "@" + x.Host
			}
		}
		return safetext.Line(line, 300), true
	case KindWatchEnded:
		var t WatchTally
		_ = json.Unmarshal(ev.Detail, &t)
		return safetext.Line(fmt.Sprintf("watch_ended (%s): %s, %s, %s earlier, %s",
			t.Reason, plural(t.Alarms, "alarm"), plural(t.Attempts, "attempt"), fmt.Sprint(t.Earlier), plural(t.Polls, "poll")), 300), true
	}
	return "", false
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}
