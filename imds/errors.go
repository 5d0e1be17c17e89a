package imds

import (
	"io"
	"net/http"
	"strconv"
)

// errorBodies are the XHTML error pages real IMDS returns, prebuilt per
// status code.
var errorBodies = map[int][]byte{}

func init() {
	for _, code := range []int{
		http.StatusBadRequest, http.StatusUnauthorized, http.StatusForbidden,
		http.StatusNotFound, http.StatusMethodNotAllowed, http.StatusTooManyRequests,
		http.StatusInternalServerError, http.StatusServiceUnavailable,
	} {
		errorBodies[code] = []byte(errorPage(code))
	}
}

func errorPage(code int) string {
	title := strconv.Itoa(code) + " - " + http.StatusText(code)
	return `<?xml version="1.0" encoding="iso-8859-1"?>
<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Transitional//EN"
	"http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd">
<html xmlns="http://www.w3.org/1999/xhtml" xml:lang="en" lang="en">
 <head>
  <title>` + title + `</title>
 </head>
 <body>
  <h1>` + title + `</h1>
 </body>
</html>
`
}

// writeError writes an IMDS-style error page.
func writeError(w http.ResponseWriter, code int) {
	body, ok := errorBodies[code]
	if !ok {
		body = []byte(errorPage(code))
	}
	w.Header()[headerContentType] = valueHTML
	w.WriteHeader(code)
	_, _ = w.Write(body)
}

// writeText writes a 200 text/plain body. io.WriteString spares the copy
// to []byte: net/http's ResponseWriter is an io.StringWriter.
func writeText(w http.ResponseWriter, body string) {
	w.Header()[headerContentType] = valueText
	_, _ = io.WriteString(w, body)
}

// writeBytes writes a 200 text/plain body. Real IMDS serves JSON documents
// as text/plain too; no SDK checks the content type.
func writeBytes(w http.ResponseWriter, body []byte) {
	w.Header()[headerContentType] = valueText
	_, _ = w.Write(body)
}
