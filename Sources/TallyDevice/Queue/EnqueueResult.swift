import Tally

/// What ``EnqueueAnalyticsEventUseCase/execute(_:userID:)`` did with an event.
/// Every case is a success for the caller: analytics never fails a user's action.
public enum EnqueueResult: Sendable, Hashable {
    /// The event is durably queued under `eventID`. `trimmed` older entries were
    /// removed to keep the queue within its bounds (usually 0).
    case queued(EventID, trimmed: Int)
    /// The user opted out (`analytics_enabled` is false): nothing was written.
    case skippedAnalyticsDisabled
    /// The event broke a rule and was not queued; the error says which field and why.
    case invalid(EventValidationError)

    /// The queued event's id, if it was queued.
    public var eventID: EventID? {
        if case .queued(let id, _) = self { return id }
        return nil
    }

    /// How many older entries this call trimmed from the queue.
    public var trimmed: Int {
        if case .queued(_, let trimmed) = self { return trimmed }
        return 0
    }
}
