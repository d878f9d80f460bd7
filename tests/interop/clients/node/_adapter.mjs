// The adapter protocol shared by the interop suite's Node clients (same as the Python
// ones, see ../python/_adapter.py): `node ADAPTER header|presign METHOD URL [BODY]`,
// credentials from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN, the
// server's certificate from the PEM file named by K9_INTEROP_CA; what was sent goes to
// stderr, and one JSON line {"status", "headers", "body"} to stdout.
import { readFileSync } from 'node:fs';
import https from 'node:https';

export const SERVICE = 'execute-api';
export const REGION = 'us-east-1';

export function parseArgs(supportedModes = ['header', 'presign']) {
  const args = process.argv.slice(2);
  if (args.length < 3 || args.length > 4 || !supportedModes.includes(args[0])) {
    console.error(`usage: ${process.argv[1]} ${supportedModes.join('|')} METHOD URL [BODY]`);
    process.exit(2);
  }
  const [mode, method, url, body = ''] = args;
  return { mode, method, url: new URL(url), body };
}

export function credentials() {
  const creds = {
    accessKeyId: process.env.AWS_ACCESS_KEY_ID,
    secretAccessKey: process.env.AWS_SECRET_ACCESS_KEY,
  };
  if (process.env.AWS_SESSION_TOKEN) creds.sessionToken = process.env.AWS_SESSION_TOKEN;
  return creds;
}

// RFC 3986 percent-encoding (encodeURIComponent leaves !'()* alone).
export function rfc3986(value) {
  return encodeURIComponent(value).replace(/[!'()*]/g, (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase());
}

// Sends the request over https (trusting K9_INTEROP_CA) and prints the protocol's JSON.
export function send({ hostname, port, method, path, headers, body }) {
  console.error(`> ${method} https://${hostname}:${port}${path}`);
  for (const [name, value] of Object.entries(headers)) console.error(`> ${name}: ${value}`);
  const request = https.request(
    { hostname, port, method, path, headers, ca: readFileSync(process.env.K9_INTEROP_CA), timeout: 30000 },
    (response) => {
      const chunks = [];
      response.on('data', (chunk) => chunks.push(chunk));
      response.on('end', () => {
        const lowered = {};
        for (const [name, value] of Object.entries(response.headers)) {
          lowered[name.toLowerCase()] = Array.isArray(value) ? value.join(', ') : value;
        }
        console.log(JSON.stringify({
          status: response.statusCode,
          headers: lowered,
          body: Buffer.concat(chunks).toString('utf8'),
        }));
      });
    },
  );
  request.on('timeout', () => request.destroy(new Error('timed out')));
  request.on('error', (error) => {
    console.error(`request failed: ${error.message}`);
    process.exit(1);
  });
  if (body) request.write(body);
  request.end();
}
