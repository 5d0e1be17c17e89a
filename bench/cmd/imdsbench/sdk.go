package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/credentials/ec2rolecreds"
	"github.com/aws/aws-sdk-go-v2/feature/ec2/imds"
)

// target is one contender: a name and an IMDS base URL.
type target struct {
	name, url string
	samples   []time.Duration
}

// targetsFlag collects -target name=url flags.
type targetsFlag []*target

func (t *targetsFlag) String() string { return fmt.Sprint(len(*t)) }

func (t *targetsFlag) Set(v string) error {
	name, url, ok := strings.Cut(v, "=")
	if !ok || name == "" || url == "" {
		return errors.New("want name=url")
	}
	*t = append(*t, &target{name: name, url: url})
	return nil
}

// countingTransport counts HTTP round trips, to show how many requests one
// fetch makes.
type countingTransport struct {
	base http.RoundTripper
	n    atomic.Int64
}

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	c.n.Add(1)
	return c.base.RoundTrip(r)
}

// runSDK times ec2rolecreds.Provider.Retrieve as an SDK in a long-running
// process does it after its token expired: a new token (PUT), the role
// listing and the credential document, over kept-alive connections. Each
// fetch uses a new imds.Client (so its token cache is empty) on one shared
// http.Client (so the process is warm). Targets are measured in turn, A B A
// B, in rounds.
func runSDK(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("sdk", flag.ContinueOnError)
	var targets targetsFlag
	fs.Var(&targets, "target", "`name=url` of an IMDS endpoint (repeat)")
	n := fs.Int("n", 1000, "fetches per target")
	rounds := fs.Int("rounds", 10, "rounds the fetches are split into")
	warm := fs.Int("warm", 100, "untimed fetches per target first")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if len(targets) == 0 || *rounds < 1 || *n < *rounds {
		return errors.New("need -target, and -n >= -rounds >= 1")
	}
	base := http.DefaultTransport.(*http.Transport).Clone()
	base.MaxIdleConnsPerHost = 4
	counter := &countingTransport{base: base}
	hc := &http.Client{Transport: counter}
	fetch := func(url string) (time.Duration, error) {
		client := imds.New(imds.Options{Endpoint: url, HTTPClient: hc, ClientEnableState: imds.ClientEnabled})
		p := ec2rolecreds.New(func(o *ec2rolecreds.Options) { o.Client = client })
		start := time.Now()
		creds, err := p.Retrieve(ctx)
		d := time.Since(start)
		if err == nil && creds.AccessKeyID == "" {
			err = errors.New("empty access key")
		}
		return d, err
	}
	for _, t := range targets {
		for range *warm {
			if _, err := fetch(t.url); err != nil {
				return fmt.Errorf("%s: %w", t.name, err)
			}
		}
	}
	counter.n.Store(0)
	per := *n / *rounds
	for round := 1; round <= *rounds; round++ {
		for _, t := range targets {
			var ds []time.Duration
			for range per {
				d, err := fetch(t.url)
				if err != nil {
					return fmt.Errorf("%s: %w", t.name, err)
				}
				ds = append(ds, d)
			}
			slices.Sort(ds)
			writeRow(stdout, Row{"sdk-fetch", t.name, 1, fmt.Sprint(round), "p50_us", micros(percentile(ds, 50))})
			t.samples = append(t.samples, ds...)
		}
	}
	for _, t := range targets {
		slices.Sort(t.samples)
		for _, p := range []float64{50, 90, 99} {
			writeRow(stdout, Row{"sdk-fetch", t.name, 1, "all", fmt.Sprintf("p%g_us", p), micros(percentile(t.samples, p))})
		}
		writeRow(stdout, Row{"sdk-fetch", t.name, 1, "all", "fetches", float64(len(t.samples))})
	}
	total := per * *rounds * len(targets)
	writeRow(stdout, Row{"sdk-fetch", "all", 1, "all", "requests_per_fetch", float64(counter.n.Load()) / float64(total)})
	return nil
}
