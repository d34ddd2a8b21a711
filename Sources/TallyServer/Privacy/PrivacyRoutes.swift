import Hummingbird
import Tally

/// GDPR-style requests; admin key.
///
/// - `DELETE /v1/users/{id}` erases every raw event whose user or anonymous id is
///   `id`, marks the days they fell on dirty (in the same transaction) and asks
///   the refresher to recompute them now, so the aggregates forget the user too.
///   Events accepted while the store was down and still waiting in the spill
///   queue are erased as well, with the worker's replay paused meanwhile.
/// - `GET /v1/users/{id}/events` streams everything stored about them (NDJSON,
///   or `?format=csv`).
struct PrivacyRoutes: Sendable {
    let access: KeyAuthenticator
    let events: any EventQueries
    let spill: any DurableQueue
    let client: AnalyticsClient
    let refresher: AggregateRefresher

    func register(on router: Router<BasicRequestContext>) {
        router.delete("/v1/users/:id") { request, context in
            _ = try await access.require(.admin, for: request)
            let userID = try Self.userID(context)
            let (erasure, queued) = try await client.withReplayPaused {
                let queued = try await spill.removeEvents(ofUser: userID)
                return (try await events.eraseUser(userID), queued)
            }
            refresher.refreshDirtyDaysSoon()
            return JSONResponse.make([
                "user_id": .string(userID),
                "deleted_events": .int(erasure.deletedEvents),
                "deleted_queued_events": .int(queued),
                "days_recomputed": .array(erasure.days.map(\.jsonDay)),
            ])
        }
        router.get("/v1/users/:id/events") { request, context in
            _ = try await access.require(.admin, for: request)
            let userID = try Self.userID(context)
            let format = try QueryParameters(request).choice("format", default: EventExportFormat.ndjson)
            return Response(
                status: .ok, headers: [.contentType: format.contentType],
                body: ResponseBody { writer in
                    try await ExportStream(events: events, filter: EventFilter(userID: userID), format: format).write(to: &writer)
                    try await writer.finish(nil)
                })
        }
    }

    static func userID(_ context: BasicRequestContext) throws(APIError) -> String {
        guard let id = context.parameters.get("id"), !id.isEmpty, id.utf8.count <= 128 else {
            throw APIError(.badRequest, code: "invalid_user_id", "the user id in the path must be 1 to 128 characters")
        }
        return id
    }
}
