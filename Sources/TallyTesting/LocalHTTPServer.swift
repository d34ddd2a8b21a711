import Dispatch
import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A real, minimal HTTP/1.1 server on a loopback TCP socket, for testing HTTP
/// clients against real sockets rather than mocks.
///
/// It answers from a script: the n-th request gets the n-th response, and the
/// last one repeats. Every request is recorded (method, path, headers, raw body)
/// with the status it was answered. One connection at a time, each closed after
/// its response (`Connection: close`), on a dedicated thread so that the blocking
/// socket calls never occupy Swift's cooperative pool.
///
/// ```swift
/// let server = try LocalHTTPServer(responses: [.init(status: 500), .init(status: 200)])
/// defer { server.stop() }
/// // point the client at server.baseURL, then:
/// #expect(server.requests.map(\.answeredStatus) == [500, 200])
/// ```
public final class LocalHTTPServer: Sendable {
    /// One scripted answer.
    public struct Response: Sendable {
        public var status: Int
        public var headers: [(name: String, value: String)]
        public var body: [UInt8]
        /// How long to wait before answering, to test timeouts and in-flight states.
        public var delay: Duration

        public init(status: Int, headers: [(name: String, value: String)] = [], body: String = "", delay: Duration = .zero) {
            self.status = status
            self.headers = headers
            self.body = Array(body.utf8)
            self.delay = delay
        }
    }

    /// One request as it arrived.
    public struct Request: Sendable {
        public var method: String
        /// The request target, e.g. `/v1/batch`.
        public var path: String
        public var headers: [(name: String, value: String)]
        /// The body as sent (still compressed if it was), de-chunked.
        public var body: [UInt8]
        /// The status the server answered it with.
        public var answeredStatus: Int

        /// The first header named `name`, compared case-insensitively.
        public func header(_ name: String) -> String? {
            headers.first { $0.name.lowercased() == name.lowercased() }?.value
        }
    }

    public struct StartError: Error, CustomStringConvertible {
        public var description: String
    }

    private struct State {
        var script: [Response]
        var requests: [Request] = []
        var stopping = false
        var stopped = false
    }

    /// The port the kernel chose on 127.0.0.1.
    public let port: Int
    private let listener: Int32
    private let state: Mutex<State>
    private let finished = DispatchSemaphore(value: 0)

    /// Starts listening on 127.0.0.1 on a free port and serving on a new thread.
    ///
    /// - Parameter responses: The script; must not be empty.
    public init(responses: [Response]) throws {
        precondition(!responses.isEmpty, "LocalHTTPServer needs at least one scripted response")
        state = Mutex(State(script: responses))
        #if canImport(Glibc)
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        #else
        let fd = socket(AF_INET, SOCK_STREAM, 0)
        #endif
        guard fd >= 0 else { throw StartError(description: "socket() failed: errno \(errno)") }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr.s_addr = in_addr_t(0x7F00_0001).bigEndian
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, listen(fd, 16) == 0 else {
            let code = errno
            close(fd)
            throw StartError(description: "bind/listen on 127.0.0.1 failed: errno \(code)")
        }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        listener = fd
        port = Int(UInt16(bigEndian: address.sin_port))
        let thread = Thread { [self] in serve() }
        thread.name = "LocalHTTPServer:\(port)"
        thread.start()
    }

    /// `http://127.0.0.1:<port>`.
    public var baseURL: URL { URL(string: "http://127.0.0.1:\(port)")! }

    /// Every request so far, in arrival order.
    public var requests: [Request] { state.withLock { $0.requests } }

    /// Replaces the script and forgets the requests so far: the next request gets
    /// the new script's first response.
    public func respond(with responses: [Response]) {
        precondition(!responses.isEmpty)
        state.withLock {
            $0.script = responses
            $0.requests = []
        }
    }

    /// Stops serving and closes the listening socket; new connections are then
    /// refused. Waits for the serving thread to finish. Safe to call twice.
    public func stop() {
        let first = state.withLock { state -> Bool in
            defer { state.stopping = true }
            return !state.stopping
        }
        guard first else { return }
        finished.wait()
    }

    // MARK: - Serving (on the dedicated thread)

    private func serve() {
        while !state.withLock({ $0.stopping }) {
            // Poll with a short timeout rather than block in accept(): closing a
            // socket does not reliably wake a thread blocked on it.
            var pollDescriptor = pollfd(fd: listener, events: Int16(POLLIN), revents: 0)
            guard poll(&pollDescriptor, 1, 20) > 0 else { continue }
            let connection = accept(listener, nil, nil)
            guard connection >= 0 else { continue }
            handle(connection)
            close(connection)
        }
        close(listener)
        finished.signal()
    }

