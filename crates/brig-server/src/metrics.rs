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

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct IncidentLabels {
    pub severity: String,
    pub state: String,
}

/// `quantile="0.5"`-style labels; the mean is `stat="mean"`, the p90 `stat="p90"`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StatLabels {
    pub stat: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ScenarioLabels {
    pub scenario: String,
}

type FloatGauge = Gauge<f64, std::sync::atomic::AtomicU64>;

/// The incident-response figures of `brig metrics` (`brig_incident::metrics`), as gauges.
/// Computed when scraped, at most once per [`Record::EVERY`].
pub struct Record {
    pub incidents: Family<IncidentLabels, Gauge>,
    pub detect: Family<StatLabels, FloatGauge>,
    pub contain: Family<StatLabels, FloatGauge>,
    pub restore: Family<StatLabels, FloatGauge>,
    pub coverage: FloatGauge,
    pub rollback: FloatGauge,
    pub drill_pass: Family<ScenarioLabels, Gauge>,
    /// When the figures were last computed.
    pub computed: std::sync::Mutex<Option<std::time::Instant>>,
}

impl Record {
    /// How long computed figures are served before they are read again.
    pub const EVERY: std::time::Duration = std::time::Duration::from_secs(5);

    /// Claims the next computation: true when the figures are older than [`Record::EVERY`]
    /// (and marks them fresh, so that concurrent scrapes do not all compute).
    pub fn due(&self) -> bool {
        let mut c = self.computed.lock().unwrap_or_else(|p| p.into_inner());
        if c.is_some_and(|t| t.elapsed() < Self::EVERY) {
            return false;
        }
        *c = Some(std::time::Instant::now());
        true
    }

    /// Sets every gauge from the computed figures.
    pub fn set(&self, m: &brig_incident::metrics::Metrics) {
        self.incidents.clear();
        for (severity, state, n) in &m.by_severity_state {
            self.incidents
                .get_or_create(&IncidentLabels {
                    severity: severity.clone(),
                    state: state.clone(),
                })
                .set(*n as i64);
        }
        for (family, d) in [
            (&self.detect, &m.time_to_detect),
            (&self.contain, &m.time_to_contain),
            (&self.restore, &m.time_to_restore),
        ] {
            family.clear();
            for (stat, v) in [("mean", d.mean_seconds), ("p90", d.p90_seconds)] {
                if let Some(v) = v {
                    family
                        .get_or_create(&StatLabels { stat: stat.into() })
                        .set(v);
                }
            }
        }
        // No incident (or no workflow): nothing to fall short of.
        self.coverage.set(m.forensic_coverage.ratio.unwrap_or(1.0));
        self.rollback.set(m.tested_rollback.ratio.unwrap_or(1.0));
        self.drill_pass.clear();
        for d in &m.drills {
            self.drill_pass
                .get_or_create(&ScenarioLabels {
                    scenario: d.scenario.clone(),
                })
                .set(i64::from(d.passed));
        }
    }

    fn new(registry: &mut Registry) -> Record {
        let r = Record {
            incidents: Family::default(),
            detect: Family::default(),
            contain: Family::default(),
            restore: Family::default(),
            coverage: FloatGauge::default(),
            rollback: FloatGauge::default(),
            drill_pass: Family::default(),
            computed: Default::default(),
        };
        registry.register(
            "incidents",
            "Incidents by severity and state",
            r.incidents.clone(),
        );
        registry.register(
            "time_to_detect_seconds",
            "First harmful event to detection, over incidents (stat: mean, p90)",
            r.detect.clone(),
        );
        registry.register(
            "time_to_contain_seconds",
            "First harmful event to containment, over incidents (stat: mean, p90)",
            r.contain.clone(),
        );
        registry.register(
            "time_to_restore_seconds",
            "Detection to recovery (rollback verified), over incidents (stat: mean, p90)",
            r.restore.clone(),
        );
        registry.register(
            "forensic_coverage_ratio",
            "Share of incidents with a recorded successful evidence bundle verification",
            r.coverage.clone(),
        );
        registry.register(
            "tested_rollback_ratio",
            "Share of workflows with a passed drill whose rollback was verified",
            r.rollback.clone(),
        );
        registry.register(
            "drill_passed",
            "The last drill result of each scenario (1 passed, 0 failed)",
            r.drill_pass.clone(),
        );
        r
    }
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
    /// OTLP spans recorded (`/v1/traces`), and spans refused (unreadable, or another agent's).
    pub otlp_spans: Counter,
    pub otlp_rejected: Counter,
    /// Incident-response figures, read from the store when scraped.
    pub record: Record,
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("brig");
        let record = Record::new(&mut registry);
        let m = Metrics {
            record,
            requests: Family::default(),
            events: Counter::default(),
            decisions: Family::default(),
            alerts: Counter::default(),
            // 50 µs … ~1.6 s.
            decide_seconds: Histogram::new(exponential_buckets(0.000_05, 2.0, 16)),
            ingest_seconds: Histogram::new(exponential_buckets(0.000_05, 2.0, 16)),
            contained: Gauge::default(),
            queue_depth: Gauge::default(),
            otlp_spans: Counter::default(),
            otlp_rejected: Counter::default(),
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
        registry.register(
            "otlp_spans_accepted",
            "OTLP spans accepted at /v1/traces",
            m.otlp_spans.clone(),
        );
        registry.register(
            "otlp_spans_rejected",
            "OTLP spans rejected at /v1/traces (missing required attributes, or another agent's)",
            m.otlp_rejected.clone(),
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
