import Foundation
import Tally
import TallyDevice

extension DemoCommand {
    /// The demo against a running server: the same traffic, sent over HTTP as
    /// Segment-shaped gzip batches through `TallyDevice`'s collector transport.
    func sendToServer(_ server: String, writeKey: String) async throws {
        guard let url = URL(string: server), let scheme = url.scheme, ["http", "https"].contains(scheme), url.host != nil else {
            throw CommandError("--server must be an http(s) URL such as http://127.0.0.1:8080, not '\(server)'")
        }
        var trafficConfiguration = DemoTraffic.Configuration(end: end.flatMap { Timestamp(iso8601: $0) } ?? .now())
        trafficConfiguration.users = users
        trafficConfiguration.days = days
        trafficConfiguration.seed = seed
        let traffic = DemoTraffic(configuration: trafficConfiguration)

        var transport = HTTPCollectorTransport.Configuration(collectorURL: url, writeKey: writeKey)
        transport.logger.logLevel = .error
        let sink = CollectorSink(transport: HTTPCollectorTransport(configuration: transport))
        try await Self.probe(sink, server: server)
        let sent = try await send(traffic, to: sink, name: server)
        print("""
            Sent \(Format.count(sent.durable)) of \(Format.count(sent.generated)) events to \(server) in \
            \(String(format: "%.2f", sent.elapsed.seconds)) s (\(Format.count(Int(Double(sent.durable) / max(sent.elapsed.seconds, 1e-9)))) events/s acknowledged).
            The server refreshes the days that received events within a minute: open \(server)/dashboard.
            """)
    }

    /// Sends an empty batch first, so a wrong URL or key fails at once with a
    /// clear message instead of after the worker's retries.
    static func probe(_ sink: CollectorSink, server: String) async throws {
        switch await sink.transport.send([]) {
        case .delivered, .tooLarge:
            return
        case .rejected(let status, let message):
            throw CommandError("\(server) refused the write key (HTTP \(status)): \(message)")
        case .retryLater(_, let reason):
            throw CommandError("\(server) is not reachable (\(reason)); start it with `tally serve` or check --server")
        }
    }
}
