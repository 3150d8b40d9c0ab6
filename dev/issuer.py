#!/usr/bin/env python3
"""A local OpenID Connect issuer for development and tests. NOT part of Millwright.

It plays Keycloak's part: it publishes discovery and a JWKS for each realm under
/realms/<realm>, and mints access tokens signed with RS256 or ES256. Tests also ask
it for deliberately bad tokens (wrong algorithm, tampered, HS256 signed with the
public key, ...) to prove that Millwright refuses them.

  python3 dev/issuer.py --port 8180 [--port-file FILE]

  GET  /realms/<realm>/.well-known/openid-configuration
  GET  /realms/<realm>/protocol/openid-connect/certs
  POST /realms/<realm>/mint   {"claims": {...}, "alg": "RS256"|"ES256"|..., "kid": ..., "header": {...},
                               "mode": "sign"|"none"|"hs256-public-key"|"tamper"|"raw-payload", ...}
  GET  /realms/<realm>/token?sub=..&tenant=..&roles=a,b   a ready access token (for curl)
"""
import argparse
import base64
import hashlib
import hmac
import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def int_bytes(n: int) -> bytes:
    return n.to_bytes((n.bit_length() + 7) // 8, "big")


class Realm:
    def __init__(self, name):
        self.name = name
        self.rsa = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.rsa_enc = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.ec = ec.generate_private_key(ec.SECP256R1())
        self.ec384 = ec.generate_private_key(ec.SECP384R1())
        self.rsa_kid = f"{name}-rsa-1"
        self.ec_kid = f"{name}-ec-1"
        self.ec384_kid = f"{name}-ec384-1"

    def jwks(self):
        def rsa_jwk(key, kid, use, alg):
            numbers = key.public_key().public_numbers()
            return {"kid": kid, "kty": "RSA", "alg": alg, "use": use,
                    "n": b64url(int_bytes(numbers.n)), "e": b64url(int_bytes(numbers.e))}

        def ec_jwk(key, kid, crv, size):
            numbers = key.public_key().public_numbers()
            return {"kid": kid, "kty": "EC", "use": "sig", "crv": crv,
                    "x": b64url(numbers.x.to_bytes(size, "big")), "y": b64url(numbers.y.to_bytes(size, "big"))}

        return {"keys": [
            rsa_jwk(self.rsa, self.rsa_kid, "sig", "RS256"),
            ec_jwk(self.ec, self.ec_kid, "P-256", 32),
            ec_jwk(self.ec384, self.ec384_kid, "P-384", 48),
            # Keycloak also publishes an encryption key; a verifier must skip it.
            rsa_jwk(self.rsa_enc, f"{self.name}-enc-1", "enc", "RSA-OAEP"),
        ]}

    def public_pem(self):
        return self.rsa.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)

    def sign(self, alg, signing_input: bytes) -> bytes:
        if alg.startswith("RS"):
            digest = {"RS256": hashes.SHA256(), "RS384": hashes.SHA384(), "RS512": hashes.SHA512()}[alg]
            return self.rsa.sign(signing_input, padding.PKCS1v15(), digest)
        key, size, digest = {"ES256": (self.ec, 32, hashes.SHA256()), "ES384": (self.ec384, 48, hashes.SHA384())}[alg]
        r, s = decode_dss_signature(key.sign(signing_input, ec.ECDSA(digest)))
        return r.to_bytes(size, "big") + s.to_bytes(size, "big")  # JOSE wants raw R||S

    def default_kid(self, alg):
        return {"ES256": self.ec_kid, "ES384": self.ec384_kid}.get(alg, self.rsa_kid)


