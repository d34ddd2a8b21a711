import Logging
import ServiceLifecycle

/// Runs services in a `ServiceGroup` for the length of a test, and stops them
/// the way a process would: graceful shutdown, then waiting for `run()` to return.
public final class RunningServices: Sendable {
    private let group: ServiceGroup
    private let task: Task<Void, any Error>

    public init(_ services: [any Service]) {
        var logger = Logger(label: "tally.test")
        logger.logLevel = .error
        let group = ServiceGroup(configuration: .init(services: services, gracefulShutdownSignals: [], logger: logger))
        self.group = group
        task = Task { try await group.run() }
    }

    /// Triggers graceful shutdown and waits until every service's `run()` returned.
    public func shutDown() async throws {
        await group.triggerGracefulShutdown()
        try await task.value
    }
}
