/// Rejects property keys and values that look like personal data: e-mail
/// addresses, phone numbers, IP addresses and auth tokens. On by default.
///
/// The checks are deliberately conservative heuristics: they catch the usual
/// accidents (an e-mail in an error message, a bearer token in a property) without
/// flagging ordinary identifiers, dates or version numbers.
///
/// ```swift
/// var policy = PIIPolicy.default
/// policy.allowedKeys.insert("support_email")   // a key you have reviewed
/// ```
public struct PIIPolicy: Sendable, Hashable {
    /// One kind of personal data.
    public enum Kind: String, Sendable, Hashable, CaseIterable, CustomStringConvertible {
        case email = "an e-mail address"
        case phoneNumber = "a phone number"
        case ipAddress = "an IP address"
        case authToken = "an auth token or secret"

        public var description: String { rawValue }
    }

    /// Whether the policy applies at all. Defaults to `true`.
    public var isEnabled: Bool = true
    /// The kinds checked for. Defaults to all of them.
    public var kinds: Set<Kind> = Set(Kind.allCases)
    /// Property keys exempted from every check (exact match). Defaults to none.
    public var allowedKeys: Set<String> = []

    public init() {}

    /// Every check on.
    public static let `default` = PIIPolicy()

    /// No checks: for data that was already screened.
    public static var disabled: PIIPolicy {
        var policy = PIIPolicy()
        policy.isEnabled = false
        return policy
    }

    /// The kind of personal data a property key names, if any (`email`, `phone_number`,
    /// `ip`, `access_token`, …).
    public func violation(inKey key: String) -> Kind? {
        guard isEnabled, allowedKeys.isEmpty || !allowedKeys.contains(key) else { return nil }
        guard let kind = Self.sensitiveKind(ofKey: key), kinds.contains(kind) else { return nil }
        return kind
    }

    /// The kind a key names once lowercased and without `_`, `-`, spaces and dots
    /// (`E-Mail` → `email`). This runs for every property key of every custom
    /// event, so an ASCII key — nearly all — is normalized into two integers on
    /// the stack and compared with the names', without allocating or hashing.
    static func sensitiveKind(ofKey key: String) -> Kind? {
        var normalized = NormalizedKey()
        for byte in key.utf8 {
            switch byte {
            case UInt8(ascii: "_"), UInt8(ascii: "-"), UInt8(ascii: " "), UInt8(ascii: "."):
                continue
            case 0x80...:
                // Lowercasing other scripts can yield ASCII (the Kelvin sign
                // gives "k"): the general path decides.
                return sensitiveKindOfNonASCIIKey(key)
            default:
                // Longer than every name: lowercasing what follows cannot shorten it.
                guard normalized.append(byte) else { return nil }
            }
        }
        return sensitiveKeyTable.first { $0.key == normalized }?.kind
    }

    private static func sensitiveKindOfNonASCIIKey(_ key: String) -> Kind? {
        let normalized = String(key.lowercased().unicodeScalars.filter { $0 != "_" && $0 != "-" && $0 != " " && $0 != "." })
        return sensitiveKeys.first { $0.names.contains(normalized) }?.kind
    }

    /// Up to 16 lowercased ASCII bytes, packed into two integers.
    private struct NormalizedKey: Equatable {
        private var low: UInt64 = 0
        private var high: UInt64 = 0
        private var count = 0

        /// Appends `byte`, lowercased; false when 16 bytes are there already.
        mutating func append(_ byte: UInt8) -> Bool {
            guard count < 16 else { return false }
            let lowered = UInt64(byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z") ? byte | 0x20 : byte)
            if count < 8 { low |= lowered << (8 * UInt64(count)) } else { high |= lowered << (8 * UInt64(count - 8)) }
            count += 1
            return true
        }
    }

    private static let sensitiveKeyTable: [(key: NormalizedKey, kind: Kind)] = sensitiveKeys.flatMap { kind, names in
        names.map { name in
            var key = NormalizedKey()
            for byte in name.utf8 { _ = key.append(byte) }
            return (key, kind)
        }
    }

