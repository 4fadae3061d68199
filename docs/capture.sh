#!/usr/bin/env bash
# Regenerates docs/screens.md: drives a real `ulc demo` in a private tmux
# server (100x30) through one incident and records each screen as text.
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
tmux -f /dev/null new-session -d -x 100 -y 30 \
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
(a local Okta stand-in and thirteen demo apps: one answers after about two
seconds, one never answers within its timeout, one fails twice with 503 and
then succeeds, one is down, and
trinity has no account at crm), captured from a 100x30 tmux pane. Colours
are gone; every status is also spelled out in words, so nothing is lost.

Regenerate with `docs/capture.sh` (ports, paths, run ids and times change
from run to run).

EOF

wait_for "results appear as you type"
tmux send-keys -l "trin"
wait_for "trinity@whiterabbit.fake"
snap "Search with results" \
	"Next, the operator presses enter to move into the results and enter again to open Trinity (space would mark several people for one run)."

tmux send-keys Enter Enter
wait_for "Recent activity" "CLIENT" "Factors      push"
snap "User" \
	"Having seen the sign-ins from Amsterdam and the rejected pushes, the operator presses r to log Trinity out of Okta and every app."

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
wait_for "running" "revoked"
snap "Board, running" \
	"The operator watches the apps answer, failures and retries on top, and waits for the slow one (x would cancel whatever has not answered yet)."

wait_for "20/20 finished"
snap "Board, finished" \
	"With build-farm down, reports never answering in time, crm without an account for Trinity and mail-archive through on its third try, the operator reads the selected row's whole reason under the table and presses enter for its detail (R would ask, then retry the failures as a new run)."

tmux send-keys Enter
wait_for "Attempts"
snap "Board, a step's detail" \
	"Having read every attempt of the app that never answered in time, the operator presses esc, then 2 to see the run in History."

tmux send-keys Escape
sleep 0.3

tmux send-keys 2
wait_for "1 run in"
snap "History" \
	"The operator presses enter to open the run (/ would filter the runs, v verify the audit log's hash chain)."

tmux send-keys Enter
wait_for "KIND" "okta-itp"
snap "Run detail" \
	"After reading who sent what, why, each step with its kind, and each event of the timeline below (↓ scrolls), the operator presses 3 for the Targets screen."

tmux send-keys 3
wait_for "18 targets registered"
for _ in $(seq 12); do tmux send-keys Down; done
tmux send-keys c
wait_for "build-farm: "
snap "Targets" \
	"Having checked build-farm with c (a request for a user that cannot exist: it is still down), the operator presses q to quit, and the console prints the audit log's head hash."

tmux send-keys q
mv "$out.tmp" "$out"
echo "wrote $out"
