import Crypto

/// Turns a raw identifier (an account id, an e-mail) into a stable opaque one, so
/// no raw id is ever tracked: a keyed HMAC-SHA256, truncated to 128 bits.
///
/// The same key always maps the same input to the same pseudonym; without the key
/// the pseudonym cannot be reversed or recomputed. Keep the key secret and stable.
///
/// ```swift
/// let pseudonymizer = Pseudonymizer(key: secretKeyBytes)
/// let userID = pseudonymizer.pseudonym(for: account.email)   // "u_3f9c…" (34 characters)
/// ```
public struct Pseudonymizer: Sendable {
    // Kept as bytes: Crypto's SymmetricKey is not Sendable.
    private let key: [UInt8]
    /// Put before the hex digest, e.g. `u_`. Defaults to `u_`.
    public var prefix: String

    /// - Parameter key: at least 16 random bytes.
    /// - Precondition: the key has at least 16 bytes.
    public init(key: some Collection<UInt8>, prefix: String = "u_") {
        precondition(key.count >= 16, "a pseudonymizer key needs at least 16 bytes of secret")
        self.key = Array(key)
        self.prefix = prefix
    }

    public func pseudonym(for rawID: String) -> String {
        let mac = HMAC<SHA256>.authenticationCode(for: Array(rawID.utf8), using: SymmetricKey(data: key))
        var text = prefix
        text.reserveCapacity(prefix.utf8.count + 32)
        for byte in Array(mac).prefix(16) {
            text.append(Self.hex[Int(byte >> 4)])
            text.append(Self.hex[Int(byte & 0xF)])
        }
        return text
    }

    private static let hex: [Character] = Array("0123456789abcdef")
}
