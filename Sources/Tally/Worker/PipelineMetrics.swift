import CoreMetrics

/// The pipeline's swift-metrics instruments, created once. The executable
/// bootstraps a backend (Prometheus in `tally serve`); libraries only emit.
struct PipelineMetrics: Sendable {
    let tracked = Counter(label: "tally_events_tracked_total")
    let invalid = Counter(label: "tally_events_invalid_total")
    let written = Counter(label: "tally_events_written_total")
    let droppedBufferFull = Counter(label: "tally_events_dropped_total", dimensions: [("reason", "buffer_full")])
    let droppedAfterShutdown = Counter(label: "tally_events_dropped_total", dimensions: [("reason", "after_shutdown")])
    let droppedUndeliverable = Counter(label: "tally_events_dropped_total", dimensions: [("reason", "undeliverable")])
    let spilled = Counter(label: "tally_events_spilled_total")
    let replayed = Counter(label: "tally_events_replayed_total")
    let retries = Counter(label: "tally_sink_retries_total")
    let batchSize = Recorder(label: "tally_batch_size")
    let writeLatency = Timer(label: "tally_sink_write_duration_seconds")
    let bufferDepth = Gauge(label: "tally_buffer_depth")
}
