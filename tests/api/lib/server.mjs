// Black-box test harness for the TimeTracker HTTP API.
//
// Starts `timetracker serve` on an ephemeral port with a private temporary data
// directory, and offers a small HTTP client with a cookie jar, CSRF handling and
// bearer tokens. Only Node built-ins are used.

import { spawn } from 'node:child_process';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
export const REPO_ROOT = path.resolve(here, '..', '..', '..');
export const TT_BIN = process.env.TT_BIN
  ? path.resolve(process.env.TT_BIN)
  : path.join(REPO_ROOT, 'build', 'timetracker');

// Generous defaults: the sanitizer build is slow.
export const START_TIMEOUT_MS = Number(process.env.TT_TEST_START_TIMEOUT_MS || 15000);
export const STOP_TIMEOUT_MS = 20000;
export const REQ_TIMEOUT_MS = 20000;
export const CLI_TIMEOUT_MS = 30000;

const live = new Set();
process.on('exit', () => {
  for (const p of live) {
    try { p.kill('SIGKILL'); } catch { /* already gone */ }
  }
});

/*
 * PostgreSQL runs: with TT_TEST_PG_BASE set (e.g. postgresql://postgres@127.0.0.1:54329,
 * by scripts/run-tests), every new data directory gets a fresh database of its
 * own, named in the file DB_FILE inside the data directory, and every server
 * and CLI run on that data directory uses it (TT_DB).
 */
export const PG_BASE = process.env.TT_TEST_PG_BASE || '';
const DB_FILE = '.test-db-url';

function dbEnvFor(dataDir) {
  try {
    const url = fs.readFileSync(path.join(dataDir, DB_FILE), 'utf8').trim();
    return url ? { TT_DB: url } : {};
  } catch {
    return {};
  }
}

async function createTestDatabase(dataDir) {
  if (!PG_BASE) return;
  const name = `tt_${process.pid}_${Date.now().toString(36)}_${Math.floor(Math.random() * 1e9).toString(36)}`;
  await new Promise((resolve, reject) => {
    const p = spawn('psql', [`${PG_BASE}/postgres`, '-v', 'ON_ERROR_STOP=1', '-q', '-c', `CREATE DATABASE ${name}`],
      { stdio: ['ignore', 'ignore', 'pipe'] });
    let e = '';
    p.stderr.on('data', (d) => { e += d; });
    p.on('error', reject);
    p.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`createdb failed: ${e}`))));
  });
  await fsp.writeFile(path.join(dataDir, DB_FILE), `${PG_BASE}/${name}\n`);
}

/** The data directory named by --data-dir in args, if any. */
function dataDirArg(args) {
  const i = args.indexOf('--data-dir');
  return i >= 0 && i + 1 < args.length ? args[i + 1] : null;
}

/** Environment for a child: inherited env without TT_* (except TT_BIN), plus extra. */
export function childEnv(extra = {}) {
  const env = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (k.startsWith('TT_') && k !== 'TT_BIN') continue;
    env[k] = v;
  }
  return { ...env, ...extra };
}

export function sleep(ms) {
  return new Promise((r) => setTimeout(r, ms));
}

/** Like sleep, but does not keep the process alive. */
function unrefSleep(ms) {
  return new Promise((r) => setTimeout(r, ms).unref());
}

/**
 * Runs the binary with args; resolves {code, signal, stdout, stderr}.
 * opts: {input, env, timeout, cwd (default: the OS temp dir, so nothing lands in the repo)}
 */
