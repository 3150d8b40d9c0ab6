internal import CLibJWT

/// The one place libjwt is called.
///
/// libjwt 1.10 verifies with whatever `alg` the token's header names, including HS256
/// with the key bytes as the HMAC secret; callers must have checked the header's
/// `alg` against the key's type before calling (see `TokenVerifier`).
enum LibJWT {
    /// Whether `token`'s signature verifies with `pem`. CPU only, no I/O.
    static func signatureIsValid(token: String, pem: String) -> Bool {
        var handle: OpaquePointer?
        let status = pem.utf8CString.withUnsafeBufferPointer { key in
            key.withMemoryRebound(to: UInt8.self) { bytes in
                // The length excludes the terminating NUL that utf8CString adds.
                jwt_decode(&handle, token, bytes.baseAddress, Int32(bytes.count - 1))
            }
        }
        if let handle { jwt_free(handle) }
        return status == 0 && handle != nil
    }
}
