package telemetry

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"regexp"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"
)

// Metrics holds breakwater's Prometheus collectors in a registry of its
// own, and the hourly statistics not yet written to the store. Every
// method is safe for concurrent use and does nothing on a nil *Metrics, so
// tests and commands that want no metrics pass nil.
//
// Labels carry only fixed words and configured upstream names, never a
// repository, path, user or address, so the series stay few and /metrics
// gives nothing away. docs/metrics.md lists every metric.
type Metrics struct {
	reg *prometheus.Registry
	now func() time.Time

	httpRequests *prometheus.CounterVec
	httpDuration *prometheus.HistogramVec

	cacheRequests *prometheus.CounterVec
	servedBytes   *prometheus.CounterVec
	pulls         *prometheus.CounterVec

	upstreamRequests    *prometheus.CounterVec
	upstreamDuration    *prometheus.HistogramVec
	upstreamErrors      *prometheus.CounterVec
	upstreamRateLimited *prometheus.CounterVec
	upstreamReceived    *prometheus.CounterVec

	inspections        *prometheus.CounterVec
	inspectionDuration prometheus.Histogram
	verdicts           *prometheus.CounterVec

	collectErrors *prometheus.CounterVec

	// mu guards the functions read at scrape time.
	mu             sync.Mutex
	quarantineSize func(context.Context) (int, error)
	vulndbUpdated  func(context.Context) (map[string]time.Time, error)
	upstreams      func() []UpstreamState

	// statsMu guards pending, the statistics counted since the last flush.
	statsMu sync.Mutex
	pending map[statsKey]StatsCounts
}

// UpstreamState is what the upstream gauges report for one upstream.
type UpstreamState struct {
	Name string
	// Up is false while the cache's breaker holds the upstream down.
	Up bool
	// RateLimitKnown is true once the upstream sent its quota headers.
	RateLimitKnown     bool
	RateLimitLimit     int
	RateLimitRemaining int
}

// Results of breakwater_cache_requests_total.
const (
	CacheHit      = "hit"
	CacheMiss     = "miss"
	CacheStale    = "stale"
	CacheNegative = "negative"
)

// Kinds of breakwater_cache_requests_total: a manifest asked for by
// digest, by tag, and a blob.
const (
	KindManifest = "manifest"
	KindTag      = "tag"
	KindBlob     = "blob"
)

// Sources of breakwater_cache_served_bytes_total.
const (
	SourceCache    = "cache"
	SourceUpstream = "upstream"
)

// Results of breakwater_firewall_inspections_total: the layers were read,
// the inspection itself failed (a malformed or hostile image), or it could
// not finish (an upstream or store failure, retried by the next pull).
const (
	InspectionOK     = "ok"
	InspectionFailed = "failed"
	InspectionError  = "error"
)

// scrapeTimeout bounds the store reads of one scrape.
const scrapeTimeout = 5 * time.Second

