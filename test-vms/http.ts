/** Minimal HTTP(S) GET from the host to a forwarded port on 127.0.0.1. */
import http from 'node:http';
import https from 'node:https';

export interface HttpAnswer {
  status: number;
  body: string;
}

export function httpGet(url: string, options: { user?: string; password?: string; timeoutMs?: number } = {}): Promise<HttpAnswer> {
  const { hostname } = new URL(url);
  if (hostname !== '127.0.0.1') throw new Error(`tests only talk to 127.0.0.1, not ${hostname}`);
  const client = url.startsWith('https:') ? https : http;
  const headers: Record<string, string> = {};
  if (options.user !== undefined) {
    headers.authorization = `Basic ${Buffer.from(`${options.user}:${options.password ?? ''}`).toString('base64')}`;
  }
  return new Promise((resolve, reject) => {
    // The appliance's certificate is self-signed and made at first boot.
    const request = client.get(url, { headers, rejectUnauthorized: false, timeout: options.timeoutMs ?? 10_000 }, (response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (body += chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body }));
    });
    request.on('timeout', () => request.destroy(new Error(`no answer from ${url} within ${options.timeoutMs ?? 10_000} ms`)));
    request.on('error', reject);
  });
}
