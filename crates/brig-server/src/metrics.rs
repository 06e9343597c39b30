//! Prometheus metrics (`GET /metrics`, text exposition format).

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    pub route: String,
    pub status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct EffectLabels {
    pub effect: String,
}

/// The server's counters, gauges and histograms.
pub struct Metrics {
    registry: Registry,
    pub requests: Family<RequestLabels, Counter>,
    pub events: Counter,
    pub decisions: Family<EffectLabels, Counter>,
    pub alerts: Counter,
    pub decide_seconds: Histogram,
    pub ingest_seconds: Histogram,
    pub contained: Gauge,
    pub queue_depth: Gauge,
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("brig");
        let m = Metrics {
            requests: Family::default(),
            events: Counter::default(),
            decisions: Family::default(),
            alerts: Counter::default(),
            // 50 µs … ~1.6 s.
            decide_seconds: Histogram::new(exponential_buckets(0.000_05, 2.0, 16)),
            ingest_seconds: Histogram::new(exponential_buckets(0.000_05, 2.0, 16)),
            contained: Gauge::default(),
            queue_depth: Gauge::default(),
            registry: Registry::default(),
        };
        registry.register(
            "http_requests",
            "HTTP requests by route and status",
            m.requests.clone(),
        );
        registry.register(
            "events_ingested",
            "Events recorded through the API",
            m.events.clone(),
        );
        registry.register(
            "decisions",
            "Tool-call decisions by effect",
            m.decisions.clone(),
        );
        registry.register("alerts", "Alerts raised by decided calls", m.alerts.clone());
        registry.register(
            "decide_seconds",
            "Time to decide and record a call",
            m.decide_seconds.clone(),
        );
        registry.register(
            "ingest_seconds",
            "Time to record a batch of events durably",
            m.ingest_seconds.clone(),
        );
        registry.register(
            "contained_scopes",
            "Scopes contained now (agents, workflows, all, paths)",
            m.contained.clone(),
        );
        registry.register(
            "ingest_queue_depth",
            "Ingest requests waiting for the ledger writer",
            m.queue_depth.clone(),
        );
        Metrics { registry, ..m }
    }

    /// The text exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}
