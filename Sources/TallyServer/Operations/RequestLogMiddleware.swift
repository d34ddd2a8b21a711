import Hummingbird
import Logging

/// Logs every request (method, route, status, duration — no query string, no
/// body, no client address) and counts it in the metrics.
struct RequestLogMiddleware: RouterMiddleware {
    typealias Context = BasicRequestContext
    let metrics: ServerMetrics

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let start = ContinuousClock.now
        let method = request.method.rawValue
        do {
            let response = try await next(request, context)
            finish(request, context, status: response.status.code, start: start, method: method)
            return response
        } catch {
            let status = (error as? any HTTPResponseError)?.status.code ?? 500
            finish(request, context, status: status, start: start, method: method)
            throw error
        }
    }

    private func finish(_ request: Request, _ context: Context, status: Int, start: ContinuousClock.Instant, method: String) {
        let elapsed = ContinuousClock.now - start
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        let route = context.endpointPath ?? "unmatched"
        metrics.recordRequest(route: route, method: method, status: status, seconds: seconds)
        context.logger.info("\(method) \(route) \(status) \(Int(seconds * 1000)) ms")
    }
}
