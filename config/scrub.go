package config

import (
	"errors"
	"strings"

	"go.yaml.in/yaml/v3"
)

// scrub keeps secrets out of a config error: the key or value an *Error
// quotes is the user's own text, and it may equal a secret given elsewhere
// in the file (a key typed as "s3cr3t-ext:" next to external_id:
// s3cr3t-ext). Whatever the error quotes, no secret value is shown.
func scrub(err error, secrets []string) error {
	var ce *Error
	if err == nil || !errors.As(err, &ce) {
		return err
	}
	for _, s := range secrets {
		if s == "" {
			continue
		}
		ce.Field = scrubPath(ce.Field, s)
		if strings.Contains(ce.Value, s) {
			ce.Value = Redacted
		}
	}
	return err
}

// scrubPath redacts each place in a key path (roles.NAME.key,
// "clients[0].key", an unknown key as typed) where the secret stands as a
// whole name, bounded by the path's ends, '.', '[' or quotes: the names of
// the table's own keys stay readable even when they contain a short
// secret's text.
func scrubPath(field, secret string) string {
	bound := func(i int) bool {
		return i < 0 || i >= len(field) || strings.IndexByte(`."[]`, field[i]) >= 0
	}
	var b strings.Builder
	for i := 0; i < len(field); {
		if strings.HasPrefix(field[i:], secret) && bound(i-1) && bound(i+len(secret)) {
			b.WriteString(Redacted)
			i += len(secret)
			continue
		}
		b.WriteByte(field[i])
		i++
	}
	return b.String()
}

// nodeSecrets returns the scalar values of every secret key in a YAML
// tree, at any depth.
func nodeSecrets(n *yaml.Node, secret map[string]bool) []string {
	var out []string
	var walk func(*yaml.Node)
	walk = func(n *yaml.Node) {
		if n.Kind == yaml.MappingNode {
			for i := 0; i+1 < len(n.Content); i += 2 {
				if v := n.Content[i+1]; secret[n.Content[i].Value] && v.Kind == yaml.ScalarNode {
					out = append(out, v.Value)
				}
			}
		}
		for _, c := range n.Content {
			walk(c)
		}
	}
	walk(n)
	return out
}
