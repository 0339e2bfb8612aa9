#!/usr/bin/env python3
"""local_acme: Let's Encrypt's test CA (Pebble) on this machine's end of the local host's link.

    scripts/local_acme.py up [--validity SECONDS]   build Pebble if needed, start it and its DNS
    scripts/local_acme.py down                      stop both
    scripts/local_acme.py dns HOSTNAME [ADDRESS]    answer HOSTNAME with ADDRESS (the host's); none: forget it
    scripts/local_acme.py root                      the root Pebble's certificates chain to (PEM)

Pebble (github.com/letsencrypt/pebble/v2, built with `go install` from the Go module proxy into the
cache) serves an ACME directory at https://10.213.0.1:14000/dir. Its validation authority resolves
names through pebble-challtestsrv's DNS (10.213.0.1:8053), which answers only the hostnames given to
`dns`: a hostname not given is one whose DNS does not point at the host yet. The validation
authority then fetches http://<hostname>/.well-known/acme-challenge/ from the host itself, on port
80, as Let's Encrypt would.

The directory is served over HTTPS with a certificate of a root made here (`directory_root()`), which
a stack names in `proxy.acme.caRoot`: the private-CA case. The certificates Pebble issues chain to
another root, made anew at each start (`issuing_root()`). Both management interfaces listen on
127.0.0.1 only: they hand out the CA's keys. `scripts/local_host.py down` stops Pebble too.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import ssl
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import local_host

VERSION = "v2.10.3"
MODULE = "github.com/letsencrypt/pebble/v2"
HOME = local_host.CACHE / "acme"
BIN = HOME / "bin"
DIRECTORY_PORT = 14000
MANAGEMENT_PORT = 15000
DNS_PORT = 8053
DNS_MANAGEMENT_PORT = 8055
DIRECTORY = f"https://{local_host.HOST_IP}:{DIRECTORY_PORT}/dir"
PROCESSES = ("pebble", "pebble-challtestsrv")


def log(message: str) -> None:
    print(f"[local-acme] {message}", flush=True)


def build() -> None:
    """Pebble and its DNS from the Go module proxy, once (GOBIN in the cache)."""
    if all((BIN / name).exists() for name in PROCESSES):
        return
    if shutil.which("go") is None:
        raise SystemExit("local-acme: Go is needed to build Pebble (apt install golang, or https://go.dev/dl)")
    BIN.mkdir(parents=True, exist_ok=True)
    log(f"building Pebble {VERSION} from the Go module proxy")
    local_host.run("go", "install", *(f"{MODULE}/cmd/{name}@{VERSION}" for name in PROCESSES),
                   env={**os.environ, "GOBIN": str(BIN), "GOFLAGS": "-mod=mod"})


def directory_root() -> Path:
    """The root of the directory's own HTTPS certificate (made once): what `proxy.acme.caRoot` holds."""
    tls = HOME / "tls"
    root, cert = tls / "root.pem", tls / "directory.pem"
    if root.exists() and cert.exists():
        return root
    tls.mkdir(parents=True, exist_ok=True, mode=0o700)
    local_host.run("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                   "-days", "3650", "-subj", "/CN=stackyard local ACME directory root", "-keyout",
                   tls / "root.key", "-out", root, "-addext", "basicConstraints=critical,CA:TRUE",
                   "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    local_host.run("openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-subj",
                   "/CN=stackyard local ACME directory", "-keyout", tls / "directory.key", "-out",
                   tls / "directory.csr")
    extensions = tls / "directory.ext"
    extensions.write_text(f"subjectAltName=IP:{local_host.HOST_IP},IP:127.0.0.1,DNS:localhost\n"
                          "extendedKeyUsage=serverAuth\nbasicConstraints=critical,CA:FALSE\n")
    local_host.run("openssl", "x509", "-req", "-in", tls / "directory.csr", "-CA", root, "-CAkey",
                   tls / "root.key", "-CAcreateserial", "-days", "3650", "-extfile", extensions, "-out", cert)
    return root


def config(validity: int) -> Path:
    """Pebble's configuration: the directory on the link, validation on the host's ports 80 and 443."""
    directory_root()
    path = HOME / "pebble-config.json"
    path.write_text(json.dumps({"pebble": {
        "listenAddress": f"{local_host.HOST_IP}:{DIRECTORY_PORT}",
        "managementListenAddress": f"127.0.0.1:{MANAGEMENT_PORT}",
        "certificate": str(HOME / "tls" / "directory.pem"),
        "privateKey": str(HOME / "tls" / "directory.key"),
        "httpPort": 80,
        "tlsPort": 443,
        "ocspResponderURL": "",
        "externalAccountBindingRequired": False,
        # No Retry-After: Pebble writes it as seconds or, at random, as a date, which RFC 9110 allows and
        # Caddy 2.6.2 (Debian 12's and Ubuntu 24.04's package) cannot read: its order then fails, and Caddy
        # tries again a minute later. Let's Encrypt's answers, as far as we know, give seconds.
        "retryAfter": {"authz": 0, "order": 0},
        "keyAlgorithm": "ecdsa",
        "profiles": {"default": {"description": "stackyard's e2e profile", "validityPeriod": validity}},
    }}, indent=2))
    return path


