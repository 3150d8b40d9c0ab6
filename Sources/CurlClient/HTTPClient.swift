import Foundation
import NIOPosix

/// An HTTP request for `CurlHTTPClient`.
public struct HTTPClientRequest: Sendable {
    public var url: String
    public var method: String
    public var headers: [(name: String, value: String)]
    public var body: [UInt8]?
    /// Whole-transfer limit.
    public var timeout: Duration
    /// Responses larger than this fail with `.responseTooLarge`.
    public var maxResponseBytes: Int
    /// Connect only to public unicast addresses (`PublicAddress`), pinned after the
    /// check, with no proxy: for URLs a tenant chose. Refusals throw `.addressNotAllowed`.
    public var publicAddressesOnly = false

    public init(
        url: String, method: String = "GET", headers: [(name: String, value: String)] = [], body: [UInt8]? = nil,
        timeout: Duration = .seconds(10), maxResponseBytes: Int = 16 << 20
    ) {
        self.url = url
        self.method = method
        self.headers = headers
        self.body = body
        self.timeout = timeout
        self.maxResponseBytes = maxResponseBytes
    }
}

/// A complete HTTP response.
public struct HTTPClientResponse: Sendable {
    public var status: Int
    /// Header lines of the final response, names as sent.
    public var headers: [(name: String, value: String)]
    public var body: [UInt8]

    /// The first value of a header, by case-insensitive name.
    public func header(_ name: String) -> String? {
        headers.first { $0.name.caseInsensitiveCompare(name) == .orderedSame }?.value
    }

    /// The body as UTF-8 text.
    public var text: String { String(decoding: body, as: UTF8.self) }
}

/// A failed transfer (no HTTP response, or one over the size cap).
public struct HTTPClientError: Error, Sendable, CustomStringConvertible {
    public struct Code: Hashable, Sendable {
        public let raw: String
        public static let transfer = Code(raw: "transfer")
        public static let timedOut = Code(raw: "timed_out")
        public static let responseTooLarge = Code(raw: "response_too_large")
        public static let invalidRequest = Code(raw: "invalid_request")
        public static let addressNotAllowed = Code(raw: "address_not_allowed")
    }

    public var code: Code
    public var message: String
    public var description: String { "HTTP transfer failed (\(code.raw)): \(message)" }
}

/// An HTTP client over libcurl.
///
/// `curl_easy_perform` blocks, so every transfer runs on a NIO thread pool and is
/// awaited; the cooperative pool never waits on the network. Each transfer uses its
/// own easy handle (a handle is not thread-safe).
///
/// Start: `CurlHTTPClient()`; shut down: nothing to release (it borrows the shared
/// `NIOThreadPool.singleton` unless given one).
public struct CurlHTTPClient: Sendable {
    private let threads: NIOThreadPool

    public init(threads: NIOThreadPool = .singleton) {
        self.threads = threads
    }

    public func perform(_ request: HTTPClientRequest) async throws -> HTTPClientResponse {
        try await threads.runIfActive {
            try CurlEasyHandle.make().perform(request)
        }
    }
}
