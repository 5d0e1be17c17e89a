package main

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"go.yaml.in/yaml/v3"
)

// withConfigLine points a validation error at the config file line that
// set the bad value, as decoding errors already do: a bad value from the
// file is "config file PATH: line N: KEY ...: reason". An error about a
// flag, or about a key the file does not set, is returned unchanged.
func withConfigLine(err error, path string) error {
	var ce *ConfigError
	if path == "" || !errors.As(err, &ce) || ce.Line > 0 || strings.HasPrefix(ce.Field, "--") {
		return err
	}
	line := configKeyLine(path, ce.Field)
	if line == 0 {
		return err
	}
	ce.Line = line
	return fmt.Errorf("config file %s: %w", path, err)
}

// configKeyLine returns the line of the value of a top-level key in the
// YAML config file at path, or 0 when it cannot tell.
func configKeyLine(path, key string) int {
	data, err := os.ReadFile(path)
	if err != nil || len(data) > maxConfigSize {
		return 0
	}
	var doc yaml.Node
	if yaml.Unmarshal(data, &doc) != nil || len(doc.Content) == 0 || doc.Content[0].Kind != yaml.MappingNode {
		return 0
	}
	root := doc.Content[0]
	for i := 0; i+1 < len(root.Content); i += 2 {
		if root.Content[i].Value == key {
			return root.Content[i+1].Line
		}
	}
	return 0
}
