import Foundation
import Logging
import Tally
import TallyGzip

// URLSession rather than AsyncHTTPClient/NIO: on Apple platforms it is the system's
// own HTTP stack (cellular, proxies, background sessions, no extra binary size), and
// on Linux FoundationNetworking provides the same API over libcurl, so a device app
// ships no event loop of its own just to post a few batches a minute.
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// Posts batches to a Segment-compatible collector (Tally's `tally serve`, Segment,
/// RudderStack): `POST <collector>/v1/batch`, the write key as the HTTP Basic user
/// with an empty password, the JSON body gzip-compressed.
///
/// ```swift
/// let transport = HTTPCollectorTransport(configuration: .init(
///     collectorURL: URL(string: "https://collector.example.com")!, writeKey: "wk_live_…"))
/// switch await transport.send(events) {
/// case .delivered: …
/// case .retryLater(let after, _): …
/// default: …
/// }
/// ```
///
/// Responses map to ``DeliveryOutcome``: 2xx → delivered; 413 → too large; 429 and
/// 5xx → retry later, honouring `Retry-After`; any other 4xx → rejected; a network
/// error or a timeout → retry later.
public final class HTTPCollectorTransport: CollectorTransport {
    /// Where and how to send.
    public struct Configuration: Sendable {
        /// The collector's base URL, e.g. `https://collector.example.com`; batches go
        /// to `<collectorURL>/v1/batch`.
        public var collectorURL: URL
        /// The source's write key. It identifies where events come from; it is not a
        /// secret that grants reading anything.
        public var writeKey: String
        /// How long one request may take, connection included, before it counts as
        /// a transient failure. Defaults to 15 s.
        public var timeout: Duration = .seconds(15)
        /// gzip level for request bodies, 0 to 9. Defaults to 6.
        public var compressionLevel: Int = 6
        /// Sent as `User-Agent`. Defaults to `tally-swift/<version>`.
        public var userAgent: String = "tally-swift/\(TallyVersion.current)"
        /// Defaults to a logger labelled `tally.device.transport`.
        public var logger: Logger = Logger(label: "tally.device.transport")

        public init(collectorURL: URL, writeKey: String) {
            self.collectorURL = collectorURL
            self.writeKey = writeKey
        }

        /// `<collectorURL>/v1/batch`.
        public var batchURL: URL {
            collectorURL.appendingPathComponent("v1").appendingPathComponent("batch")
        }
    }

    public let configuration: Configuration
    private let session: URLSession
    private let authorization: String

    public init(configuration: Configuration) {
        self.configuration = configuration
        let sessionConfiguration = URLSessionConfiguration.ephemeral
        let seconds = Self.seconds(configuration.timeout)
        sessionConfiguration.timeoutIntervalForRequest = seconds
        sessionConfiguration.timeoutIntervalForResource = seconds
        // Analytics must never compete with the app for a cache or cookies.
        sessionConfiguration.urlCache = nil
        sessionConfiguration.httpCookieStorage = nil
        self.session = URLSession(configuration: sessionConfiguration)
        self.authorization = "Basic " + Data((configuration.writeKey + ":").utf8).base64EncodedString()
    }

    deinit {
        session.finishTasksAndInvalidate()
    }

    public func send(_ batch: [EnrichedEvent]) async -> DeliveryOutcome {
        let json = SegmentBatch.body(for: batch, sentAt: .now())
        let body: [UInt8]
        do {
            body = try Gzip.compress(json, level: configuration.compressionLevel)
        } catch {
            // Compression failing means zlib is out of memory: transient on a device.
            return .retryLater(after: nil, reason: String(describing: error))
        }

        var request = URLRequest(url: configuration.batchURL)
        request.httpMethod = "POST"
        request.timeoutInterval = Self.seconds(configuration.timeout)
        request.setValue(authorization, forHTTPHeaderField: "Authorization")
        request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        request.setValue("gzip", forHTTPHeaderField: "Content-Encoding")
        request.setValue(configuration.userAgent, forHTTPHeaderField: "User-Agent")
        request.httpBody = Data(body)

        let data: Data
        let response: URLResponse
        do {
            (data, response) = try await session.data(for: request)
        } catch {
            let reason = "network error: \(explain(error))"
            configuration.logger.info("analytics: collector \(configuration.collectorURL) unreachable: \(reason)")
            return .retryLater(after: nil, reason: reason)
        }
        guard let http = response as? HTTPURLResponse else {
            return .retryLater(after: nil, reason: "the collector's response is not HTTP")
        }
        return Self.outcome(status: http.statusCode, retryAfter: http.value(forHTTPHeaderField: "Retry-After"), body: data)
    }

    /// Maps a response to what the flush should do with the batch.
    static func outcome(status: Int, retryAfter: String?, body: Data) -> DeliveryOutcome {
        switch status {
        case 200..<300:
            return .delivered
        case 413:
            return .tooLarge
        case 429, 500..<600:
            return .retryLater(after: RetryAfter.parse(retryAfter), reason: "the collector answered \(status)")
        default:
            // 1xx/3xx reaching here mean a misconfigured URL; like other 4xx,
            // repeating the request cannot succeed.
            let text = String(decoding: body.prefix(500), as: UTF8.self)
            return .rejected(status: status, message: text.isEmpty ? "HTTP \(status)" : text)
        }
    }

    /// A readable reason: Foundation's own text on Linux is often just
    /// "The operation could not be completed (NSURLErrorDomain error -1001)".
    private func explain(_ error: any Error) -> String {
        guard let urlError = error as? URLError else { return String(describing: error) }
        let what: String = switch urlError.code {
        case .timedOut: "no response within \(configuration.timeout)"
        case .cannotConnectToHost: "cannot connect to \(configuration.collectorURL.host ?? "the collector") (connection refused)"
        case .cannotFindHost, .dnsLookupFailed: "cannot resolve \(configuration.collectorURL.host ?? "the collector's host")"
        case .notConnectedToInternet: "the device is offline"
        case .networkConnectionLost: "the connection was lost"
        case .secureConnectionFailed, .serverCertificateUntrusted, .serverCertificateHasBadDate:
            "the TLS connection failed; check the collector's certificate"
        default: urlError.localizedDescription
        }
        return "\(what) (URLError \(urlError.code.rawValue))"
    }

    private static func seconds(_ duration: Duration) -> TimeInterval {
        let (seconds, attoseconds) = duration.components
        return TimeInterval(seconds) + TimeInterval(attoseconds) / 1e18
    }
}
