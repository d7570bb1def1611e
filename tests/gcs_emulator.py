"""A local GCS emulator on 127.0.0.1 for the gs:// tests, and a recording proxy before it.

- `start_emulator()`: PyPI gcp-storage-emulator (in memory), one bucket.
- `RecordingProxy`: forwards every request to the emulator unchanged and records it, so
  a test sees what a client really sent (e.g. gcsfs's `ifGenerationMatch=0`). It can be
  told to answer one request with a given status instead (fault injection: it never
  decides anything by itself, the emulator stays the only storage).
- `tls_certificates()` + `RecordingProxy(tls=...)`: TensorFlow's own GCS filesystem
  (what tf.io.gfile, tf.data and so TFDS use for gs://) has its endpoints compiled in
  (https://www.googleapis.com/storage/v1/, https://storage.googleapis.com/) and no
  emulator setting. It does honour the standard `HTTPS_PROXY` (libcurl) and
  `CURL_CA_BUNDLE` variables, so a test points it at this proxy, which accepts the
  CONNECT, terminates TLS with a certificate from a throw-away CA and forwards the
  requests in plain HTTP to the emulator. Only the test's environment changes.
"""

import contextlib
import datetime
import http.client
import os
import re
import socket
import ssl
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlsplit

BUCKET = "munet-test"
GOOGLE_HOSTS = ("www.googleapis.com", "storage.googleapis.com")
_HOP_BY_HOP = {"connection", "proxy-connection", "keep-alive", "transfer-encoding", "te",
               "trailer", "upgrade", "proxy-authorization", "proxy-authenticate",
               "content-length", "host"}


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for_port(port, process=None):
    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            if process is not None and process.poll() is not None:
                raise RuntimeError("The GCS emulator exited at start.")
            time.sleep(0.1)
    raise RuntimeError(f"Nothing listens on 127.0.0.1:{port}.")


@contextlib.contextmanager
def start_emulator(bucket=BUCKET):
    """Yields the emulator's URL, http://127.0.0.1:PORT, with `bucket` created."""
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "gcp_storage_emulator", "start", "--host", "127.0.0.1",
         "--port", str(port), "--default-bucket", bucket, "--in-memory", "--quiet"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_for_port(port, server)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait()


def anonymous_gcsfs(endpoint):
    """A gcsfs filesystem on the emulator: token='anon', never default credentials."""
    # As munet.store.storage does: no gRPC bucket-type probe (emulators do not speak
    # it); read when gcsfs is first imported.
    os.environ.setdefault("GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT", "false")
    import gcsfs

    return gcsfs.GCSFileSystem(token="anon", endpoint_url=endpoint, cache_timeout=0,
                               skip_instance_cache=True)


_UPLOAD_NAME = re.compile(rb'"name":\s*"([^"]+)"')


class Recorded:
    """One request: method, path (route + query), and for an upload the object name
    from its JSON metadata (`body_name`)."""

    def __init__(self, method, path, tunnel_host, body=b""):
        self.method = method
        self.path = path
        self.tunnel_host = tunnel_host  # The CONNECT host when it came through TLS.
        split = urlsplit(path)
        self.route = unquote(split.path)
        self.query = {k: v[-1] for k, v in parse_qs(split.query).items()}
        name = _UPLOAD_NAME.search(body[:4096]) if method in ("POST", "PUT") else None
        self.body_name = name.group(1).decode() if name else None

    def __repr__(self):
        return f"{self.method} {self.tunnel_host or ''}{self.path}"


