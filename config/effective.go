package config

import (
	"fmt"
	"io"
	"reflect"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Redacted replaces a secret's value wherever it would be printed.
const Redacted = "<redacted>"

// WriteEffective prints every key of the table with its effective value in
// cfg, marking defaults; a nested key is printed as the file gives it
// (nodes, from FileNodes). Secret values are printed as "<redacted>".
func WriteEffective(w io.Writer, cfg Config, nodes map[string]*yaml.Node) {
	keys := Keys()
	slices.SortFunc(keys, func(a, b Key) int { return strings.Compare(a.Name, b.Name) })
	def := Default()
	for _, k := range keys {
		if k.Kind == KindNested {
			writeNested(w, k.Name, nodes[k.Name])
			continue
		}
		v := reflect.ValueOf(k.field(&cfg)).Elem()
		note := ""
		if reflect.DeepEqual(v.Interface(), reflect.ValueOf(k.field(&def)).Elem().Interface()) {
			note = "  # default"
		}
		text := formatValue(v)
		if k.Name == "listen" && v.Len() == 0 {
			text, note = formatValue(reflect.ValueOf(cfg.ListenAddrs())), "  # default"
		}
		if k.Secret && !v.IsZero() {
			text = quote(Redacted)
		}
		fmt.Fprintf(w, "%s: %s%s\n", k.Name, text, note)
	}
}

// writeNested prints a nested key as the file gives it, secrets redacted.
func writeNested(w io.Writer, name string, n *yaml.Node) {
	if n == nil {
		fmt.Fprintf(w, "%s: {}  # not set\n", name)
		return
	}
	redactNode(n, secretNames())
	b, err := yaml.Marshal(n)
	if err != nil {
		fmt.Fprintf(w, "%s: (unprintable: %v)\n", name, err)
		return
	}
	fmt.Fprintf(w, "%s:\n  %s\n", name, strings.ReplaceAll(strings.TrimSpace(string(b)), "\n", "\n  "))
}

// redactNode replaces, at any depth, the value of a secret key.
func redactNode(n *yaml.Node, secret map[string]bool) {
	if n.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(n.Content); i += 2 {
			if v := n.Content[i+1]; secret[n.Content[i].Value] && v.Kind == yaml.ScalarNode {
				v.Value, v.Tag, v.Style = Redacted, "!!str", yaml.DoubleQuotedStyle
				continue
			}
			redactNode(n.Content[i+1], secret)
		}
		return
	}
	for _, c := range n.Content {
		redactNode(c, secret)
	}
}

// Secrets returns the secret values cfg holds (every external ID), for
// redaction wherever text could carry them.
func (c Config) Secrets() []string {
	var out []string
	add := func(d *Config, get func(*Config) any) {
		if s, ok := get(d).(*string); ok && *s != "" {
			out = append(out, *s)
		}
	}
	for _, k := range Keys() {
		if k.Secret {
			add(&c, k.field)
		}
	}
	for _, r := range c.Roles {
		d := r.Def
		for _, rk := range RoleKeys() {
			if s, ok := rk.def(&d).(*string); ok && rk.Secret && *s != "" {
				out = append(out, *s)
			}
		}
	}
	return out
}
