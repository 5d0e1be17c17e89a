package imds

import (
	"net/http"
	"sync/atomic"
	"time"
)

// dateCache holds the Date response header of the current second. net/http
// reads the clock and formats the date for every response that has no Date
// header (a tenth of a plain server's handler time here); serveIMDS sets
// it from the time it has already read, formatting once a second.
type dateCache struct {
	cur atomic.Pointer[dateValue]
}

type dateValue struct {
	sec int64
	v   []string // shared by every response of the second: read, never written
}

// value returns the Date header value for now.
func (d *dateCache) value(now time.Time) []string {
	sec := now.Unix()
	if c := d.cur.Load(); c != nil && c.sec == sec {
		return c.v
	}
	c := &dateValue{sec: sec, v: []string{now.UTC().Format(http.TimeFormat)}}
	d.cur.Store(c)
	return c.v
}
