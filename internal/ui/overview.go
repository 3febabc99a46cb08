package ui

import (
	"math"
	"net/http"
	"time"

	"breakwater/internal/admin"
	"breakwater/internal/store"
)

type overviewData struct {
	Range     string
	Ranges    []option
	O         admin.Overview
	VulnDB    admin.VulnDBStatus
	VulnAge   time.Duration
	Pulls     chart
	HitRate   chart
	Bytes     chart
	Violating chart
}

// overview shows the last 24 hours or 7 days: counters, charts from the
// hourly statistics, upstream health and the vulnerability data's age.
func (u *UI) overview(w http.ResponseWriter, r *http.Request, v visitor) {
	rng := r.URL.Query().Get("range")
	span := 24 * time.Hour
	switch rng {
	case "", "24h":
		rng = "24h"
	case "7d":
		span = 7 * 24 * time.Hour
	default:
		u.fail(w, r, v, http.StatusBadRequest, "The range must be 24h or 7d.")
		return
	}
	now := u.opts.Now().UTC()
	start := now.Add(-span).Truncate(time.Hour).Add(time.Hour)
	o, err := u.opts.Admin.Overview(r.Context(), start)
	if err != nil {
		u.failErr(w, r, v, err)
		return
	}
	st, err := u.opts.Admin.VulnDB(r.Context())
	if err != nil {
		u.failErr(w, r, v, err)
		return
	}
	d := overviewData{Range: rng, Ranges: options(rng, "24h", "last 24 hours", "7d", "last 7 days"), O: o, VulnDB: st,
		VulnAge: time.Duration(st.Age * float64(time.Second))}
	h := hourly(o.Series, start, now)
	d.Pulls = lineChart("Pulls per hour", start, time.Hour, countAxis,
		chartSeries{Name: "pulls", Color: "#2563eb", Values: h.pulls})
	d.HitRate = lineChart("Cache hit rate per hour", start, time.Hour, percentAxis,
		chartSeries{Name: "hit rate", Color: "#16a34a", Values: h.hitRate(), Total: percentAxis.label(o.HitRate)})
	d.Bytes = lineChart("Bytes served per hour", start, time.Hour, bytesAxis,
		chartSeries{Name: "from cache", Color: "#16a34a", Values: h.fromCache},
		chartSeries{Name: "fetched upstream", Color: "#7c3aed", Values: h.fromUpstream})
	d.Violating = barChart("Violations and quarantines per hour", start, time.Hour,
		chartSeries{Name: "violations", Color: "#d97706", Values: h.violations},
		chartSeries{Name: "quarantined", Color: "#dc2626", Values: h.quarantines})
	u.render(w, r, http.StatusOK, "overview", view{Title: "Overview", Nav: "overview", V: v, Data: d})
}

// hours are the statistics summed over upstreams, one value per hour from
// start to now, zero where no bucket was written.
type hours struct {
	pulls, hits, misses, fromCache, fromUpstream, violations, quarantines []float64
}

// hitRate is each hour's share of cache hits among hits and misses; an
// hour without either has no rate (NaN), not a rate of zero.
func (h hours) hitRate() []float64 {
	out := make([]float64, len(h.hits))
	for i := range out {
		if n := h.hits[i] + h.misses[i]; n > 0 {
			out[i] = h.hits[i] / n
		} else {
			out[i] = math.NaN()
		}
	}
	return out
}

func hourly(series []store.StatsBucket, start, now time.Time) hours {
	n := int(now.Sub(start)/time.Hour) + 1
	h := hours{
		pulls: make([]float64, n), hits: make([]float64, n), misses: make([]float64, n),
		fromCache: make([]float64, n), fromUpstream: make([]float64, n),
		violations: make([]float64, n), quarantines: make([]float64, n),
	}
	for _, b := range series {
		i := int(b.Hour.UTC().Sub(start) / time.Hour)
		if i < 0 || i >= n {
			continue
		}
		h.pulls[i] += float64(b.Pulls)
		h.hits[i] += float64(b.CacheHits)
		h.misses[i] += float64(b.CacheMisses)
		h.fromCache[i] += float64(b.BytesFromCache)
		h.fromUpstream[i] += float64(b.BytesFromUpstream)
		h.violations[i] += float64(b.Violations)
		h.quarantines[i] += float64(b.Quarantines)
	}
	return h
}
