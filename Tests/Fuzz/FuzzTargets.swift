// libFuzzer entry points for every parser of bytes a client controls. Built by
// scripts/fuzz.sh together with Sources/InputParsing and Sources/Gzip as one module
// (`swiftc -sanitize=fuzzer,address`); MILLWRIGHT_FUZZ_TARGET picks the parser. Besides
// "does not crash", each target checks what must hold of the parser's answer.

import Foundation

enum FuzzTarget: String, CaseIterable {
    case lineProtocol = "line-protocol"
    case jsonPoints = "json-points"
    case registryJSON = "registry-json"
    case rfc3339
    case query
    case gzip
    case credentials
    case proxyHeaders = "proxy-headers"

    func run(_ bytes: [UInt8]) {
        switch self {
        case .lineProtocol: fuzzLineProtocol(bytes)
        case .jsonPoints: fuzzJsonPoints(bytes)
        case .registryJSON: fuzzRegistryJSON(bytes)
        case .rfc3339: fuzzRfc3339(bytes)
        case .query: fuzzQuery(bytes)
        case .gzip: fuzzGzip(bytes)
        case .credentials: fuzzCredentials(bytes)
        case .proxyHeaders: fuzzProxyHeaders(bytes)
        }
    }
}

/// The first byte picks the precision, the rest is the body.
func fuzzLineProtocol(_ bytes: [UInt8]) {
    guard let first = bytes.first else { return }
    let precisions = LineProtocolParser.Precision.allCases
    let precision = precisions[Int(first) % precisions.count]
    do {
        let outcome = try LineProtocolParser.parse(Array(bytes.dropFirst()), precision: precision, deviceTag: "device")
        check(outcome.points.count <= IngestLimits.maxPoints, "more points than a request may carry")
        for point in outcome.points {
            check(point.sensor.utf8.contains(UInt8(ascii: ".")), "a sensor without its measurement")
            check(!point.device.utf8.contains(0) && !point.sensor.utf8.contains(0), "NUL in a device or sensor")
            if case .number(let value) = point.value { check(value.isFinite, "a non-finite number") }
        }
    } catch {
        check(!error.problems.isEmpty || error.code == .tooManyPoints, "a refusal without a problem")
    }
}

func fuzzJsonPoints(_ bytes: [UInt8]) {
    do {
        let outcome = try JSONPointsParser.parse(bytes)
        check(outcome.points.count <= IngestLimits.maxPoints, "more points than a request may carry")
        // What the parser accepts is JSON that Foundation reads too, but for numbers past
        // a Double's range, which Foundation refuses and the validator answers 422.
        check(
            (try? JSONSerialization.jsonObject(with: Data(bytes))) != nil || hasOutOfRangeNumber(bytes),
            "accepted text that is not JSON")
    } catch {
        check(!error.problems.isEmpty || error.code == .tooManyPoints, "a refusal without a problem")
    }
}

/// Whether `bytes` may hold a number past a Double's range: an exponent of three or
/// more digits, or 300 digits in a row (an over-approximation: strings count too).
func hasOutOfRangeNumber(_ bytes: [UInt8]) -> Bool {
    var run = 0
    var afterExponent = false
    for byte in bytes {
        if byte >= 0x30 && byte <= 0x39 {
            run += 1
            if (afterExponent && run >= 3) || run >= 300 { return true }
        } else {
            afterExponent = (byte | 0x20) == UInt8(ascii: "e") || (afterExponent && run == 0 && (byte == 0x2B || byte == 0x2D))
            run = 0
        }
    }
    return false
}

/// Parse, then the value's own text must parse back to the same value.
func fuzzRegistryJSON(_ bytes: [UInt8]) {
    guard let value = JSONValue.parse(bytes) else { return }
    _ = value.pointerToNUL()
    check(value.canonicalLength >= 1, "a value of no length")
    _ = value.merging(patch: value)
    _ = JSONValue.object([:]).merging(patch: value)
    let text = value.text
    let again = JSONValue.parse(Array(text.utf8), maxDepth: JSONDepth.defaultLimit + 1)
    check(again.map { same($0, value) } == true, "text does not parse back")
}

/// Equal, where an integral number may come back as an integer (`1e3` is 1000).
func same(_ a: JSONValue, _ b: JSONValue) -> Bool {
    switch (a, b) {
    case (.integer(let i), .number(let d)), (.number(let d), .integer(let i)): return Double(i) == d
    case (.array(let x), .array(let y)): return x.count == y.count && zip(x, y).allSatisfy(same)
    case (.object(let x), .object(let y)):
        return x.count == y.count && x.allSatisfy { key, value in y[key].map { same(value, $0) } == true }
    default: return a == b
    }
}

