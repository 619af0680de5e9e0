package vlessclient

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

// A stream moves DripChunk bytes every DripEvery in one direction, so a
// test can tell within a few ticks whether a connection still carries
// traffic. DripFor bounds each stream, so nothing runs on if a test hangs.
const (
	DripChunk = 1 << 10
	DripEvery = 100 * time.Millisecond
	DripFor   = 5 * time.Minute
	// QuietFor without a byte counts as stopped: ten missed ticks.
	QuietFor = 10 * DripEvery
)

// Target is a local web server (plain HTTP and HTTPS) with endless slow
// streams: GET /drip sends to the client, POST /sink?id=NAME counts what the
// client sends under NAME. HTTPS matters: Vision splices TLS-in-TLS in the
// kernel, bypassing Xray's own copy loop, so a mechanism that ends plain
// sessions might miss those.
type Target struct {
	plain, tls *httptest.Server

	mu   sync.Mutex
	sunk map[string]*meter
}

// meter counts a stream's bytes and remembers when the last one moved, so
// a test reads the moment a stream stopped however late it looks.
type meter struct {
	n, last atomic.Int64 // bytes; unix nanoseconds of the last
}

func (m *meter) add(k int) {
	if k > 0 {
		m.n.Add(int64(k))
		m.last.Store(time.Now().UnixNano())
	}
}

func (m *meter) lastAt() time.Time { return time.Unix(0, m.last.Load()) }

// NewTarget starts the server on loopback; it stops when the test ends.
func NewTarget(t testing.TB) *Target { return NewTargetAt(t, "127.0.0.1") }

// NewTargetAt starts the server on host, an address of this machine that
// the VPN server reaches (one in a network namespace of its own does not
// reach this one's loopback).
func NewTargetAt(t testing.TB, host string) *Target {
	t.Helper()
	st := &Target{sunk: make(map[string]*meter)}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /drip", st.drip)
	mux.HandleFunc("POST /sink", st.sink)
	st.plain = startAt(t, host, mux, false)
	st.tls = startAt(t, host, mux, true)
	t.Cleanup(func() {
		for _, s := range []*httptest.Server{st.plain, st.tls} {
			s.CloseClientConnections()
			s.Close()
		}
	})
	return st
}

func (st *Target) drip(w http.ResponseWriter, r *http.Request) {
	chunk := bytes.Repeat([]byte("d"), DripChunk)
	tick := time.NewTicker(DripEvery)
	defer tick.Stop()
	end := time.After(DripFor)
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

func (st *Target) sink(w http.ResponseWriter, r *http.Request) {
	m := st.sunkFor(r.URL.Query().Get("id"))
	buf := make([]byte, 32<<10)
	for {
		k, err := r.Body.Read(buf)
		m.add(k)
		if err != nil {
			return
		}
	}
}

func (st *Target) sunkFor(id string) *meter {
	st.mu.Lock()
	defer st.mu.Unlock()
	m, ok := st.sunk[id]
	if !ok {
		m = new(meter)
		st.sunk[id] = m
	}
	return m
}

// Roots trusts the HTTPS server's certificate.
func (st *Target) Roots() *x509.CertPool {
	pool := x509.NewCertPool()
	pool.AddCert(st.tls.Certificate())
	return pool
}

// Flow is one stream seen from the test: how many bytes it has moved so far
// and when it ended.
type Flow struct {
	Name    string
	Bytes   func() int64     // moved so far
	LastAt  func() time.Time // when the last byte moved
	Ended   chan struct{}    // closed when the stream ends
	Err     error            // why it ended; read after Ended is closed
	EndedAt time.Time        // likewise
}

// end records why and when f ended.
func (f *Flow) end(err error) {
	f.Err, f.EndedAt = err, time.Now()
	close(f.Ended)
}

// Download opens GET /drip through hc (plain or over TLS) and counts what
// arrives.
func (st *Target) Download(t testing.TB, hc *http.Client, name string, overTLS bool) *Flow {
	t.Helper()
	base := st.plain.URL
	if overTLS {
		base = st.tls.URL
	}
	ctx, cancel := context.WithTimeout(context.Background(), DripFor)
	t.Cleanup(cancel)
	m := new(meter)
	f := &Flow{Name: name, Bytes: m.n.Load, LastAt: m.lastAt, Ended: make(chan struct{})}
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
			m.add(k)
			if err != nil {
				f.end(err)
				return
			}
		}
	}()
	return f
}

