package main

import (
	"flag"
	"strings"
)

// stringList is a flag that may repeat.
type stringList []string

func (l *stringList) String() string     { return strings.Join(*l, ",") }
func (l *stringList) Set(v string) error { *l = append(*l, v); return nil }

// flagName returns the flag that sets a config-file key: role_arn is
// --role-arn.
func flagName(key string) string { return "--" + strings.ReplaceAll(key, "_", "-") }

// serveFlags holds the serve command's flags before they are merged over
// the config file.
type serveFlags struct {
	configPath string
	listen     stringList
	cfg        Config
}

func newServeFlagSet(f *serveFlags) *flag.FlagSet {
	fs := flag.NewFlagSet("imdsd serve", flag.ContinueOnError)
	fs.StringVar(&f.configPath, "config", "", "YAML config `file`; flags override it")
	fs.Var(&f.listen, "listen", "listen `address` IP:PORT; may repeat (default 127.0.0.1:9254 and [::1]:9254)")
	fs.StringVar(&f.cfg.RoleARN, "role-arn", "", "`ARN` of the IAM role to assume")
	fs.StringVar(&f.cfg.Profile, "profile", "", "shared-config `profile` for source credentials, or one that names the role (default: $AWS_PROFILE)")
	fs.StringVar(&f.cfg.Region, "region", "", "AWS `region` for STS and the instance metadata (default: the profile's, else us-east-1)")
	fs.StringVar(&f.cfg.STSEndpoint, "sts-endpoint", "", "STS endpoint `URL` (VPC endpoint, FIPS, local STS)")
	fs.StringVar(&f.cfg.SessionName, "session-name", "", "role session `name` (default imdsd-HOSTNAME)")
	fs.DurationVar(&f.cfg.Duration, "duration", 0, "session `duration`, 15m to 12h (default 1h)")
	fs.StringVar(&f.cfg.ExternalID, "external-id", "", "external `ID` for AssumeRole")
	fs.StringVar(&f.cfg.IMDSv2, "imdsv2", imdsv2Optional, "IMDSv2 tokens: optional or required")
	fs.DurationVar(&f.cfg.MinRemaining, "min-remaining", 0, "least lifetime served credentials have (default 30m)")
	fs.StringVar(&f.cfg.InstanceID, "instance-id", "", "instance `ID` to serve (default derived from /etc/machine-id)")
	fs.StringVar(&f.cfg.LogLevel, "log-level", "info", "log `level`: debug, info, warn, error")
	fs.StringVar(&f.cfg.LogFormat, "log-format", "auto", "log `format`: auto (text on a terminal, else JSON), text, json")
	fs.BoolVar(&f.cfg.LinkLocal, "link-local", false, "put 169.254.169.254 and fd00:ec2::254 on loopback and serve there on port 80 (needs CAP_NET_ADMIN)")
	addOpsFlags(fs, &f.cfg.Ops)
	return fs
}

// merge applies the flags that were set over c.
func (f *serveFlags) merge(fs *flag.FlagSet, c *Config) {
	fs.Visit(func(fl *flag.Flag) {
		switch fl.Name {
		case "listen":
			c.Listen = append([]string(nil), f.listen...)
		case "role-arn":
			c.RoleARN = f.cfg.RoleARN
		case "profile":
			c.Profile = f.cfg.Profile
		case "region":
			c.Region = f.cfg.Region
		case "sts-endpoint":
			c.STSEndpoint = f.cfg.STSEndpoint
		case "session-name":
			c.SessionName = f.cfg.SessionName
		case "duration":
			c.Duration = f.cfg.Duration
		case "external-id":
			c.ExternalID = f.cfg.ExternalID
		case "imdsv2":
			c.IMDSv2 = f.cfg.IMDSv2
		case "min-remaining":
			c.MinRemaining = f.cfg.MinRemaining
		case "instance-id":
			c.InstanceID = f.cfg.InstanceID
		case "log-level":
			c.LogLevel = f.cfg.LogLevel
		case "log-format":
			c.LogFormat = f.cfg.LogFormat
		case "link-local":
			c.LinkLocal = f.cfg.LinkLocal
		default:
			mergeOpsFlag(fl.Name, &f.cfg.Ops, &c.Ops)
		}
	})
}
