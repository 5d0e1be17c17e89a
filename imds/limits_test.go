package imds

import (
	"bufio"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// headRequest returns a GET whose head (request line, headers and the
// blank line that ends them) is exactly n bytes, padded with one header.
func headRequest(tb testing.TB, n int) string {
	tb.Helper()
	const start = "GET /latest/meta-data/instance-id HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Pad: "
	const end = "\r\n\r\n"
	pad := n - len(start) - len(end)
	if pad < 0 {
		tb.Fatalf("a %d-byte head is too short for the request", n)
	}
	return start + strings.Repeat("a", pad) + end
}

// TestServer_HeaderLimit: a request head of DefaultMaxHeaderBytes (8 KiB,
// as SECURITY.md documents) is served; one byte more is 431. net/http reads
// MaxHeaderBytes plus 4096 bytes of "bufio slop" before it answers 431, so
// before this test the real limit was 12 KiB (issue 15 item 10).
func TestServer_HeaderLimit(t *testing.T) {
	s, _ := newTestServer(t, Options{Source: staticSource(Role{}, ErrNoRole), Now: time.Now})
	addr, _ := runServer(t, s)
	for _, tc := range []struct {
		name string
		head int
		want int
	}{
		{"8 KiB", DefaultMaxHeaderBytes, http.StatusOK},
		{"8 KiB + 1", DefaultMaxHeaderBytes + 1, http.StatusRequestHeaderFieldsTooLarge},
		{"12 KiB", 12 << 10, http.StatusRequestHeaderFieldsTooLarge},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := dialServer(t, addr)
			if _, err := io.WriteString(c, headRequest(t, tc.head)); err != nil {
				t.Fatal(err)
			}
			resp, err := http.ReadResponse(bufio.NewReader(c), nil)
			if err != nil {
				t.Fatalf("no answer to a %d-byte head: %v", tc.head, err)
			}
			resp.Body.Close()
			if resp.StatusCode != tc.want {
				t.Fatalf("%d-byte head: status %d, want %d", tc.head, resp.StatusCode, tc.want)
			}
		})
	}
}
