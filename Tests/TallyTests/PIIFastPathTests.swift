import Tally
import Testing

/// The PII policy first rules values out with one cheap scan; these make sure the
/// scan never rules out a value a detector would catch.
@Suite("PII screening fast path")
struct PIIFastPathTests {
    @Test("personal data inside longer values is still caught", arguments: [
        ("auth=ghp_0123456789abcdefghij0123", PIIPolicy.Kind.authToken),
        (#"{"t":"eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.c2lnbmF0dXJl"}"#, .authToken),
        ("Authorization: Bearer 4f9a8b7c6d5e4f3a", .authToken),
        ("call +1 415 555 0100 now", .phoneNumber),
        ("+4915112345678", .phoneNumber),
        ("555.123.4567", .phoneNumber),
        ("client 192.168.10.4 retried", .ipAddress),
        ("[2001:db8::1]:443", .ipAddress),
        ("mail jane.doe@example.org please", .email),
    ])
    func caught(value: String, kind: PIIPolicy.Kind) {
        #expect(PIIPolicy.default.violation(inValue: value) == kind)
    }

    @Test("ordinary identifiers, routes and versions pass without a detailed check", arguments: [
        "u_3f9c2a7e5b1d4c6f8a0b2c4d6e8f0a1b", "0192f0c1-7b3a-7cde-8f01-23456789abcd", "/v1/tasks/:id",
        "2.14.0", "t_8f3k2m", "2026-11-23T13:08:17.123456Z", "swift test --parallel", "exit code 1: 3 tests failed",
    ])
    func passes(value: String) {
        #expect(PIIPolicy.default.violation(inValue: value) == nil)
    }
}
