#!/usr/bin/env bash
# Regenerates docs/screens.md: drives a real `ulc demo` in a private tmux
# server (80x24) through the README's walk-through and records each screen
# as text.
#
#   docs/capture.sh            # from the repository root; needs go and tmux
#
# Ports, temporary paths, run ids and times differ from run to run.
set -euo pipefail

cd "$(dirname "$0")/.."
out=docs/screens.md
work=$(mktemp -d)
sock="ulc-capture-$$"
tmux() { command tmux -L "$sock" "$@"; }
cleanup() { tmux kill-server 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

go build -o "$work/ulc" .

# A clean environment: no Okta settings of yours reach the demo.
tmux -f /dev/null new-session -d -x 80 -y 24 \
	"env -i PATH='$PATH' HOME='$work' TERM=tmux-256color TMPDIR='$work' '$work/ulc' demo; sleep 600"

# wait_for TEXT...: poll the pane (at most 20 s) until it shows every TEXT.
wait_for() {
	local deadline=$((SECONDS + 20)) screen t ok
	while :; do
		screen=$(tmux capture-pane -p)
		ok=1
		for t in "$@"; do
			[[ $screen == *"$t"* ]] || ok=0
		done
		((ok)) && return 0
		if ((SECONDS > deadline)); then
			printf 'capture.sh: the screen never showed %s; it shows:\n%s\n' "$*" "$screen" >&2
			exit 1
		fi
		sleep 0.05
	done
}

# snap TITLE NEXT: append the screen under TITLE, then what the operator
# does next.
snap() {
	{
		printf '## %s\n\n```text\n' "$1"
		tmux capture-pane -p | sed -e 's/[[:space:]]*$//'
		printf '```\n\n%s\n\n' "$2"
	} >>"$out.tmp"
}

cat >"$out.tmp" <<'EOF'
# The console, screen by screen

A short screen recording in text form: one incident handled in `ulc demo`
(a local Okta stand-in, thirteen demo GTR apps and the vendors' fakes: one
app answers after about two seconds, one never answers within its timeout,
one fails twice with 503 and then succeeds, one is down, trinity has no
account at crm, and Slack's demo token lacks a scope), captured from an
80x24 tmux pane while following the README's walk-through key by key.
Colours are gone; every status is also spelled out in words, so nothing is
lost.

Regenerate with `docs/capture.sh` (ports, paths, run ids and times change
from run to run).

EOF

wait_for "results appear as you type"
tmux send-keys -l "trin"
wait_for "trinity@whiterabbit.fake"
snap "Search with results" \
	"Next, the operator presses enter to move into the results and enter again to open Trinity (space would mark several people for one run)."

tmux send-keys Enter Enter
wait_for "Recent activity" "OUTCOME"
snap "User" \
	"Having seen the new place (Amsterdam, marked *) and the rejected pushes (↓ selects an event and shows it in full below), the operator presses r to log Trinity out of Okta and every app."

tmux send-keys r
wait_for "Log out trinity@whiterabbit.fake"
tmux send-keys -l "phished via fake sso page"
tmux send-keys Tab
tmux send-keys -l "INC-4211"
tmux send-keys C-g
tmux send-keys -l "trinity@whiterabbit.fake"
wait_for "Confirm › trinity@whiterabbit.fake"
snap "Confirm" \
	"With the reason and ticket filled in (tab moves down the fields), ctrl+g to jump to Confirm and the login typed as confirmation, the operator presses enter to send (ctrl+p would record a dry run and send nothing)."

tmux send-keys Enter
wait_for "running"
snap "Board, running" \
	"The operator watches the apps answer, failures and retries on top, and waits for the slow one (x would cancel whatever has not answered yet)."

wait_for "20/20 finished"
snap "Board, finished" \
	"Failures sort to the top; the line under the table is the selected row's whole reason, ending in what to do, and the table's last line says how many rows lie below. The operator presses G for the last row."

tmux send-keys G
wait_for "–20 of 20"
snap "Board, the last row" \
	"Then g back to the first row, the app that never answered in time, and enter for its detail."

tmux send-keys g
wait_for "▸ reports:"
tmux send-keys Enter
wait_for "Attempts"
snap "Board, a step's detail" \
	"Having read every attempt of the app that never answered in time, the operator presses esc and stays on the board, which watches Trinity's System Log."

tmux send-keys Escape
wait_for "OUTCOME"
wait_for "ALARM"
snap "Board, the watch" \
	"Her attacker came back: a sign-in denied (the containment held), then a refresh token granted to an app no target signs out, an alarm with what to do. The operator presses R."

tmux send-keys R
wait_for "as a new run? y/n"
snap "Board, R asks first" \
	"The operator answers n: nothing is sent. Then 2 for History."

tmux send-keys n
wait_for "nothing sent"
tmux send-keys 2
wait_for "1 run in"
snap "History" \
	"The operator presses enter to open the run (/ would filter the runs, v verify the audit log's hash chain)."

tmux send-keys Enter
wait_for "KIND"
snap "Run view" \
	"The run's steps with their kinds, failures first, the selected step's whole reason under them (enter would list its attempts). The operator presses t for the run's timeline."

tmux send-keys t
wait_for "Timeline of run"
snap "Run timeline" \
	"Every event of the run as the audit log holds it, read a page at a time (↓ scrolls). t goes back to the steps; 3 opens the Targets screen."

tmux send-keys t
wait_for "KIND"
tmux send-keys 3
wait_for "targets registered"
for _ in $(seq 12); do tmux send-keys Down; done
tmux send-keys c
wait_for "build-farm: "
snap "Targets" \
	"Having checked build-farm with c (a request for a user that cannot exist: it is still down), the operator presses ? for every key."

tmux send-keys '?'
wait_for "check all"
snap "Help" \
	"? again closes it, and q quits: the console prints the audit log's head hash."

tmux send-keys '?'
tmux send-keys q
mv "$out.tmp" "$out"
echo "wrote $out"
