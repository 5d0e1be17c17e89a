package config

import (
	"strings"
	"testing"
	"time"
)

// TestFlags_DurationErrorNamesForms (issue 16 item 10): a bad duration
// flag names the accepted forms, not only flag's "parse error"; a good
// one still sets the value.
func TestFlags_DurationErrorNamesForms(t *testing.T) {
	noEnv := func(string) string { return "" }
	arn := "arn:aws:iam::123456789012:role/a"
	_, err := NewFlags("imdsd serve").Parse([]string{"--duration", "1hour", "--role-arn", arn}, noEnv)
	if err == nil {
		t.Fatal("--duration 1hour accepted")
	}
	for _, want := range []string{`"1hour"`, "-duration", "a number and a unit (h, m, s)", "45m", "1h30m"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	if strings.Contains(err.Error(), "parse error") {
		t.Errorf("error %q still says only parse error", err)
	}
	c, err := NewFlags("imdsd serve").Parse([]string{"--duration", "1h30m", "--role-arn", arn}, noEnv)
	if err != nil {
		t.Fatal(err)
	}
	if c.Role.Duration != 90*time.Minute {
		t.Errorf("--duration 1h30m: Duration = %v, want 1h30m", c.Role.Duration)
	}
}
