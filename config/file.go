package config

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strings"

	"go.yaml.in/yaml/v3"
)

// MaxFileSize bounds what is read from a config file.
const MaxFileSize = 1 << 20

// LoadFile decodes the YAML config file at path over c. On Unix the file
// must be a regular file that only root or the daemon's user can have
// written: owned by one of them, not writable by group or others, and so
// is every directory above it (openConfig, trust_unix.go).
func LoadFile(path string, c *Config) error {
	data, err := readFile(path)
	if err != nil {
		return err
	}
	if err := Decode(data, c); err != nil {
		return fmt.Errorf("config file %s: %w", path, err)
	}
	return nil
}

// readFile reads a config file, checking who can have written it and that
// it is a regular file (a FIFO would block the read), and bounding its
// size.
func readFile(path string) ([]byte, error) {
	f, err := openConfig(path)
	var pe *fs.PathError
	switch {
	case errors.As(err, &pe):
		return nil, fmt.Errorf("config file: %w", err) // it names the path
	case err != nil:
		return nil, fmt.Errorf("config file %s: %w", path, err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("config file %s: %w", path, err)
	}
	if len(data) > MaxFileSize {
		return nil, fmt.Errorf("config file %s: larger than %d bytes", path, MaxFileSize)
	}
	return data, nil
}

// WithLine points a validation error at the config file line that set the
// bad value, as decoding errors already do: a bad value from the file is
// "config file PATH: line N: KEY ...: reason". An error about a flag, or
// about a key the file does not set, is returned unchanged.
func WithLine(err error, path string) error {
	var ce *Error
	if path == "" || !errors.As(err, &ce) || ce.Line > 0 || strings.HasPrefix(ce.Field, "--") {
		return err
	}
	line := keyLine(path, ce.Field)
	if line == 0 {
		return err
	}
	ce.Line = line
	return fmt.Errorf("config file %s: %w", path, err)
}

// keyLine returns the line of the value of a top-level key in the YAML
// config file at path, or 0 when it cannot tell.
func keyLine(path, key string) int {
	nodes, err := FileNodes(path)
	if err != nil {
		return 0
	}
	if n, ok := nodes[key]; ok {
		return n.Line
	}
	return 0
}

// FileNodes returns the top-level keys of the config file with their YAML
// values, for printing nested keys as the file gives them. It reads the
// file as LoadFile does: the same checks, the same bound.
func FileNodes(path string) (map[string]*yaml.Node, error) {
	b, err := readFile(path)
	if err != nil {
		return nil, err
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return nil, err
	}
	out := map[string]*yaml.Node{}
	if len(doc.Content) == 1 && doc.Content[0].Kind == yaml.MappingNode {
		m := doc.Content[0]
		for i := 0; i+1 < len(m.Content); i += 2 {
			out[m.Content[i].Value] = m.Content[i+1]
		}
	}
	return out, nil
}