// NewMetrics returns Metrics with every collector registered, the Go
// runtime's and the process's included.
func NewMetrics() *Metrics {
	m := &Metrics{
		reg:     prometheus.NewRegistry(),
		now:     time.Now,
		pending: make(map[statsKey]StatsCounts),
	}
	longBuckets := []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300}
	m.httpRequests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "breakwater_http_requests_total",
		Help: "HTTP requests answered, by route, method and status code.",
	}, []string{"route", "method", "code"})
	m.httpDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "breakwater_http_request_duration_seconds",
		Help:    "Time from a request's arrival to the end of its answer, by route.",
		Buckets: longBuckets,
	}, []string{"route"})
	m.cacheRequests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "breakwater_cache_requests_total",
		Help: "Manifest and blob requests by how the cache answered them.",
	}, []string{"upstream", "kind", "result"})
	m.servedBytes = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "breakwater_cache_served_bytes_total",
		Help: "Manifest and blob body bytes sent to clients, by where they came from.",
	}, []string{"upstream", "source"})
	m.pulls = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "breakwater_pulls_total",
		Help: "Manifest GETs answered with 200.",
	}, []string{"upstream"})
	m.upstreamRequests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "breakwater_upstream_requests_total",
		Help: "Requests sent to upstream registries, each retry counted, by status code (error: no answer).",
	}, []string{"upstream", "method", "code"})
	m.upstreamDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "breakwater_upstream_request_duration_seconds",
		Help:    "Time until an upstream registry's answer headers arrived.",
		Buckets: longBuckets,
	}, []string{"upstream"})
	m.upstreamErrors = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "breakwater_upstream_errors_total",
		Help: "Upstream requests that failed without an answer or with a 5xx.",
	}, []string{"upstream"})
	m.upstreamRateLimited = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "breakwater_upstream_rate_limited_total",
		Help: "Upstream requests answered 429 Too Many Requests.",
	}, []string{"upstream"})
	m.upstreamReceived = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "breakwater_upstream_received_bytes_total",
		Help: "Body bytes read from upstream registries' answers, whoever asked: a client or the firewall.",
	}, []string{"upstream"})
	m.inspections = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "breakwater_firewall_inspections_total",
		Help: "Image inspections that ended, by result: ok, failed or error.",
	}, []string{"result"})
	m.inspectionDuration = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "breakwater_firewall_inspection_duration_seconds",
		Help:    "How long inspecting an image's layers took.",
		Buckets: longBuckets,
	})
	m.verdicts = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "breakwater_firewall_verdicts_total",
		Help: "Verdicts the firewall made, by result and the policy that decided it.",
	}, []string{"result", "policy"})
	m.collectErrors = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "breakwater_metrics_collect_errors_total",
		Help: "Scrapes that could not read a gauge from the store, by gauge.",
	}, []string{"metric"})

	m.reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.httpRequests, m.httpDuration,
		m.cacheRequests, m.servedBytes, m.pulls,
		m.upstreamRequests, m.upstreamDuration, m.upstreamErrors, m.upstreamRateLimited, m.upstreamReceived,
		m.inspections, m.inspectionDuration, m.verdicts,
		m.collectErrors,
		scrapeCollector{m},
	)
	return m
}

// Registry returns the Prometheus registry, for tests that gather it.
func (m *Metrics) Registry() *prometheus.Registry {
	if m == nil {
		return nil
	}
	return m.reg
}

// Handler serves the metrics in the Prometheus text format; a nil
// *Metrics serves 404.
func (m *Metrics) Handler() http.Handler {
	if m == nil {
		return http.NotFoundHandler()
	}
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{
		// A collector's failure leaves its metric out rather than failing
		// the whole scrape.
		ErrorHandling: promhttp.ContinueOnError,
	})
}

// Instrument counts and times every request next answers, under the
// route name route gives it: a fixed word, never the raw path.
func (m *Metrics) Instrument(next http.Handler, route func(*http.Request) string) http.Handler {
	if m == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		completed := false
		defer func() {
			// A handler that panics (to abort a response already begun)
			// counts as aborted, whatever status went out before.
			code := "aborted"
			switch {
			case completed && sw.status == 0:
				code = "200" // what net/http sends for a handler that wrote nothing
			case completed:
				code = strconv.Itoa(sw.status)
			}
			name := route(r)
			m.httpRequests.WithLabelValues(name, methodLabel(r.Method), code).Inc()
			m.httpDuration.WithLabelValues(name).Observe(time.Since(start).Seconds())
		}()
		next.ServeHTTP(sw, r)
		completed = true
	})
}

// methodLabel bounds the method label: a client may send any token.
func methodLabel(method string) string {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut,
		http.MethodPatch, http.MethodDelete, http.MethodOptions:
		return method
	}
	return "other"
}

// statusWriter records the status for Instrument. It passes ReadFrom on,
// so that a blob sent from a file still reaches sendfile, and Unwrap, so
// http.ResponseController finds the connection.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 && code >= 200 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(p)
}

func (w *statusWriter) ReadFrom(src io.Reader) (int64, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	if rf, ok := w.ResponseWriter.(io.ReaderFrom); ok {
		return rf.ReadFrom(src)
	}
	return io.Copy(struct{ io.Writer }{w.ResponseWriter}, src)
}

func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// CacheRequest counts a manifest or blob request of a client by how the
// cache answered it: kind is KindManifest, KindTag or KindBlob, result
// CacheHit, CacheMiss, CacheStale or CacheNegative. Hits and stale answers
// count as cache hits in the statistics, misses as misses.
func (m *Metrics) CacheRequest(upstream, kind, result string) {
	if m == nil {
		return
	}
	m.cacheRequests.WithLabelValues(upstream, kind, result).Inc()
	switch result {
	case CacheHit, CacheStale:
		m.addStats(upstream, StatsCounts{CacheHits: 1})
	case CacheMiss:
		m.addStats(upstream, StatsCounts{CacheMisses: 1})
	}
}

