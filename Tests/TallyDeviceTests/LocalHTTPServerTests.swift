import Foundation
import TallyTesting
import Testing

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The test server itself, driven over a raw socket, for the request shapes
/// URLSession does not send here (chunked bodies, `Expect: 100-continue`).
@Suite("Local HTTP server")
struct LocalHTTPServerTests {
    /// Sends `request` in pieces to 127.0.0.1:`port` and returns the whole response.
    static func exchange(port: Int, _ pieces: [String]) throws -> String {
        #if canImport(Glibc)
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        #else
        let fd = socket(AF_INET, SOCK_STREAM, 0)
        #endif
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port)).bigEndian
        address.sin_addr.s_addr = in_addr_t(0x7F00_0001).bigEndian
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else { throw POSIXError(.ECONNREFUSED) }
        for piece in pieces {
            let bytes = Array(piece.utf8)
            _ = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            usleep(20_000)
        }
        var response: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count <= 0 { break }
            response.append(contentsOf: chunk[..<count])
        }
        return String(decoding: response, as: UTF8.self)
    }

    @Test("answers in script order, repeats the last answer, and records each request")
    func script() throws {
        let server = try LocalHTTPServer(responses: [
            .init(status: 503, headers: [(name: "Retry-After", value: "2")]),
            .init(status: 200, body: "ok"),
        ])
        defer { server.stop() }

        let responses = try (0..<3).map { i in
            try Self.exchange(port: server.port, ["POST /v1/batch HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\n", "body\(i)"])
        }

        #expect(responses[0].hasPrefix("HTTP/1.1 503 "))
        #expect(responses[0].contains("Retry-After: 2\r\n"))
        #expect(responses[1].hasPrefix("HTTP/1.1 200 ") && responses[1].hasSuffix("\r\n\r\nok"))
        #expect(responses[2].hasPrefix("HTTP/1.1 200 "))
        #expect(server.requests.map(\.answeredStatus) == [503, 200, 200])
        #expect(server.requests.map { String(decoding: $0.body, as: UTF8.self) } == ["body0", "body1", "body2"])
        #expect(server.requests.allSatisfy { $0.method == "POST" && $0.path == "/v1/batch" && $0.header("host") == "x" })
    }

    @Test("a chunked body sent after 100-continue arrives whole")
    func chunkedWithContinue() throws {
        let server = try LocalHTTPServer(responses: [.init(status: 200)])
        defer { server.stop() }

        let response = try Self.exchange(port: server.port, [
            "POST /v1/batch HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nTransfer-Encoding: chunked\r\n\r\n",
            "5\r\nhello\r\n",
            "7;ext=1\r\n, world\r\n0\r\n\r\n",
        ])

        #expect(response.hasPrefix("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 "))
        #expect(server.requests.map { String(decoding: $0.body, as: UTF8.self) } == ["hello, world"])
    }

    @Test("after stop() the port refuses connections")
    func stop() throws {
        let server = try LocalHTTPServer(responses: [.init(status: 200)])
        server.stop()
        server.stop()  // harmless twice
        #expect(throws: POSIXError.self) { try Self.exchange(port: server.port, ["GET / HTTP/1.1\r\n\r\n"]) }
    }
}
