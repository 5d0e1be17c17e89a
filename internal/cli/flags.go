// Package cli holds what imdsd's subcommands share in reading their
// command lines.
package cli

import (
	"flag"
	"strings"
)

// ParseInterspersed is fs.Parse with flags allowed after positional
// arguments: the flag package stops at the first non-flag, so parsing
// resumes after each one until the arguments run out or "--" ends the
// flags. fs.Args() is then the positional arguments, in order.
func ParseInterspersed(fs *flag.FlagSet, args []string) error {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			break
		}
		if endedByDashDash(fs, args, rest) {
			pos = append(pos, rest...)
			break
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
	// A parse of "--" alone leaves the flags as they are and sets
	// fs.Args() to what follows it.
	return fs.Parse(append([]string{"--"}, pos...))
}

// endedByDashDash reports whether fs.Parse(args), leaving rest, stopped at
// a "--" that ends the flags rather than at a positional argument: the
// argument consumed last is "--" and is not the value of the flag before
// it (`--role --` gives the role "--").
func endedByDashDash(fs *flag.FlagSet, args, rest []string) bool {
	n := len(args) - len(rest)
	if n == 0 || args[n-1] != "--" {
		return false
	}
	return n < 2 || !takesValue(fs, args[n-2])
}

// takesValue reports whether arg is a flag of fs written without "=" that
// takes the next argument as its value (any flag but a boolean one).
func takesValue(fs *flag.FlagSet, arg string) bool {
	if len(arg) < 2 || arg[0] != '-' || strings.Contains(arg, "=") {
		return false
	}
	name := strings.TrimPrefix(strings.TrimPrefix(arg, "-"), "-")
	f := fs.Lookup(name)
	if f == nil {
		return false
	}
	b, ok := f.Value.(interface{ IsBoolFlag() bool })
	return !ok || !b.IsBoolFlag()
}