// ServedBytes counts n body bytes of a manifest or blob sent to a client;
// source is SourceCache or SourceUpstream.
func (m *Metrics) ServedBytes(upstream, source string, n int64) {
	if m == nil || n <= 0 {
		return
	}
	m.servedBytes.WithLabelValues(upstream, source).Add(float64(n))
	// The statistics' bytes fetched upstream come from UpstreamReceived:
	// with the firewall on, the layers it fetched to inspect are served
	// from the cache afterwards, so "served from upstream" misses them.
	if source == SourceCache {
		m.addStats(upstream, StatsCounts{BytesFromCache: n})
	}
}

// Pull counts a manifest GET answered with 200.
func (m *Metrics) Pull(upstream string) {
	if m == nil {
		return
	}
	m.pulls.WithLabelValues(upstream).Inc()
	m.addStats(upstream, StatsCounts{Pulls: 1})
}

// UpstreamRequest counts one request sent to an upstream and the time its
// answer took; code is the answer's status, 0 when none came (a
// connection or timeout error). No answer and 5xx also count as errors,
// 429 as rate limited.
func (m *Metrics) UpstreamRequest(upstream, method string, code int, took time.Duration) {
	if m == nil {
		return
	}
	label := "error"
	if code > 0 {
		label = strconv.Itoa(code)
	}
	m.upstreamRequests.WithLabelValues(upstream, methodLabel(method), label).Inc()
	m.upstreamDuration.WithLabelValues(upstream).Observe(took.Seconds())
	switch {
	case code == 0 || code >= 500:
		m.upstreamErrors.WithLabelValues(upstream).Inc()
	case code == http.StatusTooManyRequests:
		m.upstreamRateLimited.WithLabelValues(upstream).Inc()
	}
}

// ByteCounter adds to one upstream's received bytes. The zero value, what
// a nil *Metrics hands out, counts nothing.
type ByteCounter struct {
	c        prometheus.Counter
	m        *Metrics
	upstream string
}

// Add counts n bytes, also as the hourly statistics' bytes fetched
// upstream.
func (b ByteCounter) Add(n int) {
	if b.c != nil && n > 0 {
		b.c.Add(float64(n))
		b.m.addStats(b.upstream, StatsCounts{BytesFromUpstream: int64(n)})
	}
}

// UpstreamReceived returns the counter of body bytes read from upstream's
// answers. The upstream client looks it up once and adds on every read, so
// a long blob shows while it streams and a read costs no label lookup.
func (m *Metrics) UpstreamReceived(upstream string) ByteCounter {
	if m == nil {
		return ByteCounter{}
	}
	return ByteCounter{m.upstreamReceived.WithLabelValues(upstream), m, upstream}
}

// Inspection counts an inspection of an image's layers that ended with
// result (InspectionOK, InspectionFailed or InspectionError) after took.
func (m *Metrics) Inspection(result string, took time.Duration) {
	if m == nil {
		return
	}
	m.inspections.WithLabelValues(result).Inc()
	m.inspectionDuration.Observe(took.Seconds())
}

// Verdict counts a verdict the firewall stored for an image of upstream:
// result is the policy result (allow, audit, quarantine,
// inspection-failed), policy the one that decided it ("" for none), and
// quarantined whether a quarantine record was made. Audit and quarantine
// results count as violations in the statistics.
func (m *Metrics) Verdict(upstream, result, policy string, quarantined bool) {
	if m == nil {
		return
	}
	m.verdicts.WithLabelValues(result, policy).Inc()
	var c StatsCounts
	if result == "audit" || result == "quarantine" {
		c.Violations = 1
	}
	if quarantined {
		c.Quarantines = 1
	}
	if c != (StatsCounts{}) {
		m.addStats(upstream, c)
	}
}

