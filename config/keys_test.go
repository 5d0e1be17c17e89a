package config

import (
	"bytes"
	"flag"
	"net/netip"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/imdsd/imdsd/roles"
)

// TestKeys_Table: every key has a unique name, a doc line, a field of the
// type its kind says (or a decoder, for a nested key), and a serve flag
// for every plain key.
func TestKeys_Table(t *testing.T) {
	seen := map[string]bool{}
	fs := NewFlags("test").FlagSet()
	for _, k := range Keys() {
		if seen[k.Name] {
			t.Errorf("key %s is in the table twice", k.Name)
		}
		seen[k.Name] = true
		if k.Doc == "" {
			t.Errorf("key %s has no doc line", k.Name)
		}
		var c Config
		ptr := k.field(&c)
		want := map[Kind]any{KindString: (*string)(nil), KindList: (*[]string)(nil), KindIDList: (*[]string)(nil),
			KindBool: (*bool)(nil), KindInt: (*int)(nil), KindDuration: (*time.Duration)(nil),
			KindTags: (*roles.Tags)(nil), KindSet: (*roles.List)(nil)}[k.Kind]
		switch {
		case k.Kind == KindNested && k.decode == nil:
			t.Errorf("nested key %s has no decoder", k.Name)
		case k.Kind != KindNested && reflect.TypeOf(ptr) != reflect.TypeOf(want):
			t.Errorf("key %s: field is %T, want %T for its kind", k.Name, ptr, want)
		case k.Kind != KindNested && fs.Lookup(k.Flag()[2:]) == nil:
			t.Errorf("key %s has no flag %s", k.Name, k.Flag())
		}
	}
}

// TestKeys_CoverEveryField: every leaf field of Config is some key's, so
// decoding, the flags, config check, the reload diff and the docs reach
// it. A field added to Config (or to roles.Def) without a key fails here.
func TestKeys_CoverEveryField(t *testing.T) {
	for _, path := range leafPaths(reflect.TypeOf(Config{}), nil) {
		if fieldName(path) == "Role.Name" {
			continue // the flat role has no name: it is named after its ARN
		}
		c := Default()
		setNonZero(t, reflect.ValueOf(&c).Elem().FieldByIndex(path))
		if keys := Changed(Default(), c); len(keys) == 0 {
			t.Errorf("Config field %s belongs to no key of the table", fieldName(path))
		}
	}
}

// TestRoleKeys_CoverEveryDefField: a named role decodes every field of
// roles.Def but Name (its key) and the flat-only ones.
func TestRoleKeys_CoverEveryDefField(t *testing.T) {
	covered := map[uintptr]bool{}
	var d roles.Def
	for _, rk := range RoleKeys() {
		covered[reflect.ValueOf(rk.def(&d)).Pointer()] = true
	}
	v := reflect.ValueOf(&d).Elem()
	for i := range v.NumField() {
		if name := v.Type().Field(i).Name; name != "Name" && !covered[v.Field(i).Addr().Pointer()] {
			t.Errorf("roles.Def.%s has no role key", name)
		}
	}
}

func leafPaths(t reflect.Type, prefix []int) [][]int {
	var out [][]int
	for i := range t.NumField() {
		f := t.Field(i)
		p := append(append([]int(nil), prefix...), i)
		if f.Type.Kind() == reflect.Struct && f.Type != reflect.TypeOf(netip.Prefix{}) {
			out = append(out, leafPaths(f.Type, p)...)
			continue
		}
		out = append(out, p)
	}
	return out
}

func fieldName(path []int) string {
	t := reflect.TypeOf(Config{})
	var names []string
	for _, i := range path {
		f := t.Field(i)
		names = append(names, f.Name)
		t = f.Type
	}
	return strings.Join(names, ".")
}

func setNonZero(t *testing.T, v reflect.Value) {
	t.Helper()
	switch v.Kind() {
	case reflect.String:
		v.SetString("changed")
	case reflect.Bool:
		v.SetBool(!v.Bool())
	case reflect.Int, reflect.Int64:
		v.SetInt(v.Int() + 7)
	case reflect.Slice:
		v.Set(reflect.Append(reflect.MakeSlice(v.Type(), 0, 1), reflect.New(v.Type().Elem()).Elem()))
	default:
		t.Fatalf("field of kind %s: teach setNonZero to change it", v.Kind())
	}
}

