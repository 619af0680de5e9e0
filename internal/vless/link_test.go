package vless

import (
	"strings"
	"testing"
)

const (
	testUUID = "b831381d-6324-4d53-ad4f-8cda48b30811"
	testPBK  = "e1X6J9DIjNmujs-qyzbSvf24Pxi1lk-PWy6Su-jBXzQ"
)

func TestStringKnownLinks(t *testing.T) {
	tests := []struct {
		name string
		link Link
		want string
	}{
		{
			name: "ipv4 with vision, default fingerprint",
			link: Link{UUID: testUUID, Host: "203.0.113.10", Port: 443, Flow: FlowVision, PublicKey: testPBK,
				ServerName: "www.microsoft.com", ShortID: "6ba85179e30d4fc2", Name: "vpnflow Germany"},
			// The shape 3x-ui's subscription service emits: sorted params.
			want: "vless://b831381d-6324-4d53-ad4f-8cda48b30811@203.0.113.10:443" +
				"?encryption=none&flow=xtls-rprx-vision&fp=chrome&pbk=e1X6J9DIjNmujs-qyzbSvf24Pxi1lk-PWy6Su-jBXzQ" +
				"&security=reality&sid=6ba85179e30d4fc2&sni=www.microsoft.com&type=tcp#vpnflow%20Germany",
		},
		{
			name: "ipv6 host is bracketed, spx escaped",
			link: Link{UUID: testUUID, Host: "2001:db8::1", Port: 8443, Flow: FlowVision, PublicKey: testPBK,
				ServerName: "dl.google.com", Fingerprint: "firefox", ShortID: "ab", SpiderX: "/", Name: "v6"},
			want: "vless://b831381d-6324-4d53-ad4f-8cda48b30811@[2001:db8::1]:8443" +
				"?encryption=none&flow=xtls-rprx-vision&fp=firefox&pbk=e1X6J9DIjNmujs-qyzbSvf24Pxi1lk-PWy6Su-jBXzQ" +
				"&security=reality&sid=ab&sni=dl.google.com&spx=%2F&type=tcp#v6",
		},
		{
			name: "unicode and reserved characters in the name, no flow, empty short id",
			link: Link{UUID: testUUID, Host: "vpn.example.org", Port: 443, PublicKey: testPBK,
				ServerName: "www.microsoft.com", Name: "Германия 🇩🇪 #1"},
			want: "vless://b831381d-6324-4d53-ad4f-8cda48b30811@vpn.example.org:443" +
				"?encryption=none&fp=chrome&pbk=e1X6J9DIjNmujs-qyzbSvf24Pxi1lk-PWy6Su-jBXzQ" +
				"&security=reality&sid=&sni=www.microsoft.com&type=tcp" +
				"#%D0%93%D0%B5%D1%80%D0%BC%D0%B0%D0%BD%D0%B8%D1%8F%20%F0%9F%87%A9%F0%9F%87%AA%20%231",
		},
		{
			name: "characters some clients decode differently are escaped",
			link: Link{UUID: testUUID, Host: "vpn.example.org", Port: 443, Flow: FlowVision, PublicKey: testPBK,
				ServerName: "www.microsoft.com", ShortID: "00", SpiderX: "/a b?c=d", Name: "a&b+c=d/e?f"},
			want: "vless://b831381d-6324-4d53-ad4f-8cda48b30811@vpn.example.org:443" +
				"?encryption=none&flow=xtls-rprx-vision&fp=chrome&pbk=e1X6J9DIjNmujs-qyzbSvf24Pxi1lk-PWy6Su-jBXzQ" +
				"&security=reality&sid=00&sni=www.microsoft.com&spx=%2Fa+b%3Fc%3Dd&type=tcp#a%26b%2Bc%3Dd%2Fe%3Ff",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.link.Validate(); err != nil {
				t.Fatalf("Validate: %v", err)
			}
			got := tt.link.String()
			if got != tt.want {
				t.Fatalf("String:\n got %s\nwant %s", got, tt.want)
			}
			back, err := Parse(got)
			if err != nil {
				t.Fatalf("Parse(String()): %v", err)
			}
			want := tt.link
			want.Fingerprint = want.EffectiveFingerprint()
			if back != want {
				t.Fatalf("round trip:\n got %+v\nwant %+v", back, want)
			}
		})
	}
}

