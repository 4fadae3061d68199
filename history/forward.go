package history

import "fmt"

// ForwardStatus is how far one SIEM destination has received the log.
type ForwardStatus struct {
	// Name is the destination's name.
	Name string `json:"name"`
	// Delivered is how many events this process delivered to it.
	Delivered int64 `json:"delivered"`
	// Behind is how many events of the log it has not received.
	Behind int64 `json:"behind"`
	// Error is why the last delivery (or probe) failed, "" when it did
	// not. It never holds a token.
	Error string `json:"error,omitempty"`
}

// OK reports whether the destination has everything and its last
// delivery worked.
func (s ForwardStatus) OK() bool { return s.Error == "" && s.Behind == 0 }

// Header is the status as the console's header shows it: "siem ✓", or
// "siem ✗ 120 behind".
func (s ForwardStatus) Header() string {
	if s.OK() {
		return s.Name + " ✓"
	}
	return fmt.Sprintf("%s ✗ %d behind", s.Name, s.Behind)
}

// Line is the status as `ulc audit forward --status` prints it: the
// header, and why when something is wrong.
func (s ForwardStatus) Line() string {
	switch {
	case s.OK():
		return s.Header()
	case s.Error != "":
		return s.Header() + ": " + s.Error
	}
	return s.Header() + ": not delivered yet"
}
