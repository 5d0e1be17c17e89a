package config

import (
	"strconv"
	"strings"
)

// FillTemplate sets keys in the config template tmpl: each key's commented
// example line ("#role_arn: ...") becomes "role_arn: VALUE", so the
// comments around it stay; a key without one is added at the end. Empty
// values are left out.
func FillTemplate(tmpl []byte, keys [][2]string) []byte {
	lines := strings.SplitAfter(string(tmpl), "\n")
	var extra []string
	for _, kv := range keys {
		if kv[1] == "" {
			continue
		}
		line := kv[0] + ": " + yamlScalar(kv[1]) + "\n"
		found := false
		for i, l := range lines {
			if strings.HasPrefix(l, "#"+kv[0]+":") {
				lines[i], found = line, true
				break
			}
		}
		if !found {
			extra = append(extra, line)
		}
	}
	out := strings.Join(lines, "")
	if len(extra) > 0 {
		if !strings.HasSuffix(out, "\n") {
			out += "\n"
		}
		out += "\n" + strings.Join(extra, "")
	}
	return []byte(out)
}

// yamlScalar writes v as a YAML string: plain when it starts with a letter,
// is made of the characters of ARNs, profile and region names and is no
// YAML 1.1 boolean or null; else double-quoted (Go's escapes are YAML's).
func yamlScalar(v string) string {
	plain := v != "" && isLetter(rune(v[0]))
	for _, r := range v {
		if !isLetter(r) && !(r >= '0' && r <= '9') && !strings.ContainsRune(":/_.@+=,-", r) {
			plain = false
		}
	}
	switch strings.ToLower(v) {
	case "y", "n", "yes", "no", "on", "off", "true", "false", "null":
		plain = false
	}
	if plain {
		return v
	}
	return strconv.Quote(v)
}

func isLetter(r rune) bool { return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' }