export function runBin(args, opts = {}) {
  return new Promise((resolve, reject) => {
    let proc;
    try {
      const dir = dataDirArg(args);
      proc = spawn(TT_BIN, args, {
        env: childEnv({ ...(dir ? dbEnvFor(dir) : {}), ...opts.env }),
        stdio: ['pipe', 'pipe', 'pipe'], cwd: opts.cwd || os.tmpdir(),
      });
    } catch (e) {
      reject(e);
      return;
    }
    live.add(proc);
    let stdout = '';
    let stderr = '';
    proc.stdout.setEncoding('utf8');
    proc.stderr.setEncoding('utf8');
    proc.stdout.on('data', (d) => { stdout += d; });
    proc.stderr.on('data', (d) => { stderr += d; });
    const timer = setTimeout(() => {
      stderr += `\n[harness] killed after ${opts.timeout || CLI_TIMEOUT_MS} ms`;
      proc.kill('SIGKILL');
    }, opts.timeout || CLI_TIMEOUT_MS);
    proc.on('error', (e) => {
      clearTimeout(timer);
      live.delete(proc);
      reject(e);
    });
    proc.on('close', (code, signal) => {
      clearTimeout(timer);
      live.delete(proc);
      resolve({ code, signal, stdout, stderr });
    });
    proc.stdin.on('error', () => { /* child may not read stdin */ });
    if (opts.input !== undefined) proc.stdin.end(opts.input);
    else proc.stdin.end();
  });
}

/**
 * Starts a server. opts: {env, dataDir (reuse an existing one), args (extra serve args)}
 */
export async function startServer(opts = {}) {
  const ownDir = !opts.dataDir;
  const dataDir = opts.dataDir || (await fsp.mkdtemp(path.join(os.tmpdir(), 'tt-api-')));
  if (PG_BASE && !fs.existsSync(path.join(dataDir, DB_FILE))) await createTestDatabase(dataDir);
  if (!fs.existsSync(TT_BIN)) {
    throw new Error(`server binary not found: ${TT_BIN} (set TT_BIN or run make)`);
  }
  const args = ['serve', '--listen', '127.0.0.1:0', '--data-dir', dataDir, '--log-level', 'info',
    ...(opts.args || [])];
  // cwd is the data dir so that nothing relative can land in the repository.
  const proc = spawn(TT_BIN, args, {
    env: childEnv({ ...dbEnvFor(dataDir), ...opts.env }), stdio: ['ignore', 'pipe', 'pipe'], cwd: dataDir,
  });
  live.add(proc);
  let out = '';
  let err = '';
  proc.stdout.setEncoding('utf8');
  proc.stderr.setEncoding('utf8');
  proc.stdout.on('data', (d) => { out += d; });
  proc.stderr.on('data', (d) => { err += d; });
  let exitInfo = null;
  const exited = new Promise((resolve) => {
    proc.on('exit', (code, signal) => {
      exitInfo = { code, signal, at: Date.now() };
      live.delete(proc);
      resolve(exitInfo);
    });
  });
  let spawnError = null;
  proc.on('error', (e) => { spawnError = e; });

  const deadline = Date.now() + START_TIMEOUT_MS;
  let port = null;
  while (Date.now() < deadline) {
    const m = /listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(err);
    if (m) { port = Number(m[1]); break; }
    if (exitInfo || spawnError) break;
    await sleep(25);
  }
  if (!port) {
    proc.kill('SIGKILL');
    // A process that never started has no 'exit' to wait for (and an unref'd
    // timer alone would let the event loop end and cancel the test silently).
    if (!spawnError) await Promise.race([exited, sleep(2000)]);
    if (ownDir) await fsp.rm(dataDir, { recursive: true, force: true });
    throw new Error(
      `server did not report "listening on http://127.0.0.1:PORT" within ${START_TIMEOUT_MS} ms` +
      ` (exit: ${JSON.stringify(exitInfo)}, spawn error: ${spawnError})\n--- stdout ---\n${out}\n--- stderr ---\n${err}`,
    );
  }
  // The admin password line is printed once on first start. It is normally
  // printed before the listen line; allow a little slack if it is not.
  let adminPassword = null;
  const pwDeadline = Date.now() + (opts.expectNoPassword ? 0 : 3000);
  for (;;) {
    const m = /Created administrator "admin" with password: (\S+)/.exec(out) || /password: (\S+)/.exec(out);
    if (m) { adminPassword = m[1]; break; }
    if (Date.now() >= pwDeadline) break;
    await sleep(25);
  }
  const url = `http://127.0.0.1:${port}`;

  async function stop(signal = 'SIGTERM', timeoutMs = STOP_TIMEOUT_MS) {
    if (!exitInfo) {
      try { proc.kill(signal); } catch { /* gone */ }
      const r = await Promise.race([exited, unrefSleep(timeoutMs).then(() => null)]);
      if (!r) {
        proc.kill('SIGKILL');
        await exited;
        return `timeout: did not exit within ${timeoutMs} ms after ${signal}`;
      }
    }
    return exitInfo.code;
  }

  // Stops the server and removes its data dir; throws (failing the after()
  // hook) when the server did not exit cleanly or a sanitizer reported anything.
  async function close() {
    const code = await stop('SIGTERM');
    if (ownDir && !opts.keepDir) await fsp.rm(dataDir, { recursive: true, force: true });
    const report = /AddressSanitizer|LeakSanitizer|UndefinedBehaviorSanitizer|runtime error:/.exec(err);
    if (report) {
      throw new Error(`sanitizer report in server stderr:\n${err.slice(Math.max(0, report.index - 200), report.index + 4000)}`);
    }
    if (code !== 0 && !opts.allowDirtyExit) {
      throw new Error(`server exit status ${JSON.stringify(code)} (${JSON.stringify(exitInfo)}) on close\n${err.slice(-3000)}`);
    }
  }

  function cli(cliArgs, cliOpts = {}) {
    return runBin([...cliArgs, '--data-dir', dataDir], { cwd: dataDir, ...cliOpts });
  }

  return {
    url,
    port,
    dataDir,
    adminPassword,
    proc,
    exited,
    exitInfo: () => exitInfo,
    stdout: () => out,
    stderr: () => err,
    stop,
    close,
    cli,
  };
}

