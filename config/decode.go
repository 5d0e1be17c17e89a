package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Decoding errors.
var (
	ErrUnknownKey  = errors.New("unknown key")
	ErrDuplicate   = errors.New("key given twice")
	errNotString   = errors.New("must be a string")
	errNotList     = errors.New("must be a string or a list of strings")
	errNotBool     = errors.New("must be true or false")
	errNotDuration = errors.New("must be a duration: a number and a unit (h, m, s), such as 45m, 1h, 1h30m or 900s")
	errNotInt      = errors.New("must be an integer")
	errNotMapping  = errors.New("the config file must be a mapping of keys to values")
	errNotIDList   = errors.New("must be a uid/gid or name, or a list of them")
)

// Decode decodes YAML config data over c. Decoding is strict: an unknown
// key, a duplicate or a value of the wrong kind is an *Error that names the
// key and its line.
func Decode(data []byte, c *Config) error {
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil // an empty file sets nothing
		}
		return errors.New(strings.TrimPrefix(err.Error(), "yaml: "))
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return errors.New("more than one YAML document")
	}
	if len(doc.Content) == 0 {
		return nil
	}
	root := doc.Content[0]
	if root.Kind == yaml.ScalarNode && root.Tag == "!!null" {
		return nil
	}
	if root.Kind != yaml.MappingNode {
		return &Error{Field: "config", Line: root.Line, Err: errNotMapping}
	}
	decoders := map[string]func(*yaml.Node) error{}
	for _, k := range Keys() {
		decoders[k.Name] = k.keyDecoder(c)
	}
	return scrub(mappingValue("", root, decoders), nodeSecrets(root, secretNames()))
}

// mappingValue decodes a YAML mapping strictly with a key table; errors
// are *Error naming path.key (just key at the top, path "") and its line.
// A nested key's error passes through as it is.
func mappingValue(path string, n *yaml.Node, keys map[string]func(*yaml.Node) error) error {
	if n.Kind != yaml.MappingNode {
		return &Error{Field: path, Line: n.Line, Err: errNotMappingValue}
	}
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		field := k.Value
		if path != "" {
			field = path + "." + k.Value
		}
		decode, ok := keys[k.Value]
		if !ok || k.Kind != yaml.ScalarNode {
			return &Error{Field: strconv.Quote(field), Line: k.Line, Err: ErrUnknownKey}
		}
		if seen[k.Value] {
			return &Error{Field: field, Line: k.Line, Err: ErrDuplicate}
		}
		seen[k.Value] = true
		if err := decode(v); err != nil {
			var ce *Error
			if errors.As(err, &ce) {
				return err
			}
			return &Error{Field: field, Line: v.Line, Err: err}
		}
	}
	return nil
}

func stringValue(dst *string) func(*yaml.Node) error {
	return func(n *yaml.Node) error {
		if n.Kind != yaml.ScalarNode || (n.Tag != "!!str" && n.Tag != "!!int" && n.Tag != "!!float") {
			return errNotString
		}
		*dst = n.Value
		return nil
	}
}

func listValue(dst *[]string) func(*yaml.Node) error {
	return func(n *yaml.Node) error {
		switch n.Kind {
		case yaml.ScalarNode:
			if n.Tag != "!!str" {
				return errNotList
			}
			*dst = []string{n.Value}
			return nil
		case yaml.SequenceNode:
			out := make([]string, 0, len(n.Content))
			for _, item := range n.Content {
				if item.Kind != yaml.ScalarNode || item.Tag != "!!str" {
					return errNotList
				}
				out = append(out, item.Value)
			}
			*dst = out
			return nil
		}
		return errNotList
	}
}

func durationValue(dst *time.Duration) func(*yaml.Node) error {
	return func(n *yaml.Node) error {
		if n.Kind != yaml.ScalarNode || n.Tag != "!!str" {
			return errNotDuration
		}
		d, err := time.ParseDuration(n.Value)
		if err != nil {
			return fmt.Errorf("%q %w", n.Value, errNotDuration)
		}
		*dst = d
		return nil
	}
}

func boolValue(dst *bool) func(*yaml.Node) error {
	return func(n *yaml.Node) error {
		if n.Kind != yaml.ScalarNode || n.Tag != "!!bool" {
			return errNotBool
		}
		switch strings.ToLower(n.Value) {
		case "true", "yes", "on":
			*dst = true
		default:
			*dst = false
		}
		return nil
	}
}

// intValue decodes a YAML integer config value.
func intValue(dst *int) func(*yaml.Node) error {
	return func(n *yaml.Node) error {
		if n.Kind != yaml.ScalarNode || n.Tag != "!!int" {
			return errNotInt
		}
		v, err := strconv.Atoi(n.Value)
		if err != nil {
			return fmt.Errorf("%q %w", n.Value, errNotInt)
		}
		*dst = v
		return nil
	}
}

// idListValue decodes a list of uids/gids or names (allow_uids,
// allow_groups): numbers and strings both.
func idListValue(dst *[]string) func(*yaml.Node) error {
	return func(n *yaml.Node) error {
		items := []*yaml.Node{n}
		if n.Kind == yaml.SequenceNode {
			items = n.Content
		}
		out := make([]string, 0, len(items))
		for _, it := range items {
			if it.Kind != yaml.ScalarNode || (it.Tag != "!!str" && it.Tag != "!!int") || it.Value == "" {
				return errNotIDList
			}
			out = append(out, it.Value)
		}
		*dst = out
		return nil
	}
}
