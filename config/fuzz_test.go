package config

// Fuzz target of the config decoder (scripts/fuzz.sh runs it for 30 s;
// the seeds in testdata/fuzz/ run with every go test):
//
//	go test -run '^$' -fuzz FuzzDecodeConfig ./config/

import (
	"errors"

	"go.yaml.in/yaml/v3"
	"reflect"
	"strings"
	"testing"
)

// FuzzDecodeConfig: any bytes decode, or fail with an error, without
// panicking; decoding is deterministic; a decoded config validates
// without panicking; and no error shows a secret the file holds (an
// external ID), even where the user typed the same text as a key.
func FuzzDecodeConfig(f *testing.F) {
	for _, seed := range []string{
		"",
		"listen: [\"127.0.0.1:9254\", \"[::1]:9254\"]\nregion: eu-west-1\nimdsv2: required\nrole_arn: arn:aws:iam::123456789012:role/app\n",
		"external_id: s3cr3t-ext\nduration: 2h\nmin_remaining: 40m\n",
		"hop_limit: 1\nrate_limit: 100\nrate_burst: 200\nmax_conns_per_client: 8\nallowed_hosts: [imds.internal]\n",
		"allow_uids: [1000, alice]\nallow_groups: developers\nuser_roles:\n  - {user: bob, role: readonly}\n  - {group: admins, role: admin}\n",
		"link_local: yes\nlog_level: debug\nlog_format: json\n",
		"a: &x [*x]\n",
		"listen: !!binary AAAA\n",
		"--- \n...\n---\nregion: x\n",
		"region: [\n",
		"? [a, b]\n: c\n",
		"duration: 99999999999999999999h\n",
		"user_roles: [{user: bob, role: r, user: eve}]\n",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c1, c2 := Default(), Default()
		err1 := Decode(data, &c1)
		err2 := Decode(data, &c2)
		if (err1 == nil) != (err2 == nil) || (err1 == nil && !reflect.DeepEqual(c1, c2)) {
			t.Fatalf("decoding %q twice differs: %v / %v", data, err1, err2)
		}
		var doc yaml.Node
		var secrets []string
		if yaml.Unmarshal(data, &doc) == nil {
			secrets = nodeSecrets(&doc, secretNames())
		}
		if err1 != nil {
			if s, ok := echoesSecret(err1, secrets); ok {
				t.Fatalf("error echoes the secret %q: %v", s, err1)
			}
			return
		}
		if s, ok := echoesSecret(c1.Validate(func(k string) string { return k }), secrets); ok {
			t.Fatalf("validation error echoes the secret %q", s)
		}
	})
}

// echoesSecret reports whether err shows one of secrets. The text an
// *Error quotes from the user must hold none: its Value not at all, its
// Field not as a whole name of the path (a key named external_id may
// contain a short secret's letters); any
// other error's whole text must hold no secret long enough not to be a
// word of the message itself.
func echoesSecret(err error, secrets []string) (string, bool) {
	if err == nil {
		return "", false
	}
	var ce *Error
	isCE := errors.As(err, &ce)
	for _, s := range secrets {
		switch {
		case s == "":
		case isCE && (scrubPath(ce.Field, s) != ce.Field || strings.Contains(ce.Value, s)):
			return s, true
		case !isCE && len(s) >= 8 && strings.Contains(err.Error(), s):
			return s, true
		}
	}
	return "", false
}