    /// The kind of personal data a string value looks like, if any.
    public func violation(inValue value: String) -> Kind? {
        guard isEnabled else { return nil }
        // One pass without allocating rules out most values (ids, slugs, routes,
        // versions, short text) before any detailed check runs: every detector
        // below needs a feature this scan counts.
        var at = false, dots = 0, colons = 0, spaces = 0, digits = 0, plus = false, phoneShaped = true, delimiters = false
        // The first four bytes, little-endian, for the token-prefix check.
        var head: UInt32 = 0, length = 0
        for byte in value.utf8 {
            if length < 4 { head |= UInt32(byte) << (8 * UInt32(length)) }
            length += 1
            switch byte {
            case UInt8(ascii: "@"): at = true; phoneShaped = false
            case UInt8(ascii: "."): dots += 1
            case UInt8(ascii: ":"): colons += 1; phoneShaped = false
            case UInt8(ascii: " "): spaces += 1
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digits += 1
            case UInt8(ascii: "+"): plus = true
            case UInt8(ascii: "-"), UInt8(ascii: "("), UInt8(ascii: ")"), UInt8(ascii: "/"): break
            // Where a token can start inside a longer value (`key=ghp_…`, `"eyJ…"`).
            case UInt8(ascii: "="), UInt8(ascii: "\""), UInt8(ascii: "'"), UInt8(ascii: ","): delimiters = true; phoneShaped = false
            default: phoneShaped = false
            }
        }
        let mayBeEmail = at && dots > 0
        let mayBeIP = (dots >= 3 && digits >= 4) || colons >= 2
        let mayBePhone = (phoneShaped && digits >= 7 && (plus || digits == 10 || digits == 11)) || (plus && digits >= 8)
        let mayBeToken = spaces > 0 || delimiters || Self.hasTokenPrefix(value, head: head, length: length)
        if !mayBeEmail, !mayBeIP, !mayBePhone, !mayBeToken { return nil }
        let bytes = Array(value.utf8)
        if kinds.contains(.email), Self.containsEmail(bytes) { return .email }
        if kinds.contains(.authToken), Self.looksLikeToken(value, bytes) { return .authToken }
        if kinds.contains(.ipAddress), Self.containsIPAddress(value, bytes) { return .ipAddress }
        if kinds.contains(.phoneNumber), Self.looksLikePhoneNumber(bytes) { return .phoneNumber }
        return nil
    }

    /// Key names, normalized, by kind; none longer than 16 bytes.
    private static let sensitiveKeys: [(kind: Kind, names: Set<String>)] = [
        (.email, ["email", "emailaddress", "mail", "useremail"]),
        (.phoneNumber, ["phone", "phonenumber", "mobile", "mobilenumber", "tel", "telephone"]),
        (.ipAddress, ["ip", "ipaddress", "ipv4", "ipv6", "remoteaddr", "clientip"]),
        (.authToken, ["password", "passwd", "token", "accesstoken", "refreshtoken", "authtoken", "idtoken",
                      "apikey", "secret", "clientsecret", "authorization", "bearer", "sessiontoken", "cookie"]),
    ]

    // MARK: e-mail: local@domain.tld anywhere in the text

    private static func containsEmail(_ b: [UInt8]) -> Bool {
        for (at, byte) in b.enumerated() where byte == UInt8(ascii: "@") {
            var start = at
            while start > 0, isEmailLocalByte(b[start - 1]) { start -= 1 }
            guard start < at else { continue }
            var end = at + 1
            var sawDot = false
            while end < b.count, isDomainByte(b[end]) {
                if b[end] == UInt8(ascii: ".") { sawDot = true }
                end += 1
            }
            // The domain needs a dot that is not its last character, and a top-level
            // domain of letters (so `swift-log@1.16.2` is not an address).
            while end > at + 1, b[end - 1] == UInt8(ascii: ".") { end -= 1 }
            guard sawDot, let lastDot = b[at + 1..<end].lastIndex(of: UInt8(ascii: ".")) else { continue }
            let tld = b[(lastDot + 1)..<end]
            if tld.count >= 2, tld.allSatisfy({ isAlphanumeric($0) && !isDigit($0) }) { return true }
        }
        return false
    }

