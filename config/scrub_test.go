package config

import "testing"

func TestScrubPath(t *testing.T) {
	tests := []struct{ field, secret, want string }{
		{`"000800000"`, "000800000", `"<redacted>"`},
		{"roles.s3cr3t.role_arn", "s3cr3t", "roles.<redacted>.role_arn"},
		{`"roles.web.a.b.c"`, "a.b.c", `"roles.web.<redacted>"`},
		{"external_id", "x", "external_id"},
		{"external_id", "ex", "external_id"},
		{`"clients[0].ab"`, "ab", `"clients[0].<redacted>"`},
		{"abab.ab", "ab", "abab.<redacted>"},
		{"xab.ab", "ab", "xab.<redacted>"},
	}
	for _, tt := range tests {
		if got := scrubPath(tt.field, tt.secret); got != tt.want {
			t.Errorf("scrubPath(%q, %q) = %q, want %q", tt.field, tt.secret, got, tt.want)
		}
	}
}
