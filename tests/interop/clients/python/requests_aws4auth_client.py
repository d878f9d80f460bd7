#!/usr/bin/env python3
"""k9 interop client: requests-aws4auth's AWS4Auth (Authorization header only; it cannot
presign). Adapter protocol: see _adapter.py."""

import requests
from requests_aws4auth import AWS4Auth

import _adapter

mode, method, url, body = _adapter.parse_args(supported_modes=("header",))
access_key, secret_key, token = _adapter.credentials()
auth = AWS4Auth(access_key, secret_key, _adapter.REGION, _adapter.SERVICE, session_token=token)

headers = {"Content-Type": "application/json"} if body else {}
response = requests.request(
    method,
    url,
    data=body.encode() if body else None,
    headers=headers,
    auth=auth,
    verify=_adapter.ca_bundle(),
    timeout=30,
)
_adapter.emit(response)
