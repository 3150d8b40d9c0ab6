import Auth
import CurlClient
import Foundation
import Logging

/// Measures what verifying one bearer token costs (signature + claims), with the
/// issuer's keys already cached, the way every authenticated request pays it.
///
///     millwright-bench ISSUER_URL [ITERATIONS]
///
/// ISSUER_URL is a realm of the development issuer (dev/issuer.py), which mints the
/// tokens. Prints one line per algorithm: microseconds per verification.
@main
struct TokenBench {
    static func main() async throws {
        // Off the main actor, as request handlers run: no executor hop per call.
        try await Task.detached { try await run() }.value
    }

    static func run() async throws {
        let arguments = CommandLine.arguments
        guard arguments.count >= 2 else {
            FileHandle.standardError.write(Data("usage: millwright-bench ISSUER_URL [ITERATIONS]\n".utf8))
            exit(2)
        }
        let issuer = arguments[1]
        let iterations = arguments.count > 2 ? Int(arguments[2]) ?? 20_000 : 20_000
        let configuration = AuthConfiguration(issuers: [issuer], allowHTTP: true)
        let verifier = TokenVerifier(
            configuration: configuration, keys: JWKSCache(configuration: configuration, logger: Logger(label: "bench")))
        let clock = ContinuousClock()
        func microseconds(_ duration: Duration) -> Double {
            Double(duration.components.seconds) * 1e6 + Double(duration.components.attoseconds) / 1e12
        }
        for alg in ["RS256", "ES256"] {
            // First sight of a token: every check, libjwt's signature verification included.
            var fresh: [String] = []
            for index in 0..<500 { fresh.append(try await mint(issuer: issuer, alg: alg, subject: "cold-\(index)")) }
            _ = try await verifier.verify(fresh[0])  // loads the keys
            let cold = try await clock.measure {
                for token in fresh.dropFirst() { _ = try await verifier.verify(token) }
            }
            print(
                String(
                    format: "token verification %@, first sight: %.1f µs per token (%d tokens)", alg,
                    microseconds(cold) / Double(fresh.count - 1), fresh.count - 1))
            // The same token again, as a client sends it on every request.
            let token = fresh[0]
            let warm = try await clock.measure {
                for _ in 0..<iterations { _ = try await verifier.verify(token) }
            }
            print(
                String(
                    format: "token verification %@, seen before: %.2f µs per token (%d iterations)", alg,
                    microseconds(warm) / Double(iterations), iterations))
        }
    }

    static func mint(issuer: String, alg: String, subject: String) async throws -> String {
        let body = try JSONSerialization.data(withJSONObject: [
            "alg": alg, "claims": ["sub": subject, "realm_access": ["roles": ["viewer"]], "tenant": "bench"],
        ])
        let response = try await CurlHTTPClient().perform(
            HTTPClientRequest(
                url: issuer + "/mint", method: "POST", headers: [("Content-Type", "application/json")], body: [UInt8](body)))
        guard let object = try JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any],
            let token = object["token"] as? String
        else {
            throw CocoaError(.fileReadUnknown)
        }
        return token
    }
}