/** Minimal HTTP client with a cookie jar for `session`, CSRF header and bearer tokens. */
export class Client {
  constructor(baseUrl, opts = {}) {
    this.base = baseUrl.replace(/\/$/, '');
    this.bearer = opts.bearer || null;
    this.session = null; // cookie value
    this.csrf = null;
    this.user = null;
    this.lastSetCookie = [];
  }

  async login(username, password) {
    const r = await this.req('POST', '/login', { json: { username, password }, csrf: false });
    if (r.status === 200 && r.json) {
      this.csrf = r.json.csrf_token || null;
      this.user = r.json.user || null;
    }
    return r;
  }

  async req(method, p, opts = {}) {
    const { json, body, csrf = true, redirect = 'manual' } = opts;
    const headers = { ...(opts.headers || {}) };
    const lower = Object.fromEntries(Object.keys(headers).map((k) => [k.toLowerCase(), k]));
    let payload = body;
    if (json !== undefined) {
      payload = JSON.stringify(json);
      if (!lower['content-type']) headers['Content-Type'] = 'application/json';
    }
    if (this.bearer && !lower.authorization) headers.Authorization = `Bearer ${this.bearer}`;
    if (this.session && !lower.cookie) headers.Cookie = `session=${this.session}`;
    if (csrf && this.csrf && !this.bearer && !lower['x-csrf-token'] && !lower['x-csrftoken']) {
      headers['X-CSRF-Token'] = this.csrf;
    }
    const res = await fetch(this.base + p, {
      method,
      headers,
      body: payload,
      redirect,
      signal: AbortSignal.timeout(opts.timeout || REQ_TIMEOUT_MS),
    });
    const setCookies = res.headers.getSetCookie ? res.headers.getSetCookie() : [];
    this.lastSetCookie = setCookies;
    for (const c of setCookies) {
      const m = /^\s*session=([^;]*)/.exec(c);
      if (m) {
        const expired = /max-age=0\b/i.test(c) || /expires=thu, 01 jan 1970/i.test(c);
        this.session = m[1] && !expired ? m[1] : null;
      }
    }
    const text = await res.text();
    let parsed = null;
    const ct = res.headers.get('content-type') || '';
    if (/json/i.test(ct)) {
      try { parsed = JSON.parse(text); } catch { parsed = null; }
    }
    return { status: res.status, headers: res.headers, json: parsed, text, setCookies };
  }

  get(p, o) { return this.req('GET', p, o); }
  post(p, json, o = {}) { return this.req('POST', p, { ...o, json }); }
  put(p, json, o = {}) { return this.req('PUT', p, { ...o, json }); }
  del(p, o) { return this.req('DELETE', p, o); }
}