func TestParseLinksFromOtherPanels(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want Link
	}{
		{
			// v2rayN / Xray share-standard order, with headerType and an
			// upper-case UUID; both must be accepted.
			name: "v2rayN order",
			in: "vless://B831381D-6324-4D53-AD4F-8CDA48B30811@example.com:443?encryption=none&security=reality" +
				"&sni=www.amazon.com&fp=chrome&pbk=" + testPBK + "&sid=6dea5c&spx=%2F&type=tcp&headerType=none#Y",
			want: Link{UUID: testUUID, Host: "example.com", Port: 443, PublicKey: testPBK, ServerName: "www.amazon.com",
				Fingerprint: "chrome", ShortID: "6dea5c", SpiderX: "/", Name: "Y"},
		},
		{
			name: "fingerprint missing gets the default, raw transport name, name with plus",
			in: "vless://" + testUUID + "@[2001:db8::2]:443?type=raw&security=reality&pbk=" + testPBK +
				"&sni=www.amazon.com&flow=xtls-rprx-vision#a+b%20c",
			want: Link{UUID: testUUID, Host: "2001:db8::2", Port: 443, Flow: FlowVision, PublicKey: testPBK,
				ServerName: "www.amazon.com", Fingerprint: "chrome", Name: "a+b c"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse(tt.in)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if got != tt.want {
				t.Fatalf("got  %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestParseRejects(t *testing.T) {
	good := Link{UUID: testUUID, Host: "example.com", Port: 443, Flow: FlowVision, PublicKey: testPBK,
		ServerName: "www.amazon.com", ShortID: "ab"}.String()
	tests := []struct {
		name, in, wantErr string
	}{
		{"other scheme", strings.Replace(good, "vless://", "vmess://", 1), "scheme"},
		{"tls instead of reality", strings.Replace(good, "security=reality", "security=tls", 1), "security"},
		{"no security", strings.Replace(good, "&security=reality", "", 1), "security"},
		{"websocket", strings.Replace(good, "type=tcp", "type=ws", 1), "transport"},
		{"vless encryption", strings.Replace(good, "encryption=none", "encryption=mlkem768x25519plus", 1), "encryption"},
		{"uuid that xray would hash", strings.Replace(good, testUUID, "my-password", 1), "uuid"},
		{"uuid without dashes", strings.Replace(good, testUUID, strings.ReplaceAll(testUUID, "-", ""), 1), "uuid"},
		{"no port", strings.Replace(good, ":443", "", 1), "port"},
		{"port out of range", strings.Replace(good, ":443", ":70000", 1), "port"},
		{"short public key", strings.Replace(good, testPBK, "abc", 1), "public key"},
		{"odd short id", strings.Replace(good, "sid=ab", "sid=abc", 1), "short id"},
		{"long short id", strings.Replace(good, "sid=ab", "sid=0123456789abcdef00", 1), "short id"},
		{"unknown flow", strings.Replace(good, "flow=xtls-rprx-vision", "flow=xtls-rprx-direct", 1), "flow"},
		{"no sni", strings.Replace(good, "&sni=www.amazon.com", "", 1), "server name"},
		{"password in user info", strings.Replace(good, testUUID, testUUID+":x", 1), "':'"},
		{"ipv6 zone", strings.Replace(good, "example.com", "[fe80::1%25eth0]", 1), "host"},
		{"empty", "", "scheme"},
		{"garbage", "vless://%zz", "parse vless link"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse(tt.in)
			if err == nil {
				t.Fatalf("Parse(%q) succeeded, want error mentioning %q", tt.in, tt.wantErr)
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Parse(%q) = %v, want error mentioning %q", tt.in, err, tt.wantErr)
			}
		})
	}
}

func FuzzParse(f *testing.F) {
	f.Add(Link{UUID: testUUID, Host: "203.0.113.10", Port: 443, Flow: FlowVision, PublicKey: testPBK,
		ServerName: "www.microsoft.com", ShortID: "6ba85179e30d4fc2", Name: "vpnflow Germany"}.String())
	f.Add(Link{UUID: testUUID, Host: "2001:db8::1", Port: 1, PublicKey: testPBK, ServerName: "a", SpiderX: "/x",
		Name: "Германия 🇩🇪 #1"}.String())
	f.Add("vless://" + testUUID + "@h:1?security=reality&pbk=" + testPBK + "&sni=s#a+b%2")
	f.Add("vless://@:0?#")
	f.Fuzz(func(t *testing.T, s string) {
		l, err := Parse(s)
		if err != nil {
			return
		}
		// Whatever Parse accepts must render to a link that parses back to
		// the same settings.
		again, err := Parse(l.String())
		if err != nil {
			t.Fatalf("Parse(%q) = %+v, but its String %q does not parse: %v", s, l, l.String(), err)
		}
		if again != l {
			t.Fatalf("round trip of %q changed the link:\n first %+v\nsecond %+v", s, l, again)
		}
	})
}
