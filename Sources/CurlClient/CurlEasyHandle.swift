internal import CCurlShims
internal import CLibCurl
import Foundation

/// `curl_global_init` runs once, before the first handle is made.
private let curlGlobalInit: CURLcode = curl_global_init(Int(CURL_GLOBAL_DEFAULT))

/// One curl easy handle, owned and freed here. Not thread-safe: it lives for one
/// transfer on one thread and is never shared.
final class CurlEasyHandle {
    private let handle: UnsafeMutableRawPointer

    private init(takingOwnership handle: UnsafeMutableRawPointer) {
        self.handle = handle
    }

    deinit {
        curl_easy_cleanup(handle)
    }

    static func make() throws(HTTPClientError) -> CurlEasyHandle {
        guard curlGlobalInit == CURLE_OK, let raw = curl_easy_init() else {
            throw HTTPClientError(code: .transfer, message: "curl could not be initialised")
        }
        return CurlEasyHandle(takingOwnership: raw)
    }

    /// Runs one transfer to completion. Blocking.
    func perform(_ request: HTTPClientRequest) throws(HTTPClientError) -> HTTPClientResponse {
        let sink = ResponseSink(limit: request.maxResponseBytes)
        var headerList: UnsafeMutablePointer<curl_slist>?
        defer { curl_slist_free_all(headerList) }
        var resolveList: UnsafeMutablePointer<curl_slist>?
        defer { curl_slist_free_all(resolveList) }
        if request.publicAddressesOnly, let pinned = try PublicAddress.pin(request.url) {
            resolveList = curl_slist_append(resolveList, pinned)
        }
        for header in request.headers {
            headerList = curl_slist_append(headerList, "\(header.name): \(header.value)")
        }
        // "Expect: 100-continue" costs a round trip on every upload: turn it off.
        headerList = curl_slist_append(headerList, "Expect:")

        let timeoutMS =
            Int(request.timeout.components.seconds * 1000)
            + Int(request.timeout.components.attoseconds / 1_000_000_000_000_000)
        var code = CURLE_OK
        func set(_ result: CURLcode) { if code == CURLE_OK { code = result } }
        set(mw_curl_setopt_string(handle, CURLOPT_URL, request.url))
        set(mw_curl_setopt_long(handle, CURLOPT_NOSIGNAL, 1))
        set(mw_curl_setopt_string(handle, CURLOPT_PROTOCOLS_STR, "http,https"))
        set(mw_curl_setopt_long(handle, CURLOPT_FOLLOWLOCATION, 0))
        set(mw_curl_setopt_long(handle, CURLOPT_TIMEOUT_MS, max(1, timeoutMS)))
        set(mw_curl_setopt_long(handle, CURLOPT_CONNECTTIMEOUT_MS, max(1, min(timeoutMS, 5000))))
        set(mw_curl_setopt_offset(handle, CURLOPT_MAXFILESIZE_LARGE, curl_off_t(request.maxResponseBytes)))
        set(mw_curl_setopt_pointer(handle, CURLOPT_HTTPHEADER, headerList.map { UnsafeMutableRawPointer($0) }))
        if request.publicAddressesOnly {
            set(mw_curl_setopt_pointer(handle, CURLOPT_RESOLVE, resolveList.map { UnsafeMutableRawPointer($0) }))
            set(mw_curl_setopt_string(handle, CURLOPT_PROXY, ""))
        }
        if request.method == "HEAD" {
            set(mw_curl_setopt_long(handle, CURLOPT_NOBODY, 1))
        } else if request.method != "GET" || request.body != nil {
            set(mw_curl_setopt_string(handle, CURLOPT_CUSTOMREQUEST, request.method))
        }
        if let body = request.body {
            set(mw_curl_setopt_offset(handle, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(body.count)))
            set(
                body.withUnsafeBytes { bytes in
                    // COPYPOSTFIELDS copies the bytes, so the buffer need not outlive this call.
                    mw_curl_setopt_pointer(
                        handle, CURLOPT_COPYPOSTFIELDS,
                        UnsafeMutableRawPointer(mutating: bytes.baseAddress ?? UnsafeRawPointer(("" as StaticString).utf8Start)))
                })
        }
        let context = Unmanaged.passRetained(sink)
        defer { context.release() }
        set(mw_curl_setopt_write_function(handle, curlWriteBody))
        set(mw_curl_setopt_pointer(handle, CURLOPT_WRITEDATA, context.toOpaque()))
        set(mw_curl_setopt_header_function(handle, curlWriteHeader))
        set(mw_curl_setopt_pointer(handle, CURLOPT_HEADERDATA, context.toOpaque()))
        guard code == CURLE_OK else {
            throw HTTPClientError(code: .invalidRequest, message: String(cString: curl_easy_strerror(code)))
        }

        let result = curl_easy_perform(handle)
        if sink.overflowed || result == CURLE_FILESIZE_EXCEEDED {
            throw HTTPClientError(code: .responseTooLarge, message: "response exceeds \(request.maxResponseBytes) bytes")
        }
        guard result == CURLE_OK else {
            throw HTTPClientError(
                code: result == CURLE_OPERATION_TIMEDOUT ? .timedOut : .transfer,
                message: String(cString: curl_easy_strerror(result)))
        }
        var status = 0
        _ = mw_curl_getinfo_long(handle, CURLINFO_RESPONSE_CODE, &status)
        return HTTPClientResponse(status: status, headers: sink.headers, body: sink.body)
    }
}

/// Collects one transfer's headers and body; reached from curl's callbacks.
private final class ResponseSink {
    let limit: Int
    var body: [UInt8] = []
    var headers: [(name: String, value: String)] = []
    var overflowed = false

    init(limit: Int) { self.limit = limit }

    func appendHeaderLine(_ line: String) {
        let trimmed = line.trimmingCharacters(in: .whitespacesAndNewlines)
        if trimmed.hasPrefix("HTTP/") {
            headers = []  // a new response (after 100 Continue or a redirect) starts over
            return
        }
        guard let colon = trimmed.firstIndex(of: ":") else { return }
        let name = String(trimmed[..<colon])
        let value = trimmed[trimmed.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        headers.append((name, value))
    }
}

private func curlWriteBody(
    _ data: UnsafeMutablePointer<CChar>?, _ size: Int, _ count: Int, _ context: UnsafeMutableRawPointer?
) -> Int {
    guard let data, let context else { return 0 }
    let sink = Unmanaged<ResponseSink>.fromOpaque(context).takeUnretainedValue()
    let length = size * count
    guard sink.body.count + length <= sink.limit else {
        sink.overflowed = true
        return 0  // aborts the transfer
    }
    data.withMemoryRebound(to: UInt8.self, capacity: length) { bytes in
        sink.body.append(contentsOf: UnsafeBufferPointer(start: bytes, count: length))
    }
    return length
}

private func curlWriteHeader(
    _ data: UnsafeMutablePointer<CChar>?, _ size: Int, _ count: Int, _ context: UnsafeMutableRawPointer?
) -> Int {
    guard let data, let context else { return 0 }
    let sink = Unmanaged<ResponseSink>.fromOpaque(context).takeUnretainedValue()
    let length = size * count
    let line = data.withMemoryRebound(to: UInt8.self, capacity: length) { bytes in
        String(decoding: UnsafeBufferPointer(start: bytes, count: length), as: UTF8.self)
    }
    sink.appendHeaderLine(line)
    return length
}
