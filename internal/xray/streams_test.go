package xray_test

import (
	"bytes"
	"context"
	"crypto/x509"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// A stream moves dripChunk bytes every dripEvery in one direction, so a
// test can tell within a few ticks whether a connection still carries
// traffic. dripFor bounds each stream, so nothing runs on if a test hangs.
const (
	dripChunk = 1 << 10
	dripEvery = 100 * time.Millisecond
	dripFor   = 60 * time.Second
	// quietFor without a byte counts as stopped: ten missed ticks.
	quietFor = 10 * dripEvery
)

// streamTarget is a local web server (plain HTTP and HTTPS) with endless slow
// streams: GET /drip sends to the client, POST /sink?id=NAME counts what the
// client sends under NAME. HTTPS matters: Vision splices TLS-in-TLS in the
// kernel, bypassing Xray's own copy loop, so a mechanism that ends plain
// sessions might miss those.
type streamTarget struct {
	plain, tls *httptest.Server

	mu   sync.Mutex
	sunk map[string]*atomic.Int64
}

func newStreamTarget(t *testing.T) *streamTarget {
	t.Helper()
	st := &streamTarget{sunk: make(map[string]*atomic.Int64)}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /drip", st.drip)
	mux.HandleFunc("POST /sink", st.sink)
	st.plain = httptest.NewServer(mux)
	st.tls = httptest.NewTLSServer(mux)
	t.Cleanup(func() {
		for _, s := range []*httptest.Server{st.plain, st.tls} {
			s.CloseClientConnections()
			s.Close()
		}
	})
	return st
}

func (st *streamTarget) drip(w http.ResponseWriter, r *http.Request) {
	chunk := bytes.Repeat([]byte("d"), dripChunk)
	tick := time.NewTicker(dripEvery)
	defer tick.Stop()
	end := time.After(dripFor)
	for {
		if _, err := w.Write(chunk); err != nil {
			return
		}
		w.(http.Flusher).Flush()
		select {
		case <-r.Context().Done():
			return
		case <-end:
			return
		case <-tick.C:
		}
	}
}

func (st *streamTarget) sink(w http.ResponseWriter, r *http.Request) {
	n := st.sunkFor(r.URL.Query().Get("id"))
	buf := make([]byte, 32<<10)
	for {
		k, err := r.Body.Read(buf)
		n.Add(int64(k))
		if err != nil {
			return
		}
	}
}

func (st *streamTarget) sunkFor(id string) *atomic.Int64 {
	st.mu.Lock()
	defer st.mu.Unlock()
	n, ok := st.sunk[id]
	if !ok {
		n = new(atomic.Int64)
		st.sunk[id] = n
	}
	return n
}

// roots trusts the HTTPS server's certificate.
func (st *streamTarget) roots() *x509.CertPool {
	pool := x509.NewCertPool()
	pool.AddCert(st.tls.Certificate())
	return pool
}

// flow is one stream seen from the test: how many bytes it has moved so far
// and when it ended.
type flow struct {
	name    string
	bytes   func() int64
	ended   chan struct{}
	err     error     // why it ended; read after ended is closed
	endedAt time.Time // likewise
}

// end records why and when f ended.
func (f *flow) end(err error) {
	f.err, f.endedAt = err, time.Now()
	close(f.ended)
}

// download opens GET /drip through hc (plain or over TLS) and counts what
// arrives.
func (st *streamTarget) download(t *testing.T, hc *http.Client, name string, overTLS bool) *flow {
	t.Helper()
	base := st.plain.URL
	if overTLS {
		base = st.tls.URL
	}
	ctx, cancel := context.WithTimeout(context.Background(), dripFor)
	t.Cleanup(cancel)
	var n atomic.Int64
	f := &flow{name: name, bytes: n.Load, ended: make(chan struct{})}
	go func() {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/drip", nil)
		resp, err := hc.Do(req)
		if err != nil {
			f.end(err)
			return
		}
		defer resp.Body.Close()
		buf := make([]byte, 32<<10)
		for {
			k, err := resp.Body.Read(buf)
			n.Add(int64(k))
			if err != nil {
				f.end(err)
				return
			}
		}
	}()
	return f
}

// upload sends a slow endless body to POST /sink and counts what the server
// receives.
func (st *streamTarget) upload(t *testing.T, hc *http.Client, name string) *flow {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), dripFor)
	t.Cleanup(cancel)
	f := &flow{name: name, bytes: st.sunkFor(name).Load, ended: make(chan struct{})}
	go func() {
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, st.plain.URL+"/sink?id="+name, &dripReader{ctx: ctx})
		resp, err := hc.Do(req)
		if err == nil {
			resp.Body.Close()
			err = io.EOF
		}
		f.end(err)
	}()
	return f
}

// dripReader yields dripChunk bytes every dripEvery until ctx ends.
type dripReader struct {
	ctx     context.Context
	started bool
}

func (d *dripReader) Read(p []byte) (int, error) {
	if d.started {
		select {
		case <-d.ctx.Done():
			return 0, d.ctx.Err()
		case <-time.After(dripEvery):
		}
	}
	d.started = true
	return copy(p, bytes.Repeat([]byte("u"), min(len(p), dripChunk))), nil
}

// waitFlowing waits until each flow has moved a few chunks.
func waitFlowing(t *testing.T, flows ...*flow) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for _, f := range flows {
		for f.bytes() < 3*dripChunk {
			select {
			case <-f.ended:
				t.Fatalf("%s ended before it carried traffic: %v", f.name, f.err)
			default:
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s carried %d bytes in 10 s", f.name, f.bytes())
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}

// lastByteAfter watches f from since on and returns how long after since it
// last moved a byte (zero: none after since), once it has ended or been
// quiet for quietFor. A flow still moving bytes at since+bound fails the
// test: the bound is a correctness limit, not a performance figure.
func lastByteAfter(t *testing.T, f *flow, since time.Time, bound time.Duration) time.Duration {
	t.Helper()
	last, lastAt := f.bytes(), since
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		ended := false
		select {
		case <-f.ended:
			ended = true
		case <-tick.C:
		}
		now := time.Now()
		if n := f.bytes(); n != last {
			last, lastAt = n, now
		}
		if ended || now.Sub(lastAt) >= quietFor {
			return lastAt.Sub(since)
		}
		if now.Sub(since) > bound {
			t.Fatalf("%s still carries traffic %s after revocation (%d bytes so far)", f.name, now.Sub(since).Round(time.Millisecond), last)
		}
	}
}

// endedAfter says how long after since f ended, or that it is still open.
func endedAfter(f *flow, since time.Time) string {
	select {
	case <-f.ended:
		return fmt.Sprintf("ended %s after it (%v)", f.endedAt.Sub(since).Round(time.Microsecond), f.err)
	default:
		return "still open"
	}
}

// keepsFlowing fails the test unless f moves at least two more chunks
// within d.
func keepsFlowing(t *testing.T, f *flow, d time.Duration) {
	t.Helper()
	start := f.bytes()
	deadline := time.Now().Add(d)
	for f.bytes() < start+2*dripChunk {
		select {
		case <-f.ended:
			t.Fatalf("%s ended: %v", f.name, f.err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s moved %d bytes in %s, want at least %d", f.name, f.bytes()-start, d, 2*dripChunk)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
