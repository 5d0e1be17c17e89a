package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// configCheckUsage is the usage of "imdsd config check", which
// "imdsd check-config" (the older spelling, kept for packages' maintainer
// scripts and users' scripts) shares with it.
func configCheckUsage() string {
	return "usage: imdsd config check [FILE | --config FILE]   (default FILE: " + systemConfigPath() + ")\n" +
		"  validate FILE as 'imdsd serve --config FILE' loads it, resolve the roles it\n" +
		"  names (reading the AWS shared files, calling nothing) and print the effective\n" +
		"  config, secrets redacted. Exit 0: valid; 2: not (the reason on stderr).\n" +
		"  'imdsd check-config' is an alias.\n"
}

// runConfig implements "imdsd config SUBCOMMAND"; check is the only one.
func runConfig(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] != "check" {
		fmt.Fprint(stderr, configCheckUsage())
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help") {
			return exitOK
		}
		return exitUsage
	}
	return runConfigCheck(ctx, args[1:], stdout, stderr)
}

// runConfigCheck implements "imdsd config check [FILE | --config FILE]"
// and its alias "imdsd check-config": validate a config file as serve
// would load it (mode, keys, values, and the roles it names, without
// calling STS) and print the effective configuration, defaults included,
// with secrets redacted. Exit 0 when valid, 2 when not.
func runConfigCheck(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	const name = "imdsd config check"
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfgPath := fs.String("config", "", "config `file` to check (or give FILE as the argument)")
	fs.Usage = func() {
		fmt.Fprint(stderr, configCheckUsage())
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	path := systemConfigPath()
	flagSet := false
	fs.Visit(func(f *flag.Flag) { flagSet = flagSet || f.Name == "config" })
	switch {
	case fs.NArg() > 1:
		fmt.Fprintf(stderr, "%s: unexpected argument %q\n", name, fs.Arg(1))
		return exitUsage
	case fs.NArg() == 1 && flagSet:
		fmt.Fprintf(stderr, "%s: give the file once, as FILE or as --config FILE (got %q and %q)\n", name, *cfgPath, fs.Arg(0))
		return exitUsage
	case fs.NArg() == 1:
		path = fs.Arg(0)
	case flagSet:
		path = *cfgPath
	}
	if path == "" {
		fmt.Fprintf(stderr, "%s: the config file name is empty\n", name)
		return exitUsage
	}
	cfg, msg := checkConfig(path)
	if msg != "" {
		fmt.Fprintf(stderr, "%s: %s: %s\n", name, path, msg)
		return exitUsage
	}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	set, err := buildSet(ctx, cfg, nil, quiet, nil)
	if err != nil {
		fmt.Fprintf(stderr, "%s: %s: %v\n", name, path, err)
		return exitUsage
	}
	nodes, err := fileNodes(path)
	if err != nil {
		fmt.Fprintf(stderr, "%s: %s: %v\n", name, path, err)
		return exitUsage
	}
	fmt.Fprintf(stdout, "# %s: valid; roles: %s (default %s)\n", path, strings.Join(set.order, ", "), set.def)
	writeEffective(stdout, cfg, nodes)
	return exitOK
}

// checkConfig loads path exactly as `imdsd serve --config path` would
// (file mode, strict decoding, validation) and returns the config, or the
// validation message. It resolves no role: install uses it as is, before
// the service's environment exists; config check resolves the roles after.
func checkConfig(path string) (Config, string) {
	var buf bytes.Buffer
	cfg, code := loadServeConfig([]string{"--config", path}, &buf)
	if code >= 0 {
		return Config{}, strings.TrimPrefix(strings.TrimSpace(buf.String()), "imdsd serve: ")
	}
	return cfg, ""
}

// fileNodes returns the top-level keys of the config file with their YAML
// values, for the nested keys, which are printed as the file gives them.
func fileNodes(path string) (map[string]*yaml.Node, error) {
	b, err := os.ReadFile(path)
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

// redactNode replaces, at any depth, the value of a secret key.
func redactNode(n *yaml.Node) {
	if n.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(n.Content); i += 2 {
			if v := n.Content[i+1]; isSecretKey(n.Content[i].Value) && v.Kind == yaml.ScalarNode {
				v.Value, v.Tag, v.Style = "<redacted>", "!!str", yaml.DoubleQuotedStyle
				continue
			}
			redactNode(n.Content[i+1])
		}
		return
	}
	for _, c := range n.Content {
		redactNode(c)
	}
}

// secretKeys are config keys whose values are never printed: an external
// ID is a shared secret between the role's owner and its users.
var secretKeys = []string{"external_id", "secret", "token", "password"}

func isSecretKey(k string) bool {
	return slices.ContainsFunc(secretKeys, func(s string) bool { return strings.Contains(k, s) })
}

// writeEffective prints every config key with its effective value, marking
// defaults. It finds the field behind each key by decoding a probe value
// through fileKeys, so a key added to the table is printed with no change
// here.
func writeEffective(w io.Writer, cfg Config, nodes map[string]*yaml.Node) {
	keys := fileKeys(&Config{})
	names := make([]string, 0, len(keys))
	for k := range keys {
		names = append(names, k)
	}
	slices.Sort(names)
	def := defaultConfig()
	for _, k := range names {
		path, ok := fieldOf(k)
		if !ok || !isPlain(fieldAt(reflect.ValueOf(cfg), path)) {
			// A nested key: as the file gives it, secrets redacted.
			n, given := nodes[k]
			if !given {
				fmt.Fprintf(w, "%s: {}  # not set\n", k)
				continue
			}
			redactNode(n)
			b, err := yaml.Marshal(n)
			if err != nil {
				fmt.Fprintf(w, "%s: (unprintable: %v)\n", k, err)
				continue
			}
			fmt.Fprintf(w, "%s:\n  %s\n", k, strings.ReplaceAll(strings.TrimSpace(string(b)), "\n", "\n  "))
			continue
		}
		v := fieldAt(reflect.ValueOf(cfg), path)
		note := ""
		if reflect.DeepEqual(v.Interface(), fieldAt(reflect.ValueOf(def), path).Interface()) {
			note = "  # default"
		}
		text := formatValue(v)
		if k == "listen" && v.Len() == 0 {
			text, note = formatValue(reflect.ValueOf(cfg.listenAddrs())), "  # default"
		}
		if isSecretKey(k) && !v.IsZero() {
			text = `"<redacted>"`
		}
		fmt.Fprintf(w, "%s: %s%s\n", k, text, note)
	}
}

// isPlain reports whether a value prints as one YAML scalar or a list of
// strings.
func isPlain(v reflect.Value) bool {
	switch v.Kind() {
	case reflect.String, reflect.Bool, reflect.Int, reflect.Int64, reflect.Float64:
		return true
	}
	_, ok := v.Interface().([]string)
	return ok
}

// probes are values of every kind a key's decoder may accept.
var probes = []string{"\"probe-1\"\n", "true\n", "\"1h7m\"\n", "7\n", "[\"probe-1\"]\n", "{}\n", "[]\n"}

// fieldOf finds the Config field a key decodes into: the field path that
// changes when a probe value is decoded.
func fieldOf(key string) ([]int, bool) {
	for _, p := range probes {
		var n yaml.Node
		if yaml.Unmarshal([]byte(p), &n) != nil || len(n.Content) == 0 {
			continue
		}
		c := defaultConfig()
		if fileKeys(&c)[key](n.Content[0]) != nil {
			continue
		}
		if path, ok := diffPath(reflect.ValueOf(defaultConfig()), reflect.ValueOf(c), nil); ok {
			return path, true
		}
	}
	return nil, false
}

// diffPath returns the path of the first leaf field that differs.
func diffPath(a, b reflect.Value, path []int) ([]int, bool) {
	if a.Kind() == reflect.Struct && a.Type() != reflect.TypeOf(time.Time{}) {
		for i := range a.NumField() {
			if p, ok := diffPath(a.Field(i), b.Field(i), append(slices.Clone(path), i)); ok {
				return p, true
			}
		}
		return nil, false
	}
	if !a.CanInterface() || reflect.DeepEqual(a.Interface(), b.Interface()) {
		return nil, false
	}
	return path, true
}

func fieldAt(v reflect.Value, path []int) reflect.Value {
	for _, i := range path {
		v = v.Field(i)
	}
	return v
}

// formatValue prints a value as YAML would read it back.
func formatValue(v reflect.Value) string {
	if d, ok := v.Interface().(time.Duration); ok {
		if d == 0 {
			return `""`
		}
		return strconv.Quote(d.String())
	}
	switch v.Kind() {
	case reflect.String:
		return strconv.Quote(v.String())
	case reflect.Bool, reflect.Int, reflect.Int64, reflect.Float64:
		return fmt.Sprint(v.Interface())
	}
	if l, ok := v.Interface().([]string); ok {
		q := make([]string, len(l))
		for i, s := range l {
			q[i] = strconv.Quote(s)
		}
		return "[" + strings.Join(q, ", ") + "]"
	}
	b, err := yaml.Marshal(v.Interface())
	if err != nil {
		return fmt.Sprintf("%v", v.Interface())
	}
	s := strings.TrimSpace(string(b))
	if strings.Contains(s, "\n") {
		return "\n  " + strings.ReplaceAll(s, "\n", "\n  ")
	}
	return s
}
