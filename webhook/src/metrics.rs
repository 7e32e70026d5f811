//! Prometheus metrics, served as text on the ops port's /metrics.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReviewLabels {
    pub operation: &'static str,
    pub outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CodeLabels {
    pub code: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ResultLabels {
    pub result: &'static str,
}

pub struct Metrics {
    registry: Registry,
    pub reviews: Family<ReviewLabels, Counter>,
    pub warnings: Family<CodeLabels, Counter>,
    pub rejections: Family<CodeLabels, Counter>,
    pub review_seconds: Histogram,
    pub tls_reloads: Family<ResultLabels, Counter>,
    pub in_flight: Gauge,
    pub connections_open: Gauge,
    pub connections_refused: Counter,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("logbackup_webhook");
        let reviews = Family::<ReviewLabels, Counter>::default();
        registry.register(
            "admission_reviews",
            "AdmissionReviews answered, by operation and outcome",
            reviews.clone(),
        );
        let warnings = Family::<CodeLabels, Counter>::default();
        registry.register(
            "admission_warnings",
            "Warnings returned to API clients, by code",
            warnings.clone(),
        );
        let rejections = Family::<CodeLabels, Counter>::default();
        registry.register(
            "http_rejections",
            "Requests rejected before review (not an AdmissionReview), by code",
            rejections.clone(),
        );
        // 50 µs .. ~0.8 s: the review itself is sub-millisecond; the tail shows contention.
        let review_seconds = Histogram::new(exponential_buckets(0.00005, 2.0, 15));
        registry.register(
            "admission_review_duration_seconds",
            "Time to parse, plan and encode one AdmissionReview",
            review_seconds.clone(),
        );
        let tls_reloads = Family::<ResultLabels, Counter>::default();
        registry.register(
            "tls_certificate_reloads",
            "Certificate reloads after the files changed, by result",
            tls_reloads.clone(),
        );
        let in_flight = Gauge::default();
        registry.register(
            "admission_requests_in_flight",
            "Requests to /mutate being read or answered right now",
            in_flight.clone(),
        );
        let connections_open = Gauge::default();
        registry.register(
            "connections_open",
            "TLS connections open on the admission port, handshaking included",
            connections_open.clone(),
        );
        let connections_refused = Counter::default();
        registry.register(
            "connections_refused",
            "Connections closed at accept because --max-connections were open",
            connections_refused.clone(),
        );
        Metrics {
            registry,
            connections_open,
            connections_refused,
            reviews,
            warnings,
            rejections,
            review_seconds,
            tls_reloads,
            in_flight,
        }
    }

    /// The OpenMetrics text exposition.
    pub fn encode(&self) -> Result<String, std::fmt::Error> {
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry)?;
        Ok(out)
    }
}
