package forward

import (
	"encoding/json"
	"encoding/pem"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"sync"
	"testing"
)

var seqHashRE = regexp.MustCompile(`seq="(\d+)" hash="([0-9a-f]{64})"`)

// seqs returns, per seq received, the hashes it arrived with.
func seqs(t testing.TB, msgs []string) map[int64][]string {
	t.Helper()
	out := map[int64][]string{}
	for _, m := range msgs {
		sm := seqHashRE.FindStringSubmatch(m)
		if sm == nil {
			t.Fatalf("a message without seq and hash: %q", m)
		}
		n, _ := strconv.ParseInt(sm[1], 10, 64)
		out[n] = append(out[n], sm[2])
	}
	return out
}

// hecCollector is a Splunk HTTP Event Collector fake over TLS: it accepts
// POST /services/collector/event with "Authorization: Splunk <token>",
// answers Splunk's error bodies otherwise, and keeps every event.
type hecCollector struct {
	srv   *httptest.Server
	token string
	caPEM []byte

	mu     sync.Mutex
	events []map[string]any
	auths  []string
	down   bool
}

func newHECCollector(t testing.TB, token string) *hecCollector {
	t.Helper()
	h := &hecCollector{token: token}
	h.srv = httptest.NewTLSServer(http.HandlerFunc(h.serve))
	t.Cleanup(h.srv.Close)
	h.caPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: h.srv.Certificate().Raw})
	return h
}

func (h *hecCollector) serve(w http.ResponseWriter, r *http.Request) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.auths = append(h.auths, r.Header.Get("Authorization"))
	w.Header().Set("Content-Type", "application/json")
	switch {
	case h.down:
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = io.WriteString(w, `{"text":"Server is busy","code":9}`)
		return
	case r.URL.Path == "/services/collector/health":
		_, _ = io.WriteString(w, `{"text":"HEC is healthy","code":17}`)
		return
	case r.Method != http.MethodPost || r.URL.Path != "/services/collector/event":
		w.WriteHeader(http.StatusNotFound)
		_, _ = io.WriteString(w, `{"text":"The requested URL was not found on this server.","code":404}`)
		return
	case r.Header.Get("Authorization") == "":
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = io.WriteString(w, `{"text":"Token is required","code":2}`)
		return
	case r.Header.Get("Authorization") != "Splunk "+h.token:
		w.WriteHeader(http.StatusForbidden)
		_, _ = io.WriteString(w, `{"text":"Invalid token","code":4}`)
		return
	}
	dec := json.NewDecoder(r.Body)
	var got []map[string]any
	for {
		var ev map[string]any
		if err := dec.Decode(&ev); err == io.EOF {
			break
		} else if err != nil || ev["event"] == nil {
			w.WriteHeader(http.StatusBadRequest)
			_, _ = io.WriteString(w, `{"text":"Invalid data format","code":6}`)
			return
		}
		got = append(got, ev)
	}
	h.events = append(h.events, got...)
	_, _ = io.WriteString(w, `{"text":"Success","code":0}`)
}