    private func handle(_ connection: Int32) {
        // A client that stops sending must not hang the server forever.
        var timeout = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(connection, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        #if canImport(Darwin)
        var one: Int32 = 1
        setsockopt(connection, SOL_SOCKET, SO_NOSIGPIPE, &one, socklen_t(MemoryLayout<Int32>.size))
        #endif

        var buffer: [UInt8] = []
        var headEnd: Int?
        while headEnd == nil {
            guard receive(connection, into: &buffer) else { return }
            headEnd = Self.find([13, 10, 13, 10], in: buffer)
        }
        guard let headEnd else { return }
        let head = String(decoding: buffer[..<headEnd], as: UTF8.self)
        var lines = head.components(separatedBy: "\r\n")
        let requestLine = lines.removeFirst().split(separator: " ")
        guard requestLine.count >= 2 else { return }
        let headers: [(name: String, value: String)] = lines.compactMap { line in
            guard let colon = line.firstIndex(of: ":") else { return nil }
            return (String(line[..<colon]), line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces))
        }
        func header(_ name: String) -> String? { headers.first { $0.name.lowercased() == name }?.value }

        if header("expect")?.lowercased() == "100-continue" {
            send(connection, Array("HTTP/1.1 100 Continue\r\n\r\n".utf8))
        }
        var body = Array(buffer[(headEnd + 4)...])
        if let length = header("content-length").flatMap({ Int($0) }) {
            while body.count < length {
                guard receive(connection, into: &body) else { return }
            }
            body = Array(body.prefix(length))
        } else if header("transfer-encoding")?.lowercased() == "chunked" {
            var decoded = Self.dechunk(body)
            while decoded == nil {
                guard receive(connection, into: &body) else { return }
                decoded = Self.dechunk(body)
            }
            body = decoded ?? []
        }

        let response = state.withLock { state -> Response in
            let response = state.script[min(state.requests.count, state.script.count - 1)]
            state.requests.append(Request(method: String(requestLine[0]), path: String(requestLine[1]),
                                          headers: headers, body: body, answeredStatus: response.status))
            return response
        }
        if response.delay > .zero {
            let (seconds, attoseconds) = response.delay.components
            usleep(UInt32(seconds * 1_000_000 + attoseconds / 1_000_000_000_000))
        }
        var text = "HTTP/1.1 \(response.status) \(Self.reason(response.status))\r\n"
        text += "Content-Length: \(response.body.count)\r\nConnection: close\r\n"
        for (name, value) in response.headers { text += "\(name): \(value)\r\n" }
        text += "\r\n"
        send(connection, Array(text.utf8) + response.body)
        shutdown(connection, Int32(SHUT_WR))
    }

    /// Appends what arrives to `buffer`; `false` on end of stream, error or timeout.
    private func receive(_ connection: Int32, into buffer: inout [UInt8]) -> Bool {
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        let count = chunk.withUnsafeMutableBytes { recv(connection, $0.baseAddress, $0.count, 0) }
        guard count > 0 else { return false }
        buffer.append(contentsOf: chunk[..<count])
        return true
    }

    private func send(_ connection: Int32, _ bytes: [UInt8]) {
        #if canImport(Glibc)
        let flags = Int32(MSG_NOSIGNAL)
        #else
        let flags: Int32 = 0
        #endif
        var offset = 0
        while offset < bytes.count {
            let sent = bytes.withUnsafeBytes { systemSend(connection, $0.baseAddress! + offset, bytes.count - offset, flags) }
            guard sent > 0 else { return }
            offset += sent
        }
    }

    private static func find(_ needle: [UInt8], in haystack: [UInt8]) -> Int? {
        guard haystack.count >= needle.count else { return nil }
        for start in 0...(haystack.count - needle.count) where haystack[start..<start + needle.count].elementsEqual(needle) {
            return start
        }
        return nil
    }

    /// The body of a complete chunked message, or `nil` when more must arrive.
    private static func dechunk(_ bytes: [UInt8]) -> [UInt8]? {
        var output: [UInt8] = []
        var index = 0
        while true {
            guard let lineEnd = find([13, 10], in: Array(bytes[index...])) else { return nil }
            let sizeText = String(decoding: bytes[index..<index + lineEnd], as: UTF8.self).split(separator: ";").first ?? ""
            guard let size = Int(sizeText.trimmingCharacters(in: .whitespaces), radix: 16) else { return nil }
            index += lineEnd + 2
            if size == 0 { return output }
            guard bytes.count >= index + size + 2 else { return nil }
            output.append(contentsOf: bytes[index..<index + size])
            index += size + 2
        }
    }

    private static func reason(_ status: Int) -> String {
        switch status {
        case 200: "OK"
        case 400: "Bad Request"
        case 413: "Content Too Large"
        case 429: "Too Many Requests"
        case 500: "Internal Server Error"
        case 503: "Service Unavailable"
        default: "Status"
        }
    }
}

#if canImport(Glibc)
private func systemSend(_ fd: Int32, _ buffer: UnsafeRawPointer, _ count: Int, _ flags: Int32) -> Int {
    Glibc.send(fd, buffer, count, flags)
}
#else
private func systemSend(_ fd: Int32, _ buffer: UnsafeRawPointer, _ count: Int, _ flags: Int32) -> Int {
    Darwin.send(fd, buffer, count, flags)
}
#endif
