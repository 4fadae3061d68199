package tui

import (
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"charm.land/bubbles/v2/cursor"
	"charm.land/bubbles/v2/spinner"
	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/colorprofile"
	"github.com/charmbracelet/x/ansi"
)

// driver runs a Model the way tea.Program does, with Update and View on
// the test's goroutine, so a test can look at the model between messages.
// Every Cmd goes to exec, a headless tea.Program that serves only to run
// commands: it runs a tea.Batch concurrently and a tea.Sequence in order,
// exactly as the console's own program does (tea.Sequence's message type
// is unexported, so a real program is the one way to run it faithfully).
// Every Msg a command yields comes back over msgs and is fed to Update in
// arrival order. Animation ticks (spinner frames, cursor blinks) are
// dropped so the loop ends.
type driver struct {
	t       *testing.T
	m       Model
	exec    *tea.Program
	msgs    chan tea.Msg
	pending int // commands given to exec whose cmdDone has not come back
	quit    bool
}

// cmdDone comes back after every message of one command handed to exec,
// its batches and sequences included.
type cmdDone struct{}

// executor is exec's model: it passes every message on to the driver and
// never updates or draws anything itself.
type executor struct {
	out  chan<- tea.Msg
	stop <-chan struct{} // closed when the test ends
}

func (e executor) Init() tea.Cmd { return nil }

func (e executor) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	select {
	case e.out <- msg:
	case <-e.stop:
	}
	return e, nil
}

func (e executor) View() tea.View { return tea.NewView("") }

func newDriver(t *testing.T, deps Deps, w, h int) *driver {
	t.Helper()
	d := &driver{t: t, m: newTestModel(deps), msgs: make(chan tea.Msg, 1024)}
	d.exec = startExecutor(t, d.msgs)
	d.send(tea.WindowSizeMsg{Width: w, Height: h})
	d.run(d.m.Init())
	d.settle()
	return d
}

// startExecutor starts the program that runs the driver's commands and
// passes what they yield to out; it is stopped when the test ends.
func startExecutor(t *testing.T, out chan<- tea.Msg) *tea.Program {
	t.Helper()
	stop := make(chan struct{})
	forward := func(msg tea.Msg) {
		select {
		case out <- msg:
		case <-stop:
		}
	}
	p := tea.NewProgram(executor{out: out, stop: stop},
		tea.WithInput(nil), tea.WithOutput(io.Discard), tea.WithoutRenderer(),
		tea.WithoutSignalHandler(), tea.WithoutCatchPanics(),
		tea.WithColorProfile(colorprofile.Ascii), tea.WithEnvironment([]string{}),
		tea.WithFilter(func(_ tea.Model, msg tea.Msg) tea.Msg {
			switch msg.(type) {
			case tea.ColorProfileMsg, tea.EnvMsg, tea.WindowSizeMsg:
				// The program's own start-up messages, not the console's:
				// the test sets the console's size itself.
				return nil
			case tea.QuitMsg, tea.InterruptMsg, tea.SuspendMsg:
				// The console's to handle; the program would stop (or
				// suspend the test process) on them.
				forward(msg)
				return nil
			}
			return msg
		}))
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		_, _ = p.Run() // ErrProgramKilled when the test ends; nothing to report
	}()
	t.Cleanup(func() {
		close(stop)
		p.Kill()
		<-stopped
	})
	return p
}

// run hands cmd to the executor, followed by a cmdDone.
func (d *driver) run(cmd tea.Cmd) {
	if cmd == nil {
		return
	}
	d.pending++
	seq := tea.Sequence(cmd, func() tea.Msg { return cmdDone{} })()
	go d.exec.Send(seq) // as tea.Program does: commands never block Update
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

// deliver feeds one message from the executor to the console.
func (d *driver) deliver(msg tea.Msg) {
	switch msg.(type) {
	case cmdDone:
		d.pending--
	case tea.QuitMsg:
		d.quit = true
	case spinner.TickMsg, cursor.BlinkMsg, watchTickMsg:
		// dropped: an animation frame (or the watch's clock) would re-arm
		// itself forever
	default:
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
	case "ctrl+g":
		msg = tea.KeyPressMsg{Code: 'g', Mod: tea.ModCtrl}
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