    private static func isEmailLocalByte(_ c: UInt8) -> Bool {
        isAlphanumeric(c) || "._%+-".utf8.contains(c)
    }

    private static func isDomainByte(_ c: UInt8) -> Bool {
        isAlphanumeric(c) || c == UInt8(ascii: ".") || c == UInt8(ascii: "-")
    }

    // MARK: phone numbers: +CC… or NANP-style 3-3-4 groups

    private static func looksLikePhoneNumber(_ b: [UInt8]) -> Bool {
        if looksLikeWholePhoneNumber(b) { return true }
        // An international number inside text: `+` then 8–15 digits with separators.
        for (i, byte) in b.enumerated() where byte == UInt8(ascii: "+") {
            var digits = 0
            var j = i + 1
            while j < b.count, isDigit(b[j]) || " -.()".utf8.contains(b[j]) {
                if isDigit(b[j]) { digits += 1 }
                j += 1
            }
            if (8...15).contains(digits) { return true }
        }
        return false
    }

    private static func looksLikeWholePhoneNumber(_ b: [UInt8]) -> Bool {
        let separators = " -.()/".utf8
        var trimmed = b[...]
        while let first = trimmed.first, first == UInt8(ascii: " ") { trimmed = trimmed.dropFirst() }
        while let last = trimmed.last, last == UInt8(ascii: " ") { trimmed = trimmed.dropLast() }
        guard !trimmed.isEmpty else { return false }
        let international = trimmed.first == UInt8(ascii: "+")
        let body = international ? trimmed.dropFirst() : trimmed
        guard body.allSatisfy({ isDigit($0) || separators.contains($0) }) else { return false }
        let digits = body.filter(isDigit)
        if international { return (8...15).contains(digits.count) }
        // (555) 123-4567, 555-123-4567, 555.123.4567, 555 123 4567
        let groups = body.split(whereSeparator: { separators.contains($0) }).map(\.count)
        return groups == [3, 3, 4] || groups == [1, 3, 3, 4]
    }

    // MARK: IP addresses: dotted quads and IPv6 with at least two colons

    private static func containsIPAddress(_ s: String, _ b: [UInt8]) -> Bool {
        let tokens = s.split(whereSeparator: { $0 == " " || $0 == "," || $0 == ";" || $0 == "=" || $0 == "\"" || $0 == "'" })
        for token in tokens {
            let t = token.hasPrefix("[") ? token.dropFirst().prefix(while: { $0 != "]" }) : token[...]
            if isIPv4(t) || isIPv6(t) { return true }
            // host:port
            if let colon = t.lastIndex(of: ":"), isIPv4(t[..<colon]) { return true }
        }
        return false
    }

    private static func isIPv4(_ s: Substring) -> Bool {
        let parts = s.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4 else { return false }
        return parts.allSatisfy { part in
            guard (1...3).contains(part.count), part.utf8.allSatisfy(isDigit), let n = Int(part) else { return false }
            return n <= 255
        }
    }

    private static func isIPv6(_ s: Substring) -> Bool {
        guard s.utf8.count >= 3, s.utf8.count <= 45 else { return false }
        let colons = s.utf8.filter { $0 == UInt8(ascii: ":") }.count
        guard colons >= 2, colons <= 7 else { return false }
        let groups = s.split(separator: ":", omittingEmptySubsequences: false)
        if s.contains("::") == false, groups.count != 8 { return false }
        var sawHexDigit = false
        for (i, group) in groups.enumerated() {
            if group.isEmpty { continue }
            if i == groups.count - 1, isIPv4(group) { sawHexDigit = true; continue }
            guard group.count <= 4, group.utf8.allSatisfy(isHexDigit) else { return false }
            sawHexDigit = true
        }
        return sawHexDigit
    }

