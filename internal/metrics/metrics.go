// Package metrics holds secretsdb's Prometheus metrics. Everything is registered on a
// registry the caller passes in, never on the global one, so two servers in one process
// (tests, or an application embedding the API) count apart.
//
// The library packages (httpapi, secrets) know nothing of Prometheus: they take hook
// functions, and the methods here have the shapes those hooks expect.
//
// Metric names, labels and meanings are listed in docs/operations.md; keep the two in step.
package metrics

import (
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Namespace prefixes every metric this package defines.
const Namespace = "secretsdb"

// latencyBuckets are the request duration histogram's upper bounds, in seconds. They
// start at a millisecond because most requests are one statement on a warm connection,
// and stop at the default request timeout.
var latencyBuckets = []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}

// Provisioning outcomes worth counting; "existing" users are not news.
var provisionOutcomes = []string{"created", "linked"}

// Retryable SQLSTATEs: serialization failure and deadlock.
var retrySQLStates = []string{"40001", "40P01"}

// Metrics are the API's counters and histograms. All methods are safe for concurrent use.
type Metrics struct {
	requests       *prometheus.CounterVec
	duration       *prometheus.HistogramVec
	provisioned    *prometheus.CounterVec
	secretsCreated prometheus.Counter
	checkIns       prometheus.Counter
	retries        *prometheus.CounterVec
}

// New creates the API's metrics and registers them on reg.
func New(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace,
			Name:      "http_requests_total",
			Help:      "HTTP requests answered, by route pattern and status code.",
		}, []string{"route", "status"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: Namespace,
			Name:      "http_request_duration_seconds",
			Help:      "Time from a request's arrival to its response being written, by route.",
			Buckets:   latencyBuckets,
		}, []string{"route"}),
		provisioned: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace,
			Name:      "users_provisioned_total",
			Help:      "Users created, or session ids linked to an existing user, after commit.",
		}, []string{"outcome"}),
		secretsCreated: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: Namespace,
			Name:      "secrets_created_total",
			Help:      "Secrets stored, after commit.",
		}),
		checkIns: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: Namespace,
			Name:      "check_ins_total",
			Help:      "Check-ins recorded, after commit.",
		}),
		retries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace,
			Name:      "db_retries_total",
			Help:      "Statements run again after a serialization failure or deadlock.",
		}, []string{"sqlstate"}),
	}
	// Series that exist from the start read as 0 instead of missing, so rate() and
	// alerts work before the first event.
	for _, o := range provisionOutcomes {
		m.provisioned.WithLabelValues(o)
	}
	for _, code := range retrySQLStates {
		m.retries.WithLabelValues(code)
	}

	for _, c := range []prometheus.Collector{
		m.requests, m.duration, m.provisioned, m.secretsCreated, m.checkIns, m.retries,
	} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// ObserveRequest counts one answered request and its duration. route is the matched
// pattern ("POST /api/secrets"), never the raw path, so ids do not become labels.
func (m *Metrics) ObserveRequest(route string, status int, d time.Duration) {
	m.requests.WithLabelValues(route, strconv.Itoa(status)).Inc()
	m.duration.WithLabelValues(route).Observe(d.Seconds())
}

// UserProvisioned counts a user created or linked. Call it only once the write has
// committed; "existing" and unknown outcomes are ignored.
func (m *Metrics) UserProvisioned(outcome string) {
	for _, o := range provisionOutcomes {
		if o == outcome {
			m.provisioned.WithLabelValues(outcome).Inc()
			return
		}
	}
}

// SecretCreated counts a committed secret.
func (m *Metrics) SecretCreated() { m.secretsCreated.Inc() }

// CheckedIn counts a committed check-in.
func (m *Metrics) CheckedIn() { m.checkIns.Inc() }

// Retried counts a retry caused by err, labelled with its SQLSTATE ("other" when err
// carries none, which the Service does not retry today).
func (m *Metrics) Retried(err error) {
	code := "other"
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		code = pe.Code
	}
	m.retries.WithLabelValues(code).Inc()
}

// Handler serves reg's metrics in the Prometheus text format.
func Handler(reg *prometheus.Registry) http.Handler {
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{
		// A collector failing (the pool, say) still leaves every other metric scrapeable.
		ErrorHandling: promhttp.ContinueOnError,
		Registry:      reg,
	})
}

// NewBuildInfo returns secretsdb_build_info{version}, always 1, so dashboards can show
// which release each instance runs and when it changed.
func NewBuildInfo(version string) prometheus.Collector {
	return prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Namespace:   Namespace,
		Name:        "build_info",
		Help:        "Always 1; the version label is the running release.",
		ConstLabels: prometheus.Labels{"version": version},
	}, func() float64 { return 1 })
}
