import Foundation
import Network

/// A real HTTP server on 127.0.0.1 for tests (Network.framework): serves
/// `document` at `/config` and records POST bodies (for the metrics tests,
/// raw; gzip'd bodies are checked for size only).
final class LoopbackServer: @unchecked Sendable {
    private let listener: NWListener
    private let queue = DispatchQueue(label: "loopback")
    private let lock = NSLock()
    private var _document: Data?
    private var _posts: [(path: String, body: Data)] = []
    private var _configRequests = 0

    /// GET /config requests so far (any answer).
    var configRequests: Int {
        lock.lock(); defer { lock.unlock() }; return _configRequests
    }

    /// POSTs so far.
    var postCount: Int { posts.count }

    var document: Data? {
        get { lock.lock(); defer { lock.unlock() }; return _document }
        set { lock.lock(); _document = newValue; lock.unlock() }
    }

    var posts: [(path: String, body: Data)] {
        lock.lock(); defer { lock.unlock() }; return _posts
    }

    init() throws {
        let params = NWParameters.tcp
        params.requiredLocalEndpoint = NWEndpoint.hostPort(host: "127.0.0.1", port: .any)
        listener = try NWListener(using: params)
        listener.newConnectionHandler = { [weak self] connection in self?.serve(connection) }
        let ready = DispatchSemaphore(value: 0)
        listener.stateUpdateHandler = { if case .ready = $0 { ready.signal() } }
        listener.start(queue: queue)
        _ = ready.wait(timeout: .now() + 30)
    }

    var url: String { "http://127.0.0.1:\(listener.port?.rawValue ?? 0)" }

    private func serve(_ connection: NWConnection) {
        connection.start(queue: queue)
        var buffer = Data()
        func receive() {
            connection.receive(minimumIncompleteLength: 1, maximumLength: 1 << 20) { data, _, done, _ in
                if let data { buffer.append(data) }
                if let response = self.respond(to: buffer) {
                    connection.send(content: response, completion: .contentProcessed { _ in connection.cancel() })
                } else if !done {
                    receive()
                } else {
                    connection.cancel()
                }
            }
        }
        receive()
    }

    /// A response once `request` is complete, else nil.
    private func respond(to request: Data) -> Data? {
        guard let headerEnd = request.range(of: Data("\r\n\r\n".utf8)) else { return nil }
        let head = String(decoding: request[..<headerEnd.lowerBound], as: UTF8.self)
        let lines = head.components(separatedBy: "\r\n")
        let parts = lines.first?.split(separator: " ") ?? []
        guard parts.count >= 2 else { return Self.reply(400, Data()) }
        let length = lines.dropFirst()
            .first { $0.lowercased().hasPrefix("content-length:") }
            .flatMap { Int($0.split(separator: ":")[1].trimmingCharacters(in: .whitespaces)) } ?? 0
        let body = request[headerEnd.upperBound...]
        guard body.count >= length else { return nil }
        let method = String(parts[0])
        let path = String(parts[1])
        if method == "GET" && path == "/config" {
            lock.lock(); _configRequests += 1; lock.unlock()
            guard let doc = document else { return Self.reply(404, Data()) }
            return Self.reply(200, doc)
        }
        if method == "POST" {
            lock.lock(); _posts.append((path, Data(body.prefix(length)))); lock.unlock()
            return Self.reply(200, Data())
        }
        return Self.reply(405, Data())
    }

    private static func reply(_ status: Int, _ body: Data) -> Data {
        var out = Data("HTTP/1.1 \(status) X\r\nContent-Length: \(body.count)\r\nConnection: close\r\n\r\n".utf8)
        out.append(body)
        return out
    }

    deinit { listener.cancel() }
}