/** Returns the session cookie string from a list of Set-Cookie values (or undefined). */
export function sessionCookie(setCookies) {
  return setCookies.find((c) => /^\s*session=[^;]+/.test(c) && !/max-age=0\b/i.test(c));
}

/** Asserts the documented error shape. */
export function assertApiError(r, status, code, field) {
  const ctx = `${r.status} ${r.text.slice(0, 300)}`;
  assert.equal(r.status, status, `expected HTTP ${status}, got ${ctx}`);
  assert.ok(r.json && typeof r.json === 'object', `error body must be JSON: ${ctx}`);
  assert.equal(r.json.success, false, `success must be false: ${ctx}`);
  assert.equal(typeof r.json.error, 'string', `error must be a string: ${ctx}`);
  assert.ok(r.json.error.length > 0, `error must be non-empty: ${ctx}`);
  if (Array.isArray(code)) assert.ok(code.includes(r.json.code), `code ${r.json.code} not in ${code}: ${ctx}`);
  else if (code) assert.equal(r.json.code, code, `code: ${ctx}`);
  else assert.equal(typeof r.json.code, 'string', `code must be a string: ${ctx}`);
  if (field !== undefined) {
    if (Array.isArray(field)) assert.ok(field.includes(r.json.field), `field ${r.json.field} not in ${field}: ${ctx}`);
    else assert.equal(r.json.field, field, `field: ${ctx}`);
  }
}

export function assertStatus(r, status, msg = '') {
  assert.equal(r.status, status, `${msg}${msg ? ': ' : ''}expected ${status}, got ${r.status} ${r.text.slice(0, 400)}`);
}

/** Logs in as admin; returns the client. */
export async function adminClient(srv) {
  assert.ok(srv.adminPassword, `no admin password printed on stdout; stdout was: ${srv.stdout()}`);
  const c = new Client(srv.url);
  const r = await c.login('admin', srv.adminPassword);
  assertStatus(r, 200, 'admin login');
  return c;
}

let userSeq = 0;
/** Creates a user through POST /api/users (as admin) and returns a logged-in client. */
export async function createUser(admin, username, extra = {}) {
  const password = extra.password || `pw-${username}-${++userSeq}-Secret!`;
  const r = await admin.post('/api/users', { username, password, ...extra });
  assertStatus(r, 201, `create user ${username}`);
  const c = new Client(admin.base);
  const l = await c.login(username, password);
  assertStatus(l, 200, `login ${username}`);
  return { client: c, id: r.json.id, password, user: r.json };
}

export const ISO_Z = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/;

// ---- CSV import helpers (SPEC §3.3) ----

export const IMPORT_TERMINAL = ['completed', 'partial', 'failed', 'cancelled', 'undone'];

/**
 * Builds the multipart body of POST /api/import/csv. content: string, Buffer,
 * Uint8Array or Blob; fields: extra form fields (strings). The file part is
 * left out when content is null.
 */
export function csvForm(content, { filename = 'import.csv', fields = {}, type = 'text/csv' } = {}) {
  const fd = new FormData();
  for (const [k, v] of Object.entries(fields)) {
    if (v !== undefined && v !== null) fd.append(k, String(v));
  }
  if (content !== null && content !== undefined) {
    const blob = content instanceof Blob ? content : new Blob([content], { type });
    fd.append('file', blob, filename);
  }
  return fd;
}

/** POST /api/import/csv with the given content and form fields; returns the raw response. */
export function uploadCsv(client, content, opts = {}) {
  return client.req('POST', '/api/import/csv', {
    body: csvForm(content, opts),
    csrf: opts.csrf,
    headers: opts.headers,
    timeout: opts.timeout || 120000,
  });
}

/**
 * Imports content with wait=true and returns the final status object (asserting 200).
 * opts.fields are merged over {wait: 'true'}.
 */
