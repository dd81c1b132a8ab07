// Error handling: unknown paths, wrong methods, body size and content type,
// malformed JSON, wrong field types, hostile input that must not crash the server.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import {
  startServer, Client, assertApiError, assertStatus, adminClient,
} from './lib/server.mjs';

const T = { timeout: 60000 };
const GOOD = { project: 'ErrProj', start_time: '2024-01-15T09:00:00Z', end_time: '2024-01-15T10:00:00Z' };

/** Sends raw bytes over TCP and returns the raw response text (until close or timeout). */
function rawRequest(port, data, timeoutMs = 10000) {
  return new Promise((resolve) => {
    const sock = net.connect(port, '127.0.0.1');
    let out = '';
    const done = () => { clearTimeout(timer); sock.destroy(); resolve(out); };
    const timer = setTimeout(done, timeoutMs);
    sock.setEncoding('latin1');
    sock.on('data', (d) => { out += d; if (/\r\n\r\n/.test(out) && /content-length: *0\r\n/i.test(out)) done(); });
    sock.on('error', done);
    sock.on('close', done);
    sock.write(data);
  });
}

describe('errors', () => {
  let srv;
  let admin;
  let bearer;
  let entriesTotal;
  before(async () => {
    srv = await startServer();
    admin = await adminClient(srv);
    const t = await admin.post('/api/tokens', { name: 'errors' });
    assertStatus(t, 201);
    bearer = new Client(srv.url, { bearer: t.json.token });
    entriesTotal = async () => {
      const r = await admin.get('/api/entries');
      assertStatus(r, 200);
      return r.json.total;
    };
  });
  after(async () => { await srv?.close(); });

  it('unknown /api path is a JSON 404 not_found, signed in or not', T, async () => {
    assertApiError(await new Client(srv.url).get('/api/nope'), 404, 'not_found');
    assertApiError(await admin.get('/api/nope'), 404, 'not_found');
    assertApiError(await bearer.get('/api/nope/deeper?x=1'), 404, 'not_found');
    assertApiError(await admin.post('/api/nope', {}), 404, 'not_found');
  });

  it('unknown or missing record ids are 404', T, async () => {
    assertApiError(await admin.get('/api/entries/999999'), 404, 'not_found');
    assertApiError(await admin.put('/api/entries/999999', { notes: 'x' }), 404, 'not_found');
    assertApiError(await admin.del('/api/entries/999999'), 404, 'not_found');
    assertApiError(await admin.del('/api/tokens/999999'), 404, 'not_found');
  });

  it('wrong method on a known path is 405 with an Allow header', T, async () => {
    const a = await admin.req('PATCH', '/api/me', { json: {} });
    assertApiError(a, 405, 'method_not_allowed');
    assert.match(a.headers.get('allow') || '', /\bGET\b/);
    const b = await admin.req('DELETE', '/api/entries');
    assertApiError(b, 405, 'method_not_allowed');
    const allow = b.headers.get('allow') || '';
    assert.match(allow, /\bGET\b/);
    assert.match(allow, /\bPOST\b/);
    assert.doesNotMatch(allow, /\bDELETE\b/);
    const c = await bearer.req('POST', '/api/me', { json: {} });
    assertApiError(c, 405, 'method_not_allowed');
    assert.ok(c.headers.get('allow'));
  });

  it('a JSON body over 1 MiB is 413 too_large; just under is judged on its content', T, async () => {
    const before = await entriesTotal();
    const big = JSON.stringify({ ...GOOD, notes: 'x'.repeat(1024 * 1024 + 100) });
    const r = await admin.req('POST', '/api/entries', { body: big, headers: { 'Content-Type': 'application/json' } });
    assertApiError(r, 413, 'too_large');
    // 900 KiB is under the limit: the notes length rule answers instead.
    const mid = JSON.stringify({ ...GOOD, notes: 'y'.repeat(900 * 1024) });
    const m = await admin.req('POST', '/api/entries', { body: mid, headers: { 'Content-Type': 'application/json' } });
    assertApiError(m, 400, 'invalid_field', 'notes');
    assert.equal(await entriesTotal(), before);
  });

  it('wrong Content-Type is 415 unsupported_media_type', T, async () => {
    const before = await entriesTotal();
    const body = JSON.stringify(GOOD);
    const a = await admin.req('POST', '/api/entries', { body, headers: { 'Content-Type': 'text/plain' } });
    assertApiError(a, 415, 'unsupported_media_type');
    const b = await admin.req('POST', '/api/entries', { body: new TextEncoder().encode(body) });
    assertApiError(b, 415, 'unsupported_media_type');
    const c = await admin.req('POST', '/api/entries', {
      body: new URLSearchParams({ project: 'x' }).toString(),
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    });
    assertApiError(c, 415, 'unsupported_media_type');
    assert.equal(await entriesTotal(), before);
    const ok = await admin.req('POST', '/api/entries', {
      body, headers: { 'Content-Type': 'application/json; charset=utf-8' },
    });
    assertStatus(ok, 201, 'application/json with charset is accepted');
  });

  it('malformed JSON is 400 invalid_json', T, async () => {
    const before = await entriesTotal();
    for (const body of ['{"project": ', 'not json', '{"a":1}{"b":2}', '{"project":"a",}', "{'project':'a'}"]) {
      const r = await admin.req('POST', '/api/entries', { body, headers: { 'Content-Type': 'application/json' } });
      assertApiError(r, 400, 'invalid_json');
    }
    const bad = Buffer.concat([Buffer.from('{"project":"'), Buffer.from([0xff, 0xfe]), Buffer.from('","start_time":"2024-01-01T00:00:00Z","duration_seconds":60}')]);
    const r = await admin.req('POST', '/api/entries', { body: bad, headers: { 'Content-Type': 'application/json' } });
    assert.equal(r.status, 400, `invalid UTF-8: ${r.status} ${r.text}`);
    assert.equal(await entriesTotal(), before);
  });

  it('an empty body with Content-Type application/json is 400 invalid_json', T, async () => {
    const before = await entriesTotal();
    const r = await admin.req('POST', '/api/entries', { body: '', headers: { 'Content-Type': 'application/json' } });
    assertApiError(r, 400, 'invalid_json');
    assert.equal(await entriesTotal(), before);
  });

  it('a JSON value that is not an object is 400', T, async () => {
    for (const body of ['[]', '"str"', '42', 'null']) {
      const r = await admin.req('POST', '/api/entries', { body, headers: { 'Content-Type': 'application/json' } });
      assertApiError(r, 400, ['invalid_json', 'invalid_input', 'invalid_field']);
    }
  });

  it('wrong field types are 400 invalid_field naming the field', T, async () => {
    const before = await entriesTotal();
    const cases = [
      [{ ...GOOD, start_time: 123 }, 'start_time'],
      [{ ...GOOD, end_time: true }, 'end_time'],
      [{ ...GOOD, project: ['a'] }, 'project'],
      [{ ...GOOD, project: undefined, project_id: 'abc' }, 'project_id'],
      [{ ...GOOD, end_time: undefined, duration_seconds: '60' }, 'duration_seconds'],
      [{ ...GOOD, notes: 5 }, 'notes'],
      [{ ...GOOD, billable: 1 }, 'billable'],
      [{ ...GOOD, tags: { a: 1 } }, 'tags'],
      [{ ...GOOD, timezone: 7 }, 'timezone'],
    ];
    for (const [body, field] of cases) {
      const r = await admin.post('/api/entries', body);
      assertApiError(r, 400, 'invalid_field', field);
    }
    assert.equal(await entriesTotal(), before);
  });

  it('bad JSON for other endpoints follows the same rules', T, async () => {
    const r = await admin.req('POST', '/api/tokens', { body: '{', headers: { 'Content-Type': 'application/json' } });
    assertApiError(r, 400, 'invalid_json');
    const u = await admin.req('POST', '/api/users', { body: 'x', headers: { 'Content-Type': 'text/plain' } });
    assertApiError(u, 415, 'unsupported_media_type');
  });

  it('hostile input does not crash the server', T, async () => {
    const deep = '['.repeat(100000) + ']'.repeat(100000);
    const a = await admin.req('POST', '/api/entries', { body: deep, headers: { 'Content-Type': 'application/json' } });
    assert.equal(a.status, 400, `deep nesting: ${a.status}`);
    const b = await admin.post('/api/entries', { ...GOOD, notes: 'a\u0000b' });
    assert.ok(b.status < 500, `NUL in string: ${b.status}`);
    const c = await admin.get('/api/entries?start_date=%zz&limit=%00');
    assert.ok(c.status >= 400 && c.status < 500, `bad escapes: ${c.status}`);
    const d = await admin.get('/api/entries/' + '9'.repeat(40));
    assert.ok(d.status === 404 || d.status === 400, `huge id: ${d.status}`);
    const e = await admin.get('/api/entries/-1');
    assert.ok(e.status === 404 || e.status === 400, `negative id: ${e.status}`);
    const f = await admin.get('/api/' + 'a'.repeat(6000));
    assert.ok(f.status >= 400 && f.status < 500, `long path: ${f.status}`);
    const g = await admin.post('/api/entries', { ...GOOD, start_time: '9999999999-01-01T00:00:00Z' });
    assertApiError(g, 400, 'invalid_field', 'start_time');
    const h = await admin.post('/api/entries', { ...GOOD, end_time: undefined, duration_seconds: 1e300 });
    assertApiError(h, 400, 'invalid_field', 'duration_seconds');
    const raw = await rawRequest(srv.port, 'GARBAGE / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    assert.ok(!/^HTTP\/1\.[01] 2/.test(raw), `garbage method: ${raw.slice(0, 80)}`);
    const raw2 = await rawRequest(srv.port, 'POST /api/entries HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: -5\r\n\r\n');
    assert.ok(!/^HTTP\/1\.[01] 2/.test(raw2), `negative content-length: ${raw2.slice(0, 80)}`);
    const raw3 = await rawRequest(srv.port, 'GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\nCookie: session=' + 'A'.repeat(10000) + '\r\n\r\n');
    assert.ok(raw3 === '' || /^HTTP\/1\.[01] \d{3}/.test(raw3), 'huge cookie answered or closed');
    const hz = await new Client(srv.url).get('/healthz');
    assertStatus(hz, 200, 'server alive after hostile input');
    assert.equal(srv.exitInfo(), null, 'server still running');
  });

  it('every /api error has the documented shape (including 401)', T, async () => {
    assertApiError(await new Client(srv.url).get('/api/entries'), 401, 'unauthorized');
    assertApiError(await new Client(srv.url).post('/api/entries', GOOD), 401, 'unauthorized');
    assertApiError(await new Client(srv.url).get('/api/tokens'), 401, 'unauthorized');
  });
});