def running() -> bool:
    return all(local_host.pid_of(name) for name in PROCESSES)


def start(name: str, argv: list[str], env: dict[str, str] | None = None) -> None:
    local_host.PATHS.run.mkdir(parents=True, exist_ok=True)
    process = subprocess.Popen(argv, stdout=(local_host.PATHS.run / f"{name}.log").open("w"),
                               stderr=subprocess.STDOUT, start_new_session=True, env=env)
    (local_host.PATHS.run / f"{name}.pid").write_text(f"{process.pid}\n")


def wait_for(port: int, address: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            socket.create_connection((address, port), 1).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise SystemExit(f"local-acme: nothing listens on {address}:{port} after {timeout:.0f} s; "
                                 f"see {local_host.PATHS.run}/*.log") from None
            time.sleep(0.2)


def up(validity: int = 7776000) -> None:
    """Pebble and its DNS, started afresh (a new issuing root, no accounts), issuing certificates valid for
    ``validity`` seconds. Needs the link (scripts/local_host.py up)."""
    build()
    down()
    start("pebble-challtestsrv", [str(BIN / "pebble-challtestsrv"), "-management", f"127.0.0.1:{DNS_MANAGEMENT_PORT}",
                                  "-dnsserver", f"{local_host.HOST_IP}:{DNS_PORT}", "-http01", "", "-https01", "",
                                  "-tlsalpn01", "", "-doh", "", "-defaultIPv4", "", "-defaultIPv6", ""])
    # No sleep before validating, no refused nonces: a real CA does not refuse at random, and the tests
    # measure stackyard, not a client's retries.
    env = {**os.environ, "PEBBLE_VA_NOSLEEP": "1", "PEBBLE_WFE_NONCEREJECT": "0"}
    start("pebble", [str(BIN / "pebble"), "-config", str(config(validity)), "-dnsserver",
                     f"{local_host.HOST_IP}:{DNS_PORT}"], env=env)
    wait_for(DNS_MANAGEMENT_PORT, "127.0.0.1")
    wait_for(DIRECTORY_PORT, local_host.HOST_IP)
    wait_for(MANAGEMENT_PORT, "127.0.0.1")
    log(f"up: ACME directory {DIRECTORY}, DNS {local_host.HOST_IP}:{DNS_PORT}, certificates valid {validity} s")


def down() -> None:
    for name in PROCESSES:
        local_host.stop(name)


def dns(hostname: str, address: str | None = local_host.GUEST_IP) -> None:
    """Answers ``hostname`` with ``address`` from now on; None: no answer (DNS not pointed yet)."""
    path, body = ("/add-a", {"host": hostname.rstrip(".") + ".", "addresses": [address]}) if address else \
        ("/clear-a", {"host": hostname.rstrip(".") + "."})
    request = urllib.request.Request(f"http://127.0.0.1:{DNS_MANAGEMENT_PORT}{path}", data=json.dumps(body).encode(),
                                     method="POST")
    with urllib.request.urlopen(request, timeout=10) as answer:
        answer.read()


def issuing_root() -> str:
    """The root (PEM) of the certificates this run of Pebble issues."""
    context = ssl.create_default_context(cafile=str(directory_root()))
    with urllib.request.urlopen(f"https://127.0.0.1:{MANAGEMENT_PORT}/roots/0", context=context,
                                timeout=10) as answer:
        return answer.read().decode()


def main(argv: list[str]) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="local_acme.py", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    up_parser = sub.add_parser("up")
    up_parser.add_argument("--validity", type=int, default=7776000, help="certificates' lifetime in seconds")
    sub.add_parser("down")
    dns_parser = sub.add_parser("dns")
    dns_parser.add_argument("hostname")
    dns_parser.add_argument("address", nargs="?")
    sub.add_parser("root")
    args = parser.parse_args(argv)
    if args.command == "up":
        up(args.validity)
    elif args.command == "down":
        down()
    elif args.command == "dns":
        dns(args.hostname, args.address)
    else:
        print(issuing_root(), end="")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
