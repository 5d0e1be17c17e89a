package config

import (
	"errors"
	"flag"
	"io"
	"reflect"
	"strings"

	"github.com/imdsd/imdsd/roles"
	"time"
)

// FlagName returns the flag that sets a config-file key: role_arn is
// --role-arn.
func FlagName(key string) string { return "--" + strings.ReplaceAll(key, "_", "-") }

// Flags are serve's flags: --config, and one per plain key of the table,
// parsed apart from the file and merged over it.
type Flags struct {
	fs         *flag.FlagSet
	configPath string
	parsed     Config // what the flags parsed into; only given ones count
	given      map[string]bool
}

// NewFlags returns the flags of the command called name.
func NewFlags(name string) *Flags {
	f := &Flags{fs: flag.NewFlagSet(name, flag.ContinueOnError), parsed: Default()}
	f.fs.SetOutput(io.Discard)
	f.fs.StringVar(&f.configPath, "config", "", "YAML config `file`; flags override it")
	for _, k := range Keys() {
		if k.Kind == KindNested {
			continue
		}
		name, usage := k.Flag()[2:], k.Doc
		if k.Default != "" {
			usage += " (default " + k.Default + ")"
		}
		switch p := k.field(&f.parsed).(type) {
		case *[]string:
			f.fs.Var(&listFlag{p}, name, usage+"; may repeat")
		case *roles.Tags:
			f.fs.Var(&tagsFlag{p}, name, usage)
		case *roles.List:
			f.fs.Var(&setFlag{p}, name, usage+"; may repeat")
		default:
			registerFlag(f.fs, name, usage, p)
		}
	}
	return f
}

// FlagSet returns the underlying flag set (for -h).
func (f *Flags) FlagSet() *flag.FlagSet { return f.fs }

// ConfigPath returns --config.
func (f *Flags) ConfigPath() string { return f.configPath }

// ArgError is a bad command line (not a bad config).
type ArgError struct{ Err error }

func (e *ArgError) Error() string { return e.Err.Error() }
func (e *ArgError) Unwrap() error { return e.Err }

// Parse parses args, loads the file --config names, merges the given
// flags over it and validates the result. getenv supplies AWS_PROFILE, the
// profile when neither role_arn nor profile is set. -h is flag.ErrHelp.
func (f *Flags) Parse(args []string, getenv func(string) string) (Config, error) {
	if err := f.fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return Config{}, err
		}
		return Config{}, &ArgError{err}
	}
	if f.fs.NArg() > 0 {
		return Config{}, &ArgError{errors.New("unexpected argument " + quote(f.fs.Arg(0)))}
	}
	f.given = map[string]bool{}
	f.fs.Visit(func(fl *flag.Flag) { f.given[fl.Name] = true })
	cfg := Default()
	if f.configPath != "" {
		if err := LoadFile(f.configPath, &cfg); err != nil {
			return Config{}, err
		}
	}
	f.merge(&cfg)
	if cfg.Role.Profile == "" && cfg.Role.RoleARN == "" {
		cfg.Role.Profile = getenv("AWS_PROFILE")
	}
	if err := cfg.Validate(f.FieldName); err != nil {
		return Config{}, WithLine(err, f.configPath)
	}
	return cfg, nil
}

// FieldName names key as the user set it: its flag when a flag set it or
// there is no file, else the key.
func (f *Flags) FieldName(key string) string {
	if name := FlagName(key); f.given[name[2:]] || f.configPath == "" {
		return name
	}
	return key
}

// merge applies the flags that were given over c.
func (f *Flags) merge(c *Config) {
	for _, k := range Keys() {
		if k.Kind == KindNested || !f.given[k.Flag()[2:]] {
			continue
		}
		from := reflect.ValueOf(k.field(&f.parsed)).Elem()
		to := reflect.ValueOf(k.field(c)).Elem()
		if from.Kind() == reflect.Slice {
			from = reflect.ValueOf(append([]string(nil), from.Interface().([]string)...))
		}
		to.Set(from)
	}
}

func registerFlag(fs *flag.FlagSet, name, usage string, ptr any) {
	switch p := ptr.(type) {
	case *string:
		fs.StringVar(p, name, *p, usage)
	case *bool:
		fs.BoolVar(p, name, *p, usage)
	case *int:
		fs.IntVar(p, name, *p, usage)
	default:
		if d, ok := asDuration(ptr); ok {
			fs.Var((*durationFlag)(d), name, usage)
			return
		}
		panic("config: flag of unknown type " + name) // a bad table, caught by TestKeys_Table
	}
}

// durationFlag is a duration flag whose error names the accepted forms
// (issue 16 item 10: flag.DurationVar says only "parse error").
type durationFlag time.Duration

func (d *durationFlag) String() string {
	if d == nil {
		return "0s"
	}
	return time.Duration(*d).String()
}

func (d *durationFlag) Set(s string) error {
	v, err := time.ParseDuration(s)
	if err != nil {
		return errNotDuration
	}
	*d = durationFlag(v)
	return nil
}

// listFlag is a flag that may repeat; each value is one element.
type listFlag struct{ p *[]string }

func (l *listFlag) String() string {
	if l == nil || l.p == nil {
		return ""
	}
	return strings.Join(*l.p, ",")
}
func (l *listFlag) Set(v string) error { *l.p = append(*l.p, v); return nil }
