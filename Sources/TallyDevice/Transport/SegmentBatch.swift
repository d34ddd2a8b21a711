import Tally

/// The body of Segment's `POST /v1/batch`:
///
/// ```json
/// {"batch":[{"type":"track","event":"task_created","messageId":"0192f0c1-…",…}],"sentAt":"2026-11-23T13:08:18.000000Z"}
/// ```
///
/// `sentAt` lets the collector correct the device's clock skew
/// (timestamp = receivedAt − (sentAt − timestamp)). The write key does not travel
/// in the body: it is the HTTP Basic user, so it stays out of request logs that
/// record bodies.
public enum SegmentBatch {
    /// Bytes the envelope adds around the events: `{"batch":[`, the commas,
    /// `],"sentAt":"…"}`. Generous, so that size checks err on the safe side.
    static let envelopeBytes = 64

    /// The UTF-8 JSON body for `events`, stamped with `sentAt`.
    public static func body(for events: [EnrichedEvent], sentAt: Timestamp = .now()) -> [UInt8] {
        let value: JSONValue = .object([
            "batch": .array(events.map { .object($0.wireJSON) }),
            "sentAt": .string(sentAt.iso8601),
        ])
        var bytes: [UInt8] = []
        bytes.reserveCapacity(events.count * 512 + envelopeBytes)
        value.serialize(into: &bytes)
        return bytes
    }

    /// The size of one event in a batch body, in bytes (uncompressed), plus its comma.
    public static func encodedSize(of event: EnrichedEvent) -> Int {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(512)
        JSONValue.object(event.wireJSON).serialize(into: &bytes)
        return bytes.count + 1
    }
}
