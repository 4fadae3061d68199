package actions

import "time"

// SetAttemptWait sets how long the plan's first chunk waits for the first
// attempt, for a test; the returned func restores it.
func SetAttemptWait(d time.Duration) (restore func()) {
	old := attemptWait
	attemptWait = d
	return func() { attemptWait = old }
}
