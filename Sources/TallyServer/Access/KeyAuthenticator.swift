import Foundation
import Hummingbird
import Synchronization
import Tally

/// Finds the key a request carries and checks it may do what the route needs.
///
/// A key travels as the HTTP Basic user name with an empty password (what
/// Segment's SDKs send), as `Authorization: Bearer <key>`, or — for ingest only —
/// as `writeKey` in the body. Records are cached for a few seconds, so a busy
/// ingest does not look its key up per request; a revocation takes effect within
/// `cacheLifetime`.
public final class KeyAuthenticator: Sendable {
    let store: any APIKeyStore
    let cacheLifetime: Duration
    private let cache = Mutex<[String: (record: APIKeyRecord?, fetchedAt: ContinuousClock.Instant)]>([:])

    public init(store: any APIKeyStore, cacheLifetime: Duration = .seconds(5)) {
        self.store = store
        self.cacheLifetime = cacheLifetime
    }

    /// The key's stored record, when the request carries a valid key allowed to do `scope`.
    ///
    /// - Throws: ``APIError`` 401 when the key is missing, malformed, unknown or
    ///   revoked; 403 when it exists but has another scope.
    func require(_ scope: KeyScope, for request: Request, bodyWriteKey: String? = nil) async throws -> APIKeyRecord {
        guard let text = Self.credential(in: request) ?? bodyWriteKey, !text.isEmpty else {
            throw APIError(.unauthorized, code: "missing_key", """
                this route needs a \(scope.rawValue) key: send it as the HTTP Basic user name with an empty password, \
                or as 'Authorization: Bearer <key>'\(scope == .write ? ", or as writeKey in the body" : ""); \
                create one with 'tally keys create --service NAME --scope \(scope.rawValue)'
                """, headers: [.wwwAuthenticate: "Basic realm=\"tally\""])
        }
        guard let key = APIKey(text) else {
            throw APIError(.unauthorized, code: "invalid_key", """
                the key is not a Tally key (they look like tally_<scope>_<id>_<secret>); \
                create one with 'tally keys create --service NAME --scope \(scope.rawValue)'
                """, headers: [.wwwAuthenticate: "Basic realm=\"tally\""])
        }
        guard let record = try await record(id: key.id), key.matches(record) else {
            throw APIError(.unauthorized, code: "invalid_key",
                           "the key is unknown or revoked; 'tally keys list' shows the keys, 'tally keys create' makes a new one",
                           headers: [.wwwAuthenticate: "Basic realm=\"tally\""])
        }
        guard record.scope.permits(scope) else {
            throw APIError(.forbidden, code: "wrong_scope", """
                a \(record.scope.rawValue) key cannot \(scope == .write ? "send events" : scope == .read ? "read" : "answer privacy requests"); \
                use a \(scope.rawValue) key ('tally keys create --service NAME --scope \(scope.rawValue)')
                """)
        }
        return record
    }

    private func record(id: String) async throws -> APIKeyRecord? {
        let now = ContinuousClock.now
        if let cached = cache.withLock({ $0[id] }), now < cached.fetchedAt.advanced(by: cacheLifetime) {
            return cached.record
        }
        let record = try await store.key(id: id)
        cache.withLock { cache in
            if cache.count > 10_000 { cache.removeAll() }  // bounded whatever keys are tried
            cache[id] = (record, now)
        }
        return record
    }

    /// The key in the `Authorization` header: the Basic user name, or a Bearer token.
    static func credential(in request: Request) -> String? {
        guard let header = request.headers[.authorization] else { return nil }
        let parts = header.split(separator: " ", maxSplits: 1)
        guard parts.count == 2 else { return nil }
        switch parts[0].lowercased() {
        case "bearer":
            return String(parts[1]).trimmingCharacters(in: .whitespaces)
        case "basic":
            guard let data = Data(base64Encoded: String(parts[1]).trimmingCharacters(in: .whitespaces)) else { return nil }
            let pair = String(decoding: data, as: UTF8.self)
            return String(pair.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false).first ?? "")
        default:
            return nil
        }
    }
}