// Upload sends a slow endless body to POST /sink and counts what the server
// receives.
func (st *Target) Upload(t testing.TB, hc *http.Client, name string) *Flow {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), DripFor)
	t.Cleanup(cancel)
	m := st.sunkFor(name)
	f := &Flow{Name: name, Bytes: m.n.Load, LastAt: m.lastAt, Ended: make(chan struct{})}
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

// dripReader yields DripChunk bytes every DripEvery until ctx ends.
type dripReader struct {
	ctx     context.Context
	started bool
}

func (d *dripReader) Read(p []byte) (int, error) {
	if d.started {
		select {
		case <-d.ctx.Done():
			return 0, d.ctx.Err()
		case <-time.After(DripEvery):
		}
	}
	d.started = true
	return copy(p, bytes.Repeat([]byte("u"), min(len(p), DripChunk))), nil
}

// WaitFlowing waits until each flow has moved a few chunks.
func WaitFlowing(t testing.TB, flows ...*Flow) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for _, f := range flows {
		for f.Bytes() < 3*DripChunk {
			select {
			case <-f.Ended:
				t.Fatalf("%s ended before it carried traffic: %v", f.Name, f.Err)
			default:
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s carried %d bytes in 10 s", f.Name, f.Bytes())
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}

// LastByteAfter watches f until it has ended or been quiet for QuietFor,
// and returns how long after since its last byte moved (negative: before
// since). A flow still moving bytes at since+bound fails the test: the
// bound is a correctness limit, not a performance figure.
func LastByteAfter(t testing.TB, f *Flow, since time.Time, bound time.Duration) time.Duration {
	t.Helper()
	last, lastAt := f.Bytes(), since
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		ended := false
		select {
		case <-f.Ended:
			ended = true
		case <-tick.C:
		}
		now := time.Now()
		if n := f.Bytes(); n != last {
			last, lastAt = n, now
		}
		if ended || now.Sub(lastAt) >= QuietFor {
			return f.LastAt().Sub(since)
		}
		if now.Sub(since) > bound {
			t.Fatalf("%s still carries traffic %s after revocation (%d bytes so far)", f.Name, now.Sub(since).Round(time.Millisecond), last)
		}
	}
}

// EndedAfter says how long after since f ended, or that it is still open.
func EndedAfter(f *Flow, since time.Time) string {
	select {
	case <-f.Ended:
		return fmt.Sprintf("ended %s after it (%v)", f.EndedAt.Sub(since).Round(time.Microsecond), f.Err)
	default:
		return "still open"
	}
}

// KeepsFlowing fails the test unless f moves at least two more chunks
// within d.
func KeepsFlowing(t testing.TB, f *Flow, d time.Duration) {
	t.Helper()
	start := f.Bytes()
	deadline := time.Now().Add(d)
	for f.Bytes() < start+2*DripChunk {
		select {
		case <-f.Ended:
			t.Fatalf("%s ended: %v", f.Name, f.Err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s moved %d bytes in %s, want at least %d", f.Name, f.Bytes()-start, d, 2*DripChunk)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// PlainURL is the plain HTTP server's base URL.
func (st *Target) PlainURL() string { return st.plain.URL }

// NewStream opens a new connection through hc and reads the first chunk of
// a stream over it: whether the VPN lets this client connect now.
func NewStream(hc *http.Client, st *Target) error {
	hc.CloseIdleConnections() // a kept-alive one would pass the handshake by
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, st.plain.URL+"/drip", nil)
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, err = io.ReadFull(resp.Body, make([]byte, DripChunk))
	return err
}
