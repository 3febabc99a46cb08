package ui

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Charts are drawn here as SVG shapes with presentation attributes only:
// the CSP forbids inline style, and no script draws anything.

// Chart geometry in SVG user units; the viewBox scales it.
const (
	chartW, chartH = 640, 200
	padL, padR     = 64, 12
	padT, padB     = 12, 28
)

// chartSeries is one line of a chart: a value per bucket. NaN marks a
// bucket without data, which a line skips rather than drawing as zero.
type chartSeries struct {
	Name string
	// Color is an SVG paint (attribute value, not CSS).
	Color  string
	Values []float64
	// Total is the legend's figure; empty means the axis's sum.
	Total string
}

// axis is how a chart scales and labels its values.
type axis struct {
	// top is the top of the scale for a largest value v.
	top func(v float64) float64
	// tick writes the value of a tick on a scale reaching top; every tick
	// of a scale is in the same unit.
	tick func(top, v float64) string
	// label writes a total or a single value.
	label func(f float64) string
}

var (
	// countAxis has whole-number ticks.
	countAxis = axis{top: countTop, tick: func(_, v float64) string { return countLabel(v) }, label: countLabel}
	// bytesAxis has ticks in round numbers of one binary unit.
	bytesAxis = axis{top: bytesTop, tick: bytesTick, label: bytesLabel}
	// percentAxis is 0..100 % for a share.
	percentAxis = axis{
		top:   func(float64) float64 { return 1 },
		tick:  func(_, v float64) string { return percentLabel(v) },
		label: percentLabel,
	}
)

func percentLabel(f float64) string { return strconv.FormatFloat(round(f*100), 'f', -1, 64) + "%" }