    // MARK: tokens: bearer/basic credentials, JWTs, well-known key prefixes

    private static let tokenPrefixes = [
        "ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_", "glpat-", "sk_live_", "sk_test_", "rk_live_",
        "xoxb-", "xoxp-", "xoxa-", "xoxs-", "AKIA", "ASIA", "AIza", "sk-",
    ]

    /// A prefix's first (up to) four bytes as an integer and a mask, so most
    /// values are ruled out by a few integer compares: this check runs on every
    /// string of every event.
    private struct Prefix: Sendable {
        let bytes: [UInt8]
        let head: UInt32
        let mask: UInt32

        init(_ text: String) {
            bytes = Array(text.utf8)
            var head: UInt32 = 0, mask: UInt32 = 0
            for (index, byte) in bytes.prefix(4).enumerated() {
                head |= UInt32(byte) << (8 * UInt32(index))
                mask |= 0xFF << (8 * UInt32(index))
            }
            self.head = head
            self.mask = mask
        }
    }

    /// The token prefixes, and `eyJ` (a JWT's `{"`).
    private static let prefixTable = (tokenPrefixes + ["eyJ"]).map(Prefix.init)

    private static func hasTokenPrefix(_ value: String, head: UInt32, length: Int) -> Bool {
        for prefix in prefixTable where head & prefix.mask == prefix.head && length >= prefix.bytes.count {
            if prefix.bytes.count <= 4 || value.utf8.starts(with: prefix.bytes) { return true }
        }
        return false
    }

    private static func looksLikeToken(_ s: String, _ b: [UInt8]) -> Bool {
        // "Bearer <credential>" / "Basic <credential>": the scheme followed by a long
        // token-shaped word, so prose like "Missing bearer token" does not count.
        let words = s.split(separator: " ")
        for (i, word) in words.enumerated().dropLast() where ["bearer", "basic"].contains(word.lowercased()) {
            let credential = words[i + 1]
            let hasDigit = credential.utf8.contains(where: isDigit)
            if credential.count >= (hasDigit ? 8 : 20), credential.utf8.allSatisfy({ isBase64URLByte($0) || $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "=") || $0 == UInt8(ascii: "+") || $0 == UInt8(ascii: "/") }) {
                return true
            }
        }
        for token in s.split(whereSeparator: { $0 == " " || $0 == "=" || $0 == "\"" || $0 == "'" || $0 == "," }) {
            // A JWT: three base64url segments, the first starting with `eyJ` ({").
            let segments = token.split(separator: ".", omittingEmptySubsequences: false)
            if segments.count == 3, token.hasPrefix("eyJ"), segments.allSatisfy({ $0.count >= 4 && $0.utf8.allSatisfy(isBase64URLByte) }) {
                return true
            }
            for prefix in tokenPrefixes where token.hasPrefix(prefix) {
                let rest = token.dropFirst(prefix.count)
                if rest.count >= 16, rest.utf8.allSatisfy(isBase64URLByte) { return true }
            }
        }
        return false
    }

    private static func isDigit(_ c: UInt8) -> Bool { c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9") }
    private static func isAlphanumeric(_ c: UInt8) -> Bool {
        isDigit(c) || (c >= UInt8(ascii: "a") && c <= UInt8(ascii: "z")) || (c >= UInt8(ascii: "A") && c <= UInt8(ascii: "Z"))
    }
    private static func isHexDigit(_ c: UInt8) -> Bool {
        isDigit(c) || (c >= UInt8(ascii: "a") && c <= UInt8(ascii: "f")) || (c >= UInt8(ascii: "A") && c <= UInt8(ascii: "F"))
    }
    private static func isBase64URLByte(_ c: UInt8) -> Bool {
        isAlphanumeric(c) || c == UInt8(ascii: "-") || c == UInt8(ascii: "_")
    }
}
