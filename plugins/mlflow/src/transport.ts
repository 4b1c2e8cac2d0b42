import * as fs from 'node:fs';
import * as https from 'node:https';
import * as http from 'node:http';
import { Readable } from 'node:stream';

/** One HTTP exchange, reduced to what the MLflow client needs. */
export interface HttpRequest {
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  url: string;
  headers: Record<string, string>;
  /** A JSON string, or a file streamed from disk (never read whole into memory). */
  body?: string | { file: string; size: number };
  timeoutMs: number;
}
export interface HttpResponse {
  status: number;
  text: string;
}
export type Transport = (req: HttpRequest) => Promise<HttpResponse>;

/** Node's built-in fetch (undici). */
export const fetchTransport: Transport = async (req) => {
  let body: string | ReadableStream | undefined;
  const headers = { ...req.headers };
  if (typeof req.body === 'string') body = req.body;
  else if (req.body) {
    body = Readable.toWeb(fs.createReadStream(req.body.file)) as ReadableStream;
    headers['content-length'] = String(req.body.size);
  }
  const init: RequestInit & { duplex?: 'half' } = { method: req.method, headers, body, signal: AbortSignal.timeout(req.timeoutMs) };
  if (body !== undefined && typeof body !== 'string') init.duplex = 'half';
  const res = await fetch(req.url, init);
  return { status: res.status, text: await res.text() };
};

/**
 * For MLFLOW_TRACKING_INSECURE_TLS only: node:https with certificate checks off (fetch cannot turn
 * them off without a second copy of undici).
 */
export const insecureTlsTransport: Transport = (req) =>
  new Promise((resolve, reject) => {
    const u = new URL(req.url);
    const mod = u.protocol === 'https:' ? https : http;
    const headers: Record<string, string> = { ...req.headers };
    if (typeof req.body === 'string') headers['content-length'] = String(Buffer.byteLength(req.body));
    else if (req.body) headers['content-length'] = String(req.body.size);
    const r = mod.request(u, { method: req.method, headers, rejectUnauthorized: false, timeout: req.timeoutMs }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    r.on('timeout', () => r.destroy(new Error(`timed out after ${req.timeoutMs} ms`)));
    r.on('error', reject);
    if (typeof req.body === 'string') r.end(req.body);
    else if (req.body) fs.createReadStream(req.body.file).on('error', reject).pipe(r);
    else r.end();
  });
