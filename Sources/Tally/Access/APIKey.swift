import Crypto

/// What an API key may do (DESIGN.md §6): a write key sends events for its
/// service and cannot read; a read key queries and cannot write; an admin key
/// reads and answers privacy requests.
public enum KeyScope: String, Sendable, Hashable, CaseIterable {
    case write, read, admin

    /// Whether a key of this scope may do what `needed` allows.
    public func permits(_ needed: KeyScope) -> Bool {
        switch (self, needed) {
        case (.write, .write), (.read, .read), (.admin, .read), (.admin, .admin): true
        default: false
        }
    }
}

/// A key as stored: never the secret, only its SHA-256.
public struct APIKeyRecord: Sendable, Hashable {
    /// The public part of the key, which also names it in `tally keys list`.
    public var id: String
    public var service: String
    public var scope: KeyScope
    public var secretHash: [UInt8]
    public var createdAt: Timestamp
    public var revokedAt: Timestamp?

    public init(id: String, service: String, scope: KeyScope, secretHash: [UInt8], createdAt: Timestamp, revokedAt: Timestamp? = nil) {
        self.id = id; self.service = service; self.scope = scope; self.secretHash = secretHash
        self.createdAt = createdAt; self.revokedAt = revokedAt
    }
}

/// A key as handed to its user once, at creation: `tally_<scope>_<id>_<secret>`,
/// e.g. `tally_write_3k9x2m4q8w1z_Vf…`. Only letters, digits and `_`, so it fits
/// in a Basic-auth user name and a URL.
public struct APIKey: Sendable, Hashable, CustomStringConvertible {
    public let id: String
    public let scope: KeyScope
    public let secret: String

    public var description: String { "tally_\(scope.rawValue)_\(id)_\(secret)" }

    /// A new random key.
    public static func generate(scope: KeyScope) -> APIKey {
        var rng = SystemRandomNumberGenerator()
        return APIKey(id: randomText(12, using: &rng), scope: scope, secret: randomText(32, using: &rng))
    }

    private static let alphabet = Array("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ".utf8)
    private static func randomText(_ length: Int, using rng: inout some RandomNumberGenerator) -> String {
        String(decoding: (0..<length).map { _ in alphabet[Int.random(in: 0..<alphabet.count, using: &rng)] }, as: UTF8.self)
    }

    /// Parses a key's text; `nil` when it does not have the key's shape.
    public init?(_ text: some StringProtocol) {
        let parts = text.split(separator: "_", omittingEmptySubsequences: false)
        guard parts.count == 4, parts[0] == "tally", let scope = KeyScope(rawValue: String(parts[1])),
              parts[2].utf8.count == 12, parts[3].utf8.count == 32 else { return nil }
        self.init(id: String(parts[2]), scope: scope, secret: String(parts[3]))
    }

    init(id: String, scope: KeyScope, secret: String) {
        self.id = id; self.scope = scope; self.secret = secret
    }

    public var secretHash: [UInt8] { Self.hash(secret) }

    public func record(service: String, createdAt: Timestamp = .now()) -> APIKeyRecord {
        APIKeyRecord(id: id, service: service, scope: scope, secretHash: secretHash, createdAt: createdAt)
    }

    static func hash(_ secret: String) -> [UInt8] { Array(SHA256.hash(data: Array(secret.utf8))) }

    /// Whether this key is the one `record` stores: same scope, not revoked, and a
    /// secret whose hash matches, compared in constant time.
    public func matches(_ record: APIKeyRecord) -> Bool {
        let computed = secretHash
        guard record.secretHash.count == computed.count else { return false }
        var difference: UInt8 = 0
        for (a, b) in zip(computed, record.secretHash) { difference |= a ^ b }
        return difference == 0 && record.id == id && record.scope == scope && record.revokedAt == nil
    }
}

/// Where keys are kept: a table in the same database as the events.
public protocol APIKeyStore: Sendable {
    func insert(_ record: APIKeyRecord) async throws
    /// Every key, revoked ones included, oldest first.
    func keys() async throws -> [APIKeyRecord]
    func key(id: String) async throws -> APIKeyRecord?
    /// Marks the key revoked; `false` when there is no such key (or it was already revoked).
    func revoke(id: String, at time: Timestamp) async throws -> Bool
}
