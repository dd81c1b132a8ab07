// Regression tests for problems a review found in the HTTP layer: each test
// fails on the code before its fix.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startServer, adminClient, assertApiError, rawRequest, multipartBody, sleep,
} from './lib/server.mjs';

const T = { timeout: 60000 };

describe('hardening', () => {
  let srv;
  let admin;
  before(async () => {
    srv = await startServer();
    admin = await adminClient(srv);
  });
  after(async () => { await srv?.close(); });

  it('login next with a TAB or backslash does not redirect off-site', T, async () => {
    for (const next of ['/\t/evil.example', '/\\evil.example', '/\n/evil.example', '/%09/x']) {
      const body = new URLSearchParams({ username: 'admin', password: srv.adminPassword, next }).toString();
      const r = await fetch(`${srv.url}/login`, {
        method: 'POST', redirect: 'manual', body, headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      });
      assert.equal(r.status, 303, `login with next=${JSON.stringify(next)}`);
      const loc = r.headers.get('location');
      const target = new URL(loc, srv.url);
      assert.equal(target.origin, srv.url, `next=${JSON.stringify(next)} redirected to ${loc}`);
      if (next.includes('\t') || next.includes('\\') || next.includes('\n')) assert.equal(loc, '/');
    }
  });

  it('a path with a newline cannot forge an access-log line', T, async () => {
    const marker = `FORGED${Date.now()}`;
    await fetch(`${srv.url}/healthz%0a2026-01-01T00:00:00Z%20INFO%20%20${marker}`);
    await sleep(200);
    const lines = srv.stderr().split('\n').filter((l) => l.includes(marker));
    assert.ok(lines.length >= 1, 'the request was logged');
    for (const l of lines) assert.match(l, /^\d{4}-\d\d-\d\dT[\d:]+Z (INFO|WARN|ERROR|DEBUG) +GET /, `one line per request: ${l}`);
  });

  it('an error message quoting long UTF-8 input stays a 4xx with valid JSON', T, async () => {
    const r = await admin.get(`/api/x${'é'.repeat(400)}`);
    assertApiError(r, 404, 'not_found');
    const key = `a${'é'.repeat(40)}`;
    const p = await admin.post('/api/entries', { [key]: 1 });
    assertApiError(p, 400, 'unknown_field');
  });

  it('a multipart upload without its closing boundary is refused, nothing imported', T, async () => {
    const rows = ['project_name,start_time,duration_hours'];
    for (let i = 0; i < 200; i++) rows.push(`P,2024-01-01 ${String(i % 24).padStart(2, '0')}:${String(i % 60).padStart(2, '0')},1`);
    const { body, contentType } = multipartBody(`${rows.join('\n')}\n`, { fields: { wait: 'true' } });
    const cut = body.subarray(0, body.length - 1000);
    const before = (await admin.get('/api/entries?limit=1')).json.total;
    const r = await rawRequest(`${srv.url}/api/import/csv`, {
      body: cut, headers: { 'Content-Type': contentType, Cookie: `session=${admin.session}`, 'X-CSRF-Token': admin.csrf },
    });
    assert.equal(r.status, 400, `incomplete multipart: ${r.status} ${r.text}`);
    assert.equal((await admin.get('/api/entries?limit=1')).json.total, before);
  });

  it('an early 401 reaches a client that sends a large chunked body', T, async () => {
    const r = await rawRequest(`${srv.url}/api/entries`, {
      chunked: true, body: Buffer.alloc(20 * 65536, 0x78), headers: { 'Content-Type': 'application/json' },
    });
    assertApiError(r, 401, 'unauthorized');
  });
});
