/// Who and where, for every event tracked inside a scope.
///
/// ```swift
/// try await AnalyticsContext.$current.withValue(AnalyticsContext(userID: user, sessionID: session)) {
///     client.track(.taskStarted(taskID: id))   // carries user and session
/// }
/// ```
///
/// Values given to `track` directly win over the context; the context wins over
/// the client's configured service.
///
/// Four strings, not one object holding them: `track` copies the context out of
/// the task-local value, and one object's reference count, shared by every task
/// that inherits the scope and released by the worker on another core, made
/// four tasks' calls twice as slow (README, "Client → worker → SQLite"). Short
/// strings (up to 15 bytes) have no count at all.
public struct AnalyticsContext: Sendable, Hashable {
    /// A pseudonymous user id (see ``Pseudonymizer``).
    public var userID: String?
    public var anonymousID: String?
    public var sessionID: String?
    /// Overrides the client's service for events tracked in this scope.
    public var service: String?

    public init(userID: String? = nil, anonymousID: String? = nil, sessionID: String? = nil, service: String? = nil) {
        self.userID = userID
        self.anonymousID = anonymousID
        self.sessionID = sessionID
        self.service = service
    }

    /// The context of the current task, if any.
    @TaskLocal public static var current: AnalyticsContext?
}
