import Hummingbird
import Tally

/// Every failure a route reports: a status and a message that says what was
/// wrong and what to do, as `{"error":{"code":"…","message":"…"}}`.
public struct APIError: HTTPResponseError, CustomStringConvertible {
    public var status: HTTPResponse.Status
    /// A stable, machine-readable code, e.g. `invalid_parameter`.
    public var code: String
    public var message: String
    public var headers: HTTPFields = [:]

    public init(_ status: HTTPResponse.Status, code: String, _ message: String, headers: HTTPFields = [:]) {
        self.status = status; self.code = code; self.message = message; self.headers = headers
    }

    public var description: String { "\(status.code) \(code): \(message)" }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        var response = JSONResponse.make(["error": ["code": .string(code), "message": .string(message)]], status: status)
        response.headers.append(contentsOf: headers)
        return response
    }

    static func badParameter(_ name: String, _ problem: String) -> APIError {
        APIError(.badRequest, code: "invalid_parameter", "query parameter '\(name)' \(problem)")
    }
}

/// JSON responses written with Tally's own serializer (Foundation's is slow on Linux).
enum JSONResponse {
    static func make(_ value: JSONValue, status: HTTPResponse.Status = .ok) -> Response {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(1024)
        value.serialize(into: &bytes)
        bytes.append(UInt8(ascii: "\n"))
        return Response(status: status, headers: [.contentType: "application/json; charset=utf-8"],
                        body: ResponseBody(byteBuffer: ByteBuffer(bytes: bytes)))
    }
}

extension Timestamp {
    /// `YYYY-MM-DD` for day buckets, full ISO-8601 otherwise.
    var jsonDay: JSONValue { .string(dateString) }
    var jsonTime: JSONValue { .string(iso8601) }
}

extension Optional where Wrapped == Double {
    var json: JSONValue { map { .double($0) } ?? .null }
}