// SetQuarantineSize sets how breakwater_quarantine_records is read at
// scrape time.
func (m *Metrics) SetQuarantineSize(fn func(context.Context) (int, error)) {
	if m == nil {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.quarantineSize = fn
}

// SetVulnDBUpdated sets how breakwater_vulndb_age_seconds is read at
// scrape time: fn returns, per vulnerability data source, when it was last
// imported or refreshed successfully.
func (m *Metrics) SetVulnDBUpdated(fn func(context.Context) (map[string]time.Time, error)) {
	if m == nil {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.vulndbUpdated = fn
}

// SetUpstreams sets how the upstream gauges (breakwater_upstream_up and
// the rate-limit gauges) are read at scrape time.
func (m *Metrics) SetUpstreams(fn func() []UpstreamState) {
	if m == nil {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.upstreams = fn
}

// scrapeCollector reads the gauges that come from elsewhere when scraped,
// so they are never out of date and cost nothing between scrapes.
type scrapeCollector struct{ m *Metrics }

var (
	descQuarantine = prometheus.NewDesc("breakwater_quarantine_records",
		"Quarantine records in the store.", nil, nil)
	descVulnDBAge = prometheus.NewDesc("breakwater_vulndb_age_seconds",
		"Seconds since a vulnerability data source's data was last imported; sources kept under a path or URL count together as unnamed, with the newest's age.", []string{"source"}, nil)
	descUp = prometheus.NewDesc("breakwater_upstream_up",
		"1 while an upstream counts as healthy, 0 while the cache serves its tags stale after a failure.", []string{"upstream"}, nil)
	descRemaining = prometheus.NewDesc("breakwater_upstream_ratelimit_remaining",
		"Pulls left in the upstream's quota, as its RateLimit-Remaining header last said.", []string{"upstream"}, nil)
	descLimit = prometheus.NewDesc("breakwater_upstream_ratelimit_limit",
		"The upstream's pull quota per window, as its RateLimit-Limit header last said.", []string{"upstream"}, nil)
)

func (c scrapeCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descQuarantine, descVulnDBAge, descUp, descRemaining, descLimit} {
		ch <- d
	}
}

func (c scrapeCollector) Collect(ch chan<- prometheus.Metric) {
	m := c.m
	m.mu.Lock()
	quarantine, vulndb, upstreams := m.quarantineSize, m.vulndbUpdated, m.upstreams
	m.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), scrapeTimeout)
	defer cancel()

	if quarantine != nil {
		if n, err := quarantine(ctx); err != nil {
			m.collectErrors.WithLabelValues("breakwater_quarantine_records").Inc()
		} else {
			ch <- prometheus.MustNewConstMetric(descQuarantine, prometheus.GaugeValue, float64(n))
		}
	}
	if vulndb != nil {
		if srcs, err := vulndb(ctx); err != nil {
			m.collectErrors.WithLabelValues("breakwater_vulndb_age_seconds").Inc()
		} else {
			now := m.now()
			ages := make(map[string]float64, len(srcs))
			for name, at := range srcs {
				label, age := sourceLabel(name), now.Sub(at).Seconds()
				if prev, ok := ages[label]; !ok || age < prev {
					ages[label] = age
				}
			}
			for label, age := range ages {
				ch <- prometheus.MustNewConstMetric(descVulnDBAge, prometheus.GaugeValue, age, label)
			}
		}
	}
	if upstreams != nil {
		for _, u := range upstreams() {
			up := 0.0
			if u.Up {
				up = 1
			}
			ch <- prometheus.MustNewConstMetric(descUp, prometheus.GaugeValue, up, u.Name)
			if u.RateLimitKnown {
				ch <- prometheus.MustNewConstMetric(descRemaining, prometheus.GaugeValue, float64(u.RateLimitRemaining), u.Name)
				ch <- prometheus.MustNewConstMetric(descLimit, prometheus.GaugeValue, float64(u.RateLimitLimit), u.Name)
			}
		}
	}
}

// SourceUnnamed is the source label of vulnerability data kept under a
// path or URL rather than a name.
const SourceUnnamed = "unnamed"

// sourceNameRE is what a source label may be: a feed's configured name or
// a --source name, never a path or URL.
var sourceNameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// sourceLabel is the source label of the vulnerability data source name.
// Data imported without a name is kept under its absolute path or URL,
// which must not reach an unauthenticated /metrics (nor grow a series per
// file imported), so every such source shares SourceUnnamed.
func sourceLabel(name string) string {
	if sourceNameRE.MatchString(name) {
		return name
	}
	return SourceUnnamed
}

// StatsCounts are the hourly statistics of one upstream, field for field
// store.StatsCounts, which a writer converts them to; telemetry does not
// import store, because the upstream client, which must know nothing of
// stores, reports to Metrics.
type StatsCounts struct {
	Pulls             int64
	CacheHits         int64
	CacheMisses       int64
	BytesFromCache    int64
	BytesFromUpstream int64
	Violations        int64
	Quarantines       int64
}

