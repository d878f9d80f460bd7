// k9 interop client: the `aws4` npm package (aws4.sign; signQuery for a presigned URL).
// Adapter protocol: see _adapter.mjs.
import aws4 from 'aws4';
import { credentials, parseArgs, REGION, send, SERVICE } from './_adapter.mjs';

const { mode, method, url, body } = parseArgs();
let path = url.pathname + url.search;
if (mode === 'presign') path += (url.search ? '&' : '?') + 'X-Amz-Expires=300';
const headers = { Host: url.host };
if (body) headers['Content-Type'] = 'application/json';

const signed = aws4.sign(
  {
    host: url.hostname,
    path,
    method,
    headers,
    body: body || undefined,
    service: SERVICE,
    region: REGION,
    signQuery: mode === 'presign',
  },
  credentials(),
);
send({ hostname: url.hostname, port: url.port, method, path: signed.path, headers: signed.headers, body });