/// A parsed time formats and parses back to itself.
func fuzzRfc3339(_ bytes: [UInt8]) {
    let text = String(decoding: bytes, as: UTF8.self)
    guard let micros = RFC3339.parseMicroseconds(text) else { return }
    check(RFC3339.parseMicroseconds(RFC3339.format(unixMicros: micros)) == micros, "format does not parse back")
}

func fuzzQuery(_ bytes: [UInt8]) {
    let text = String(decoding: bytes, as: UTF8.self)
    if let seconds = Interval.seconds(text) { check(seconds >= 1 && seconds <= Interval.maxSeconds, "interval out of range") }
    if let seconds = Interval.duration(text) { check(seconds >= 0 && seconds <= Interval.maxSeconds, "duration out of range") }
    if let wait = RetryAfter.seconds(text, now: 1_764_000_000) { check(wait >= 0 && wait <= 86_400, "Retry-After out of range") }
    _ = RetryAfter.seconds(text, now: .max)
    _ = RetryAfter.seconds(text, now: .min)
    if let key = Cursor.decode(text, kind: "k") { check(Cursor.encode("k", key) == text, "cursor does not round-trip") }
    if let time = Cursor.decodeTime(text) {
        check(RFC3339.parseMicroseconds(RFC3339.format(unixMicros: time)) == time, "a cursor's time does not format")
    }
    if let decoded = Base64URL.decode(text) { check(Base64URL.encode(decoded) == text, "base64url does not round-trip") }
    for kind in Identifier.Kind.allCases where Identifier.isValid(text, as: kind) {
        check(!text.isEmpty && text.utf8.allSatisfy { $0 > 0x20 && $0 < 0x7F }, "an id that is not plain ASCII")
    }
    if let id = StreamParameters.eventID(text) { check(id >= 0 && String(id).count <= text.count, "event id out of range") }
    if let (key, value) = StreamParameters.label(text) { check(!key.isEmpty && key + ":" + value == text, "label split") }
    if let value = DecimalText.int64(bytes, 0..<bytes.count) {
        check(String(value) == text || text.hasPrefix("0") || text.hasPrefix("-0"), "integer mismatch")
    }
}

func fuzzGzip(_ bytes: [UInt8]) {
    if let output = try? Gzip.decompress(bytes, limit: 1 << 20) { check(output.count <= 1 << 20, "past the limit") }
}

func fuzzCredentials(_ bytes: [UInt8]) {
    let text = String(decoding: bytes, as: UTF8.self)
    if let credential = AuthorizationHeader.credential(text) {
        _ = AuthorizationHeader.deviceKey(credential)
        _ = CompactJWT.parts(credential)
    }
    _ = CompactJWT.parts(text)
    _ = RequestID.isAcceptable(text)
}

/// A `MILLWRIGHT_TRUSTED_PROXIES` list, then an `X-Forwarded-For` after the first NUL.
func fuzzProxyHeaders(_ bytes: [UInt8]) {
    let split = bytes.firstIndex(of: 0) ?? bytes.count
    let list = String(decoding: bytes[..<split], as: UTF8.self)
    let forwarded = String(decoding: bytes[min(split + 1, bytes.count)...], as: UTF8.self)
    let proxies = TrustedProxies(list) ?? TrustedProxies("127.0.0.1, ::1")!
    let client = proxies.client(peer: "127.0.0.1", forwardedFor: forwarded)
    check(!client.utf8.contains(0), "a client address with NUL")
    if let base = TrustedProxies.publicBase(proto: list, host: forwarded) {
        check(base.utf8.allSatisfy { $0 > 0x20 && $0 < 0x7F }, "a Location base that is not plain ASCII")
    }
}

func check(_ condition: Bool, _ message: String) {
    if !condition {
        FileHandle.standardError.write(Data("fuzz check failed: \(message)\n".utf8))
        abort()
    }
}

nonisolated(unsafe) var selected = FuzzTarget.lineProtocol

@_cdecl("LLVMFuzzerInitialize")
public func initialize(
    _ argc: UnsafeMutablePointer<Int32>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>
) -> Int32 {
    let name = ProcessInfo.processInfo.environment["MILLWRIGHT_FUZZ_TARGET"] ?? ""
    guard let target = FuzzTarget(rawValue: name) else {
        FileHandle.standardError.write(
            Data("MILLWRIGHT_FUZZ_TARGET must be one of \(FuzzTarget.allCases.map(\.rawValue))\n".utf8))
        exit(2)
    }
    selected = target
    return 0
}

@_cdecl("LLVMFuzzerTestOneInput")
public func testOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    let bytes = data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? []
    selected.run(bytes)
    return 0
}
