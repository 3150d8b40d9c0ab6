"""Runs deploy/nginx/millwright.conf with the real nginx on loopback (tests, benchmarks).

The configuration is used as shipped, templated only for: ports, the upstream port, a
self-signed certificate for its server_name made here, the ACME webroot, the log path, and (with
`unlimited_rates`, benchmarks only) the rate-limit zones, which would otherwise measure
the limiter instead of the service. The streams' access log goes to `streams-access.log`
in the work folder.

    python3 dev/nginx_local.py --service-port P --http-port H --https-port S --work DIR [--unlimited-rates]

runs nginx in the foreground until SIGTERM; `start()` does the same from Python.
"""
import argparse
import os
import subprocess

HOST = "millwright.example.com"  # the configuration's server_name
CONF = os.path.join(os.path.dirname(os.path.abspath(__file__)), "../deploy/nginx/millwright.conf")


def prepare(work, service_port, http_port, https_port, unlimited_rates=False):
    """Writes certificate, webroot and nginx.conf into `work`; returns the certificate path."""
    cert, key = f"{work}/fullchain.pem", f"{work}/privkey.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", f"/CN={HOST}",
                    "-addext", f"subjectAltName=DNS:{HOST}", "-keyout", key, "-out", cert],
                   check=True, capture_output=True)
    webroot = f"{work}/letsencrypt"
    os.makedirs(f"{webroot}/.well-known/acme-challenge", exist_ok=True)
    conf = open(CONF).read()
    replacements = [
        ("listen 80;", f"listen 127.0.0.1:{http_port};"), ("listen [::]:80;", ""),
        ("listen 443 ssl http2;", f"listen 127.0.0.1:{https_port} ssl http2;"), ("listen [::]:443 ssl http2;", ""),
        ("server 127.0.0.1:8080 max_fails=3 fail_timeout=10s;\n    # Idle",
         f"server 127.0.0.1:{service_port} max_fails=3 fail_timeout=10s;\n    # Idle"),
        ("server 127.0.0.1:8080 max_fails=3 fail_timeout=10s;\n}", f"server 127.0.0.1:{service_port} max_fails=3 fail_timeout=10s;\n}}"),
        (f"/etc/letsencrypt/live/{HOST}/fullchain.pem", cert), (f"/etc/letsencrypt/live/{HOST}/privkey.pem", key),
        ("/var/www/letsencrypt", webroot), ("/var/log/nginx/millwright-streams.log", f"{work}/streams-access.log"),
    ]
    if unlimited_rates:
        replacements += [("rate=20r/s", "rate=100000r/s"), ("rate=10r/s", "rate=100000r/s")]
    for old, new in replacements:
        assert old in conf, f"deploy/nginx/millwright.conf no longer has {old!r}"
        conf = conf.replace(old, new)
    with open(f"{work}/millwright.conf", "w") as f:
        f.write(conf)
    with open(f"{work}/nginx.conf", "w") as f:
        f.write(f"""user root;
daemon off;
worker_processes 1;
pid {work}/nginx.pid;
error_log {work}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {work}/body; proxy_temp_path {work}/proxy; fastcgi_temp_path {work}/fastcgi;
    uwsgi_temp_path {work}/uwsgi; scgi_temp_path {work}/scgi;
    include {work}/millwright.conf;
}}
""")
    subprocess.run(["nginx", "-t", "-c", f"{work}/nginx.conf", "-p", work], check=True, capture_output=True)
    return cert


def start(work, service_port, http_port, https_port, unlimited_rates=False):
    """Starts nginx; returns (process, certificate path, webroot)."""
    cert = prepare(work, service_port, http_port, https_port, unlimited_rates)
    process = subprocess.Popen(["nginx", "-c", f"{work}/nginx.conf", "-p", work], stderr=subprocess.DEVNULL)
    return process, cert, f"{work}/letsencrypt"


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--service-port", type=int, required=True)
    parser.add_argument("--http-port", type=int, required=True)
    parser.add_argument("--https-port", type=int, required=True)
    parser.add_argument("--work", required=True)
    parser.add_argument("--unlimited-rates", action="store_true")
    arguments = parser.parse_args()
    prepare(arguments.work, arguments.service_port, arguments.http_port, arguments.https_port, arguments.unlimited_rates)
    os.execvp("nginx", ["nginx", "-c", f"{arguments.work}/nginx.conf", "-p", arguments.work])
