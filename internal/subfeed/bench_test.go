package subfeed_test

import (
	"net/http"
	"testing"
	"time"

	"vpnflow/internal/store"
	"vpnflow/internal/subfeed"
)

// BenchmarkFetch times a request for a known token against one for an
// unknown one, over HTTP and against PostgreSQL: both cost one indexed
// query, so the two should be in the same class (within the noise of a
// database round trip), which is what keeps a 404 from telling much.
//
//	go test -run '^$' -bench Fetch ./internal/subfeed/
func BenchmarkFetch(b *testing.B) {
	many := subfeed.Rate{Every: time.Nanosecond, Burst: 1 << 30}
	for _, c := range []struct {
		name  string
		token func(*feedEnv) string
		want  int
	}{
		{"known", func(e *feedEnv) string { return e.trial(1, "en").URLToken }, http.StatusOK},
		{"unknown", func(*feedEnv) string { return store.NewURLToken() }, http.StatusNotFound},
	} {
		b.Run(c.name, func(b *testing.B) {
			e := newFeedEnv(b, testConfig(b), subfeed.Options{PerToken: many, PerAddress: many})
			path := e.srv.URL + "/sub/" + c.token(e)
			client := e.srv.Client()
			b.ResetTimer()
			for b.Loop() {
				resp, err := client.Get(path)
				if err != nil {
					b.Fatal(err)
				}
				resp.Body.Close()
				if resp.StatusCode != c.want {
					b.Fatalf("status %d, want %d", resp.StatusCode, c.want)
				}
			}
		})
	}
}
