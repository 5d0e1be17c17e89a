package motoserver

import (
	"net/http"
	"testing"
)

func TestStart(t *testing.T) {
	s := Start(t)
	resp, err := http.Get(s.URL + "/moto-api/")
	if err != nil {
		t.Fatalf("GET moto-api: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("moto-api status = %d, want 200", resp.StatusCode)
	}
}
