import TallyDevice
import Testing

@Suite("Flush backoff")
struct FlushBackoffTests {
    @Test("grows exponentially up to the maximum, jittered, never below Retry-After")
    func delays() {
        var backoff = FlushBackoff()
        backoff.initialDelay = .seconds(1)
        backoff.maximumDelay = .seconds(60)
        backoff.jitter = 0.5
        var rng = SystemRandomNumberGenerator()
        for failures in 1...12 {
            let ceiling = min(Duration.seconds(1 << (failures - 1)), .seconds(60))
            for _ in 0..<50 {
                let delay = backoff.delay(afterFailures: failures, retryAfter: nil, using: &rng)
                #expect(delay <= ceiling && delay >= ceiling / 2)
            }
        }
        #expect(backoff.delay(afterFailures: 1, retryAfter: .seconds(30), using: &rng) == .seconds(30))
        #expect(backoff.delay(afterFailures: 1_000, retryAfter: nil, using: &rng) <= .seconds(60))
    }
}
