package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Config file errors.
var (
	errUnknownKey  = errors.New("unknown key")
	errDuplicate   = errors.New("key given twice")
	errNotString   = errors.New("must be a string")
	errNotList     = errors.New("must be a string or a list of strings")
	errNotBool     = errors.New("must be true or false")
	errNotDuration = errors.New("must be a duration such as 45m or 1h")
	errNotMapping  = errors.New("the config file must be a mapping of keys to values")
)

// maxConfigSize bounds what is read from a config file.
const maxConfigSize = 1 << 20

// fileKeys maps each config file key to the code that decodes its value.
// Decoding is strict: an unknown key, a duplicate or a value of the wrong
// kind is an error that names the key and its line.
func fileKeys(c *Config) map[string]func(*yaml.Node) error {
	return map[string]func(*yaml.Node) error{
		"listen":        listValue(&c.Listen),
		"region":        stringValue(&c.Region),
		"imdsv2":        stringValue(&c.IMDSv2),
		"role_arn":      stringValue(&c.RoleARN),
		"profile":       stringValue(&c.Profile),
		"sts_endpoint":  stringValue(&c.STSEndpoint),
		"session_name":  stringValue(&c.SessionName),
		"duration":      durationValue(&c.Duration),
		"external_id":   stringValue(&c.ExternalID),
		"min_remaining": durationValue(&c.MinRemaining),
		"instance_id":   stringValue(&c.InstanceID),
		"log_level":     stringValue(&c.LogLevel),
		"log_format":    stringValue(&c.LogFormat),
		"link_local":    boolValue(&c.LinkLocal),

		"control_socket":       stringValue(&c.ControlSocket),
		"metrics_listen":       stringValue(&c.MetricsListen),
		"state_file":           stringValue(&c.StateFile),
		"mfa_serial":           stringValue(&c.MFASerial),
		"mfa_session_duration": durationValue(&c.MFASessionDuration),

		"allowed_hosts":        listValue(&c.Security.AllowedHosts),
		"hop_limit":            intValue(&c.Security.HopLimit),
		"rate_limit":           intValue(&c.Security.RateLimit),
		"rate_burst":           intValue(&c.Security.RateBurst),
		"max_conns_per_client": intValue(&c.Security.MaxConnsPerClient),
		"allow_uids":           idListValue(&c.Security.Users.AllowUIDs),
		"allow_groups":         idListValue(&c.Security.Users.AllowGroups),
		"user_roles":           userRolesValue(&c.Security.Users.UserRoles),

		"roles":              rolesValue(&c.Roles),
		"clients":            clientsValue(&c.Clients),
		"containers":         containersValue(&c.Containers),
		"container_endpoint": containerEndpointValue(&c.ContainerEndpoint),
	}
}

// loadConfigFile decodes the YAML config file at path into c.
func loadConfigFile(path string, c *Config) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("config file: %w", err)
	}
	defer f.Close()
	if err := checkConfigMode(f); err != nil {
		return fmt.Errorf("config file %s: %w", path, err)
	}
	data, err := io.ReadAll(io.LimitReader(f, maxConfigSize+1))
	if err != nil {
		return fmt.Errorf("config file %s: %w", path, err)
	}
	if len(data) > maxConfigSize {
		return fmt.Errorf("config file %s: larger than %d bytes", path, maxConfigSize)
	}
	if err := decodeConfig(data, c); err != nil {
		return fmt.Errorf("config file %s: %w", path, err)
	}
	return nil
}

// decodeConfig decodes YAML config data into c.
func decodeConfig(data []byte, c *Config) error {
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
		return &ConfigError{Field: "config", Line: root.Line, Err: errNotMapping}
	}
	return mappingValue("", root, fileKeys(c))
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