class Issuer:
    def __init__(self, base_url):
        self.base_url = base_url
        self.realms = {}
        self.lock = threading.Lock()

    def realm(self, name):
        with self.lock:
            if name not in self.realms:
                self.realms[name] = Realm(name)
            return self.realms[name]

    def issuer_url(self, name):
        return f"{self.base_url}/realms/{name}"

    def mint(self, realm_name, spec):
        realm = self.realm(realm_name)
        now = int(time.time())
        claims = {"iss": self.issuer_url(realm_name), "sub": "user-1", "typ": "Bearer", "iat": now,
                  "exp": now + 300, "azp": "millwright", "preferred_username": "user-1"}
        claims.update(spec.get("claims", {}))
        for key in spec.get("remove", []):
            claims.pop(key, None)
        alg = spec.get("alg", "RS256")
        mode = spec.get("mode", "sign")
        header = {"alg": alg, "typ": "JWT", "kid": spec.get("kid", realm.default_kid(alg))}
        header.update(spec.get("header", {}))
        for key in spec.get("remove_header", []):
            header.pop(key, None)
        payload = b64url(json.dumps(claims).encode())
        if mode == "none":
            header["alg"] = "none"
            return f"{b64url(json.dumps(header).encode())}.{payload}."
        if mode == "hs256-public-key":
            # The algorithm-confusion attack: HMAC keyed with the published RSA public key.
            header["alg"] = "HS256"
            signing_input = f"{b64url(json.dumps(header).encode())}.{payload}".encode()
            signature = hmac.new(realm.public_pem(), signing_input, hashlib.sha256).digest()
            return f"{signing_input.decode()}.{b64url(signature)}"
        signing_input = f"{b64url(json.dumps(header).encode())}.{payload}".encode()
        signature = realm.sign(alg, signing_input)
        if mode == "tamper":
            tampered = dict(claims, sub="someone-else")
            return f"{b64url(json.dumps(header).encode())}.{b64url(json.dumps(tampered).encode())}.{b64url(signature)}"
        return f"{signing_input.decode()}.{b64url(signature)}"


class Handler(BaseHTTPRequestHandler):
    issuer: Issuer = None
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def send_json(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def route(self):
        url = urlparse(self.path)
        parts = url.path.strip("/").split("/")
        if len(parts) < 3 or parts[0] != "realms":
            return None, None, url
        return parts[1], "/".join(parts[2:]), url

    def do_GET(self):
        realm, rest, url = self.route()
        if realm is None:
            return self.send_json(404, {"error": "not found"})
        if rest == ".well-known/openid-configuration":
            iss = self.issuer.issuer_url(realm)
            return self.send_json(200, {
                "issuer": iss,
                "jwks_uri": f"{iss}/protocol/openid-connect/certs",
                "authorization_endpoint": f"{iss}/protocol/openid-connect/auth",
                "token_endpoint": f"{iss}/protocol/openid-connect/token",
                "id_token_signing_alg_values_supported": ["RS256", "ES256"],
            })
        if rest == "protocol/openid-connect/certs":
            return self.send_json(200, self.issuer.realm(realm).jwks())
        if rest == "token":
            query = parse_qs(url.query)
            claims = {"sub": query.get("sub", ["dev-user"])[0],
                      "realm_access": {"roles": query.get("roles", ["tenant-admin"])[0].split(",")},
                      "exp": int(time.time()) + int(query.get("ttl", ["3600"])[0])}
            if "tenant" in query:
                claims["tenant"] = query["tenant"][0]
            token = self.issuer.mint(realm, {"claims": claims, "alg": query.get("alg", ["RS256"])[0]})
            return self.send_json(200, {"access_token": token, "token_type": "Bearer"})
        return self.send_json(404, {"error": "not found"})

    def do_POST(self):
        realm, rest, _ = self.route()
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length) or b"{}")
        if realm is None or rest != "mint":
            return self.send_json(404, {"error": "not found"})
        try:
            return self.send_json(200, {"token": self.issuer.mint(realm, body)})
        except Exception as error:  # a bad test request, not a server fault
            return self.send_json(400, {"error": str(error)})


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8180)
    parser.add_argument("--port-file", help="write the bound port here (with --port 0)")
    args = parser.parse_args()
    server = ThreadingHTTPServer((args.host, args.port), Handler)
    port = server.server_address[1]
    Handler.issuer = Issuer(f"http://{args.host}:{port}")
    if args.port_file:
        with open(args.port_file + ".tmp", "w") as f:
            f.write(str(port))
        import os
        os.replace(args.port_file + ".tmp", args.port_file)
    print(f"development issuer on http://{args.host}:{port}/realms/<realm>", file=sys.stderr, flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
