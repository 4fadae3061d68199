package tui

import (
	"os"
	"testing"
	"time"
)

func TestMain(m *testing.M) {
	// Frames show local times: pin the zone so golden files match
	// everywhere.
	time.Local = time.UTC
	os.Exit(m.Run())
}

// newTestModel is New with the search debounce cut to a few milliseconds.
func newTestModel(deps Deps) Model {
	m := New(deps)
	m.c.debounce = 2 * time.Millisecond
	return m
}
