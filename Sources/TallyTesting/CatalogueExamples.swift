import Tally

/// One realistic, valid example of every event in the catalogue, and helpers that
/// wrap them into reproducible ``EnrichedEvent``s.
///
/// Shared by the test suites of every store and by the benchmarks, so that each
/// of them exercises every event shape.
///
/// ```swift
/// @Test(arguments: CatalogueExamples.all)
/// func storesEveryEvent(_ event: AnalyticsEvent) async throws {
///     let enriched = CatalogueExamples.event(event, at: Timestamp(iso8601: "2026-11-23T13:08:17Z")!)
///     …
/// }
/// ```
public enum CatalogueExamples {
    /// Every case of ``AnalyticsEvent`` exactly once, in catalogue order. Some
    /// optional values are filled in and some are left `nil`, so that both shapes
    /// are exercised.
    public static let all: [AnalyticsEvent] = [
        // auth
        .authLoginAttempt(success: false, method: "password", failureReason: "bad_password"),
        .authCodeVerified,
        .authTokenRefresh(success: true),
        .authSessionValidated(valid: true),
        .authLogout,

        // task
        .taskCreated(taskID: "t_8f3k2m", projectID: "p_41c9", cocoonID: nil, command: "swift test --parallel"),
        .taskStarted(taskID: "t_8f3k2m"),
        .taskCompleted(taskID: "t_8f3k2m", durationMs: 1_840.5),
        .taskFailed(taskID: "t_2b7q9x", durationMs: nil, error: "exit code 1: 3 tests failed"),
        .taskCancelled(taskID: "t_5n1w0c"),
        .taskUpdated(taskID: "t_8f3k2m", fields: ["title", "due_date"]),
        .taskDeleted(taskID: "t_5n1w0c"),

        // integration
        .integrationConnected(provider: "github"),
        .integrationDisconnected(provider: "slack"),
        .integrationUsed(provider: "github", action: "create_pull_request"),
        .integrationError(provider: "slack", error: "rate limited by the provider (HTTP 429); retrying in 30 s"),
        .oauthFlowStarted(provider: "google"),
        .oauthFlowCompleted(provider: "google", success: true),

        // webhook
        .webhookReceived(provider: "github", event: "push"),
        .webhookProcessed(provider: "stripe", success: true, durationMs: 42.25),

        // cocoon
        .cocoonRegistered(cocoonID: "c_m1-studio-07"),
        .cocoonConnected(cocoonID: "c_m1-studio-07"),
        .cocoonDisconnected(cocoonID: "c_m1-studio-07", reason: nil),
        .cocoonClaimed(cocoonID: "c_linux-builder-3"),
        .cocoonSetupTokenCreated(cocoonID: "c_linux-builder-3"),
        .cocoonSetupTokenUsed(cocoonID: "c_linux-builder-3"),

        // project
        .projectCreated(projectID: "p_41c9"),
        .projectUpdated(projectID: "p_41c9"),
        .projectDeleted(projectID: "p_7a02"),

        // web app
        .pageView(path: "/projects/p_41c9/tasks", referrer: "https://www.google.com/"),
        .fileUploaded(fileType: "png", sizeBytes: 248_312),
        .searchPerformed(resultsCount: 17, queryLength: 12),
        .profileUpdated(fields: ["display_name", "avatar"]),

        // system
        .apiRequest(method: "GET", route: "/v1/tasks/:id", statusCode: 200, durationMs: 3.2),
        .databaseQuery(operation: "select", durationMs: 0.75, success: true),
        .applicationError(errorType: "DecodingError", severity: .error, message: "keyNotFound: 'project_id' in the task payload"),
    ]

    /// The pseudonymous user of the examples, shaped like a ``Pseudonymizer`` output.
    public static let userID = "u_4f2a9c1e7b3d5a60"
    /// The session of the examples.
    public static let sessionID = "s_7d1e0b92"
    /// The service of the examples.
    public static let service = "api"
    /// The context Tally's own client sends.
    public static let context = EventContext(
        libraryName: "tally-swift", libraryVersion: "0.1.0", appVersion: "2.4.1",
        osName: "Linux", osVersion: "6.8", locale: "en-US"
    )

    /// Wraps `event` as the client would have enriched it, reproducibly: the same
    /// arguments always give the same ``EventID``.
    ///
    /// - Parameters:
    ///   - event: What was tracked.
    ///   - time: When it happened; the UUIDv7 carries this time.
    ///   - receivedAt: When it was received. Defaults to 250 ms after `time`.
    ///   - seed: Mixed with the time and the event's name to derive the id.
    ///     Defaults to 0; pass different seeds for distinct events at one instant.
    public static func event(
        _ event: AnalyticsEvent,
        at time: Timestamp,
        receivedAt: Timestamp? = nil,
        seed: UInt64 = 0,
        service: String = CatalogueExamples.service,
        userID: String? = CatalogueExamples.userID,
        anonymousID: String? = nil,
        sessionID: String? = CatalogueExamples.sessionID,
        context: EventContext = CatalogueExamples.context
    ) -> EnrichedEvent {
        var rng = SeededGenerator(seed: seed ^ UInt64(bitPattern: time.microsecondsSinceEpoch) ^ fnv1a(event.name))
        return EnrichedEvent(
            eventID: EventID.generate(at: time, using: &rng),
            payload: .catalogue(event),
            timestamp: time,
            receivedAt: receivedAt ?? time.adding(microseconds: 250_000),
            service: service,
            userID: userID,
            anonymousID: anonymousID,
            sessionID: sessionID,
            context: context
        )
    }

    /// Every example of ``all`` enriched, one every `spacing` microseconds from
    /// `start`, in catalogue order.
    public static func enrichedAll(startingAt start: Timestamp, spacingMicroseconds spacing: Int64 = 1_000_000) -> [EnrichedEvent] {
        all.enumerated().map { offset, example in
            event(example, at: start.adding(microseconds: Int64(offset) * spacing))
        }
    }

    /// FNV-1a of the UTF-8 bytes: a hash that, unlike `Hasher`, is the same in
    /// every process.
    private static func fnv1a(_ text: String) -> UInt64 {
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325
        for byte in text.utf8 {
            hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01B3
        }
        return hash
    }
}
