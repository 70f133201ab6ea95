/**
 * Serves the admin page (built into dist/admin-ui) on the admin listener,
 * with a strict Content-Security-Policy: only this origin's script, style
 * and API; no inline code, no frames, no forms posting elsewhere.
 */
import { readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';

const CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "connect-src 'self'",
  "img-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

const FILES: Record<string, { file: string; type: string }> = {
  '/admin/': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/admin/app.js': { file: 'app.js', type: 'text/javascript; charset=utf-8' },
  '/admin/app.css': { file: 'app.css', type: 'text/css; charset=utf-8' },
};

const UI_DIR = new URL('../../admin-ui/', import.meta.url);
const cache = new Map<string, Buffer>();

function load(file: string): Buffer | null {
  const hit = cache.get(file);
  if (hit) return hit;
  try {
    const body = readFileSync(new URL(file, UI_DIR));
    cache.set(file, body);
    return body;
  } catch {
    return null;
  }
}

/** Answers GET for the page's files; false when the path is not one of them. */
export function servePage(req: IncomingMessage, res: ServerResponse, path: string): boolean {
  if (req.method !== 'GET' && req.method !== 'HEAD') return false;
  if (path === '/' || path === '/admin') {
    res.writeHead(302, { location: '/admin/' });
    res.end();
    return true;
  }
  const entry = FILES[path];
  if (!entry) return false;
  const body = load(entry.file);
  if (!body) return false;
  res.writeHead(200, {
    'content-type': entry.type,
    'content-length': body.length,
    'content-security-policy': CSP,
    'x-content-type-options': 'nosniff',
    'referrer-policy': 'no-referrer',
    'x-frame-options': 'DENY',
    'cache-control': 'no-store',
  });
  res.end(req.method === 'HEAD' ? undefined : body);
  return true;
}
