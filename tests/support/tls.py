"""HTTPS for the tests: a certificate authority made at test time, and a TLS front for a plain server.

The front ends TLS on 127.0.0.1 and relays the bytes to a plain HTTP server
(the local collector, or a scripted one), so the exporter meets a real https
endpoint with a real certificate chain, named ``localhost`` as users name theirs.
"""

from __future__ import annotations

import contextlib
import socket
import ssl
import threading
from pathlib import Path
from urllib.parse import urlsplit

import trustme
from cryptography.hazmat.primitives import serialization


class CertificateAuthority:
    """A CA and a certificate it signed for ``localhost`` and 127.0.0.1, written where a test can point to them."""

    def __init__(self, directory: Path) -> None:
        self.ca = trustme.CA()
        self.certificate = self.ca.issue_cert("localhost", "127.0.0.1")
        self.ca_file = directory / "test-ca.pem"
        self.ca.cert_pem.write_to_path(str(self.ca_file))

    def server_context(self, *, require_client_certificate: bool = False) -> ssl.SSLContext:
        """The front's context; ``require_client_certificate`` makes it refuse a client without one from this CA."""
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.certificate.configure_cert(context)
        if require_client_certificate:
            context.verify_mode = ssl.CERT_REQUIRED
            self.ca.configure_trust(context)
        return context

    def client_certificate(self, directory: Path, *, password: bytes | None = None) -> tuple[Path, Path]:
        """A client certificate this CA signed, and its key (encrypted with ``password`` if given), as files."""
        issued = self.ca.issue_cert("otel-dynamiq-client@example.com")
        certificate_file, key_file = directory / "client.pem", directory / "client-key.pem"
        for blob in issued.cert_chain_pems:
            with certificate_file.open("ab") as out:
                out.write(blob.bytes())
        if password is None:
            issued.private_key_pem.write_to_path(str(key_file))
        else:
            key = serialization.load_pem_private_key(issued.private_key_pem.bytes(), None)
            encryption = serialization.BestAvailableEncryption(password)
            key_file.write_bytes(
                key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption)
            )
        return certificate_file, key_file


class TlsFront:
    """``https://localhost:<port>`` in front of a plain ``http://`` server on this machine."""

    def __init__(self, target_url: str, context: ssl.SSLContext) -> None:
        target = urlsplit(target_url)
        self._target = (target.hostname or "127.0.0.1", target.port or 80)
        self._context = context
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.2)
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []
        self.handshake_failures = 0

    @property
    def port(self) -> int:
        return int(self._listener.getsockname()[1])

    @property
    def url(self) -> str:
        return f"https://localhost:{self.port}"

    def __enter__(self) -> TlsFront:
        self._spawn(self._accept)
        return self

    def __exit__(self, *exc: object) -> None:
        self._stopping.set()
        for thread in self._threads:
            thread.join(5)
        self._listener.close()

    def _spawn(self, target: object, *args: object) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)  # type: ignore[arg-type]
        self._threads.append(thread)
        thread.start()

    def _accept(self) -> None:
        while not self._stopping.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self._spawn(self._serve, client)

    def _serve(self, client: socket.socket) -> None:
        client.settimeout(10)
        try:
            secure = self._context.wrap_socket(client, server_side=True)
        except (ssl.SSLError, OSError):
            self.handshake_failures += 1  # the client did not trust us, or went away, or had no certificate for us
            _linger_close(client)
            return
        with secure, socket.create_connection(self._target, timeout=10) as upstream:
            self._spawn(_pump, upstream, secure)
            _pump(secure, upstream)


def _linger_close(client: socket.socket) -> None:
    """Close as web servers do (nginx's lingering close): read what the client still sends, then close.

    Closed at once with the client's request unread, the kernel answers with a reset, which can
    destroy the TLS alert before the client reads it (under TLS 1.3 the client sends its request
    before learning that its certificate was refused); a real server lets the alert arrive.
    """
    with contextlib.suppress(OSError):
        client.shutdown(socket.SHUT_WR)
        client.settimeout(2)
        while client.recv(65536):
            pass
    client.close()


def _pump(source: socket.socket, sink: socket.socket) -> None:
    """Copy bytes one way until either side closes; then close both."""
    with contextlib.suppress(OSError):
        while chunk := source.recv(65536):
            sink.sendall(chunk)
    for side in (source, sink):
        with contextlib.suppress(OSError):
            side.shutdown(socket.SHUT_RDWR)
