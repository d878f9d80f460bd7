"""The adapter protocol shared by the interop suite's Python clients.

Every adapter is run as ``ADAPTER header|presign METHOD URL [BODY]`` with the credentials in
AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN (absent: no token) and the
server's certificate in the PEM file named by K9_INTEROP_CA. It prints what it sent on
stderr and one JSON line on stdout: {"status": N, "headers": {lowercased: value}, "body": "..."}.
"""

import json
import os
import sys

SERVICE = "execute-api"
REGION = "us-east-1"


def parse_args(supported_modes=("header", "presign")):
    args = sys.argv[1:]
    if len(args) not in (3, 4) or args[0] not in supported_modes:
        sys.exit(f"usage: {sys.argv[0]} {'|'.join(supported_modes)} METHOD URL [BODY]")
    mode, method, url = args[:3]
    body = args[3] if len(args) == 4 else ""
    return mode, method, url, body


def credentials():
    return (
        os.environ["AWS_ACCESS_KEY_ID"],
        os.environ["AWS_SECRET_ACCESS_KEY"],
        os.environ.get("AWS_SESSION_TOKEN") or None,
    )


def ca_bundle():
    return os.environ["K9_INTEROP_CA"]


def log_sent(prepared):
    """Writes a sent requests.PreparedRequest to stderr (for failure reports)."""
    print(f"> {prepared.method} {prepared.url}", file=sys.stderr)
    for name, value in prepared.headers.items():
        print(f"> {name}: {value}", file=sys.stderr)


def emit(response):
    """Prints a requests.Response in the adapter protocol's JSON form."""
    log_sent(response.request)
    print(
        json.dumps(
            {
                "status": response.status_code,
                "headers": {k.lower(): v for k, v in response.headers.items()},
                "body": response.text,
            }
        )
    )
