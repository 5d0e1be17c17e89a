package roles

import (
	"reflect"
	"testing"
	"time"
)

// TestDef_EveryFieldCounts: a reload compares role definitions with ==, so
// Def must stay comparable, and changing any one field, whichever is
// added next, must make two definitions differ.
func TestDef_EveryFieldCounts(t *testing.T) {
	typ := reflect.TypeOf(Def{})
	if !typ.Comparable() {
		t.Fatal("roles.Def is not comparable: a reload could not tell a changed role (no maps, slices or funcs in it)")
	}
	for i := range typ.NumField() {
		f := typ.Field(i)
		var d Def
		v := reflect.ValueOf(&d).Elem().Field(i)
		switch v.Kind() {
		case reflect.String:
			v.SetString("x")
		case reflect.Int64:
			if f.Type == reflect.TypeOf(time.Duration(0)) {
				v.SetInt(int64(time.Minute))
			} else {
				v.SetInt(1)
			}
		case reflect.Bool:
			v.SetBool(true)
		default:
			t.Fatalf("field %s: kind %s: teach this test to set it", f.Name, v.Kind())
		}
		if d == (Def{}) {
			t.Errorf("changing %s leaves Def equal: a reload would keep the old role", f.Name)
		}
	}
}

// TestDef_Spec: the Spec is the definition itself, with no MFA prompt.
func TestDef_Spec(t *testing.T) {
	d := Def{RoleARN: "arn:aws:iam::123456789012:role/a", Profile: "p", Region: "eu-west-1",
		STSEndpoint: "http://127.0.0.1:1", SessionName: "s", Duration: time.Hour, ExternalID: "e"}
	if got := d.Spec(); got.Def != d || got.MFAToken != nil {
		t.Errorf("Spec() = %+v, want the definition %+v and no MFAToken", got, d)
	}
}

// TestDef_TagsAndListsCompare: Def holds tags and lists as canonical
// strings, so equal contents built in any order are ==, and any change
// of a pair or an item is not.
func TestDef_TagsAndListsCompare(t *testing.T) {
	a := Def{Tags: NewTags(map[string]string{"a": "1", "b": "2"}), PolicyARNs: NewList([]string{"y", "x"}), TransitiveTagKeys: NewList([]string{"a"})}
	b := Def{Tags: NewTags(map[string]string{"b": "2", "a": "1"}), PolicyARNs: NewList([]string{"x", "y", "x"}), TransitiveTagKeys: NewList([]string{"a"})}
	if a != b {
		t.Errorf("%+v != %+v: the same tags and lists must compare equal", a, b)
	}
	for name, change := range map[string]func(*Def){
		"tag value": func(d *Def) { d.Tags = NewTags(map[string]string{"a": "1", "b": "3"}) },
		"tag added": func(d *Def) { d.Tags = NewTags(map[string]string{"a": "1", "b": "2", "c": ""}) },
		"list item": func(d *Def) { d.PolicyARNs = NewList([]string{"x"}) },
	} {
		c := b
		change(&c)
		if c == a {
			t.Errorf("changing the %s leaves Def equal", name)
		}
	}
}
