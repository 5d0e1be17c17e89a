package config

import (
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

func quote(s string) string { return strconv.Quote(s) }

func asDuration(ptr any) (*time.Duration, bool) {
	d, ok := ptr.(*time.Duration)
	return d, ok
}

// formatValue prints a value as YAML would read it back.
func formatValue(v reflect.Value) string {
	if d, ok := v.Interface().(time.Duration); ok {
		if d == 0 {
			return `""`
		}
		return strconv.Quote(d.String())
	}
	if s, ok := formatRoleParam(v.Interface()); ok {
		return s
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
