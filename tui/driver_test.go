package tui

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"charm.land/bubbles/v2/spinner"
	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"
)

// driver runs a Model the way tea.Program does, synchronously enough for
// tests: every Cmd runs on its own goroutine and its Msg is fed back into
// Update in arrival order, until nothing is pending. Animation ticks
// (spinner, cursor blink) are dropped so the loop ends.
type driver struct {
	t       *testing.T
	m       Model
	msgs    chan tea.Msg
	pending int
	quit    bool
}

func newDriver(t *testing.T, deps Deps, w, h int) *driver {
	t.Helper()
	d := &driver{t: t, m: newTestModel(deps), msgs: make(chan tea.Msg, 1024)}
	d.send(tea.WindowSizeMsg{Width: w, Height: h})
	d.run(d.m.Init())
	d.settle()
	return d
}

func (d *driver) run(cmd tea.Cmd) {
	if cmd == nil {
		return
	}
	d.pending++
	go func() { d.msgs <- cmd() }()
}

// send delivers msg and whatever follows from it.
func (d *driver) send(msg tea.Msg) {
	m, cmd := d.m.Update(msg)
	d.m = m.(Model)
	d.run(cmd)
}

// settle processes messages until no Cmd is pending.
func (d *driver) settle() {
	d.t.Helper()
	deadline := time.After(5 * time.Second)
	for d.pending > 0 {
		select {
		case msg := <-d.msgs:
			d.pending--
			d.deliver(msg)
		case <-deadline:
			d.t.Fatalf("the console did not settle: %d commands still pending", d.pending)
		}
	}
}

// until processes messages until cond holds, leaving whatever else is
// pending (a run held by fakeRunner.block) to go on; it fails after a
// deadline with what the screen shows.
func (d *driver) until(what string, cond func() bool) {
	d.t.Helper()
	deadline := time.After(5 * time.Second)
	poll := time.NewTicker(time.Millisecond) // cond may watch a fake, not the model
	defer poll.Stop()
	for !cond() {
		select {
		case msg := <-d.msgs:
			d.pending--
			d.deliver(msg)
		case <-poll.C:
		case <-deadline:
			d.t.Fatalf("gave up waiting for %s (%d commands pending); the screen:\n%s", what, d.pending, d.frame())
		}
	}
}

// waitFor processes messages until the screen shows s.
func (d *driver) waitFor(s string) {
	d.t.Helper()
	d.until(fmt.Sprintf("%q on screen", s), func() bool { return strings.Contains(d.frame(), s) })
}

// press presses a key without waiting for what follows from it.
func (d *driver) press(k string) {
	d.t.Helper()
	d.send(keyMsg(d.t, k))
}

func (d *driver) deliver(msg tea.Msg) {
	switch msg := msg.(type) {
	case nil:
	case tea.QuitMsg:
		d.quit = true
	case tea.BatchMsg:
		for _, c := range msg {
			d.run(c)
		}
	case spinner.TickMsg:
		// dropped: an animation frame would re-arm itself forever
	default:
		v := reflect.ValueOf(msg)
		if v.Kind() == reflect.Slice && v.Type().Elem() == reflect.TypeOf(tea.Cmd(nil)) {
			// tea.Sequence: run in order, each to completion.
			for i := range v.Len() {
				c := v.Index(i).Interface().(tea.Cmd)
				if c != nil {
					d.deliver(c())
				}
			}
			return
		}
		if strings.Contains(reflect.TypeOf(msg).String(), "Blink") {
			return
		}
		d.send(msg)
	}
}

// key presses a key and waits until the console settles.
func (d *driver) key(k string) {
	d.t.Helper()
	d.send(keyMsg(d.t, k))
	d.settle()
}

// keyMsg is the key press for k: "enter", "esc", "tab", "space", "ctrl+c",
// "up", or a single character.
func keyMsg(t *testing.T, k string) tea.KeyPressMsg {
	t.Helper()
	var msg tea.KeyPressMsg
	switch k {
	case "enter":
		msg = tea.KeyPressMsg{Code: tea.KeyEnter}
	case "esc":
		msg = tea.KeyPressMsg{Code: tea.KeyEscape}
	case "tab":
		msg = tea.KeyPressMsg{Code: tea.KeyTab}
	case "shift+tab":
		msg = tea.KeyPressMsg{Code: tea.KeyTab, Mod: tea.ModShift}
	case "space":
		msg = tea.KeyPressMsg{Code: tea.KeySpace, Text: " "}
	case "up":
		msg = tea.KeyPressMsg{Code: tea.KeyUp}
	case "down":
		msg = tea.KeyPressMsg{Code: tea.KeyDown}
	case "backspace":
		msg = tea.KeyPressMsg{Code: tea.KeyBackspace}
	case "ctrl+c":
		msg = tea.KeyPressMsg{Code: 'c', Mod: tea.ModCtrl}
	case "ctrl+p":
		msg = tea.KeyPressMsg{Code: 'p', Mod: tea.ModCtrl}
	case "pgdown":
		msg = tea.KeyPressMsg{Code: tea.KeyPgDown}
	default:
		r := []rune(k)
		if len(r) != 1 {
			t.Fatalf("unknown key %q", k)
		}
		msg = tea.KeyPressMsg{Code: r[0], Text: k}
		if r[0] >= 'A' && r[0] <= 'Z' {
			msg.ShiftedCode, msg.Mod = r[0], tea.ModShift
			msg.Code = r[0] + ('a' - 'A')
		}
	}
	return msg
}

// typeText types s one key at a time.
func (d *driver) typeText(s string) {
	for _, r := range s {
		if r == ' ' {
			d.key("space")
			continue
		}
		d.key(string(r))
	}
}

// frame is the screen as plain text.
func (d *driver) frame() string { return ansi.Strip(d.m.View().Content) }

// sees fails unless the frame contains every want.
func (d *driver) sees(want ...string) {
	d.t.Helper()
	f := d.frame()
	for _, w := range want {
		if !strings.Contains(f, w) {
			d.t.Fatalf("the screen does not show %q:\n%s", w, f)
		}
	}
}
