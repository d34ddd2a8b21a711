import Hummingbird
import Tally

/// `GET /dashboard`: the aggregates as charts. Open without a key when the
/// server listens on a loopback address only (it is then reachable from this
/// machine alone); otherwise it asks for a read key with HTTP Basic, which every
/// browser prompts for.
struct DashboardRoutes: Sendable {
    let access: KeyAuthenticator
    let aggregates: any AggregateStore
    let storeDescription: String
    let requiresKey: Bool

    func register(on router: Router<BasicRequestContext>) {
        router.get("/") { _, _ in
            Response(status: .seeOther, headers: [.location: "/dashboard"])
        }
        router.get("/dashboard") { request, _ in
            if requiresKey { _ = try await access.require(.read, for: request) }
            let parameters = QueryParameters(request)
            let days = try parameters.int("days", default: 30, range: 1...400)
            let (from, to) = try parameters.range(defaultDays: days)
            let data = try await DashboardData.load(from: aggregates, from: from.startOfDay, to: to)
            let page = DashboardPage(data: data, from: from.startOfDay, to: to, store: storeDescription)
            return Response(status: .ok, headers: [.contentType: "text/html; charset=utf-8"],
                            body: ResponseBody(byteBuffer: ByteBuffer(string: page.html)))
        }
    }
}