export async function importCsv(client, content, opts = {}) {
  const r = await uploadCsv(client, content, { ...opts, fields: { wait: 'true', ...(opts.fields || {}) } });
  assertStatus(r, 200, 'import with wait=true');
  assert.equal(r.json.success, true, r.text.slice(0, 300));
  assert.ok(IMPORT_TERMINAL.includes(r.json.status), `wait=true answered a non-final status: ${r.text.slice(0, 300)}`);
  return r.json;
}

/**
 * Polls GET /api/import/status/{id} until pred(status) is true (default: a final
 * status). Returns the status object; throws after timeoutMs.
 */
export async function waitForImport(client, id, { until, timeoutMs = 60000, intervalMs = 100 } = {}) {
  const pred = until || ((s) => IMPORT_TERMINAL.includes(s.status));
  const deadline = Date.now() + timeoutMs;
  let last = null;
  for (;;) {
    const r = await client.get(`/api/import/status/${id}`);
    assertStatus(r, 200, `status of import ${id}`);
    last = r.json;
    if (pred(last)) return last;
    if (Date.now() > deadline) {
      throw new Error(`import ${id}: condition not reached within ${timeoutMs} ms; last status ${JSON.stringify(last).slice(0, 600)}`);
    }
    await sleep(intervalMs);
  }
}

/** All diagnostics of an import (errors and, with warnings=true, warnings), via paging. */
export async function importDiagnostics(client, id, { warnings = true } = {}) {
  const out = [];
  for (let offset = 0; ; offset += 1000) {
    const r = await client.get(`/api/import/${id}/errors?limit=1000&offset=${offset}${warnings ? '&include_warnings=true' : ''}`);
    assertStatus(r, 200, `errors of import ${id}`);
    out.push(...r.json.errors);
    if (r.json.errors.length < 1000) return { errors: out, total: r.json.total };
  }
}

/** Every entry of an import (GET /api/entries?import_id=N, paged). */
export async function importEntries(client, id) {
  const out = [];
  for (let offset = 0; ; offset += 1000) {
    const r = await client.get(`/api/entries?import_id=${id}&limit=1000&offset=${offset}`);
    assertStatus(r, 200, `entries of import ${id}`);
    out.push(...r.json.entries);
    if (r.json.entries.length < 1000) return out;
  }
}

/**
 * Sends a request with node:http and resolves with the first response, even when
 * the server answers before reading the whole body (a write error after the
 * response is ignored). Resolves {status, headers, text, json, writeError}.
 * body: Buffer or string; opts.chunked sends it without Content-Length;
 * opts.expectContinue sends "Expect: 100-continue" and the body only after "100 Continue".
 */
export async function rawRequest(url, { method = 'POST', headers = {}, body = '', chunked = false, expectContinue = false, timeout = REQ_TIMEOUT_MS } = {}) {
  const http = await import('node:http');
  const buf = Buffer.isBuffer(body) ? body : Buffer.from(body);
  return new Promise((resolve, reject) => {
    let writeError = null;
    let done = false;
    const h = { ...headers };
    if (!chunked) h['Content-Length'] = String(buf.length);
    if (expectContinue) h.Expect = '100-continue';
    const req = http.request(url, { method, headers: h, timeout }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d) => { text += d; });
      res.on('end', () => {
        done = true;
        let json = null;
        try { json = JSON.parse(text); } catch { /* not JSON */ }
        resolve({ status: res.statusCode, headers: res.headers, text, json, writeError });
        if (!req.writableEnded) req.destroy(); // an early answer: the body is not wanted
      });
      res.on('error', (e) => { if (!done) { done = true; reject(e); } });
    });
    req.on('error', (e) => {
      writeError = e;
      // Give a response that is already on its way a moment to arrive.
      setTimeout(() => { if (!done) { done = true; reject(e); } }, 500);
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    const sendBody = async () => {
      for (let o = 0; o < buf.length && !req.destroyed; o += 65536) {
        if (!req.write(buf.subarray(o, o + 65536))) {
          await new Promise((r) => {
            const go = () => { req.off('drain', go); req.off('close', go); r(); };
            req.on('drain', go);
            req.on('close', go);
          });
        }
      }
      if (!req.destroyed) req.end();
    };
    if (expectContinue) {
      req.on('continue', () => { sendBody().catch(() => { /* reported through 'error' */ }); });
      req.flushHeaders();
    } else {
      sendBody().catch(() => { /* reported through 'error' */ });
    }
  });
}

