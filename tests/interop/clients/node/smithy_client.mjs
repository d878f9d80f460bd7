// k9 interop client: @smithy/signature-v4 (the AWS SDK for JavaScript v3's signer), with
// @aws-crypto/sha256-js as its hash. sign() for the Authorization header, presign() for a
// presigned URL. Adapter protocol: see _adapter.mjs.
import { Sha256 } from '@aws-crypto/sha256-js';
import { SignatureV4 } from '@smithy/signature-v4';
import { credentials, parseArgs, REGION, rfc3986, send, SERVICE } from './_adapter.mjs';

const { mode, method, url, body } = parseArgs();
const signer = new SignatureV4({ credentials: credentials(), region: REGION, service: SERVICE, sha256: Sha256 });

const query = {};
for (const [name, value] of url.searchParams) query[name] = value;
const headers = { host: url.host };
if (body) headers['content-type'] = 'application/json';
const request = {
  method,
  protocol: 'https:',
  hostname: url.hostname,
  port: Number(url.port),
  path: url.pathname,
  query,
  headers,
  body: body || undefined,
};

const signed = mode === 'presign'
  ? await signer.presign(request, { expiresIn: 300 })
  : await signer.sign(request);

const pairs = [];
for (const [name, value] of Object.entries(signed.query ?? {})) {
  for (const v of Array.isArray(value) ? value : [value]) pairs.push(`${rfc3986(name)}=${rfc3986(v)}`);
}
const path = signed.path + (pairs.length ? '?' + pairs.join('&') : '');
send({ hostname: url.hostname, port: url.port, method, path, headers: signed.headers, body });