class RecordingProxy:
    """A forwarding proxy on 127.0.0.1 in front of the emulator at `upstream`."""

    def __init__(self, upstream, tls=None):
        self.upstream = urlsplit(upstream)
        self.requests = []
        self._lock = threading.Lock()
        self._faults = []
        self._tls = None
        if tls is not None:
            self._tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            self._tls.load_cert_chain(tls["cert"], tls["key"])
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()

    def answer_next(self, matches, status, body, before=None,
                    content_type="application/json"):
        """The next request for which `matches(Recorded)` is true gets this answer
        instead of being forwarded (the emulator never sees it); `before()`, if given,
        runs first (e.g. another writer's commit), in the proxy's thread."""
        with self._lock:
            self._faults.append((matches, status, body, content_type, before))

    def _take_fault(self, recorded):
        with self._lock:
            for fault in self._faults:
                if fault[0](recorded):
                    self._faults.remove(fault)
                    return fault[1:]
        return None

    def _forward(self, method, path, headers, body):
        connection = http.client.HTTPConnection(self.upstream.hostname, self.upstream.port,
                                                timeout=60)
        try:
            headers = {k: v for k, v in headers.items() if k.lower() not in _HOP_BY_HOP}
            headers["Host"] = self.upstream.netloc
            if body or method in ("POST", "PUT", "PATCH"):
                headers["Content-Length"] = str(len(body))
            connection.request(method, path, body=body or None, headers=headers)
            response = connection.getresponse()
            return response.status, response.getheaders(), response.read()
        finally:
            connection.close()

    def _handler_class(self):
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            tunnel_host = None

            def log_message(self, *args):
                pass

            def do_CONNECT(self):
                host = self.path.rsplit(":", 1)[0]
                if proxy._tls is None or host not in GOOGLE_HOSTS:
                    self.send_error(403, f"No tunnel to {self.path}.")
                    self.close_connection = True
                    return
                self.send_response(200, "Connection Established")
                self.end_headers()
                self.wfile.flush()
                # From here on the same connection carries TLS; BaseHTTPRequestHandler's
                # loop goes on reading requests from the decrypted streams.
                self.connection = proxy._tls.wrap_socket(self.connection, server_side=True)
                self.rfile = self.connection.makefile("rb")
                self.wfile = self.connection.makefile("wb")  # Flushed after each request.
                self.tunnel_host = host
                self.close_connection = False

            def finish(self):
                super().finish()
                if self.tunnel_host:
                    with contextlib.suppress(OSError):
                        self.connection.close()

            def _handle(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                path = self.path
                if path.startswith(("http://", "https://")):  # Absolute form.
                    split = urlsplit(path)
                    path = split.path + (f"?{split.query}" if split.query else "")
                recorded = Recorded(self.command, path, self.tunnel_host, body)
                with proxy._lock:
                    proxy.requests.append(recorded)
                fault = proxy._take_fault(recorded)
                if fault:
                    if fault[3] is not None:
                        fault[3]()
                    status, headers = fault[0], [("Content-Type", fault[2])]
                    content = fault[1]
                else:
                    status, headers, content = proxy._forward(
                        self.command, path, dict(self.headers.items()), body)
                self.send_response(status)
                for name, value in headers:
                    if name.lower() not in _HOP_BY_HOP | {"server", "date"}:
                        self.send_header(name, value)
                if self.command != "HEAD":
                    self.send_header("Content-Length", str(len(content)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(content)

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = _handle

        return Handler


def tls_certificates(folder):
    """A throw-away CA and a certificate for GOOGLE_HOSTS signed by it, as PEM files.

    Returns {"ca": ca.pem, "cert": server.pem, "key": server-key.pem} (paths in `folder`).
    """
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = datetime.datetime.now(datetime.timezone.utc)
    start, end = now - datetime.timedelta(days=1), now + datetime.timedelta(days=2)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "munet test CA")])
    ca_cert = (
        x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
        .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(start).not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True,
                                     crl_sign=True, content_commitment=False,
                                     key_encipherment=False, data_encipherment=False,
                                     key_agreement=False, encipher_only=False,
                                     decipher_only=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()),
                       critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, GOOGLE_HOSTS[0])]))
        .issuer_name(ca_name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start).not_valid_after(end)
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(h) for h in GOOGLE_HOSTS]),
                       critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]),
                       critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
            ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    paths = {name: os.path.join(folder, file) for name, file in
             (("ca", "ca.pem"), ("cert", "server.pem"), ("key", "server-key.pem"))}
    pem = serialization.Encoding.PEM
    with open(paths["ca"], "wb") as f:
        f.write(ca_cert.public_bytes(pem))
    with open(paths["cert"], "wb") as f:
        f.write(cert.public_bytes(pem))
    with open(paths["key"], "wb") as f:
        f.write(key.private_bytes(pem, serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption()))
    return paths


def tensorflow_gcs_env(proxy_url, ca_file, credentials_dir):
    """Environment for a subprocess whose TensorFlow GCS filesystem (and so TFDS and
    etils.epath on gs://) reaches the emulator through the proxy, without credentials.

    - HTTPS_PROXY, CURL_CA_BUNDLE: TensorFlow's libcurl goes through the proxy and
      trusts the throw-away CA;
    - GOOGLE_AUTH_TOKEN_FOR_TESTING: TensorFlow's fixed-token setting, so it never
      looks for credentials nor asks a metadata server;
    - google-auth (etils asks it whether a bucket is zonal): no credentials file, no
      gcloud config, no GCE check, and a metadata address on a closed loopback port.
    """
    env = {k: v for k, v in os.environ.items()
           if k not in ("GOOGLE_APPLICATION_CREDENTIALS", "no_proxy", "NO_PROXY",
                        "http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY")}
    closed = f"127.0.0.1:{free_port()}"
    env.update({
        "HTTPS_PROXY": proxy_url, "https_proxy": proxy_url,
        "CURL_CA_BUNDLE": ca_file,
        "GOOGLE_AUTH_TOKEN_FOR_TESTING": "emulator-test-token",
        "NO_GCE_CHECK": "true",
        "GCE_METADATA_HOST": closed, "GCE_METADATA_IP": closed,
        "CLOUDSDK_CONFIG": credentials_dir,
        "GOOGLE_CLOUD_PROJECT": "munet-test",
    })
    return env
