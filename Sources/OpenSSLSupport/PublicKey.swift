internal import COpenSSL
import Foundation

/// A public key built from its JWK parameters and exported as PEM, the form libjwt
/// takes. OpenSSL checks the parameters while building it.
public struct PublicKeyPEM: Sendable, Equatable {
    public enum KeyType: String, Sendable {
        case rsa = "RSA"
        case ecP256 = "EC P-256"
        case ecP384 = "EC P-384"
    }

    public let type: KeyType
    public let pem: String
    /// Modulus size (RSA) or curve size (EC) in bits.
    public let bits: Int

    /// An RSA key from its big-endian modulus and exponent.
    public static func rsa(modulus: [UInt8], exponent: [UInt8]) throws(OpenSSLError) -> PublicKeyPEM {
        let builder = try ParamBuilder()
        try builder.pushBigNumber("n", modulus)
        try builder.pushBigNumber("e", exponent)
        return try make(algorithm: "RSA", type: .rsa, builder: builder)
    }

    /// An EC key on P-256 or P-384 from its affine coordinates.
    public static func ec(curve: KeyType, x: [UInt8], y: [UInt8]) throws(OpenSSLError) -> PublicKeyPEM {
        let (group, size): (String, Int) =
            switch curve {
            case .ecP256: ("prime256v1", 32)
            case .ecP384: ("secp384r1", 48)
            case .rsa: ("", 0)
            }
        guard size > 0, x.count == size, y.count == size else {
            throw OpenSSLError(operation: "EC key", reason: "coordinates do not fit \(curve.rawValue)")
        }
        let builder = try ParamBuilder()
        try builder.pushString("group", group)
        try builder.pushOctets("pub", [0x04] + x + y)  // uncompressed point
        return try make(algorithm: "EC", type: curve, builder: builder)
    }

    private static func make(algorithm: String, type: KeyType, builder: ParamBuilder) throws(OpenSSLError) -> PublicKeyPEM {
        guard let params = OSSL_PARAM_BLD_to_param(builder.handle) else { throw .fromQueue("OSSL_PARAM_BLD_to_param") }
        defer { OSSL_PARAM_free(params) }
        guard let context = EVP_PKEY_CTX_new_from_name(nil, algorithm, nil) else { throw .fromQueue("EVP_PKEY_CTX_new") }
        defer { EVP_PKEY_CTX_free(context) }
        var key: OpaquePointer?
        // 0x86 is EVP_PKEY_PUBLIC_KEY (a macro Swift cannot import): public key plus parameters.
        guard EVP_PKEY_fromdata_init(context) == 1, EVP_PKEY_fromdata(context, &key, 0x86, params) == 1, let key else {
            throw .fromQueue("EVP_PKEY_fromdata")
        }
        defer { EVP_PKEY_free(key) }
        if type != .rsa {
            // Refuse points that are not on the curve.
            guard let check = EVP_PKEY_CTX_new_from_pkey(nil, key, nil) else { throw .fromQueue("EVP_PKEY_CTX_new") }
            defer { EVP_PKEY_CTX_free(check) }
            guard EVP_PKEY_public_check(check) == 1 else { throw .fromQueue("EVP_PKEY_public_check") }
        }
        let bits = Int(EVP_PKEY_get_bits(key))
        guard let bio = BIO_new(BIO_s_mem()) else { throw .fromQueue("BIO_new") }
        defer { BIO_free(bio) }
        guard PEM_write_bio_PUBKEY(bio, key) == 1 else { throw .fromQueue("PEM_write_bio_PUBKEY") }
        let pending = Int(BIO_ctrl(bio, BIO_CTRL_PENDING, 0, nil))
        var buffer = [UInt8](repeating: 0, count: pending)
        guard BIO_read(bio, &buffer, Int32(pending)) == Int32(pending) else { throw .fromQueue("BIO_read") }
        return PublicKeyPEM(type: type, pem: String(decoding: buffer, as: UTF8.self), bits: bits)
    }
}

/// Owns an `OSSL_PARAM_BLD` and everything pushed into it. The builder keeps
/// pointers to names and values until `OSSL_PARAM_BLD_to_param`, so each is copied
/// here and lives as long as the builder.
private final class ParamBuilder {
    let handle: OpaquePointer
    private var numbers: [OpaquePointer] = []
    private var buffers: [UnsafeMutableRawPointer] = []

    init() throws(OpenSSLError) {
        guard let handle = OSSL_PARAM_BLD_new() else { throw .fromQueue("OSSL_PARAM_BLD_new") }
        self.handle = handle
    }

    deinit {
        OSSL_PARAM_BLD_free(handle)
        numbers.forEach { BN_free($0) }
        buffers.forEach { free($0) }
    }

    /// A NUL-terminated copy of `text` that lives as long as the builder.
    private func keep(_ text: String) -> UnsafeMutablePointer<CChar> {
        let copy = strdup(text)!
        buffers.append(UnsafeMutableRawPointer(copy))
        return copy
    }

    /// A copy of `bytes` that lives as long as the builder.
    private func keep(_ bytes: [UInt8]) -> UnsafeMutableRawPointer {
        let copy = malloc(max(1, bytes.count))!
        bytes.withUnsafeBytes { copy.copyMemory(from: $0.baseAddress!, byteCount: bytes.count) }
        buffers.append(copy)
        return copy
    }

    func pushBigNumber(_ name: String, _ bytes: [UInt8]) throws(OpenSSLError) {
        guard !bytes.isEmpty, let number = BN_bin2bn(bytes, Int32(bytes.count), nil) else {
            throw .fromQueue("BN_bin2bn")
        }
        numbers.append(number)
        guard OSSL_PARAM_BLD_push_BN(handle, keep(name), number) == 1 else { throw .fromQueue("OSSL_PARAM_BLD_push_BN") }
    }

    func pushString(_ name: String, _ value: String) throws(OpenSSLError) {
        guard OSSL_PARAM_BLD_push_utf8_string(handle, keep(name), keep(value), 0) == 1 else {
            throw .fromQueue("OSSL_PARAM_BLD_push_utf8_string")
        }
    }

    func pushOctets(_ name: String, _ bytes: [UInt8]) throws(OpenSSLError) {
        guard OSSL_PARAM_BLD_push_octet_string(handle, keep(name), keep(bytes), bytes.count) == 1 else {
            throw .fromQueue("OSSL_PARAM_BLD_push_octet_string")
        }
    }
}
