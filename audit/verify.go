package audit

import (
	"context"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
)

// Verify re-computes the hash chain over the whole log and reports the first
// event that was changed, removed or moved. knownHead, if not "", is a head
// hash printed earlier (by verify, or pasted into a ticket): it must still
// be in the chain, which detects a log truncated at the end or replaced by
// a re-hashed one. A malformed knownHead is an error, as is a failure to
// read the log; a broken chain is not an error but a result.
func (l *Log) Verify(ctx context.Context, knownHead string) (VerifyResult, error) {
	var res VerifyResult
	if err := l.usable(); err != nil {
		return res, err
	}
	knownHead = strings.ToLower(strings.TrimSpace(knownHead))
	if knownHead != "" {
		if b, err := hex.DecodeString(knownHead); err != nil || len(b) != 32 {
			return res, fmt.Errorf("audit: the head hash %q is not a SHA-256 hash (64 hexadecimal digits)", knownHead)
		}
	}
	// The fast check vouches for an intact log; anything else is for the
	// row-by-row check below, which says where and how the chain breaks.
	fast, ok, err := l.verifyFast(ctx, knownHead)
	if err != nil {
		return res, err
	}
	if ok && fast.foundHead {
		res = VerifyResult{OK: true, Events: fast.events, HeadSeq: fast.lastSeq, Head: fast.lastHash}
		if err := l.settled(nil); err != nil {
			return VerifyResult{}, err
		}
		return res, nil
	}
	// One statement is one consistent snapshot (WAL), even while others
	// append.
	rows, err := l.db.QueryContext(ctx, `SELECT `+columnList+` FROM events ORDER BY seq`)
	if err != nil {
		return res, l.wrap(err)
	}
	defer rows.Close()

	var (
		v         chainVerifier
		foundHead = knownHead == ""
		vals      = make([]any, len(columns))
		ptrs      = make([]any, len(columns))
	)
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	for rows.Next() {
		// Scanned as any, not typed: a tampered row may hold anything, and
		// Verify must describe it rather than fail to read it.
		if err := rows.Scan(ptrs...); err != nil {
			return res, l.wrap(err)
		}
		r, nulls := rowFromValues(vals)
		v.next(r, nulls)
		if !foundHead && v.broken == 0 && r[colHash] == knownHead {
			foundHead = true
		}
	}
	if err := rows.Err(); err != nil {
		return res, l.wrap(err)
	}
	res.Events, res.HeadSeq, res.Head = v.count, v.lastSeq, v.lastHash
	res.BrokenSeq, res.Problem = v.broken, v.problem
	if v.broken == 0 && !foundHead {
		res.BrokenSeq = v.lastSeq + 1
		now := fmt.Sprintf("it now ends at event %d", v.lastSeq)
		if v.count == 0 {
			now = "it is now empty"
		}
		res.Problem = fmt.Sprintf("the head hash %s given was not found: the log was truncated or replaced (%s)", knownHead, now)
	}
	res.OK = res.BrokenSeq == 0
	if err := l.settled(nil); err != nil {
		return VerifyResult{}, err
	}
	return res, nil
}

// rowFromValues renders scanned column values as text, the way the writer
// rendered them for the hash. nulls reports whether any column was NULL,
// which the writer never stores.
func rowFromValues(vals []any) (r row, nulls bool) {
	for i, v := range vals {
		switch v := v.(type) {
		case nil:
			nulls = true
		case int64:
			r[i] = strconv.FormatInt(v, 10)
		case string:
			r[i] = v
		case []byte:
			r[i] = string(v)
		case float64:
			r[i] = strconv.FormatFloat(v, 'g', -1, 64)
		default:
			r[i] = fmt.Sprint(v)
		}
	}
	return r, nulls
}

// chainVerifier checks rows one at a time, in seq order, and remembers the
// first break.
type chainVerifier struct {
	count    int64
	lastSeq  int64
	lastHash string
	broken   int64
	problem  string
}

// next checks r, the row after the last one seen.
func (v *chainVerifier) next(r row, nulls bool) {
	prevSeq, prevHash := v.lastSeq, v.lastHash
	if v.count == 0 {
		prevHash = GenesisHash
	}
	seq, err := strconv.ParseInt(r[colSeq], 10, 64)
	v.count++
	if err == nil {
		v.lastSeq = seq
	}
	v.lastHash = r[colHash]
	if v.broken != 0 {
		return
	}
	want := prevSeq + 1
	switch {
	case err != nil || seq < want:
		v.fail(want, fmt.Sprintf("event %d was changed (its sequence number %q is not %d)", want, r[colSeq], want))
	case seq > want && want == 1:
		v.fail(want, fmt.Sprintf("event 1 is missing (the log starts at event %d)", seq))
	case seq == want+1:
		v.fail(want, fmt.Sprintf("event %d is missing (sequence jumps from %d to %d)", want, prevSeq, seq))
	case seq > want:
		v.fail(want, fmt.Sprintf("events %d to %d are missing (sequence jumps from %d to %d)", want, seq-1, prevSeq, seq))
	default:
		changed := nulls || r.computeHash() != r[colHash]
		follows := r[colPrevHash] == prevHash
		switch {
		case changed && follows:
			v.fail(seq, fmt.Sprintf("event %d was changed (its hash does not match its content)", seq))
		case changed && seq == 1:
			v.fail(seq, "event 1 was changed or replaced (its hash does not match its content, and its prev_hash is not the genesis hash)")
		case changed:
			v.fail(seq, fmt.Sprintf("event %d was changed or moved (its hash does not match its content, and it does not follow event %d): rows changed or reordered", seq, prevSeq))
		case !follows && seq == 1:
			v.fail(seq, "event 1 does not start the chain (its prev_hash is not the genesis hash): the log was replaced")
		case !follows:
			v.fail(seq, fmt.Sprintf("event %d does not follow event %d (prev_hash mismatch): rows removed or reordered", seq, prevSeq))
		}
	}
}

func (v *chainVerifier) fail(seq int64, problem string) {
	v.broken, v.problem = seq, problem
}
