package config

import "testing"

// TestFillTemplate: values are written as YAML strings that load back as
// given; a key the template has no example line for is appended.
func TestFillTemplate(t *testing.T) {
	tmpl := []byte("# head\n#role_arn: arn:example\n# tail\n")
	got := string(FillTemplate(tmpl, [][2]string{{"role_arn", "arn:aws:iam::1:role/a"}, {"profile", "yes"}, {"region", ""}}))
	want := "# head\nrole_arn: arn:aws:iam::1:role/a\n# tail\n\nprofile: \"yes\"\n"
	if got != want {
		t.Errorf("FillTemplate:\ngot  %q\nwant %q", got, want)
	}
	for in, want := range map[string]string{"us-east-1": "us-east-1", "-x": `"-x"`, "a b": `"a b"`, "on": `"on"`, `q"`: `"q\""`} {
		if got := yamlScalar(in); got != want {
			t.Errorf("yamlScalar(%q) = %s, want %s", in, got, want)
		}
	}
}
