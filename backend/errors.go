package backend

import (
	"errors"
	"fmt"

	"ulc/actions"
)

// Class says what an error means to the caller: the commands turn it into
// ulc's exit status.
type Class int

// The classes of error.
const (
	// ClassFailures: some step was rejected, failed or cancelled.
	ClassFailures Class = iota + 1
	// ClassUsage: a bad command line, configuration or credential; nothing
	// was sent.
	ClassUsage
	// ClassAudit: the audit log cannot be written or read.
	ClassAudit
)

// Error is an error with its class.
type Error struct {
	Class Class
	Err   error
}

// Error implements error.
func (e *Error) Error() string {
	if e.Err == nil {
		return ""
	}
	return e.Err.Error()
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// ClassOf returns err's class: the class of the first *Error in its chain,
// ClassAudit for actions.ErrAudit, else ClassFailures.
func ClassOf(err error) Class {
	var be *Error
	switch {
	case errors.As(err, &be):
		return be.Class
	case errors.Is(err, actions.ErrAudit):
		return ClassAudit
	}
	return ClassFailures
}

// classify wraps err with class c, unless it already has one.
func classify(c Class, err error) error {
	if err == nil {
		return nil
	}
	var be *Error
	if errors.As(err, &be) {
		return err
	}
	return &Error{Class: c, Err: err}
}

func usagef(format string, a ...any) error {
	return &Error{Class: ClassUsage, Err: fmt.Errorf(format, a...)}
}
