package daemon

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"
)

// HeartbeatEvery is how often a process records its heartbeat. A peer
// counts it gone after PeerSilence without one.
const (
	HeartbeatEvery = 10 * time.Second
	PeerSilence    = 6 * HeartbeatEvery
)

// Instance names this process in heartbeats and logs: host and pid.
func Instance() string {
	host, _ := os.Hostname()
	return fmt.Sprintf("%s:%d", host, os.Getpid())
}

// Beat records the process's liveness through write every HeartbeatEvery
// until ctx ends: healthy, or the stalls. A failed write is logged and
// tried again next time; the peer sees the silence.
func (l *Liveness) Beat(ctx context.Context, log *slog.Logger, write func(ctx context.Context, healthy bool, detail string) error) {
	tick := time.NewTicker(HeartbeatEvery)
	defer tick.Stop()
	for {
		stalls := l.Stalls()
		detail := make([]string, len(stalls))
		for i, s := range stalls {
			detail[i] = s.String()
		}
		wctx, cancel := context.WithTimeout(ctx, HeartbeatEvery/2)
		err := write(wctx, len(stalls) == 0, strings.Join(detail, "; "))
		cancel()
		if err != nil && ctx.Err() == nil {
			log.Warn("heartbeat not recorded", "error", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}
