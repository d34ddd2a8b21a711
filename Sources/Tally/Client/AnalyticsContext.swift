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
public struct AnalyticsContext: Sendable, Hashable {
    /// The values live in one immutable object: `track` copies the context out of
    /// the task-local value on every call, and this way the copy is one retain
    /// rather than one per string, and the buffer holds one reference rather
    /// than four strings.
    private final class Values: Sendable {
        let userID: String?
        let anonymousID: String?
        let sessionID: String?
        let service: String?

        init(userID: String?, anonymousID: String?, sessionID: String?, service: String?) {
            self.userID = userID
            self.anonymousID = anonymousID
            self.sessionID = sessionID
            self.service = service
        }
    }

    private var values: Values

    public init(userID: String? = nil, anonymousID: String? = nil, sessionID: String? = nil, service: String? = nil) {
        values = Values(userID: userID, anonymousID: anonymousID, sessionID: sessionID, service: service)
    }

    /// A pseudonymous user id (see ``Pseudonymizer``).
    public var userID: String? {
        get { values.userID }
        set { self = AnalyticsContext(userID: newValue, anonymousID: anonymousID, sessionID: sessionID, service: service) }
    }

    public var anonymousID: String? {
        get { values.anonymousID }
        set { self = AnalyticsContext(userID: userID, anonymousID: newValue, sessionID: sessionID, service: service) }
    }

    public var sessionID: String? {
        get { values.sessionID }
        set { self = AnalyticsContext(userID: userID, anonymousID: anonymousID, sessionID: newValue, service: service) }
    }

    /// Overrides the client's service for events tracked in this scope.
    public var service: String? {
        get { values.service }
        set { self = AnalyticsContext(userID: userID, anonymousID: anonymousID, sessionID: sessionID, service: newValue) }
    }

    public static func == (lhs: AnalyticsContext, rhs: AnalyticsContext) -> Bool {
        lhs.values === rhs.values
            || (lhs.userID == rhs.userID && lhs.anonymousID == rhs.anonymousID && lhs.sessionID == rhs.sessionID
                && lhs.service == rhs.service)
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(userID)
        hasher.combine(anonymousID)
        hasher.combine(sessionID)
        hasher.combine(service)
    }

    /// The context of the current task, if any.
    @TaskLocal public static var current: AnalyticsContext?
}
