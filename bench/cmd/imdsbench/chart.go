package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"image/color"
	"io"
	"os"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// chartPercentiles are the latency percentiles wrk reports (bench/wrk).
var chartPercentiles = []struct {
	metric string
	p      float64
	label  string
}{{"p50_us", 50, "p50"}, {"p75_us", 75, "p75"}, {"p90_us", 90, "p90"}, {"p99_us", 99, "p99"}, {"p99.9_us", 99.9, "p99.9"}}

// contenderColors fixes each contender's colour across panels.
var contenderColors = map[string]color.Color{
	"imdsd":       color.RGBA{R: 0x1f, G: 0x77, B: 0xb4, A: 0xff},
	"imdsd-quiet": color.RGBA{R: 0x2c, G: 0xa0, B: 0x2c, A: 0xff},
	"ceiling":     color.RGBA{R: 0x7f, G: 0x7f, B: 0x7f, A: 0xff},
	"mock":        color.RGBA{R: 0xd6, G: 0x27, B: 0x28, A: 0xff},
	"ceiling-sdk": color.RGBA{R: 0xff, G: 0x7f, B: 0x0e, A: 0xff},
}

// runChart draws one panel per connection count: latency percentiles of
// the credential GET (median over rounds) for each contender.
func runChart(_ context.Context, args []string, _ io.Writer) error {
	fs := flag.NewFlagSet("chart", flag.ContinueOnError)
	in := fs.String("in", "", "results `file`")
	out := fs.String("out", "", "PNG `file` to write")
	test := fs.String("test", "cred-get", "test to draw")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *in == "" || *out == "" {
		return errors.New("-in and -out are required")
	}
	rows, err := readRows(*in)
	if err != nil {
		return err
	}
	res := Results{rows}
	conns := res.conns(*test)
	if len(conns) == 0 {
		return fmt.Errorf("no %s rows in %s", *test, *in)
	}
	plots := make([][]*plot.Plot, 1)
	for _, c := range conns {
		p, err := latencyPanel(res, *test, c)
		if err != nil {
			return err
		}
		plots[0] = append(plots[0], p)
	}
	const w, h = 5 * vg.Inch, 4 * vg.Inch
	img := vgimg.New(w*vg.Length(len(conns)), h)
	dc := draw.New(img)
	tiles := draw.Tiles{Rows: 1, Cols: len(conns), PadX: vg.Millimeter * 2, PadTop: vg.Millimeter * 2, PadBottom: vg.Millimeter * 2, PadLeft: vg.Millimeter * 2, PadRight: vg.Millimeter * 2}
	canvases := plot.Align(plots, tiles, dc)
	for i := range plots[0] {
		plots[0][i].Draw(canvases[0][i])
	}
	f, err := os.Create(*out)
	if err != nil {
		return err
	}
	if _, err := (vgimg.PngCanvas{Canvas: img}).WriteTo(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// latencyPanel draws the percentiles at one connection count.
func latencyPanel(res Results, test string, conns int) (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = fmt.Sprintf("credential GET, %d connection%s", conns, map[bool]string{true: "s"}[conns > 1])
	p.X.Label.Text = "percentile"
	p.Y.Label.Text = "latency (ms, log scale)"
	p.Y.Scale = plot.LogScale{}
	p.Y.Tick.Marker = plot.LogTicks{Prec: -1}
	if test == pinnedTest {
		p.Title.Text += ", separate cores"
		// Within a decade: log ticks would label nothing.
		p.Y.Label.Text = "latency (ms)"
		p.Y.Scale = plot.LinearScale{}
		p.Y.Tick.Marker = plot.DefaultTicks{}
		p.Y.Min = 0
	}
	p.Legend.Top = true
	p.Legend.Left = true
	p.Legend.YOffs = -vg.Millimeter * 3
	p.Add(plotter.NewGrid())
	var ticks []plot.Tick
	for i, cp := range chartPercentiles {
		ticks = append(ticks, plot.Tick{Value: float64(i), Label: cp.label})
	}
	p.X.Tick.Marker = plot.ConstantTicks(ticks)
	for _, name := range []string{"ceiling", "ceiling-sdk", "imdsd", "imdsd-quiet", "mock"} {
		var pts plotter.XYs
		for i, cp := range chartPercentiles {
			if v, ok := res.median(test, name, conns, cp.metric); ok && v > 0 {
				pts = append(pts, plotter.XY{X: float64(i), Y: v / 1000})
			}
		}
		if len(pts) == 0 {
			continue
		}
		line, points, err := plotter.NewLinePoints(pts)
		if err != nil {
			return nil, err
		}
		c := contenderColors[name]
		line.Color, points.Color = c, c
		line.Width = vg.Points(1.5)
		if name == "ceiling" || name == "ceiling-sdk" {
			line.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
		}
		p.Add(line, points)
		p.Legend.Add(name, line, points)
	}
	return p, nil
}
