import CoreMetrics
import Prometheus

/// The server's own instruments, next to the pipeline's (`tally_events_*`), all
/// in one Prometheus registry that `/metrics` prints.
struct ServerMetrics: Sendable {
    let registry: PrometheusCollectorRegistry
    let factory: PrometheusMetricsFactory
    private let received: CoreMetrics.Counter
    private let rejected: CoreMetrics.Counter
    private let stored: CoreMetrics.Counter
    private let duplicates: CoreMetrics.Counter
    private let queued: CoreMetrics.Counter

    init(registry: PrometheusCollectorRegistry) {
        self.registry = registry
        factory = PrometheusMetricsFactory(registry: registry)
        received = CoreMetrics.Counter(label: "tally_ingest_events_total", dimensions: [("outcome", "received")], factory: factory)
        rejected = CoreMetrics.Counter(label: "tally_ingest_events_total", dimensions: [("outcome", "rejected")], factory: factory)
        stored = CoreMetrics.Counter(label: "tally_ingest_events_total", dimensions: [("outcome", "stored")], factory: factory)
        duplicates = CoreMetrics.Counter(label: "tally_ingest_events_total", dimensions: [("outcome", "duplicate")], factory: factory)
        queued = CoreMetrics.Counter(label: "tally_ingest_events_total", dimensions: [("outcome", "queued")], factory: factory)
    }

    func recordIngest(received count: Int, rejected rejectedCount: Int, outcome: IngestWriter.Outcome, accepted: Int) {
        received.increment(by: Int64(count))
        rejected.increment(by: Int64(rejectedCount))
        switch outcome {
        case .stored(let newlyStored):
            stored.increment(by: Int64(newlyStored))
            duplicates.increment(by: Int64(accepted - newlyStored))
        case .queued:
            queued.increment(by: Int64(accepted))
        }
    }

    /// One finished request: its route pattern (not its path, which may hold user
    /// ids), method, status and duration.
    func recordRequest(route: String, method: String, status: Int, seconds: Double) {
        let dimensions = [("route", route), ("method", method), ("status", String(status))]
        CoreMetrics.Counter(label: "tally_http_requests_total", dimensions: dimensions, factory: factory).increment()
        CoreMetrics.Timer(label: "tally_http_request_duration_seconds", dimensions: [("route", route), ("method", method)], factory: factory)
            .recordNanoseconds(Int64(seconds * 1e9))
    }
}
