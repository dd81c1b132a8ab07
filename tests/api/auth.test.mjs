// Authentication: login (JSON and form), cookies, /api/me, pages, security
// headers, logout, CSRF, API tokens, login throttling, and the access log.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startServer, Client, assertApiError, assertStatus, adminClient, createUser, sessionCookie, sleep,
} from './lib/server.mjs';

const T = { timeout: 60000 };

function assertSecurityHeaders(r, what) {
  assert.equal(r.headers.get('x-content-type-options'), 'nosniff', `${what}: X-Content-Type-Options`);
  assert.equal((r.headers.get('x-frame-options') || '').toUpperCase(), 'DENY', `${what}: X-Frame-Options`);
  assert.ok(r.headers.get('referrer-policy'), `${what}: Referrer-Policy missing`);
}

describe('auth (shared server)', () => {
  let srv;
  let admin;
  before(async () => {
    srv = await startServer();
    admin = await adminClient(srv);
  });
  after(async () => { await srv?.close(); });

  it('GET /healthz answers 200 {"status":"ok"} without auth', T, async () => {
    const r = await new Client(srv.url).get('/healthz');
    assertStatus(r, 200);
    assert.deepEqual(r.json, { status: 'ok' });
    assertSecurityHeaders(r, '/healthz');
  });

  it('prints the generated admin password on stdout', T, () => {
    assert.ok(srv.adminPassword && srv.adminPassword.length >= 8, `password: ${srv.adminPassword}`);
    assert.match(srv.stdout(), /Created administrator "admin" with password: \S+/);
    assert.ok(!srv.stderr().includes(srv.adminPassword), 'admin password must not be in the log (stderr)');
  });

  it('JSON login answers user, csrf_token and an HttpOnly SameSite=Lax cookie without Secure', T, async () => {
    const c = new Client(srv.url);
    const r = await c.login('admin', srv.adminPassword);
    assertStatus(r, 200);
    assert.equal(r.json.success, true);
    assert.equal(typeof r.json.csrf_token, 'string');
    assert.ok(r.json.csrf_token.length >= 16, 'csrf token looks too short');
    const u = r.json.user;
    assert.ok(u, 'user object');
    assert.equal(typeof u.id, 'number');
    assert.equal(u.username, 'admin');
    assert.equal(u.is_admin, true);
    assert.ok('email' in u && 'full_name' in u && 'timezone' in u, `user keys: ${Object.keys(u)}`);
    assert.equal(u.timezone, 'UTC');
    assert.ok(!('password_hash' in u) && !JSON.stringify(r.json).includes('argon2'), 'no password hash');
    const ck = sessionCookie(r.setCookies);
    assert.ok(ck, `session cookie set: ${r.setCookies}`);
    assert.match(ck, /;\s*HttpOnly/i);
    assert.match(ck, /;\s*SameSite=Lax/i);
    assert.match(ck, /;\s*Path=\//i);
    assert.doesNotMatch(ck, /;\s*Secure/i);
    const value = /^session=([^;]+)/.exec(ck)[1];
    assert.ok(value.length >= 20, 'session token looks too short');
  });

  it('GET /api/me returns the profile and the session csrf token', T, async () => {
    const c = new Client(srv.url);
    const l = await c.login('admin', srv.adminPassword);
    const r = await c.get('/api/me');
    assertStatus(r, 200);
    for (const k of ['id', 'username', 'email', 'full_name', 'is_admin', 'timezone', 'csrf_token']) {
      assert.ok(k in r.json, `missing ${k} in ${r.text}`);
    }
    assert.equal(r.json.username, 'admin');
    assert.equal(r.json.id, l.json.user.id);
    assert.equal(r.json.is_admin, true);
    assert.equal(r.json.csrf_token, l.json.csrf_token);
    assertSecurityHeaders(r, '/api/me');
  });

  it('GET /api/me without auth is a JSON 401, never a redirect', T, async () => {
    const r = await new Client(srv.url).get('/api/me');
    assertApiError(r, 401, 'unauthorized');
    assert.equal(r.headers.get('location'), null);
    assertSecurityHeaders(r, '/api/me 401');
  });

  it('a forged session cookie is rejected', T, async () => {
    const c = new Client(srv.url);
    c.session = 'x'.repeat(43);
    assertApiError(await c.get('/api/me'), 401, 'unauthorized');
  });

  it('wrong password and unknown user both answer 401 invalid_credentials with the same message', T, async () => {
    await createUser(admin, 'wrongpw');
    const a = await new Client(srv.url).login('wrongpw', 'not-the-password');
    const b = await new Client(srv.url).login('no-such-user', 'not-the-password');
    assertApiError(a, 401, 'invalid_credentials');
    assertApiError(b, 401, 'invalid_credentials');
    assert.equal(a.json.error, b.json.error, 'no user enumeration through the message');
    assert.equal(sessionCookie(a.setCookies), undefined);
    assert.equal(sessionCookie(b.setCookies), undefined);
  });

  it('GET / without auth redirects to /login?next=%2F', T, async () => {
    const r = await new Client(srv.url).get('/');
    assert.ok([302, 303].includes(r.status), `status ${r.status}`);
    const loc = r.headers.get('location') || '';
    assert.ok(loc.startsWith('/login?next='), `Location: ${loc}`);
    const next = new URLSearchParams(loc.slice(loc.indexOf('?') + 1)).get('next');
    assert.equal(next, '/');
    assertSecurityHeaders(r, 'redirect');
  });

  it('GET / when signed in is an HTML page with a CSP', T, async () => {
    const r = await admin.get('/');
    assertStatus(r, 200);
    assert.match(r.headers.get('content-type') || '', /text\/html/);
    assert.ok(r.headers.get('content-security-policy'), 'CSP on HTML');
    assertSecurityHeaders(r, '/');
  });

  it('GET /login is an HTML form with security headers and a CSP', T, async () => {
    const r = await new Client(srv.url).get('/login');
    assertStatus(r, 200);
    assert.match(r.headers.get('content-type') || '', /text\/html/);
    assert.match(r.text, /<form/i);
    assert.match(r.text, /name=["']?password/i);
    assertSecurityHeaders(r, '/login');
    assert.ok(r.headers.get('content-security-policy'), 'CSP on HTML');
  });

  it('form login redirects to a local next, with a session cookie', T, async () => {
    const c = new Client(srv.url);
    const r = await c.req('POST', '/login', {
      body: new URLSearchParams({ username: 'admin', password: srv.adminPassword, next: '/entries?x=1' }).toString(),
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      csrf: false,
    });
    assertStatus(r, 303);
    assert.equal(r.headers.get('location'), '/entries?x=1');
    assert.ok(sessionCookie(r.setCookies), 'cookie set');
    const me = await c.get('/api/me');
    assertStatus(me, 200);
    assert.equal(me.json.username, 'admin');
  });

  for (const next of ['//evil.example/x', 'https://evil.example/', 'javascript:alert(1)', '/\\evil.example']) {
    it(`form login does not redirect off-site (next=${next})`, T, async () => {
      const r = await new Client(srv.url).req('POST', '/login', {
        body: new URLSearchParams({ username: 'admin', password: srv.adminPassword, next }).toString(),
        headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
        csrf: false,
      });
      assertStatus(r, 303);
      const loc = r.headers.get('location');
      if (next.startsWith('/\\')) {
        assert.ok(!/^\/[\\/]/.test(loc), `Location ${loc}`);
      } else {
        assert.equal(loc, '/');
      }
    });
  }

  it('form login with a bad password sets no cookie and does not succeed', T, async () => {
    await createUser(admin, 'formfail');
    const r = await new Client(srv.url).req('POST', '/login', {
      body: new URLSearchParams({ username: 'formfail', password: 'wrong', next: '/x' }).toString(),
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      csrf: false,
    });
    assert.ok(r.status >= 300, `status ${r.status}`);
    assert.equal(sessionCookie(r.setCookies), undefined, `no session cookie: ${r.setCookies}`);
    if (r.status === 303 || r.status === 302) {
      assert.ok((r.headers.get('location') || '').startsWith('/login?error=1'), `Location ${r.headers.get('location')}`);
    }
  });

  it('POST /logout needs the CSRF token, then invalidates the session', T, async () => {
    const c = new Client(srv.url);
    assertStatus(await c.login('admin', srv.adminPassword), 200);
    const cookie = c.session;
    const noCsrf = await c.req('POST', '/logout', { csrf: false });
    assertStatus(noCsrf, 403, 'logout without CSRF');
    assertStatus(await c.get('/api/me'), 200, 'session still valid after refused logout');
    const r = await c.req('POST', '/logout');
    assertStatus(r, 200);
    assert.equal(r.json.success, true);
    const stale = new Client(srv.url);
    stale.session = cookie;
    assertApiError(await stale.get('/api/me'), 401, 'unauthorized');
  });

  describe('CSRF', () => {
    it('cookie POST without or with a wrong X-CSRF-Token is 403 csrf_failed; nothing created', T, async () => {
      const before = (await admin.get('/api/tokens')).json.tokens.length;
      const a = await admin.req('POST', '/api/tokens', { json: { name: 'csrf-none' }, csrf: false });
      assertApiError(a, 403, 'csrf_failed');
      const b = await admin.req('POST', '/api/tokens', {
        json: { name: 'csrf-wrong' }, csrf: false, headers: { 'X-CSRF-Token': 'wrong-token-value' },
      });
      assertApiError(b, 403, 'csrf_failed');
      const c = await admin.req('POST', '/api/entries', {
        json: { project: 'P', start_time: '2024-01-01T10:00:00Z', end_time: '2024-01-01T11:00:00Z' }, csrf: false,
      });
      assertApiError(c, 403, 'csrf_failed');
      const after = (await admin.get('/api/tokens')).json.tokens.length;
      assert.equal(after, before);
    });

    it('another session\'s csrf token is not accepted', T, async () => {
      const other = new Client(srv.url);
      assertStatus(await other.login('admin', srv.adminPassword), 200);
      assert.notEqual(other.csrf, admin.csrf, 'each session has its own csrf token');
      const r = await admin.req('POST', '/api/tokens', {
        json: { name: 'x' }, csrf: false, headers: { 'X-CSRF-Token': other.csrf },
      });
      assertApiError(r, 403, 'csrf_failed');
    });

    it('X-CSRF-Token and X-CSRFToken are both accepted', T, async () => {
      const a = await admin.req('POST', '/api/tokens', {
        json: { name: 'csrf-a' }, csrf: false, headers: { 'X-CSRF-Token': admin.csrf },
      });
      assertStatus(a, 201);
      const b = await admin.req('POST', '/api/tokens', {
        json: { name: 'csrf-b' }, csrf: false, headers: { 'X-CSRFToken': admin.csrf },
      });
      assertStatus(b, 201);
    });

    it('DELETE and PUT without the token are refused too', T, async () => {
      const t = await admin.post('/api/tokens', { name: 'del-csrf' });
      assertStatus(t, 201);
      assertApiError(await admin.req('DELETE', `/api/tokens/${t.json.id}`, { csrf: false }), 403, 'csrf_failed');
      const bc = new Client(srv.url, { bearer: t.json.token });
      assertStatus(await bc.get('/api/me'), 200, 'token not revoked by the refused DELETE');
      const e = await bc.post('/api/entries', {
        project: 'CsrfP', start_time: '2024-01-01T10:00:00Z', end_time: '2024-01-01T11:00:00Z',
      });
      assertStatus(e, 201);
      const put = await admin.req('PUT', `/api/entries/${e.json.id}`, { json: { notes: 'x' }, csrf: false });
      assertApiError(put, 403, 'csrf_failed');
      assert.equal((await admin.get(`/api/entries/${e.json.id}`)).json.notes || '', '');
    });

    it('GET needs no token', T, async () => {
      assertStatus(await admin.req('GET', '/api/tokens', { csrf: false }), 200);
    });
  });

  describe('API tokens', () => {
    it('create, list without secrets, use as Bearer without CSRF, last_used_at, revoke', T, async () => {
      const r = await admin.post('/api/tokens', { name: 'ci' });
      assertStatus(r, 201);
      assert.equal(r.json.success, true);
      assert.equal(r.json.name, 'ci');
      assert.equal(typeof r.json.id, 'number');
      const { token, prefix, id } = r.json;
      assert.match(token, /^tt_/);
      assert.ok(token.length >= 30, 'token has enough entropy');
      assert.equal(typeof prefix, 'string');
      assert.ok(prefix.length > 0 && prefix.length < token.length);
      assert.ok(token.startsWith(prefix), `prefix ${prefix} is a prefix of the token`);

      let list = await admin.get('/api/tokens');
      assertStatus(list, 200);
      assert.ok(!list.text.includes(token), 'list never includes the secret');
      assert.ok(!/hash/i.test(Object.keys(list.json.tokens[0] || {}).join(',')), 'no hash field');
      let row = list.json.tokens.find((t) => t.id === id);
      assert.ok(row, 'token listed');
      for (const k of ['id', 'name', 'prefix', 'created_at', 'last_used_at', 'revoked_at']) assert.ok(k in row, `key ${k}`);
      assert.ok(!('token' in row), 'no token field in list');
      assert.equal(row.last_used_at, null);
      assert.equal(row.revoked_at, null);
      assert.equal(row.prefix, prefix);

      const bc = new Client(srv.url, { bearer: token });
      const me = await bc.get('/api/me');
      assertStatus(me, 200);
      assert.equal(me.json.username, 'admin');
      // A write without any CSRF header works with a bearer token.
      const e = await bc.post('/api/entries', {
        project: 'TokenProject', start_time: '2024-02-01T10:00:00Z', end_time: '2024-02-01T10:30:00Z',
      });
      assertStatus(e, 201, 'bearer POST without CSRF');

      list = await admin.get('/api/tokens');
      row = list.json.tokens.find((t) => t.id === id);
      assert.ok(row.last_used_at, `last_used_at set after use: ${JSON.stringify(row)}`);

      const d = await admin.del(`/api/tokens/${id}`);
      assertStatus(d, 200);
      assert.equal(d.json.success, true);
      assertApiError(await bc.get('/api/me'), 401, 'invalid_token');
      list = await admin.get('/api/tokens');
      row = list.json.tokens.find((t) => t.id === id);
      if (row) assert.ok(row.revoked_at, 'revoked_at set');
    });

    it('garbage or malformed bearer tokens get 401', T, async () => {
      for (const b of ['tt_garbage', 'nonsense', 'tt_' + 'A'.repeat(60)]) {
        const r = await new Client(srv.url, { bearer: b }).get('/api/me');
        assertApiError(r, 401, ['invalid_token', 'unauthorized']);
      }
      const r = await new Client(srv.url).get('/api/me', { headers: { Authorization: 'Basic YWRtaW46YWRtaW4=' } });
      assert.equal(r.status, 401);
    });

    it('a user cannot revoke or see another user\'s token', T, async () => {
      const t = await admin.post('/api/tokens', { name: 'admins' });
      assertStatus(t, 201);
      const bob = await createUser(admin, 'tokbob');
      const lst = await bob.client.get('/api/tokens');
      assertStatus(lst, 200);
      assert.ok(!lst.json.tokens.some((x) => x.id === t.json.id), 'bob does not see admin tokens');
      assertApiError(await bob.client.del(`/api/tokens/${t.json.id}`), 404, 'not_found');
      assertStatus(await new Client(srv.url, { bearer: t.json.token }).get('/api/me'), 200, 'still valid');
    });

    it('token creation validates the name', T, async () => {
      assertApiError(await admin.post('/api/tokens', { name: 42 }), 400, 'invalid_field', 'name');
    });
  });

  it('the access log has method, path, status and never secrets', T, async () => {
    const c = new Client(srv.url);
    assertStatus(await c.login('admin', srv.adminPassword), 200);
    const cookie = c.session;
    const t = await c.post('/api/tokens', { name: 'logcheck' });
    assertStatus(t, 201);
    const bc = new Client(srv.url, { bearer: t.json.token });
    assertStatus(await bc.get('/api/me?probe=logcheck'), 200);
    // The password of a failed login must not be logged either.
    await new Client(srv.url).login('logcheck-nobody', 'Sup3r-Secret-Attempt');
    await sleep(300);
    const log = srv.stderr();
    const lines = log.split('\n').filter((l) => l.includes('/api/me') && l.includes('GET'));
    assert.ok(lines.some((l) => /\b200\b/.test(l)), `access log line for GET /api/me 200 in:\n${log.slice(-3000)}`);
    assert.ok(log.split('\n').some((l) => l.includes('POST') && l.includes('/login')), 'POST /login logged');
    assert.ok(!log.includes(cookie), 'session cookie value leaked into the log');
    assert.ok(!log.includes(srv.adminPassword), 'admin password leaked into the log');
    assert.ok(!log.includes('Sup3r-Secret-Attempt'), 'attempted password leaked into the log');
    assert.ok(!log.includes(t.json.token), 'bearer token secret leaked into the log');
    const secretPart = t.json.token.slice(t.json.prefix.length);
    assert.ok(secretPart.length < 8 || !log.includes(secretPart), 'token secret part leaked');
  });
});

describe('login throttling per user (fresh server)', () => {
  let srv;
  let admin;
  before(async () => {
    srv = await startServer();
    admin = await adminClient(srv);
  });
  after(async () => { await srv?.close(); });

  it('after 5 failures for one username, 429 with Retry-After even with the right password', T, async () => {
    const carol = await createUser(admin, 'carol');
    for (let i = 0; i < 5; i++) {
      const r = await new Client(srv.url).login('carol', `wrong-${i}`);
      assertApiError(r, 401, 'invalid_credentials');
    }
    const r = await new Client(srv.url).login('carol', carol.password);
    assertApiError(r, 429, 'too_many_attempts');
    const ra = r.headers.get('retry-after');
    assert.ok(ra && /^\d+$/.test(ra) && Number(ra) > 0, `Retry-After: ${ra}`);
    assert.equal(sessionCookie(r.setCookies), undefined, 'no session when throttled');
    // Other users from the same address are unaffected.
    const d = await createUser(admin, 'dave');
    assertStatus(await new Client(srv.url).login('dave', d.password), 200, 'other user not throttled');
  });
});

describe('login throttling per address (fresh server)', () => {
  let srv;
  before(async () => { srv = await startServer(); });
  after(async () => { await srv?.close(); });

  it('after 20 failures from one address, 429 for that address', { timeout: 120000 }, async () => {
    for (let i = 0; i < 20; i++) {
      const r = await new Client(srv.url).login(`ghost${i}`, 'wrong');
      assertApiError(r, 401, 'invalid_credentials', undefined);
    }
    const r = await new Client(srv.url).login('admin', srv.adminPassword);
    assertApiError(r, 429, 'too_many_attempts');
    assert.ok(r.headers.get('retry-after'), 'Retry-After');
  });
});

describe('TT_COOKIE_SECURE=1 (fresh server)', () => {
  let srv;
  before(async () => { srv = await startServer({ env: { TT_COOKIE_SECURE: '1' } }); });
  after(async () => { await srv?.close(); });

  it('the session cookie carries Secure', T, async () => {
    const c = new Client(srv.url);
    const r = await c.login('admin', srv.adminPassword);
    assertStatus(r, 200);
    const ck = sessionCookie(r.setCookies);
    assert.ok(ck, 'cookie set');
    assert.match(ck, /;\s*Secure/i);
    assert.match(ck, /;\s*HttpOnly/i);
    assert.match(ck, /;\s*SameSite=Lax/i);
  });
});