// TestFlags_EveryPlainKeyMerges: each plain key's flag, given alone, sets
// that key over the file's value and nothing else.
func TestFlags_EveryPlainKeyMerges(t *testing.T) {
	values := map[Kind]string{KindString: "v1", KindList: "v1", KindIDList: "1000", KindBool: "true", KindInt: "3", KindDuration: "47m", KindTags: "team=infra", KindSet: "v1"}
	for _, k := range Keys() {
		if k.Kind == KindNested {
			continue
		}
		t.Run(k.Name, func(t *testing.T) {
			f := NewFlags("test")
			if err := f.fs.Parse([]string{k.Flag() + "=" + values[k.Kind]}); err != nil {
				t.Fatal(err)
			}
			f.given = map[string]bool{}
			f.fs.Visit(func(fl *flag.Flag) { f.given[fl.Name] = true })
			c := Default()
			f.merge(&c)
			changed := Changed(Default(), c)
			if len(changed) != 1 || changed[0].Name != k.Name {
				names := make([]string, len(changed))
				for i, ck := range changed {
					names[i] = ck.Name
				}
				t.Errorf("%s changed %v, want just %s", k.Flag(), names, k.Name)
			}
		})
	}
}

// TestRestartKeys: a change of a restart key is reported, one a reload
// applies is not (the local-user rules are rebuilt on a reload, issue 15
// item 6).
func TestRestartKeys(t *testing.T) {
	a := Default()
	b := a
	b.Security.Users.AllowUIDs = []string{"appuser"}
	b.IMDSv2 = IMDSv2Required
	b.Role.Duration = 2 * time.Hour
	b.Clients = []ClientRule{{CIDR: netip.MustParsePrefix("10.0.0.0/8"), Role: "none"}}
	got := RestartKeys(a, b)
	if strings.Join(got, ",") != "imdsv2" {
		t.Errorf("got %v, want [imdsv2]", got)
	}
	var changed []string
	for _, k := range Changed(a, b) {
		changed = append(changed, k.Name)
	}
	if strings.Join(changed, ",") != "imdsv2,duration,allow_uids,clients" {
		t.Errorf("Changed = %v, want [imdsv2 duration allow_uids clients]", changed)
	}
}

// TestWriteEffective_EveryKey: config check prints every key of the table
// once, and secrets as <redacted>, at the top and in roles:.
func TestWriteEffective_EveryKey(t *testing.T) {
	const in = "external_id: flat-secret-1\nrole_arn: arn:aws:iam::123456789012:role/a\nroles:\n  web: {role_arn: 'arn:aws:iam::123456789012:role/web', external_id: nested-secret-2}\n"
	c := Default()
	if err := Decode([]byte(in), &c); err != nil {
		t.Fatal(err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(in), &doc); err != nil {
		t.Fatal(err)
	}
	nodes := map[string]*yaml.Node{}
	for i := 0; i+1 < len(doc.Content[0].Content); i += 2 {
		nodes[doc.Content[0].Content[i].Value] = doc.Content[0].Content[i+1]
	}
	var out bytes.Buffer
	WriteEffective(&out, c, nodes, Origins{})
	for _, k := range Keys() {
		if n := strings.Count("\n"+out.String(), "\n"+k.Name+":"); n != 1 {
			t.Errorf("key %s printed %d times, want once", k.Name, n)
		}
	}
	for _, s := range []string{"flat-secret-1", "nested-secret-2"} {
		if strings.Contains(out.String(), s) {
			t.Errorf("printed the secret %q", s)
		}
	}
	if !strings.Contains(out.String(), `external_id: "<redacted>"`) {
		t.Errorf("output lacks the redacted flat external_id:\n%s", out.String())
	}
}

// TestReference_DocsMatch: docs/config.md's key reference is what the
// table says. Run with IMDSD_UPDATE_DOCS=1 to rewrite it.
func TestReference_DocsMatch(t *testing.T) {
	const path = "../docs/config.md"
	doc, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var ref bytes.Buffer
	WriteReference(&ref)
	begin := bytes.Index(doc, []byte(ReferenceBegin))
	end := bytes.Index(doc, []byte(ReferenceEnd))
	if begin < 0 || end < begin {
		t.Fatalf("%s has no generated key reference between %q and %q", path, ReferenceBegin, ReferenceEnd)
	}
	got := doc[begin : end+len(ReferenceEnd)+1]
	if bytes.Equal(got, ref.Bytes()) {
		return
	}
	if os.Getenv("IMDSD_UPDATE_DOCS") == "1" {
		next := append(append(append([]byte(nil), doc[:begin]...), ref.Bytes()...), doc[end+len(ReferenceEnd)+1:]...)
		if err := os.WriteFile(path, next, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	t.Errorf("%s's key reference differs from config.Keys(); run IMDSD_UPDATE_DOCS=1 go test ./config -run TestReference_DocsMatch\n--- generated:\n%s", path, ref.String())
}
