package config

// Decoding, flags and printing of the role keys whose values are a map or
// a set (tags:, transitive_tag_keys:, policy_arns:), kept in roles.Def as
// the canonical comparable strings roles.Tags and roles.List.

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/imdsd/imdsd/roles"
)

var errNotTags = errors.New("must be a mapping of tag keys to string values, such as {team: infra}")

// tagsValue decodes a mapping of strings into dst.
func tagsValue(dst *roles.Tags) func(*yaml.Node) error {
	return func(n *yaml.Node) error {
		if n.Kind != yaml.MappingNode {
			return errNotTags
		}
		m := make(map[string]string, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if k.Kind != yaml.ScalarNode || v.Kind != yaml.ScalarNode || v.Tag == "!!null" {
				return errNotTags
			}
			if _, dup := m[k.Value]; dup {
				return fmt.Errorf("tag %q is given twice", k.Value)
			}
			m[k.Value] = v.Value
		}
		*dst = roles.NewTags(m)
		return nil
	}
}

// setValue decodes a string or a list of strings into dst.
func setValue(dst *roles.List) func(*yaml.Node) error {
	return func(n *yaml.Node) error {
		var l []string
		if err := listValue(&l)(n); err != nil {
			return err
		}
		*dst = roles.NewList(l)
		return nil
	}
}

// tagsFlag is --tags KEY=VALUE, which may repeat.
type tagsFlag struct{ p *roles.Tags }

func (f *tagsFlag) String() string {
	if f == nil || f.p == nil {
		return ""
	}
	var parts []string
	m := f.p.Map()
	for _, k := range f.p.Keys() {
		parts = append(parts, k+"="+m[k])
	}
	return strings.Join(parts, ",")
}

func (f *tagsFlag) Set(v string) error {
	k, val, ok := strings.Cut(v, "=")
	if !ok || k == "" {
		return fmt.Errorf("%q: want KEY=VALUE", v)
	}
	m := f.p.Map()
	if m == nil {
		m = map[string]string{}
	}
	m[k] = val
	*f.p = roles.NewTags(m)
	return nil
}

// setFlag is a set flag that may repeat; each value is one element.
type setFlag struct{ p *roles.List }

func (f *setFlag) String() string {
	if f == nil || f.p == nil {
		return ""
	}
	return strings.Join(f.p.Items(), ",")
}

func (f *setFlag) Set(v string) error {
	*f.p = roles.NewList(append(f.p.Items(), v))
	return nil
}

// formatRoleParam prints a Tags or List value as YAML reads it back; false
// for any other value.
func formatRoleParam(v any) (string, bool) {
	switch t := v.(type) {
	case roles.Tags:
		m := t.Map()
		parts := make([]string, 0, len(m))
		for _, k := range t.Keys() {
			parts = append(parts, strconv.Quote(k)+": "+strconv.Quote(m[k]))
		}
		return "{" + strings.Join(parts, ", ") + "}", true
	case roles.List:
		items := t.Items()
		q := make([]string, len(items))
		for i, s := range items {
			q[i] = strconv.Quote(s)
		}
		return "[" + strings.Join(q, ", ") + "]", true
	}
	return "", false
}
