package main

// Fuzz target of the config decoder (scripts/fuzz.sh runs it for 30 s;
// the seeds in testdata/fuzz/ run with every go test):
//
//	go test -run '^$' -fuzz FuzzDecodeConfig ./cmd/imdsd/

import (
	"reflect"
	"strings"
	"testing"
)

// FuzzDecodeConfig: any bytes decode, or fail with an error, without
// panicking; decoding is deterministic; a decoded config validates
// without panicking; and an error never echoes the external ID (a
// secret-like value the decoder is told not to repeat).
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
		c1, c2 := defaultConfig(), defaultConfig()
		err1 := decodeConfig(data, &c1)
		err2 := decodeConfig(data, &c2)
		if (err1 == nil) != (err2 == nil) || (err1 == nil && !reflect.DeepEqual(c1, c2)) {
			t.Fatalf("decoding %q twice differs: %v / %v", data, err1, err2)
		}
		if err1 != nil {
			if c1.ExternalID != "" && len(c1.ExternalID) > 3 && strings.Contains(err1.Error(), c1.ExternalID) {
				t.Fatalf("error echoes the external ID: %v", err1)
			}
			return
		}
		verr := c1.validate(func(k string) string { return k })
		if verr != nil && c1.ExternalID != "" && len(c1.ExternalID) > 3 && strings.Contains(verr.Error(), c1.ExternalID) {
			t.Fatalf("validation error echoes the external ID: %v", verr)
		}
	})
}
