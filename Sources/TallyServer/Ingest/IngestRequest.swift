import Tally
import TallyGzip

/// One ingest request body, read and parsed: bounded in size before and after
/// gzip, then split into its messages with the batch-level fields beside them.
struct IngestRequest {
    /// The messages, as sent (a single-message route has one).
    var messages: [JSONValue]
    /// How many bytes of JSON each message took, as sent.
    var messageSizes: [Int]
    var writeKey: String?
    /// The batch's `sentAt`: when the device sent it, by the device's clock.
    var sentAt: Timestamp?
    /// The batch-level `context`, merged under each message's own.
    var context: JSONObject

    /// Segment's limit for a whole request (DESIGN.md §6).
    static let maxBodyBytes = 500 * 1024

    /// Parses `body` for `route`.
    ///
    /// - Throws: ``APIError`` 413 when the body, or what it inflates to, is over
    ///   500 KB; 400 for bad gzip, malformed JSON (with its line, column and
    ///   byte) or a body of the wrong shape.
    static func parse(_ body: [UInt8], gzipped: Bool, route: IngestRoute) throws(APIError) -> IngestRequest {
        var bytes = body
        if gzipped {
            do {
                bytes = try Gzip.decompress(body, maxOutputBytes: maxBodyBytes)
            } catch where error.code == .outputTooLarge {
                throw tooLarge(decompressed: true)
            } catch {
                throw APIError(.badRequest, code: "invalid_gzip", "the body is marked Content-Encoding: gzip but \(error); send valid gzip or drop the header")
            }
        }
        let document: JSONValue
        let batchSizes: [Int]
        do {
            (document, batchSizes) = try JSONValue.parse(bytes, maxDepth: 32, measuringElementsOf: route == .batch ? "batch" : nil)
        } catch {
            throw APIError(.badRequest, code: "malformed_json", "the body is not valid JSON: \(error)")
        }
        guard case .object(let object) = document else {
            throw APIError(.badRequest, code: "invalid_body", "the body must be a JSON object, not \(document.typeName)")
        }
        let writeKey = object["writeKey"]?.stringValue
        let sentAt = try time(object["sentAt"], field: "sentAt")
        guard route == .batch else {
            return IngestRequest(messages: [document], messageSizes: [bytes.count], writeKey: writeKey, sentAt: sentAt, context: [:])
        }
        guard case .array(let messages)? = object["batch"] else {
            throw APIError(.badRequest, code: "invalid_body",
                           "a /v1/batch body needs \"batch\": an array of messages, e.g. {\"batch\":[{\"type\":\"track\",\"event\":\"…\"}]}")
        }
        let context: JSONObject
        switch object["context"] {
        case nil, .null?: context = [:]
        case .object(let c)?: context = c
        case let other?: throw APIError(.badRequest, code: "invalid_body", "the batch's \"context\" must be an object, not \(other.typeName)")
        }
        // The sizes are those of the last "batch" member, which `object` holds.
        precondition(batchSizes.count == messages.count, "the parser measured \(batchSizes.count) of \(messages.count) messages")
        return IngestRequest(messages: messages, messageSizes: batchSizes, writeKey: writeKey, sentAt: sentAt, context: context)
    }

    static func tooLarge(decompressed: Bool) -> APIError {
        APIError(.contentTooLarge, code: "body_too_large", """
            the request body\(decompressed ? " decompresses to" : " is") more than 500 KB; \
            send at most 500 KB per request (and 32 KB per event) — split the batch
            """)
    }

    static func time(_ value: JSONValue?, field: String) throws(APIError) -> Timestamp? {
        switch value {
        case nil, .null?: return nil
        case .string(let text)?:
            guard let time = Timestamp(iso8601: text) else {
                throw APIError(.badRequest, code: "invalid_body", "\"\(field)\" must be an ISO-8601 date-time such as 2026-11-23T13:08:17.123Z")
            }
            return time
        case let other?:
            throw APIError(.badRequest, code: "invalid_body", "\"\(field)\" must be an ISO-8601 string, not \(other.typeName)")
        }
    }
}

/// The Segment HTTP API's routes.
enum IngestRoute: String, CaseIterable, Sendable {
    case batch, track, identify, page, screen, group, alias
}
