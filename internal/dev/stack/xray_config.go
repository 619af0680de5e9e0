package stack

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdh"
	"encoding/base64"
	"fmt"
	"os/exec"
	"strings"
	"time"
)

// config is the server's Xray configuration: the API on a dokodemo-door
// inbound on the server's host address, routed to the commander; per-user
// traffic counters and lists of the addresses each user has live sessions
// from (policy level 0, the level API-added users get; xray.Client.Online
// and Disconnect read the lists); and one VLESS+REALITY inbound without
// clients.
func (s *XrayServer) config(opts XrayOptions) map[string]any {
	rules := []any{
		map[string]any{"inboundTag": []string{"api"}, "outboundTag": "api"},
	}
	if !opts.AllowPrivate {
		rules = append(rules, map[string]any{
			"ip": []string{"127.0.0.0/8", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16",
				"169.254.0.0/16", "100.64.0.0/10", "::1/128", "fc00::/7", "fe80::/10"},
			"outboundTag": "blocked",
		})
	}
	level0 := map[string]any{"statsUserUplink": true, "statsUserDownlink": true, "statsUserOnline": !opts.OnlineStatsOff}
	return map[string]any{
		"log": map[string]any{"loglevel": "warning"},
		"api": map[string]any{
			"tag":      "api",
			"services": []string{"HandlerService", "StatsService", "LoggerService"},
		},
		"stats": map[string]any{},
		"policy": map[string]any{
			"levels": map[string]any{"0": level0},
			"system": map[string]any{"statsInboundUplink": true, "statsInboundDownlink": true,
				"statsOutboundUplink": true, "statsOutboundDownlink": true},
		},
		"inbounds": []any{
			map[string]any{
				"tag": "api", "listen": s.VLESSHost, "port": opts.APIPort,
				"protocol": "dokodemo-door", "settings": map[string]any{"address": "127.0.0.1"},
			},
			map[string]any{
				"tag": opts.InboundTag, "listen": s.VLESSHost, "port": opts.VLESSPort,
				"protocol": "vless",
				"settings": map[string]any{"clients": []any{}, "decryption": "none"},
				"streamSettings": map[string]any{
					"network":  "tcp",
					"security": "reality",
					"realitySettings": map[string]any{
						"target":      opts.Target,
						"serverNames": []string{opts.SNI},
						"privateKey":  s.PrivateKey,
						"shortIds":    []string{s.ShortID},
					},
				},
			},
		},
		"outbounds": []any{
			map[string]any{"tag": "direct", "protocol": "freedom"},
			map[string]any{"tag": "blocked", "protocol": "blackhole"},
		},
		"routing": map[string]any{"rules": rules},
	}
}

// xrayKeyPair runs `xray x25519`. Its output changed across versions:
// "Private key: / Public key:" until 2025, then "PrivateKey: / Password:",
// and in this version "PrivateKey: / Password (PublicKey): / Hash32:". The
// parsed public key is checked against the private one, so a future change
// fails here rather than as a REALITY handshake error.
func xrayKeyPair(ctx context.Context, bin string) (priv, pub string, err error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, bin, "x25519").CombinedOutput()
	if err != nil {
		return "", "", fmt.Errorf("xray x25519: %w: %s", err, out)
	}
	priv, pub = parseX25519Output(out)
	if priv == "" || pub == "" {
		return "", "", fmt.Errorf("xray x25519: cannot find the keys in its output:\n%s", out)
	}
	raw, err := base64.RawURLEncoding.DecodeString(priv)
	if err != nil {
		return "", "", fmt.Errorf("xray x25519: private key %q: %w", priv, err)
	}
	key, err := ecdh.X25519().NewPrivateKey(raw)
	if err != nil {
		return "", "", fmt.Errorf("xray x25519: private key: %w", err)
	}
	if want := base64.RawURLEncoding.EncodeToString(key.PublicKey().Bytes()); pub != want {
		return "", "", fmt.Errorf("xray x25519: public key %q does not belong to the private key (want %q); output:\n%s", pub, want, out)
	}
	return priv, pub, nil
}

func parseX25519Output(out []byte) (priv, pub string) {
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		label, value, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		label = strings.ToLower(strings.ReplaceAll(label, " ", ""))
		value = strings.TrimSpace(value)
		switch {
		case strings.HasPrefix(label, "privatekey"):
			priv = value
		case strings.Contains(label, "publickey") || label == "password":
			pub = value
		}
	}
	return priv, pub
}