/** A multipart/form-data body with one file part and fields, for rawRequest. */
export function multipartBody(content, { filename = 'import.csv', fields = {}, boundary = '----tt-test-boundary-9f2c1e' } = {}) {
  const parts = [];
  for (const [k, v] of Object.entries(fields)) {
    parts.push(Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${k}"\r\n\r\n${v}\r\n`));
  }
  if (content !== null && content !== undefined) {
    parts.push(Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="${filename}"\r\nContent-Type: text/csv\r\n\r\n`));
    parts.push(Buffer.isBuffer(content) ? content : Buffer.from(content));
    parts.push(Buffer.from('\r\n'));
  }
  parts.push(Buffer.from(`--${boundary}--\r\n`));
  return { body: Buffer.concat(parts), contentType: `multipart/form-data; boundary=${boundary}` };
}

// ---- export helpers (SPEC §3.4) ----

export const EXPORT_TERMINAL = ['completed', 'failed', 'expired'];

/**
 * GET (or another method) returning the body as bytes: {status, headers, body: Buffer, text, json}.
 * Uses the client's session cookie / bearer token and CSRF token.
 */
export async function fetchBytes(client, p, { method = 'GET', headers: extra = {}, timeout = REQ_TIMEOUT_MS } = {}) {
  const headers = { ...extra };
  if (client.bearer) headers.Authorization = `Bearer ${client.bearer}`;
  if (client.session) headers.Cookie = `session=${client.session}`;
  if (client.csrf && !client.bearer && method !== 'GET') headers['X-CSRF-Token'] = client.csrf;
  const res = await fetch(client.base + p, { method, headers, redirect: 'manual', signal: AbortSignal.timeout(timeout) });
  const body = Buffer.from(await res.arrayBuffer());
  const text = body.toString('utf8');
  let json = null;
  if (/json/i.test(res.headers.get('content-type') || '')) {
    try { json = JSON.parse(text); } catch { json = null; }
  }
  return { status: res.status, headers: res.headers, body, text, json };
}

/** POST /api/export/{kind} (kind: 'gdpr' | 'filtered'); asserts 202 and returns the answer. */
export async function startExport(client, kind, body) {
  const r = await client.post(`/api/export/${kind}`, body);
  assertStatus(r, 202, `POST /api/export/${kind} ${JSON.stringify(body).slice(0, 200)}`);
  assert.equal(r.json.success, true, r.text);
  assert.equal(typeof r.json.export_id, 'number', r.text);
  return r.json;
}

/** Polls GET /api/export/status/{id} until pred(status) (default: a final status); returns it. */
export async function waitForExport(client, id, { until, timeoutMs = 60000, intervalMs = 40 } = {}) {
  const pred = until || ((s) => EXPORT_TERMINAL.includes(s.status));
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const r = await client.get(`/api/export/status/${id}`);
    assertStatus(r, 200, `status of export ${id}`);
    if (pred(r.json)) return r.json;
    if (Date.now() > deadline) {
      throw new Error(`export ${id}: condition not reached within ${timeoutMs} ms; last status ${r.text.slice(0, 600)}`);
    }
    await sleep(intervalMs);
  }
}

/**
 * Starts an export, waits for it to complete (asserting "completed") and downloads it.
 * Returns {id, start (the 202 answer), status (final status object), res (fetchBytes result), file (Buffer)}.
 */
export async function runExport(client, kind, body, opts = {}) {
  const start = await startExport(client, kind, body);
  const status = await waitForExport(client, start.export_id, opts);
  assert.equal(status.status, 'completed', `export ${start.export_id} did not complete: ${JSON.stringify(status).slice(0, 600)}`);
  const res = await fetchBytes(client, `/api/export/download/${start.export_id}`);
  assert.equal(res.status, 200, `download of export ${start.export_id}: ${res.status} ${res.text.slice(0, 300)}`);
  return { id: start.export_id, start, status, res, file: res.body };
}
