// Package directory holds the plain types of the identity directory as the
// console shows it: people, search pages, sign-in activity, factors and the
// provider's rate-limit budget. It imports nothing that needs cgo or an SDK,
// so the console can depend on it alone.
package directory

import (
	"time"

	"ulc/actions"
)

// Person is an Okta user as the console shows them. Every string that came
// from Okta has been made safe to print (safetext.Line).
type Person struct {
	actions.User
	// FirstName, LastName, Department, Title and City are profile
	// attributes; Country is the profile's countryCode.
	FirstName, LastName, Department, Title, City, Country string
	// Created, LastLogin and StatusChanged are zero when Okta has none.
	Created, LastLogin, StatusChanged time.Time
}

// Page is one page of search results.
type Page struct {
	// People are the users found, in Okta's order.
	People []Person
	// Next is an opaque cursor for Search to continue; "" when done.
	Next string
	// Total is the number of matches when the search finished within this
	// call from its start, else -1 (Okta does not count matches).
	Total int
}

// Activity is one System Log event about a user.
type Activity struct {
	// Time is when Okta published the event.
	Time time.Time
	// EventType is Okta's event type, such as user.session.start.
	EventType string
	// Message is Okta's display message.
	Message string
	// Outcome is SUCCESS, FAILURE, ..., with the reason when Okta gave one.
	Outcome string
	// IP, City and Country say where the request came from.
	IP, City, Country string
	// Client is the browser and operating system, such as "CHROME on Mac OS X".
	Client string
	// Device is the kind of device, such as "Computer".
	Device string
}

// Factor is one enrolled authentication factor.
type Factor struct {
	// Type is Okta's factorType (push, token:software:totp, sms, ...).
	Type string
	// Provider is OKTA, GOOGLE, ...
	Provider string
	// Status is ACTIVE, PENDING_ACTIVATION, ...
	Status string
}

// RateStatus is Okta's rate-limit budget as last reported.
type RateStatus struct {
	// Limit is the ceiling of the last answered request's bucket
	// (X-Rate-Limit-Limit); Remaining is what is left of it
	// (X-Rate-Limit-Remaining). Both are 0 before the first answer.
	Limit, Remaining int
	// Reset is when the bucket's window resets, on the local clock.
	Reset time.Time
}
