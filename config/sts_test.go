package config

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestSTSKeys_DecodeAndValidate(t *testing.T) {
	field := func(k string) string { return k }
	for _, tc := range []struct {
		name      string
		yaml      string
		want      STS
		wantField string // "" when valid
	}{
		{"defaults when unset", "role_arn: arn:aws:iam::123456789012:role/app\n", STS{}, ""},
		{"both set", "role_arn: arn:aws:iam::123456789012:role/app\nsts_max_in_flight: 4\nsts_rate: 5\n", STS{MaxInFlight: 4, Rate: 5}, ""},
		{"negative in flight", "role_arn: arn:aws:iam::123456789012:role/app\nsts_max_in_flight: -1\n", STS{MaxInFlight: -1}, "sts_max_in_flight"},
		{"idle_after", "role_arn: arn:aws:iam::123456789012:role/app\nidle_after: 2h\n", STS{IdleAfter: 2 * time.Hour}, ""},
		{"negative idle_after", "role_arn: arn:aws:iam::123456789012:role/app\nidle_after: -1m\n", STS{IdleAfter: -time.Minute}, "idle_after"},
		{"negative rate", "role_arn: arn:aws:iam::123456789012:role/app\nsts_rate: -3\n", STS{Rate: -3}, "sts_rate"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := Default()
			if err := Decode([]byte(tc.yaml), &c); err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if c.STS != tc.want {
				t.Fatalf("STS = %+v, want %+v", c.STS, tc.want)
			}
			err := c.Validate(field)
			var ce *Error
			switch {
			case tc.wantField == "" && err != nil:
				t.Fatalf("Validate: %v", err)
			case tc.wantField != "" && (!errors.As(err, &ce) || ce.Field != tc.wantField || !errors.Is(err, ErrBadSTSLimit)):
				t.Fatalf("Validate: %v, want ErrBadSTSLimit on %s", err, tc.wantField)
			case tc.wantField != "" && !strings.Contains(err.Error(), "0 (the default) or more"):
				t.Fatalf("Validate: %q does not say how to fix it", err)
			}
		})
	}
}
