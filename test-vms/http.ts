/** Minimal HTTP(S) GET and form POST from the host to a forwarded port on 127.0.0.1. */
import http from 'node:http';
import https from 'node:https';

export interface HttpAnswer {
  status: number;
  body: string;
}

export interface HttpOptions {
  user?: string;
  password?: string;
  timeoutMs?: number;
}

export function httpGet(url: string, options: HttpOptions = {}): Promise<HttpAnswer> {
  return request(url, 'GET', options);
}

/** POSTs `form` (already encoded, so a test can send malformed bodies) as application/x-www-form-urlencoded. */
export function httpPostForm(url: string, form: string, options: HttpOptions = {}): Promise<HttpAnswer> {
  return request(url, 'POST', options, form);
}

function request(url: string, method: 'GET' | 'POST', options: HttpOptions, form?: string): Promise<HttpAnswer> {
  const { hostname } = new URL(url);
  if (hostname !== '127.0.0.1') throw new Error(`tests only talk to 127.0.0.1, not ${hostname}`);
  const client = url.startsWith('https:') ? https : http;
  const headers: Record<string, string> = {};
  if (options.user !== undefined) {
    headers.authorization = `Basic ${Buffer.from(`${options.user}:${options.password ?? ''}`).toString('base64')}`;
  }
  if (form !== undefined) {
    headers['content-type'] = 'application/x-www-form-urlencoded';
    headers['content-length'] = String(Buffer.byteLength(form));
  }
  return new Promise((resolve, reject) => {
    // The appliance's certificate is self-signed and made at first boot.
    const outgoing = client.request(url, { method, headers, rejectUnauthorized: false, timeout: options.timeoutMs ?? 10_000 }, (response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (body += chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body }));
    });
    outgoing.on('timeout', () => outgoing.destroy(new Error(`no answer from ${url} within ${options.timeoutMs ?? 10_000} ms`)));
    outgoing.on('error', reject);
    outgoing.end(form);
  });
}
