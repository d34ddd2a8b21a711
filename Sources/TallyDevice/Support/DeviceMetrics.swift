import CoreMetrics

/// Device mode's swift-metrics counters, created once per use case. The app
/// bootstraps a metrics backend (or none); this library only emits.
struct DeviceMetrics: Sendable {
    /// Events written to `analytics_queue`.
    let enqueued = Counter(label: "tally_device_events_enqueued_total")
    /// Events not queued because the user opted out.
    let skippedDisabled = Counter(label: "tally_device_events_skipped_total", dimensions: [("reason", "analytics_disabled")])
    /// Events not queued because they failed validation.
    let invalid = Counter(label: "tally_device_events_skipped_total", dimensions: [("reason", "invalid")])
    /// Queued events removed to keep the queue within its size and age bounds.
    let trimmed = Counter(label: "tally_device_events_trimmed_total")
    /// Events the collector acknowledged.
    let flushed = Counter(label: "tally_device_events_flushed_total")
    /// Events the collector refused for good (a 4xx other than 413 and 429).
    let droppedRejected = Counter(label: "tally_device_events_dropped_total", dimensions: [("reason", "rejected")])
    /// Single events still too large for the collector after splitting.
    let droppedTooLarge = Counter(label: "tally_device_events_dropped_total", dimensions: [("reason", "too_large")])
    /// Flushes that stopped on a transient failure and scheduled a retry.
    let flushRetries = Counter(label: "tally_device_flush_retries_total")
}

/// The ``WriteEffectCoordinator``'s counters.
struct EffectMetrics: Sendable {
    let dispatched = Counter(label: "tally_effects_dispatched_total")
    let failed = Counter(label: "tally_effects_failed_total")
    let dropped = Counter(label: "tally_effects_dropped_total")
}