// Add adds o to c.
func (c *StatsCounts) Add(o StatsCounts) {
	c.Pulls += o.Pulls
	c.CacheHits += o.CacheHits
	c.CacheMisses += o.CacheMisses
	c.BytesFromCache += o.BytesFromCache
	c.BytesFromUpstream += o.BytesFromUpstream
	c.Violations += o.Violations
	c.Quarantines += o.Quarantines
}

// StatsDelta is what was counted in one hour (its start, in UTC) for one
// upstream since the last flush.
type StatsDelta struct {
	Hour     time.Time
	Upstream string
	Counts   StatsCounts
}

// StatsWriter adds deltas to the stored statistics, as store.Stats'
// AddStats does once the deltas are converted.
type StatsWriter func(ctx context.Context, deltas []StatsDelta) error

// statsKey names one bucket of the hourly statistics.
type statsKey struct {
	hour     time.Time
	upstream string
}

// addStats adds c to the pending bucket of the current hour.
func (m *Metrics) addStats(upstream string, c StatsCounts) {
	k := statsKey{hour: m.now().UTC().Truncate(time.Hour), upstream: upstream}
	m.statsMu.Lock()
	defer m.statsMu.Unlock()
	p := m.pending[k]
	p.Add(c)
	m.pending[k] = p
}

// FlushStats writes the statistics counted since the last flush to dst.
// If the write fails they are kept and go out with the next flush, so a
// store that is briefly busy loses nothing.
func (m *Metrics) FlushStats(ctx context.Context, dst StatsWriter) error {
	if m == nil || dst == nil {
		return nil
	}
	m.statsMu.Lock()
	pending := m.pending
	m.pending = make(map[statsKey]StatsCounts)
	m.statsMu.Unlock()
	if len(pending) == 0 {
		return nil
	}
	deltas := make([]StatsDelta, 0, len(pending))
	for k, c := range pending {
		deltas = append(deltas, StatsDelta{Hour: k.hour, Upstream: k.upstream, Counts: c})
	}
	if err := dst(ctx, deltas); err != nil {
		m.statsMu.Lock()
		for k, c := range pending {
			p := m.pending[k]
			p.Add(c)
			m.pending[k] = p
		}
		m.statsMu.Unlock()
		return err
	}
	return nil
}

// DefaultFlushEvery is how often RunStatsFlusher writes the statistics.
const DefaultFlushEvery = 30 * time.Second

// RunStatsFlusher writes the statistics to dst every interval (default
// DefaultFlushEvery) until ctx ends, then once more, so a clean shutdown
// loses nothing. Failures are logged at Warn and retried by the next
// flush.
func (m *Metrics) RunStatsFlusher(ctx context.Context, dst StatsWriter, every time.Duration, log *slog.Logger) {
	if m == nil || dst == nil {
		return
	}
	log = OrDiscard(log)
	if every <= 0 {
		every = DefaultFlushEvery
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			if err := m.FlushStats(ctx, dst); err != nil {
				log.Warn("write statistics failed, retrying with the next flush", KeyError, err)
			}
		case <-ctx.Done():
			fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), scrapeTimeout)
			defer cancel()
			if err := m.FlushStats(fctx, dst); err != nil {
				log.Warn("write statistics failed at shutdown", KeyError, err)
			}
			return
		}
	}
}

// Value returns the current value of the metric name whose labels include
// labels (nil: any), summed over every series that matches: a counter's or
// gauge's value, a histogram's count of observations. It gathers the
// whole registry, so it suits an admin view or a test, not a hot path.
func (m *Metrics) Value(name string, labels map[string]string) (float64, error) {
	if m == nil {
		return 0, nil
	}
	families, err := m.reg.Gather()
	if err != nil {
		return 0, fmt.Errorf("gather metrics: %w", err)
	}
	var sum float64
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, s := range f.GetMetric() {
			if !hasLabels(s.GetLabel(), labels) {
				continue
			}
			switch {
			case s.Counter != nil:
				sum += s.GetCounter().GetValue()
			case s.Gauge != nil:
				sum += s.GetGauge().GetValue()
			case s.Histogram != nil:
				sum += float64(s.GetHistogram().GetSampleCount())
			}
		}
	}
	return sum, nil
}

// hasLabels reports whether pairs include every label of want.
func hasLabels(pairs []*dto.LabelPair, want map[string]string) bool {
	for k, v := range want {
		found := false
		for _, p := range pairs {
			if p.GetName() == k && p.GetValue() == v {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}
