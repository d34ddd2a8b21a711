import CoreMetrics

/// The pipeline's swift-metrics instruments, created once per worker. The
/// executable bootstraps a backend (Prometheus in `tally serve`); libraries only
/// emit. Tests pass a factory of their own through the configuration.
struct PipelineMetrics: Sendable {
    let tracked: Counter
    let invalid: Counter
    let written: Counter
    let droppedBufferFull: Counter
    let droppedAfterShutdown: Counter
    let droppedUndeliverable: Counter
    let spilled: Counter
    let replayed: Counter
    let retries: Counter
    let batchSize: Recorder
    let writeLatency: Timer
    let bufferDepth: Gauge

    init(factory: any MetricsFactory) {
        tracked = Counter(label: "tally_events_tracked_total", factory: factory)
        invalid = Counter(label: "tally_events_invalid_total", factory: factory)
        written = Counter(label: "tally_events_written_total", factory: factory)
        droppedBufferFull = Counter(label: "tally_events_dropped_total", dimensions: [("reason", "buffer_full")], factory: factory)
        droppedAfterShutdown = Counter(label: "tally_events_dropped_total", dimensions: [("reason", "after_shutdown")], factory: factory)
        droppedUndeliverable = Counter(label: "tally_events_dropped_total", dimensions: [("reason", "undeliverable")], factory: factory)
        spilled = Counter(label: "tally_events_spilled_total", factory: factory)
        replayed = Counter(label: "tally_events_replayed_total", factory: factory)
        retries = Counter(label: "tally_sink_retries_total", factory: factory)
        batchSize = Recorder(label: "tally_batch_size", factory: factory)
        writeLatency = Timer(label: "tally_sink_write_duration_seconds", factory: factory)
        bufferDepth = Gauge(label: "tally_buffer_depth", factory: factory)
    }
}
