#!/usr/bin/env python3
"""k9 interop client: botocore's SigV4Auth (Authorization header) and SigV4QueryAuth
(presigned URL). Adapter protocol: see _adapter.py."""

import requests
from botocore.auth import SigV4Auth, SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

import _adapter

mode, method, url, body = _adapter.parse_args()
access_key, secret_key, token = _adapter.credentials()
creds = Credentials(access_key, secret_key, token)

headers = {"Content-Type": "application/json"} if body else {}
request = AWSRequest(method=method, url=url, data=body.encode() if body else None, headers=headers)
if mode == "header":
    SigV4Auth(creds, _adapter.SERVICE, _adapter.REGION).add_auth(request)
else:
    SigV4QueryAuth(creds, _adapter.SERVICE, _adapter.REGION, expires=300).add_auth(request)
prepared = request.prepare()

response = requests.request(
    prepared.method,
    prepared.url,
    headers=dict(prepared.headers.items()),
    data=prepared.body,
    verify=_adapter.ca_bundle(),
    timeout=30,
)
_adapter.emit(response)
