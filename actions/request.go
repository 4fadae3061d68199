package actions

// RunRequest is what an operator asked for, as the console confirms it or a
// command line gives it: who, why, which Okta steps and which targets. The
// backend turns it into a Plan against the target registry.
type RunRequest struct {
	// Users are people picked from the directory (the console, a resume);
	// each is resolved afresh by its Okta id, since its status may have
	// changed since it was shown.
	Users []User
	// Refs are users as typed (emails, logins or Okta ids), resolved
	// through the directory after Users.
	Refs []string
	// Reason is required; Ticket is optional.
	Reason, Ticket string
	// OktaSteps are the Okta actions to take before the fan-out.
	OktaSteps []Action
	// ForgetDevices makes clear-sessions also forget remembered factors.
	ForgetDevices bool
	// Targets names the targets to send to, in registry order; empty means
	// every enabled target.
	Targets []string
	// DryRun builds and records the exact requests and sends nothing.
	DryRun bool
	// ResumeOf and Skip make a run that continues another: Skip reports
	// the steps that already succeeded there.
	ResumeOf string
	Skip     func(user User, a Action, target string) bool
}
