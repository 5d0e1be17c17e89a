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

// Origins tell WriteEffective where the values it prints came from,
// besides the file (its nodes) and the defaults (issue 16 item 8).
type Origins struct {
	// Flags are the keys a command-line flag set.
	Flags map[string]bool
	// Profile is the flat role's shared-config profile, and FromProfile
	// the values it supplies where the config leaves a key unset (key to
	// the value as the daemon will use it): region, duration,
	// session_name (roles.FromProfile).
	Profile     string
	FromProfile map[string]any
}

// Origin names, as WriteEffective writes them after a value.
const (
	OriginFlag    = "flag"
	OriginFile    = "file"
	OriginProfile = "profile" // followed by the profile's name
	OriginEnv     = "environment (AWS_PROFILE)"
	OriginDefault = "default"
)

// WriteEffective prints every key of the table with the value the daemon
// will use and, after it, where that value came from: a flag, the file
// (nodes, from FileNodes), the flat role's profile (`region: "eu-west-1"
// # profile dev`), the environment ($AWS_PROFILE) or the default. A nested
// key is printed as the file gives it. Secret values are printed as
// "<redacted>".
func WriteEffective(w io.Writer, cfg Config, nodes map[string]*yaml.Node, o Origins) {
	keys := Keys()
	slices.SortFunc(keys, func(a, b Key) int { return strings.Compare(a.Name, b.Name) })
	def := Default()
	for _, k := range keys {
		if k.Kind == KindNested {
			writeNested(w, k.Name, nodes[k.Name])
			continue
		}
		v := reflect.ValueOf(k.field(&cfg)).Elem()
		isDefault := reflect.DeepEqual(v.Interface(), reflect.ValueOf(k.field(&def)).Elem().Interface())
		text := formatValue(v)
		origin := ""
		_, inFile := nodes[k.Name]
		pv, fromProfile := o.FromProfile[k.Name]
		switch {
		case o.Flags[k.Name]:
			origin = OriginFlag
		case inFile:
			origin = OriginFile
		case fromProfile && isDefault:
			text, origin = formatValue(reflect.ValueOf(pv)), OriginProfile+" "+o.Profile
		case k.Name == "listen" && v.Len() == 0:
			text, origin = formatValue(reflect.ValueOf(cfg.ListenAddrs())), OriginDefault
		case isDefault:
			origin = OriginDefault
		case k.Name == "profile":
			origin = OriginEnv
		}
		if k.Secret && !v.IsZero() {
			text = quote(Redacted)
		}
		if origin != "" {
			origin = "  # " + origin
		}
		fmt.Fprintf(w, "%s: %s%s\n", k.Name, text, origin)
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
