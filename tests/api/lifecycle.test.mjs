// Process lifecycle: clean exit on SIGTERM/SIGINT (idle, with an in-flight
// request, with open keep-alive connections), restart on the same data dir.

import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import fsp from 'node:fs/promises';
import {
  startServer, Client, assertStatus, adminClient, sleep,
} from './lib/server.mjs';

const T = { timeout: 60000 };
const QUICK_MS = 10000; // "within a few seconds", generous for sanitizer builds

async function stopTimed(srv, signal) {
  const t0 = Date.now();
  const code = await srv.stop(signal, 20000);
  return { code, ms: Date.now() - t0, info: srv.exitInfo() };
}

describe('lifecycle', () => {
  const servers = [];
  const dirs = [];
  after(async () => {
    const errors = [];
    for (const s of servers) {
      try { await s.close(); } catch (e) { errors.push(e); }
    }
    for (const d of dirs) await fsp.rm(d, { recursive: true, force: true });
    if (errors.length) throw errors[0];
  });
  async function fresh(opts) {
    const s = await startServer(opts);
    servers.push(s);
    return s;
  }

  it('SIGTERM when idle exits 0 quickly', T, async () => {
    const srv = await fresh();
    assertStatus(await new Client(srv.url).get('/healthz'), 200);
    const r = await stopTimed(srv, 'SIGTERM');
    assert.equal(r.code, 0, `exit ${JSON.stringify(r.info)}\n${srv.stderr().slice(-2000)}`);
    assert.ok(r.ms < QUICK_MS, `took ${r.ms} ms`);
  });

  it('SIGINT when idle exits 0 quickly', T, async () => {
    const srv = await fresh();
    assertStatus(await new Client(srv.url).get('/healthz'), 200);
    const r = await stopTimed(srv, 'SIGINT');
    assert.equal(r.code, 0, `exit ${JSON.stringify(r.info)}\n${srv.stderr().slice(-2000)}`);
    assert.ok(r.ms < QUICK_MS, `took ${r.ms} ms`);
  });

  it('SIGTERM with open idle keep-alive connections exits 0 quickly', T, async () => {
    const srv = await fresh();
    const socks = [];
    for (let i = 0; i < 5; i++) {
      const s = net.connect(srv.port, '127.0.0.1');
      s.on('error', () => {});
      await new Promise((res) => s.once('connect', res));
      s.write('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n');
      socks.push(s);
    }
    await sleep(300);
    const r = await stopTimed(srv, 'SIGTERM');
    for (const s of socks) s.destroy();
    assert.equal(r.code, 0, `exit ${JSON.stringify(r.info)}`);
    assert.ok(r.ms < QUICK_MS, `took ${r.ms} ms`);
  });

  it('SIGTERM with a request in flight (body half sent) exits 0 quickly', T, async () => {
    const srv = await fresh();
    const admin = await adminClient(srv);
    const sock = net.connect(srv.port, '127.0.0.1');
    sock.on('error', () => {});
    await new Promise((res) => sock.once('connect', res));
    const body = JSON.stringify({ project: 'Slow', start_time: '2024-01-01T09:00:00Z', duration_seconds: 60 });
    sock.write(
      'POST /api/entries HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n'
      + `Cookie: session=${admin.session}\r\nX-CSRF-Token: ${admin.csrf}\r\n`
      + `Content-Length: ${body.length}\r\n\r\n${body.slice(0, 10)}`,
    );
    await sleep(300);
    const r = await stopTimed(srv, 'SIGTERM');
    sock.destroy();
    assert.equal(r.code, 0, `exit ${JSON.stringify(r.info)}\n${srv.stderr().slice(-2000)}`);
    assert.ok(r.ms < QUICK_MS, `took ${r.ms} ms`);
  });

  it('SIGTERM during a burst of requests: exit 0, no request hangs', T, async () => {
    const srv = await fresh();
    const t = await (await adminClient(srv)).post('/api/tokens', { name: 'burst' });
    assertStatus(t, 201);
    const bc = new Client(srv.url, { bearer: t.json.token });
    const inflight = [];
    for (let i = 0; i < 30; i++) {
      inflight.push(bc.post('/api/entries', {
        project: 'Burst', start_time: `2024-01-01T${String(i % 24).padStart(2, '0')}:00:00Z`, duration_seconds: 60,
      }, { timeout: 30000 }).then((x) => x.status, (e) => `error:${e.cause?.code || e.name}`));
    }
    await sleep(20);
    const r = await stopTimed(srv, 'SIGTERM');
    const results = await Promise.all(inflight);
    assert.equal(r.code, 0, `exit ${JSON.stringify(r.info)}\n${srv.stderr().slice(-2000)}`);
    assert.ok(r.ms < QUICK_MS, `took ${r.ms} ms`);
    for (const x of results) {
      assert.ok(x === 201 || x === 503 || String(x).startsWith('error:'), `request result ${x}`);
      assert.notEqual(x, 'error:TimeoutError', 'a request hung');
    }
    assert.ok(!/AddressSanitizer|runtime error:|LeakSanitizer/.test(srv.stderr()), srv.stderr().slice(-3000));
  });

  it('restart on the same data dir keeps data and does not print a new admin password', T, async () => {
    const first = await startServer({ keepDir: true });
    dirs.push(first.dataDir);
    servers.push(first);
    const admin = await adminClient(first);
    const e = await admin.post('/api/entries', { project: 'Persist', start_time: '2024-04-01T09:00:00Z', duration_seconds: 3600, tags: ['kept'] });
    assertStatus(e, 201);
    const tok = await admin.post('/api/tokens', { name: 'persist' });
    assertStatus(tok, 201);
    assert.equal(await first.stop('SIGTERM'), 0);

    const second = await startServer({ dataDir: first.dataDir, expectNoPassword: true });
    servers.push(second);
    await sleep(500);
    assert.doesNotMatch(second.stdout(), /password/i, 'no new admin password on restart');
    const c = new Client(second.url);
    assertStatus(await c.login('admin', first.adminPassword), 200, 'old admin password still works');
    const g = await c.get(`/api/entries/${e.json.id}`);
    assertStatus(g, 200);
    assert.deepEqual(g.json, e.json);
    const bc = new Client(second.url, { bearer: tok.json.token });
    assertStatus(await bc.get('/api/me'), 200, 'API token survives restart');
    // Sessions survive a restart as well (only their hash is stored).
    const s = new Client(second.url);
    s.session = admin.session;
    assertStatus(await s.get('/api/me'), 200, 'session survives restart');
  });

  it('stdout/stderr of a normal run contain no sanitizer reports', T, async () => {
    for (const s of servers) {
      assert.ok(!/AddressSanitizer|runtime error:|LeakSanitizer/.test(s.stderr()), s.stderr().slice(-3000));
    }
  });
});
