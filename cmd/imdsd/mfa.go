package main

import (
	"errors"
	"os"

	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"golang.org/x/term"
)

// terminalMFA returns a token provider that prompts on the terminal when
// imdsd runs in one, and otherwise fails with a message that says why.
func terminalMFA() func() (string, error) {
	return func() (string, error) {
		if !term.IsTerminal(int(os.Stdin.Fd())) {
			return "", errors.New("role needs an MFA code and imdsd has no terminal to ask for it")
		}
		return stscreds.StdinTokenProvider()
	}
}
