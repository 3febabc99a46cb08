package ui

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Charts are drawn here as SVG shapes with presentation attributes only:
// the CSP forbids inline style, and no script draws anything.

// Chart geometry in SVG user units; the viewBox scales it.
const (
	chartW, chartH = 640, 200
	padL, padR     = 56, 12
	padT, padB     = 12, 28
)

// chartSeries is one line of a chart: a value per bucket.
type chartSeries struct {
	Name string
	// Color is an SVG paint (attribute value, not CSS).
	Color  string
	Values []float64
}

// chart is what the chart template draws.
type chart struct {
	Title string
	// Desc is the chart in words, for screen readers.
	Desc   string
	W, H   int
	Lines  []chartLine
	Bars   []chartBar
	YTicks []chartTick
	XTicks []chartTick
	Legend []chartLine
	// Empty is set when every value is zero.
	Empty bool
	// Plot area, for the axes.
	X0, Y0, X1, Y1 int
}

type chartLine struct {
	Name, Color string
	// Points is the polyline's points attribute.
	Points string
	Total  string
}

type chartBar struct {
	X, Y, W, H float64
	Color      string
	Title      string
}

type chartTick struct {
	Pos   float64
	Label string
}

// lineChart draws each series over the hourly buckets starting at start.
// format writes an axis value (a count or bytes).
func lineChart(title string, start time.Time, step time.Duration, format func(float64) string, series ...chartSeries) chart {
	c := newChart(title)
	n, top := 0, 0.0
	for _, s := range series {
		n = max(n, len(s.Values))
		for _, v := range s.Values {
			top = math.Max(top, v)
		}
	}
	c.Empty = top == 0
	top = niceCeil(top)
	var desc []string
	for _, s := range series {
		var pts strings.Builder
		sum := 0.0
		for i, v := range s.Values {
			sum += v
			fmt.Fprintf(&pts, "%s,%s ", num(c.x(i, n)), num(c.y(v, top)))
		}
		l := chartLine{Name: s.Name, Color: s.Color, Points: strings.TrimSpace(pts.String()), Total: format(sum)}
		c.Lines = append(c.Lines, l)
		c.Legend = append(c.Legend, l)
		desc = append(desc, fmt.Sprintf("%s %s in total", s.Name, format(sum)))
	}
	c.axes(start, step, n, top, format)
	c.Desc = title + ": " + strings.Join(desc, ", ") + "."
	return c
}

// barChart draws one bar per bucket for each series, side by side.
func barChart(title string, start time.Time, step time.Duration, series ...chartSeries) chart {
	c := newChart(title)
	n, top := 0, 0.0
	for _, s := range series {
		n = max(n, len(s.Values))
		for _, v := range s.Values {
			top = math.Max(top, v)
		}
	}
	c.Empty = top == 0
	top = niceCeil(top)
	slot := float64(c.X1-c.X0) / float64(max(n, 1))
	bw := math.Max(slot/float64(max(len(series), 1))*0.8, 0.5)
	var desc []string
	for si, s := range series {
		sum := 0.0
		for i, v := range s.Values {
			sum += v
			if v == 0 {
				continue
			}
			y := c.y(v, top)
			c.Bars = append(c.Bars, chartBar{
				X: round(float64(c.X0) + slot*float64(i) + bw*float64(si)), Y: round(y),
				W: round(bw), H: round(float64(c.Y1) - y), Color: s.Color,
				Title: fmt.Sprintf("%s %s: %g", start.Add(time.Duration(i)*step).UTC().Format("Jan 2 15:04"), s.Name, v),
			})
		}
		c.Legend = append(c.Legend, chartLine{Name: s.Name, Color: s.Color, Total: strconv.FormatFloat(sum, 'f', -1, 64)})
		desc = append(desc, fmt.Sprintf("%s %g in total", s.Name, sum))
	}
	c.axes(start, step, n, top, func(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) })
	c.Desc = title + ": " + strings.Join(desc, ", ") + "."
	return c
}

func newChart(title string) chart {
	return chart{Title: title, W: chartW, H: chartH, X0: padL, Y0: padT, X1: chartW - padR, Y1: chartH - padB}
}

// x is the position of bucket i of n.
func (c chart) x(i, n int) float64 {
	if n <= 1 {
		return float64(c.X0)
	}
	return float64(c.X0) + float64(c.X1-c.X0)*float64(i)/float64(n-1)
}

// y is the position of v on a scale of 0..top.
func (c chart) y(v, top float64) float64 {
	if top <= 0 {
		return float64(c.Y1)
	}
	return float64(c.Y1) - float64(c.Y1-c.Y0)*v/top
}

// axes adds four y ticks and about six time labels.
func (c *chart) axes(start time.Time, step time.Duration, n int, top float64, format func(float64) string) {
	for i := 0; i <= 4; i++ {
		v := top * float64(i) / 4
		c.YTicks = append(c.YTicks, chartTick{Pos: round(c.y(v, top)), Label: format(v)})
	}
	if n == 0 {
		return
	}
	layout := "15:04"
	if time.Duration(n)*step > 36*time.Hour {
		layout = "Jan 2"
	}
	every := max(1, n/6)
	for i := 0; i < n; i += every {
		c.XTicks = append(c.XTicks, chartTick{Pos: round(c.x(i, n)), Label: start.Add(time.Duration(i) * step).UTC().Format(layout)})
	}
}

// niceCeil rounds v up to 1, 2 or 5 times a power of ten, so ticks are
// round numbers; 0 stays 1 so an empty chart still has a scale.
func niceCeil(v float64) float64 {
	if v <= 0 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 5, 10} {
		if v <= m*p {
			return m * p
		}
	}
	return 10 * p
}

func round(f float64) float64 { return math.Round(f*10) / 10 }

func num(f float64) string { return strconv.FormatFloat(round(f), 'f', -1, 64) }

// countLabel writes a count; ticks of a small scale may be fractions.
func countLabel(f float64) string { return strconv.FormatFloat(round(f*100)/100, 'f', -1, 64) }

func bytesLabel(f float64) string { return fmtBytes(int64(f)) }