// chart is what the chart template draws.
type chart struct {
	Title string
	// Desc is the chart in words, for screen readers.
	Desc   string
	W, H   int
	Lines  []chartLine
	Dots   []chartDot
	Bars   []chartBar
	YTicks []chartTick
	XTicks []chartTick
	Legend []chartLine
	// Empty is set when no bucket has a value above zero.
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

// chartDot marks one value of a line that has gaps, so an hour between
// two empty ones still shows.
type chartDot struct {
	X, Y  float64
	Color string
	Title string
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

// lineChart draws each series over the buckets starting at start, one
// step apart. A series with gaps (NaN) is drawn as segments with a dot on
// every value.
func lineChart(title string, start time.Time, step time.Duration, ax axis, series ...chartSeries) chart {
	c := newChart(title)
	n, most, data := extent(series)
	c.Empty = !data
	top := ax.top(most)
	var desc []string
	for _, s := range series {
		sum, gappy := 0.0, false
		var seg []string
		flush := func() {
			if len(seg) > 1 {
				c.Lines = append(c.Lines, chartLine{Name: s.Name, Color: s.Color, Points: strings.Join(seg, " ")})
			}
			seg = seg[:0]
		}
		for i, v := range s.Values {
			if math.IsNaN(v) {
				gappy = true
				flush()
				continue
			}
			sum += v
			seg = append(seg, num(c.x(i, n))+","+num(c.y(v, top)))
		}
		flush()
		if gappy {
			for i, v := range s.Values {
				if !math.IsNaN(v) {
					c.Dots = append(c.Dots, chartDot{X: round(c.x(i, n)), Y: round(c.y(v, top)), Color: s.Color,
						Title: fmt.Sprintf("%s %s: %s", start.Add(time.Duration(i)*step).UTC().Format("Jan 2 15:04"), s.Name, ax.label(v))})
				}
			}
		}
		total := s.Total
		if total == "" {
			total = ax.label(sum)
		}
		c.Legend = append(c.Legend, chartLine{Name: s.Name, Color: s.Color, Total: total})
		desc = append(desc, fmt.Sprintf("%s %s", s.Name, total))
	}
	c.axes(start, step, n, top, func(v float64) string { return ax.tick(top, v) })
	c.Desc = title + ": " + strings.Join(desc, ", ") + "."
	return c
}

// barChart draws one bar per bucket for each series, side by side.
func barChart(title string, start time.Time, step time.Duration, series ...chartSeries) chart {
	c := newChart(title)
	n, most, data := extent(series)
	c.Empty = !data
	top := countTop(most)
	slot := float64(c.X1-c.X0) / float64(max(n, 1))
	bw := math.Max(slot/float64(max(len(series), 1))*0.8, 0.5)
	var desc []string
	for si, s := range series {
		sum := 0.0
		for i, v := range s.Values {
			if math.IsNaN(v) || v <= 0 {
				continue
			}
			sum += v
			y := c.y(v, top)
			c.Bars = append(c.Bars, chartBar{
				X: round(float64(c.X0) + slot*float64(i) + bw*float64(si)), Y: round(y),
				W: round(bw), H: round(float64(c.Y1) - y), Color: s.Color,
				Title: fmt.Sprintf("%s %s: %g", start.Add(time.Duration(i)*step).UTC().Format("Jan 2 15:04"), s.Name, v),
			})
		}
		c.Legend = append(c.Legend, chartLine{Name: s.Name, Color: s.Color, Total: countLabel(sum)})
		desc = append(desc, fmt.Sprintf("%s %s in total", s.Name, countLabel(sum)))
	}
	c.axes(start, step, n, top, countLabel)
	c.Desc = title + ": " + strings.Join(desc, ", ") + "."
	return c
}

// extent is the number of buckets, the largest value of series, and
// whether there is anything to draw: a value above zero, or any value in
// a series with gaps (where a zero, such as a 0% hit rate, is data).
func extent(series []chartSeries) (n int, most float64, data bool) {
	for _, s := range series {
		n = max(n, len(s.Values))
		gappy := slices.ContainsFunc(s.Values, math.IsNaN)
		for _, v := range s.Values {
			if !math.IsNaN(v) {
				most = math.Max(most, v)
				data = data || v > 0 || gappy
			}
		}
	}
	return n, most, data
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
	return float64(c.Y1) - float64(c.Y1-c.Y0)*math.Min(v, top)/top
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

// niceCeil rounds v up to 1, 2, 2.5 or 5 times a power of ten, so ticks
// are round numbers; 0 stays 1 so an empty chart still has a scale.
func niceCeil(v float64) float64 { return niceCeilOf(v, 1, 2, 2.5, 5) }

// niceCeilOf rounds v up to one of ms times a power of ten.
func niceCeilOf(v float64, ms ...float64) float64 {
	if v <= 0 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range ms {
		if v <= m*p*(1+1e-9) {
			return m * p
		}
	}
	return 10 * p
}

// countTop is four whole, round tick steps reaching v: counts have no
// fractions, so a scale never reads 0.25 pulls.
func countTop(v float64) float64 {
	step := math.Max(1, niceCeil(v/4))
	if step < 10 && step != math.Trunc(step) { // 2.5 below ten
		step = math.Ceil(step)
	}
	return 4 * step
}

// byteUnit is the largest binary unit (B, KiB, MiB, ...) a tick step of
// top/4 holds at least once, with its power of 1024.
func byteUnit(top float64) (unit float64, exp int) {
	unit = 1
	for top/4 >= unit*1024 && exp < 6 {
		unit *= 1024
		exp++
	}
	return unit, exp
}

// bytesTop is four tick steps reaching v, each a whole, round number of
// one binary unit, so ticks read 2 MiB or 500 MiB rather than 262144 B.
func bytesTop(v float64) float64 {
	unit, _ := byteUnit(v)
	return 4 * math.Max(1, niceCeilOf(v/4/unit, 1, 2, 5)) * unit
}

// bytesTick writes v in the unit of top's scale.
func bytesTick(top, v float64) string {
	unit, exp := byteUnit(top)
	u := "B"
	if exp > 0 {
		u = string("KMGTPE"[exp-1]) + "iB"
	}
	return strconv.FormatFloat(round(v/unit), 'f', -1, 64) + " " + u
}

func round(f float64) float64 { return math.Round(f*10) / 10 }

func num(f float64) string { return strconv.FormatFloat(round(f), 'f', -1, 64) }

// countLabel writes a count.
func countLabel(f float64) string { return strconv.FormatFloat(round(f), 'f', -1, 64) }

// bytesLabel writes bytes without a useless ".0".
func bytesLabel(f float64) string {
	return strings.Replace(fmtBytes(int64(math.Round(f))), ".0 ", " ", 1)
}
