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

func TestStartPort_SamePortAfterStop(t *testing.T) {
	first := Start(t)
	first.Stop()
	first.Stop() // a second Stop returns at once
	if _, err := http.Get(first.URL + "/moto-api/"); err == nil {
		t.Fatal("moto_server still answers after Stop")
	}
	again := StartPort(t, first.Port)
	if again.URL != first.URL {
		t.Fatalf("URL = %s, want %s", again.URL, first.URL)
	}
	resp, err := http.Get(again.URL + "/moto-api/")
	if err != nil {
		t.Fatalf("GET moto-api after the restart: %v", err)
	}
	resp.Body.Close()
}
