// Export API (SPEC §3.4): GDPR export (JSON and ZIP), filtered exports (CSV,
// JSON, XLSX, iCalendar) with every filter, request validation, the CSV round
// trip through our importer, the spreadsheet guard, status / download /
// history / delete, ownership, "not ready" while queued, and expiry.
//
// Archives (ZIP, XLSX) are read with the system `unzip` command.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  startServer, assertApiError, assertStatus, adminClient, createUser, Client, uploadCsv,
  importCsv, waitForImport, sleep, ISO_Z, fetchBytes, startExport, waitForExport, runExport,
} from './lib/server.mjs';

const T = { timeout: 60000 };
const H = 'project_name,client_name,task_name,start_time,end_time,duration_hours,notes,tags,billable';
const CSV_COLUMNS = ['project_name', 'client_name', 'task_name', 'start_time', 'end_time', 'duration_hours',
  'notes', 'tags', 'billable', 'id', 'user', 'source', 'external_id', 'import_id', 'created_at', 'updated_at'];
const STATUS_KEYS = ['id', 'user_id', 'export_type', 'export_format', 'status', 'record_count', 'file_size',
  'sha256', 'progress_percent', 'created_at', 'completed_at', 'expires_at', 'is_expired', 'download_url',
  'status_url', 'filename', 'error', 'filters'];
const GDPR_KEYS = ['export_info', 'user_profile', 'time_entries', 'projects', 'clients', 'tasks', 'tags',
  'api_tokens', 'sessions', 'imports', 'exports'];
const GDPR_CSVS = ['time_entries.csv', 'projects.csv', 'clients.csv', 'tasks.csv', 'tags.csv', 'api_tokens.csv',
  'sessions.csv', 'imports.csv', 'import_errors.csv', 'exports.csv'];

// ---------- helpers ----------

/** Minimal RFC 4180 parser: records of fields (CRLF or LF record ends). */
function parseCsv(text) {
  const recs = [];
  let rec = [];
  let f = '';
  let q = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (q) {
      if (c === '"' && text[i + 1] === '"') { f += '"'; i++; } else if (c === '"') q = false; else f += c;
    } else if (c === '"') q = true;
    else if (c === ',') { rec.push(f); f = ''; } else if (c === '\r' && text[i + 1] === '\n') { /* CRLF */ } else if (c === '\n') {
      rec.push(f); recs.push(rec); rec = []; f = '';
    } else f += c;
  }
  if (f !== '' || rec.length) { rec.push(f); recs.push(rec); }
  return recs;
}

/** CSV text -> {header, rows: [{col: value}]} */
function csvObjects(text) {
  const [header, ...rest] = parseCsv(text);
  return { header, rows: rest.map((r) => Object.fromEntries(header.map((h, i) => [h, r[i]]))) };
}

const sha256 = (buf) => crypto.createHash('sha256').update(buf).digest('hex');

function tmpFile(buf, ext) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tt-exp-'));
  const f = path.join(dir, `file.${ext}`);
  fs.writeFileSync(f, buf);
  return { f, cleanup: () => fs.rmSync(dir, { recursive: true, force: true }) };
}

/** Reads an archive with `unzip`: {names, test: {status, out}, read(name) -> Buffer, cleanup} */
function openZip(buf) {
  const { f, cleanup } = tmpFile(buf, 'zip');
  const names = execFileSync('unzip', ['-Z1', f], { encoding: 'utf8' }).split('\n').filter(Boolean);
  const t = spawnSync('unzip', ['-t', f], { encoding: 'utf8' });
  return {
    names,
    test: { status: t.status, out: t.stdout + t.stderr },
    read: (name) => execFileSync('unzip', ['-p', f, name], { maxBuffer: 1 << 28 }),
    cleanup,
  };
}

/** Every string value (and key) inside a JSON value. */
function allStrings(v, out = []) {
  if (typeof v === 'string') out.push(v);
  else if (Array.isArray(v)) v.forEach((x) => allStrings(x, out));
  else if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) { out.push(k); allStrings(x, out); }
  return out;
}

/** Every key anywhere inside a JSON value. */
function allKeys(v, out = new Set()) {
  if (Array.isArray(v)) v.forEach((x) => allKeys(x, out));
  else if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) { out.add(k); allKeys(x, out); }
  return out;
}

function assertNoServerPath(srv, j, ctx) {
  for (const s of allStrings(j)) {
    assert.ok(!s.includes(srv.dataDir), `${ctx}: a string shows the data dir: ${s}`);
    assert.ok(!/\/exports\//.test(s), `${ctx}: a string looks like a server path: ${s}`);
  }
}

function exportFiles(srv) {
  const d = path.join(srv.dataDir, 'exports');
  return fs.existsSync(d) ? fs.readdirSync(d) : [];
}

async function mkEntry(c, e) {
  const r = await c.post('/api/entries', e);
  assertStatus(r, 201, `create entry ${JSON.stringify(e).slice(0, 200)}`);
  return r.json;
}

/** Runs a filtered JSON export and returns the notes of its entries, sorted. */
async function jsonNotes(c, filters) {
  const x = await runExport(c, 'filtered', { format: 'json', filters });
  const doc = JSON.parse(x.res.text);
  assert.ok(Array.isArray(doc.time_entries), x.res.text.slice(0, 300));
  assert.equal(x.status.record_count, doc.time_entries.length, 'record_count = entries in the file');
  return doc.time_entries.map((e) => e.notes).sort();
}

/** Parses an iCalendar text: physical lines (CRLF-separated) and unfolded content lines. */
function parseIcs(text) {
  assert.ok(text.endsWith('\r\n'), 'ICS ends with CRLF');
  const physical = text.slice(0, -2).split('\r\n');
  for (const l of physical) {
    assert.ok(!l.includes('\n') && !l.includes('\r'), `bare CR or LF inside a line: ${JSON.stringify(l)}`);
    assert.ok(Buffer.byteLength(l, 'utf8') <= 75, `line longer than 75 octets (${Buffer.byteLength(l)}): ${l}`);
  }
  const lines = [];
  for (const l of physical) {
    if (l.startsWith(' ') || l.startsWith('\t')) lines[lines.length - 1] += l.slice(1);
    else lines.push(l);
  }
  return { physical, lines };
}

function icsUnescape(v) {
  return v.replace(/\\([\\;,nN])/g, (_, c) => (c === 'n' || c === 'N' ? '\n' : c));
}

/** The cells of an XLSX sheet: Map "A1" -> {type, value}. */
function xlsxCells(sheetXml, shared) {
  const cells = new Map();
  const re = /<c r="([A-Z]+\d+)"([^>]*?)(?:\/>|>([\s\S]*?)<\/c>)/g;
  const dec = (s) => s.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&apos;/g, "'").replace(/&amp;/g, '&');
  let m;
  while ((m = re.exec(sheetXml))) {
    const [, ref, attrs, inner = ''] = m;
    const t = (/\bt="([^"]*)"/.exec(attrs) || [])[1] || 'n';
    let value = null;
    if (t === 's') value = shared[Number(/<v>([^<]*)<\/v>/.exec(inner)[1])];
    else if (t === 'inlineStr' || t === 'str') value = dec([...inner.matchAll(/<t[^>]*>([\s\S]*?)<\/t>/g)].map((x) => x[1]).join(''));
    else {
      const v = /<v>([^<]*)<\/v>/.exec(inner);
      value = v ? v[1] : null;
    }
    cells.set(ref, { type: t, value, inner });
  }
  return cells;
}

function sharedStrings(xml) {
  if (!xml) return [];
  const dec = (s) => s.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&apos;/g, "'").replace(/&amp;/g, '&');
  return [...xml.matchAll(/<si>([\s\S]*?)<\/si>/g)].map((m) => dec([...m[1].matchAll(/<t[^>]*>([\s\S]*?)<\/t>/g)].map((x) => x[1]).join('')));
}

/** Excel serial date of a UTC instant (ms) shifted by offsetHours. */
const excelSerial = (ms, offsetHours = 0) => (ms + offsetHours * 3600000 - Date.UTC(1899, 11, 30)) / 86400000;

function assertStatusShape(srv, s, ctx = '') {
  for (const k of STATUS_KEYS) assert.ok(k in s, `status lacks ${k}${ctx}: ${JSON.stringify(s).slice(0, 500)}`);
  assert.equal(s.download_url, `/api/export/download/${s.id}`);
  assert.equal(s.status_url, `/api/export/status/${s.id}`);
  assert.match(s.created_at, ISO_Z);
  assert.ok(['pending', 'processing', 'completed', 'failed', 'expired'].includes(s.status), s.status);
  assert.ok(s.progress_percent >= 0 && s.progress_percent <= 100, `progress ${s.progress_percent}`);
  assertNoServerPath(srv, s, `status of export ${s.id}`);
}

// ---------- the main server ----------

describe('exports API', () => {
  let srv;
  let admin;
  before(async () => {
    srv = await startServer();
    admin = await adminClient(srv);
  });
  after(async () => { await srv?.close(); });

  // ----- GDPR -----
  describe('GDPR export', () => {
    let u;
    let other;
    let imp;
    let token;
    before(async () => {
      u = await createUser(admin, 'gdpr-user', { timezone: 'Europe/Berlin', email: 'g@example.com' });
      other = await createUser(admin, 'gdpr-other', { timezone: 'UTC' });
      await mkEntry(u.client, { project: 'G Proj', client: 'G Client', task: 'G Task', start_time: '2024-06-01T08:00:00Z',
        end_time: '2024-06-01T09:00:00Z', notes: 'gdpr own 1', tags: ['gtag'], billable: true });
      await mkEntry(u.client, { project: 'G Proj', client: 'G Client', start_time: '2024-06-02T08:00:00Z',
        end_time: '2024-06-02T08:30:00Z', notes: 'gdpr own 2', billable: false });
      await mkEntry(other.client, { project: 'Other Proj', client: 'Other Client', start_time: '2024-06-01T08:00:00Z',
        end_time: '2024-06-01T09:00:00Z', notes: 'OTHER-USER-SECRET-NOTE', tags: ['othertag'] });
      imp = await importCsv(u.client, [H,
        'Imp Proj,Imp Client,ImportedTask,2024-06-03T09:00:00Z,2024-06-03T10:00:00Z,,imported ok,imptag,true',
        'Imp Proj,Imp Client,,not-a-date,,1,bad row,,',
        ''].join('\n'));
      assert.equal(imp.successful_records, 1, JSON.stringify(imp));
      assert.equal(imp.failed_records, 1, JSON.stringify(imp));
      const t = await u.client.post('/api/tokens', { name: 'gdpr-token' });
      assertStatus(t, 201, 'create token');
      token = t.json.token;
      assert.ok(token);
    });

    it('JSON: exactly the documented keys, only the user\'s data, no secrets', T, async () => {
      const x = await runExport(u.client, 'gdpr', { format: 'json' });
      assert.match(x.res.headers.get('content-type'), /^application\/json/);
      assert.match(x.res.headers.get('content-disposition'), /attachment/);
      const doc = JSON.parse(x.res.text);
      assert.deepEqual(Object.keys(doc).sort(), [...GDPR_KEYS].sort());
      const info = doc.export_info;
      assert.equal(info.user_id, u.id);
      assert.equal(info.username, 'gdpr-user');
      assert.equal(info.export_type, 'GDPR Full Data Export');
      assert.equal(typeof info.format_version, 'string');
      assert.ok(info.format_version.length > 0);
      assert.match(info.export_date, ISO_Z);
      assert.equal(doc.user_profile.username, 'gdpr-user');
      assert.equal(doc.user_profile.email, 'g@example.com');
      assert.equal(doc.user_profile.timezone, 'Europe/Berlin');

      // No secrets anywhere.
      const keys = allKeys(doc);
      for (const k of ['password_hash', 'token_hash', 'csrf_token', 'password', 'token', 'session_token']) {
        assert.ok(!keys.has(k), `key ${k} must not appear in a GDPR export`);
      }
      assert.ok(!x.res.text.includes(token), 'the API token secret must not appear');
      assert.ok(!x.res.text.includes(u.client.session), 'the session cookie must not appear');
      assert.ok(!x.res.text.includes(u.client.csrf), 'the CSRF token must not appear');
      assert.ok(!x.res.text.includes(u.password), 'the password must not appear');
      assert.ok(!x.res.text.includes('$argon2'), 'no password hash');

      // Only the user's own entries.
      assert.equal(doc.time_entries.length, 3);
      for (const e of doc.time_entries) assert.equal(e.user_id, u.id, JSON.stringify(e));
      assert.deepEqual(doc.time_entries.map((e) => e.notes).sort(), ['gdpr own 1', 'gdpr own 2', 'imported ok']);
      assert.ok(!x.res.text.includes('OTHER-USER-SECRET-NOTE'), 'another user\'s note leaked');
      assert.ok(!doc.projects.some((p) => p.name === 'Other Proj'), 'another user\'s project leaked');
      assert.ok(!doc.tags.some((t) => t.name === 'othertag'), 'another user\'s tag leaked');
      const e1 = doc.time_entries.find((e) => e.notes === 'gdpr own 1');
      assert.equal(e1.project, 'G Proj');
      assert.equal(e1.client, 'G Client');
      assert.equal(e1.task, 'G Task');
      assert.deepEqual(e1.tags, ['gtag']);

      // Lists.
      for (const n of ['G Proj', 'Imp Proj']) assert.ok(doc.projects.some((p) => p.name === n), `project ${n}`);
      for (const n of ['G Client', 'Imp Client']) assert.ok(doc.clients.some((c) => c.name === n), `client ${n}`);
      const it = doc.tasks.find((t) => t.name === 'ImportedTask');
      assert.ok(it, `the task created by the import: ${JSON.stringify(doc.tasks)}`);
      assert.equal(it.created_by_import_id, imp.import_id);
      assert.ok(doc.tasks.some((t) => t.name === 'G Task'));
      for (const n of ['gtag', 'imptag']) assert.ok(doc.tags.some((t) => t.name === n), `tag ${n}`);
      assert.ok(doc.api_tokens.some((t) => t.name === 'gdpr-token'), JSON.stringify(doc.api_tokens));
      assert.ok(doc.sessions.length >= 1, 'sessions (metadata)');
      const im = doc.imports.find((i) => i.id === imp.import_id);
      assert.ok(im, JSON.stringify(doc.imports).slice(0, 500));
      assert.equal(im.status, 'partial');
      assert.ok(Array.isArray(im.errors), `import errors included: ${JSON.stringify(im).slice(0, 500)}`);
      const err = im.errors.find((e) => e.row === 2);
      assert.ok(err, `row 2 error: ${JSON.stringify(im.errors)}`);
      assert.equal(typeof err.message, 'string');
      assert.ok(doc.exports.some((e) => e.id === x.id), 'this export is in its own history');
      assertNoServerPath(srv, doc, 'GDPR JSON');
    });

    it('ZIP: export.json, one CSV per list, README.txt, manifest.json whose sums match', T, async () => {
      const x = await runExport(u.client, 'gdpr', { format: 'zip' });
      assert.match(x.res.headers.get('content-type'), /^application\/zip/);
      assert.match(x.status.filename, /\.zip$/);
      const z = openZip(x.file);
      try {
        assert.equal(z.test.status, 0, `unzip -t: ${z.test.out}`);
        for (const n of ['export.json', 'README.txt', 'manifest.json', ...GDPR_CSVS]) {
          assert.ok(z.names.includes(n), `member ${n} missing; members: ${z.names.join(', ')}`);
        }
        for (const n of z.names) assert.ok(!n.includes('/') && !n.startsWith('.'), `member name ${n}`);
        const manifest = JSON.parse(z.read('manifest.json').toString('utf8'));
        assert.ok(Array.isArray(manifest.files), JSON.stringify(manifest).slice(0, 300));
        const listed = manifest.files.map((f) => f.name);
        for (const n of z.names.filter((m) => m !== 'manifest.json')) assert.ok(listed.includes(n), `manifest lacks ${n}`);
        for (const f of manifest.files) {
          assert.ok(z.names.includes(f.name), `manifest lists ${f.name}, which is not in the archive`);
          const bytes = z.read(f.name);
          assert.equal(f.size, bytes.length, `size of ${f.name}`);
          assert.equal(f.sha256, sha256(bytes), `sha256 of ${f.name}`);
        }
        const doc = JSON.parse(z.read('export.json').toString('utf8'));
        assert.deepEqual(Object.keys(doc).sort(), [...GDPR_KEYS].sort());
        assert.equal(doc.time_entries.length, 3);
        const readme = z.read('README.txt').toString('utf8');
        for (const n of GDPR_CSVS) {
          assert.ok(readme.includes(n), `README.txt does not explain ${n}`);
          const text = z.read(n).toString('utf8');
          const header = parseCsv(text)[0] || [];
          assert.ok(header.length > 0, `${n} has a header`);
          for (const col of header) assert.ok(readme.includes(col), `README.txt does not explain column ${col} of ${n}`);
        }
        const te = csvObjects(z.read('time_entries.csv').toString('utf8'));
        assert.equal(te.rows.length, 3);
        assert.ok(!z.read('time_entries.csv').toString('utf8').includes('OTHER-USER-SECRET-NOTE'));
        const ie = csvObjects(z.read('import_errors.csv').toString('utf8'));
        assert.ok(ie.rows.length >= 1, 'the import error is in import_errors.csv');
        for (const n of z.names) {
          const t = z.read(n).toString('utf8');
          assert.ok(!t.includes(token) && !t.includes(u.client.session) && !t.includes(u.client.csrf), `a secret in ${n}`);
          assert.ok(!/password_hash|token_hash|csrf_token/.test(t), `a secret column in ${n}`);
        }
      } finally { z.cleanup(); }
    });

    it('bad requests: unknown format, unknown key', T, async () => {
      assertApiError(await u.client.post('/api/export/gdpr', { format: 'csv' }), 400, 'invalid_field', 'format');
      assertApiError(await u.client.post('/api/export/gdpr', { format: 'json', extra: 1 }), 400, 'unknown_field', 'extra');
      assertApiError(await new Client(srv.url).post('/api/export/gdpr', { format: 'json' }), 401);
    });
  });

  // ----- filters -----
  describe('filtered export filters', () => {
    let f;
    let g;
    const ids = {};
    let fImport;
    let gImport;
    before(async () => {
      f = await createUser(admin, 'filter-user', { timezone: 'Europe/Berlin' });
      g = await createUser(admin, 'filter-other', { timezone: 'UTC' });
      const e1 = await mkEntry(f.client, { project: 'Alpha', client: 'Acme', task: 'Design', start_time: '2024-03-10T23:30:00Z',
        end_time: '2024-03-11T00:00:00Z', notes: 'e1', tags: ['Red', 'blue'], billable: true });
      const e2 = await mkEntry(f.client, { project: 'Beta', client: 'Acme', start_time: '2024-03-11T10:00:00Z',
        end_time: '2024-03-11T11:00:00Z', notes: 'e2', tags: ['green'], billable: false });
      const e3 = await mkEntry(f.client, { project: 'Gamma', client: 'Other Co', start_time: '2024-03-12T22:59:00Z',
        end_time: '2024-03-12T23:30:00Z', notes: 'e3', billable: true });
      const e4 = await mkEntry(f.client, { project: 'Alpha', client: 'Acme', task: 'Build', start_time: '2024-03-12T23:00:00Z',
        end_time: '2024-03-13T01:00:00Z', notes: 'e4', billable: true });
      fImport = await importCsv(f.client, [H,
        'Delta,Other Co,,2024-03-11T12:00:00Z,2024-03-11T13:00:00Z,,i1,RED,false',
        'Delta,Other Co,,2024-03-14T12:00:00Z,2024-03-14T13:00:00Z,,i2,,true', ''].join('\n'));
      assert.equal(fImport.successful_records, 2, JSON.stringify(fImport));
      await mkEntry(g.client, { project: 'Alpha', client: 'Acme', task: 'Design', start_time: '2024-03-11T10:00:00Z',
        end_time: '2024-03-11T11:00:00Z', notes: 'g1', tags: ['Red'], billable: false });
      gImport = await importCsv(g.client, `${H}\nDelta,Other Co,,2024-03-11T14:00:00Z,,1,gi1,,\n`);
      Object.assign(ids, {
        alpha: e1.project_id, beta: e2.project_id, gamma: e3.project_id, acme: e1.client_id, otherCo: e3.client_id,
        design: e1.task_id, build: e4.task_id,
      });
      assert.ok(ids.alpha && ids.acme && ids.design && ids.build, JSON.stringify(e1));
    });

    const ALL = ['e1', 'e2', 'e3', 'e4', 'i1', 'i2'];

    it('no filters: all own entries in start order, API entry shape', T, async () => {
      const x = await runExport(f.client, 'filtered', { format: 'json' });
      const doc = JSON.parse(x.res.text);
      assert.deepEqual(Object.keys(doc).sort(), ['export_info', 'time_entries']);
      assert.deepEqual(doc.time_entries.map((e) => e.notes), ['e1', 'e2', 'i1', 'e3', 'e4', 'i2'], 'ascending start');
      for (const e of doc.time_entries) {
        const r = await f.client.get(`/api/entries/${e.id}`);
        assertStatus(r, 200);
        const api = r.json.entry || r.json;
        assert.deepEqual(e, api, 'a JSON export entry is the API entry');
      }
    });

    it('dates are inclusive calendar days in the user\'s zone by default, or filters.timezone', T, async () => {
      // e1 starts 2024-03-10T23:30Z = 2024-03-11 00:30 in Berlin.
      assert.deepEqual(await jsonNotes(f.client, { start_date: '2024-03-11', end_date: '2024-03-11', timezone: 'Europe/Berlin' }), ['e1', 'e2', 'i1']);
      assert.deepEqual(await jsonNotes(f.client, { start_date: '2024-03-11', end_date: '2024-03-11', timezone: 'UTC' }), ['e2', 'i1']);
      assert.deepEqual(await jsonNotes(f.client, { start_date: '2024-03-11', end_date: '2024-03-11' }), ['e1', 'e2', 'i1'], 'default: the user\'s zone (Berlin)');
      assert.deepEqual(await jsonNotes(f.client, { start_date: '2024-03-10', end_date: '2024-03-10', timezone: 'UTC' }), ['e1']);
      // e3 starts 23:59 Berlin on the 12th (included by end_date 12th); e4 at 00:00 on the 13th (not).
      assert.deepEqual(await jsonNotes(f.client, { start_date: '2024-03-11', end_date: '2024-03-12' }), ['e1', 'e2', 'e3', 'i1']);
      assert.deepEqual(await jsonNotes(f.client, { start_date: '2024-03-13' }), ['e4', 'i2']);
      assert.deepEqual(await jsonNotes(f.client, { end_date: '2024-03-10', timezone: 'UTC' }), ['e1']);
      assert.deepEqual(await jsonNotes(f.client, { end_date: '2024-03-10' }), []);
    });

    it('dates as ISO instants', T, async () => {
      assert.deepEqual(await jsonNotes(f.client, { start_date: '2024-03-12T22:59:00Z', end_date: '2024-03-12T22:59:00Z' }), ['e3']);
      assert.deepEqual(await jsonNotes(f.client, { start_date: '2024-03-12T22:59:01Z', end_date: '2024-03-12T23:00:00Z' }), ['e4']);
      assert.deepEqual(await jsonNotes(f.client, { start_date: '2024-03-13T00:00:00+01:00', end_date: '2024-03-14T12:00:00Z' }), ['e4', 'i2']);
    });

    it('project, client, task ids', T, async () => {
      assert.deepEqual(await jsonNotes(f.client, { project_ids: [ids.alpha] }), ['e1', 'e4']);
      assert.deepEqual(await jsonNotes(f.client, { project_ids: [ids.beta, ids.gamma] }), ['e2', 'e3']);
      assert.deepEqual(await jsonNotes(f.client, { client_ids: [ids.acme] }), ['e1', 'e2', 'e4']);
      assert.deepEqual(await jsonNotes(f.client, { client_ids: [ids.otherCo] }), ['e3', 'i1', 'i2']);
      assert.deepEqual(await jsonNotes(f.client, { task_ids: [ids.design] }), ['e1']);
      assert.deepEqual(await jsonNotes(f.client, { task_ids: [ids.design, ids.build] }), ['e1', 'e4']);
      assert.deepEqual(await jsonNotes(f.client, { project_ids: [ids.alpha], tags: ['red'] }), ['e1'], 'AND');
    });

    it('tags (any of, case-insensitive), billable, source, import_id', T, async () => {
      assert.deepEqual(await jsonNotes(f.client, { tags: ['RED'] }), ['e1', 'i1']);
      assert.deepEqual(await jsonNotes(f.client, { tags: ['Blue', 'GREEN'] }), ['e1', 'e2']);
      assert.deepEqual(await jsonNotes(f.client, { tags: ['no-such-tag'] }), []);
      assert.deepEqual(await jsonNotes(f.client, { billable: false }), ['e2', 'i1']);
      assert.deepEqual(await jsonNotes(f.client, { billable: true }), ['e1', 'e3', 'e4', 'i2']);
      assert.deepEqual(await jsonNotes(f.client, { source: 'csv' }), ['i1', 'i2']);
      assert.deepEqual(await jsonNotes(f.client, { source: 'manual' }), ['e1', 'e2', 'e3', 'e4']);
      assert.deepEqual(await jsonNotes(f.client, { import_id: fImport.import_id }), ['i1', 'i2']);
      assert.deepEqual(await jsonNotes(f.client, { import_id: fImport.import_id, billable: true }), ['i2']);
      assert.deepEqual(await jsonNotes(f.client, { start_date: null, tags: null, billable: null }), ALL, 'null = absent');
    });

    it('user_ids: admins choose, a regular user always gets their own', T, async () => {
      assert.deepEqual(await jsonNotes(admin, { user_ids: [f.id, g.id] }), [...ALL, 'g1', 'gi1'].sort());
      assert.deepEqual(await jsonNotes(admin, { user_ids: [g.id] }), ['g1', 'gi1']);
      assert.deepEqual(await jsonNotes(admin, { user_ids: [g.id], billable: false }), ['g1']);
      assert.deepEqual(await jsonNotes(admin, {}), [], 'admin without user_ids: the admin\'s own (none)');
      assert.deepEqual(await jsonNotes(g.client, { user_ids: [f.id] }), ['g1', 'gi1'], 'ignored for a regular user');
      // user_ids is ignored for g, and f's import is as unknown to g as a missing one.
      const r = await g.client.post('/api/export/filtered', { format: 'json', filters: { user_ids: [f.id], import_id: fImport.import_id } });
      assertApiError(r, 400, 'invalid_field', 'filters.import_id');
    });

    it('JSON include_projects / include_clients / include_time_entries', T, async () => {
      let x = await runExport(f.client, 'filtered', { format: 'json', filters: { project_ids: [ids.alpha], include_projects: true, include_clients: true } });
      let doc = JSON.parse(x.res.text);
      assert.deepEqual(Object.keys(doc).sort(), ['clients', 'export_info', 'projects', 'time_entries']);
      assert.deepEqual(doc.time_entries.map((e) => e.notes), ['e1', 'e4']);
      assert.deepEqual(doc.projects.map((p) => p.id), [ids.alpha]);
      assert.equal(doc.projects[0].name, 'Alpha');
      assert.equal(doc.projects[0].client, 'Acme');
      assert.deepEqual(doc.clients.map((c) => c.name), ['Acme']);
      x = await runExport(f.client, 'filtered', { format: 'json', filters: { include_time_entries: false, include_projects: true } });
      doc = JSON.parse(x.res.text);
      assert.deepEqual(Object.keys(doc).sort(), ['export_info', 'projects']);
      assert.deepEqual(doc.projects.map((p) => p.name).sort(), ['Alpha', 'Beta', 'Delta', 'Gamma']);
      x = await runExport(f.client, 'filtered', { format: 'json', filters: { client_ids: [ids.otherCo], include_clients: true } });
      doc = JSON.parse(x.res.text);
      assert.deepEqual(Object.keys(doc).sort(), ['clients', 'export_info', 'time_entries']);
      assert.deepEqual(doc.clients.map((c) => c.name), ['Other Co']);
      assert.equal(doc.export_info.user_id, f.id);
    });

    it('another user\'s import id is as unknown as one that does not exist (no existence leak)', T, async () => {
      const mine = await f.client.post('/api/export/filtered', { format: 'json', filters: { import_id: 999999 } });
      assertApiError(mine, 400, 'invalid_field', 'filters.import_id');
      const theirs = await f.client.post('/api/export/filtered', { format: 'json', filters: { import_id: gImport.import_id } });
      assertApiError(theirs, 400, 'invalid_field', 'filters.import_id');
    });

    describe('validation: 400 naming the field', () => {
      const cases = [
        ['bad date 2024-02-30', { filters: { start_date: '2024-02-30' } }, 'filters.start_date'],
        ['bad month', { filters: { end_date: '2024-13-01' } }, 'filters.end_date'],
        ['words for a date', { filters: { start_date: 'yesterday' } }, 'filters.start_date'],
        ['date as a number', { filters: { start_date: 20240101 } }, 'filters.start_date'],
        ['bad instant', { filters: { end_date: '2024-03-11T25:00:00Z' } }, 'filters.end_date'],
        ['end before start', { filters: { start_date: '2024-03-12', end_date: '2024-03-11' } }, 'filters.end_date'],
        ['unknown project id', { filters: { project_ids: [999999] } }, 'filters.project_ids'],
        ['unknown client id', { filters: { client_ids: [999999] } }, 'filters.client_ids'],
        ['unknown task id', { filters: { task_ids: [999999] } }, 'filters.task_ids'],
        ['project_ids not an array', { filters: { project_ids: 1 } }, 'filters.project_ids'],
        ['project_ids of strings', { filters: { project_ids: ['1'] } }, 'filters.project_ids'],
        ['project id 0', { filters: { project_ids: [0] } }, 'filters.project_ids'],
        ['tags a string', { filters: { tags: 'red' } }, 'filters.tags'],
        ['tags of numbers', { filters: { tags: [1] } }, 'filters.tags'],
        ['tags with an empty name', { filters: { tags: [''] } }, 'filters.tags'],
        ['billable "false"', { filters: { billable: 'false' } }, 'filters.billable'],
        ['billable 0', { filters: { billable: 0 } }, 'filters.billable'],
        ['source a number', { filters: { source: 5 } }, 'filters.source'],
        ['import_id a string', { filters: { import_id: '1' } }, 'filters.import_id'],
        ['unknown import id', { filters: { import_id: 999999 } }, 'filters.import_id'],
        ['user_ids a string', { filters: { user_ids: 'all' } }, 'filters.user_ids'],
        ['unknown time zone', { filters: { timezone: 'Mars/Base' } }, 'filters.timezone'],
        ['include_projects "true"', { filters: { include_projects: 'true' } }, 'filters.include_projects'],
        ['include_time_entries 1', { filters: { include_time_entries: 1 } }, 'filters.include_time_entries'],
        ['filters an array', { filters: [] }, 'filters'],
        ['unknown column', { format: 'csv', columns: ['nope'] }, 'columns'],
        ['columns empty', { format: 'csv', columns: [] }, 'columns'],
        ['columns a string', { format: 'csv', columns: 'notes' }, 'columns'],
        ['excel "true"', { excel: 'true' }, 'excel'],
        ['excel_safe "false"', { excel_safe: 'false' }, 'excel_safe'],
        ['unknown format', { format: 'pdf' }, 'format'],
        ['format not a string', { format: 1 }, 'format'],
      ];
      for (const [name, body, field] of cases) {
        it(name, T, async () => {
          const r = await f.client.post('/api/export/filtered', { format: 'csv', ...body });
          assertApiError(r, 400, 'invalid_field', field);
        });
      }
      it('missing format', T, async () => {
        assertApiError(await f.client.post('/api/export/filtered', { filters: {} }), 400, undefined, 'format');
      });
      it('unknown filter key', T, async () => {
        assertApiError(await f.client.post('/api/export/filtered', { format: 'csv', filters: { colour: 'red' } }), 400,
          ['unknown_field', 'invalid_field'], 'filters.colour');
      });
      it('unknown top-level key -> unknown_field', T, async () => {
        assertApiError(await f.client.post('/api/export/filtered', { format: 'csv', filter: {} }), 400, 'unknown_field', 'filter');
      });
      it('unknown user id (admin)', T, async () => {
        assertApiError(await admin.post('/api/export/filtered', { format: 'csv', filters: { user_ids: [999999] } }), 400,
          'invalid_field', 'filters.user_ids');
      });
      it('a rejected request records nothing', T, async () => {
        const before1 = (await f.client.get('/api/export/history')).json.total;
        await f.client.post('/api/export/filtered', { format: 'csv', filters: { billable: 'false' } });
        assert.equal((await f.client.get('/api/export/history')).json.total, before1);
      });
    });
  });

  // ----- CSV round trip and the spreadsheet guard -----
  describe('CSV', () => {
    const TRICKY = [
      { project: 'RT Proj, "Q"', client: 'RT Client Ä', task: 'Task; one', start_time: '2024-05-01T08:00:00Z', end_time: '2024-05-01T10:04:12Z',
        notes: 'comma, "quoted" text', tags: ['alpha', 'Beta Tag'], billable: true },
      { project: 'RT Proj, "Q"', client: 'RT Client Ä', start_time: '2024-05-02T09:00:00Z', end_time: '2024-05-02T09:00:01Z',
        notes: 'line1\nline2\n\nline4', tags: [], billable: false },
      { project: '=Formula Proj', client: '@Client', task: '+Task', start_time: '2024-05-03T09:00:00Z', end_time: '2024-05-03T17:00:01Z',
        notes: '=SUM(A1:A3)', tags: ['ünïcødé'], billable: true },
      { project: 'RT Proj, "Q"', client: 'RT Client Ä', start_time: '2024-05-04T09:00:00Z', end_time: '2024-05-04T09:30:00Z',
        notes: "'=already guarded", billable: false },
      { project: 'Unicode Grüße 日本', client: 'Unicode Grüße 日本', start_time: '2024-05-05T09:00:00Z', end_time: '2024-05-05T09:15:00Z',
        notes: 'Grüße 日本語 🎉 café', tags: ['emoji🎉'], billable: true },
      { project: 'RT Proj, "Q"', client: 'RT Client Ä', start_time: '2024-05-06T09:00:00Z', end_time: '2024-05-06T09:45:00Z',
        notes: '-minus', billable: true },
      { project: 'RT Proj, "Q"', client: 'RT Client Ä', start_time: '2024-05-07T09:00:00Z', end_time: '2024-05-07T09:45:00Z',
        notes: '+plus @at', billable: true },
      { project: 'RT Proj, "Q"', client: 'RT Client Ä', start_time: '2024-05-08T09:00:00Z', end_time: '2024-05-08T09:45:00Z',
        notes: '', billable: true },
    ];
    const IGNORE = new Set(['id', 'user', 'import_id', 'created_at', 'updated_at', 'source']);
    const strip = (rows) => rows.map((r) => Object.fromEntries(Object.entries(r).filter(([k]) => !IGNORE.has(k))));

    async function roundTrip(name, entries, { extraCheck } = {}) {
      const a = await createUser(admin, `${name}-a`, { timezone: 'Europe/Berlin' });
      for (const e of entries) await mkEntry(a.client, e);
      const x1 = await runExport(a.client, 'filtered', { format: 'csv' });
      assert.match(x1.res.headers.get('content-type'), /^text\/csv/);
      const e1 = csvObjects(x1.res.text);
      assert.deepEqual(e1.header, CSV_COLUMNS);
      assert.equal(e1.rows.length, entries.length);
      if (extraCheck) extraCheck(x1.res.text, e1);
      const b = await createUser(admin, `${name}-b`, { timezone: 'America/New_York' });
      assert.equal((await b.client.get('/api/entries')).json.total, 0, 'target user is empty');
      const s = await importCsv(b.client, x1.file, { filename: x1.status.filename });
      assert.equal(s.status, 'completed', JSON.stringify(s).slice(0, 600));
      assert.equal(s.successful_records, entries.length, JSON.stringify(s).slice(0, 600));
      assert.equal(s.failed_records, 0);
      const x2 = await runExport(b.client, 'filtered', { format: 'csv' });
      const e2 = csvObjects(x2.res.text);
      assert.deepEqual(e2.header, CSV_COLUMNS);
      assert.deepEqual(strip(e2.rows), strip(e1.rows), 'export -> import -> export gives the same rows');
      for (const r of e2.rows) {
        assert.equal(r.source, 'csv');
        assert.equal(r.import_id, String(s.import_id));
        assert.equal(r.user, `${name}-b`);
      }
      // And the entries themselves (through the API) are equal.
      const la = (await a.client.get('/api/entries?limit=100')).json.entries;
      const lb = (await b.client.get('/api/entries?limit=100')).json.entries;
      const key = (e) => JSON.stringify([e.project, e.client, e.task, e.start_time, e.end_time, e.duration_seconds, e.notes, e.tags, e.billable]);
      assert.deepEqual(lb.map(key).sort(), la.map(key).sort());
      return { a, b, x1, x2 };
    }

    it('round trip with tricky cells: export CSV, import into an empty user, export again', T, async () => {
      await roundTrip('rt', TRICKY, {
        extraCheck: (text, e1) => {
          assert.ok(!text.startsWith('\uFEFF'), 'no BOM by default');
          assert.ok(text.includes('\r\n'), 'CRLF');
          const byNotes = Object.fromEntries(e1.rows.map((r) => [r.notes, r]));
          assert.equal(byNotes['comma, "quoted" text'].duration_hours, '2.07');
          assert.equal(byNotes['comma, "quoted" text'].start_time, '2024-05-01T08:00:00Z');
          assert.equal(byNotes['comma, "quoted" text'].end_time, '2024-05-01T10:04:12Z');
          assert.equal(byNotes['comma, "quoted" text'].tags, 'alpha;Beta Tag');
          assert.equal(byNotes['comma, "quoted" text'].task_name, 'Task; one');
          assert.equal(byNotes['line1\nline2\n\nline4'].duration_hours, '0.000278');
          assert.equal(byNotes['line1\nline2\n\nline4'].billable, 'false');
          assert.ok(byNotes["'=SUM(A1:A3)"], `guarded formula: ${JSON.stringify(Object.keys(byNotes))}`);
          assert.equal(byNotes["'=SUM(A1:A3)"].project_name, "'=Formula Proj");
          assert.equal(byNotes["'=SUM(A1:A3)"].client_name, "'@Client");
          assert.equal(byNotes["'=SUM(A1:A3)"].task_name, "'+Task");
          assert.ok(byNotes["''=already guarded"], 'a text starting with \'= gets one more \'');
          assert.ok(byNotes["'-minus"]);
          assert.ok(byNotes["'+plus @at"]);
          assert.ok(byNotes['Grüße 日本語 🎉 café']);
        },
      });
    });

    it('round trip of the guard\'s own edge cases (leading TAB, leading \'\'=)', T, async () => {
      await roundTrip('rt-edge', [
        { project: 'Edge', client: 'Edge', start_time: '2024-05-10T09:00:00Z', end_time: '2024-05-10T10:00:00Z', notes: '\tleading tab' },
        { project: 'Edge', client: 'Edge', start_time: '2024-05-11T09:00:00Z', end_time: '2024-05-11T10:00:00Z', notes: "''=two quotes" },
        { project: 'Edge', client: 'Edge', start_time: '2024-05-12T09:00:00Z', end_time: '2024-05-12T10:00:00Z', notes: "'plain quote" },
        { project: 'Edge', client: 'Edge', start_time: '2024-05-13T09:00:00Z', end_time: '2024-05-13T10:00:00Z', notes: "'=one quote" },
        { project: 'Edge', client: 'Edge', start_time: '2024-05-14T09:00:00Z', end_time: '2024-05-14T10:00:00Z', notes: "'=one quote" },
      ].map((e, i) => (i === 4 ? { ...e, notes: "''=one quote" } : e)), {
        extraCheck: (text, e1) => {
          // Two different notes ("'=one quote" and "''=one quote") must not give the same cell.
          const cells = e1.rows.map((r) => r.notes);
          assert.equal(new Set(cells).size, cells.length, `distinct notes exported as equal cells: ${JSON.stringify(cells)}`);
        },
      });
    });

    describe('spreadsheet guard, BOM, columns', () => {
      let u;
      before(async () => {
        u = await createUser(admin, 'guard-user', { timezone: 'UTC' });
        const notes = ['=SUM(A1)', '+1', '-1', '@x', "'=q", 'plain', 'a=b'];
        for (let i = 0; i < notes.length; i++) {
          await mkEntry(u.client, { project: i === 0 ? '=Proj' : 'Guard', client: 'Guard', start_time: `2024-07-0${i + 1}T09:00:00Z`,
            end_time: `2024-07-0${i + 1}T10:00:00Z`, notes: notes[i] });
        }
      });

      it('on by default: text cells starting with = + - @ get a leading \', numbers and instants never', T, async () => {
        const x = await runExport(u.client, 'filtered', { format: 'csv' });
        const { rows } = csvObjects(x.res.text);
        assert.deepEqual(rows.map((r) => r.notes), ["'=SUM(A1)", "'+1", "'-1", "'@x", "''=q", 'plain', 'a=b']);
        assert.equal(rows[0].project_name, "'=Proj");
        for (const r of rows) {
          assert.match(r.start_time, ISO_Z);
          assert.equal(r.duration_hours, '1');
          assert.equal(r.billable, 'true');
          assert.match(r.id, /^\d+$/);
        }
        assert.equal(x.status.record_count, 7);
      });

      it('excel_safe=false turns it off', T, async () => {
        const x = await runExport(u.client, 'filtered', { format: 'csv', excel_safe: false });
        const { rows } = csvObjects(x.res.text);
        assert.deepEqual(rows.map((r) => r.notes), ['=SUM(A1)', '+1', '-1', '@x', "'=q", 'plain', 'a=b']);
        assert.equal(rows[0].project_name, '=Proj');
        assert.equal(x.status.filters.excel_safe, false);
      });

      it('excel=true starts with a UTF-8 BOM; default does not', T, async () => {
        const x = await runExport(u.client, 'filtered', { format: 'csv', excel: true });
        assert.deepEqual([...x.file.subarray(0, 3)], [0xef, 0xbb, 0xbf]);
        assert.ok(x.file.subarray(3).toString('utf8').startsWith('project_name,'));
        const y = await runExport(u.client, 'filtered', { format: 'csv' });
        assert.ok(y.file.toString('utf8').startsWith('project_name,'), y.file.subarray(0, 20).toString('hex'));
      });

      it('columns selects and orders columns', T, async () => {
        const x = await runExport(u.client, 'filtered', { format: 'csv', columns: ['notes', 'start_time', 'billable'] });
        const recs = parseCsv(x.res.text);
        assert.deepEqual(recs[0], ['notes', 'start_time', 'billable']);
        assert.equal(recs.length, 8);
        assert.deepEqual(recs[1], ["'=SUM(A1)", '2024-07-01T09:00:00Z', 'true']);
      });

      it('download headers: attachment, type, length; status: size and sha256 of the bytes', T, async () => {
        const x = await runExport(u.client, 'filtered', { format: 'csv' });
        assertStatusShape(srv, x.status);
        assert.equal(x.res.headers.get('content-type'), 'text/csv; charset=utf-8');
        const cd = x.res.headers.get('content-disposition');
        assert.match(cd, /^attachment;\s*filename="?([^";]+)"?/);
        assert.equal(/filename="?([^";]+)"?/.exec(cd)[1], x.status.filename);
        assert.equal(x.status.filename, x.start.filename);
        assert.match(x.status.filename, /^timetracker_filtered_\d+_\d{8}-\d{6}\.csv$/);
        assert.equal(Number(x.res.headers.get('content-length')), x.file.length);
        assert.equal(x.status.file_size, x.file.length);
        assert.equal(x.status.sha256, sha256(x.file));
        assert.equal(x.status.export_type, 'filtered');
        assert.equal(x.status.export_format, 'csv');
        assert.equal(x.status.user_id, u.id);
        assert.equal(x.status.progress_percent, 100);
        assert.equal(x.status.is_expired, false);
        assert.equal(x.status.error, null);
        assert.match(x.status.completed_at, ISO_Z);
        assert.match(x.status.expires_at, ISO_Z);
        const ttl = Date.parse(x.status.expires_at) - Date.parse(x.status.completed_at);
        assert.ok(Math.abs(ttl - 7 * 86400000) <= 2000, `default expiry is 7 days after completion, got ${ttl} ms`);
        assert.equal(x.start.status, 'pending');
        assert.equal(x.start.download_url, `/api/export/download/${x.id}`);
        assert.equal(x.start.status_url, `/api/export/status/${x.id}`);
      });
    });
  });

  // ----- XLSX and ICS -----
  describe('XLSX and ICS', () => {
    let u;
    before(async () => {
      u = await createUser(admin, 'xl-user', { timezone: 'UTC' });
      await mkEntry(u.client, { project: 'XL Proj', client: 'XL Client', task: 'XL Task', start_time: '2024-01-15T09:00:00Z',
        end_time: '2024-01-15T10:30:00Z', notes: '=SUM(A1)', tags: ['x1', 'x2'], billable: true });
      await mkEntry(u.client, { project: 'XL Proj', client: 'XL Client', start_time: '2024-01-16T09:00:00Z',
        end_time: '2024-01-16T09:20:00Z', notes: `multi\nline; with, commas and a long text ${'é日🎉'.repeat(30)} <tag> & "q"`, billable: false });
      await mkEntry(u.client, { project: 'XL Proj', client: 'XL Client', start_time: '2024-01-17T09:00:00Z',
        end_time: '2024-01-17T09:20:00Z', notes: '' });
    });

    async function sheet(body) {
      const x = await runExport(u.client, 'filtered', body);
      assert.match(x.res.headers.get('content-type'), /spreadsheetml|application\/vnd/);
      assert.match(x.status.filename, /\.xlsx$/);
      const z = openZip(x.file);
      try {
        assert.equal(z.test.status, 0, z.test.out);
        assert.ok(z.names.includes('xl/worksheets/sheet1.xml'), z.names.join(','));
        const xml = z.read('xl/worksheets/sheet1.xml').toString('utf8');
        const shared = z.names.includes('xl/sharedStrings.xml') ? sharedStrings(z.read('xl/sharedStrings.xml').toString('utf8')) : [];
        return { x, xml, cells: xlsxCells(xml, shared) };
      } finally { z.cleanup(); }
    }

    it('XLSX: header, numeric date cells, formulas stay text (no <f>)', T, async () => {
      const { x, xml, cells } = await sheet({ format: 'xlsx' });
      assert.equal(x.status.record_count, 3);
      const header = ['A', 'B', 'C', 'D', 'E', 'F', 'G', 'H', 'I'].map((c) => cells.get(`${c}1`)?.value);
      assert.deepEqual(header, ['Project', 'Client', 'Task', 'Start (UTC)', 'End (UTC)', 'Duration (h)', 'Notes', 'Tags', 'Billable']);
      assert.ok(!/<f[\s>]/.test(xml), 'no formula element in the sheet');
      const start = cells.get('D2');
      assert.equal(start.type, 'n', `dates are numeric cells: ${JSON.stringify(start)}`);
      assert.ok(Math.abs(Number(start.value) - excelSerial(Date.parse('2024-01-15T09:00:00Z'))) < 1e-6, start.value);
      assert.ok(Math.abs(Number(cells.get('E2').value) - excelSerial(Date.parse('2024-01-15T10:30:00Z'))) < 1e-6);
      assert.equal(cells.get('F2').type, 'n');
      assert.ok(Math.abs(Number(cells.get('F2').value) - 1.5) < 1e-9);
      const note = cells.get('G2');
      assert.ok(['s', 'inlineStr', 'str'].includes(note.type), JSON.stringify(note));
      assert.equal(note.value, '=SUM(A1)');
      assert.equal(cells.get('A2').value, 'XL Proj');
      assert.equal(cells.get('C2').value, 'XL Task');
      assert.equal(cells.get('I2').type, 'b');
      assert.equal(cells.get('I2').value, '1');
      assert.equal(cells.get('I3').value, '0');
      assert.ok(cells.get('G3').value.startsWith('multi\nline; with, commas'), JSON.stringify(cells.get('G3')));
      assert.ok(cells.has('A4') && !cells.has('A5'), 'one row per entry');
    });

    it('XLSX: date cells in filters.timezone', T, async () => {
      const { cells } = await sheet({ format: 'xlsx', filters: { timezone: 'Europe/Berlin' } });
      assert.equal(cells.get('D1').value, 'Start (Europe/Berlin)');
      assert.ok(Math.abs(Number(cells.get('D2').value) - excelSerial(Date.parse('2024-01-15T09:00:00Z'), 1)) < 1e-6, cells.get('D2').value);
    });

    it('ICS: CRLF, folded at 75 octets, one VEVENT per entry with UID/DTSTART/DTEND in UTC', T, async () => {
      const x = await runExport(u.client, 'filtered', { format: 'ics' });
      assert.match(x.res.headers.get('content-type'), /^text\/calendar/);
      assert.match(x.status.filename, /\.ics$/);
      const { lines, physical } = parseIcs(x.res.text);
      assert.ok(physical.length > lines.length, 'the long description was folded');
      assert.equal(lines[0], 'BEGIN:VCALENDAR');
      assert.equal(lines[lines.length - 1], 'END:VCALENDAR');
      assert.ok(lines.includes('VERSION:2.0'));
      assert.ok(lines.some((l) => l.startsWith('PRODID:')));
      const events = [];
      let cur = null;
      for (const l of lines) {
        if (l === 'BEGIN:VEVENT') { cur = []; continue; }
        if (l === 'END:VEVENT') { events.push(cur); cur = null; continue; }
        if (cur) cur.push(l);
      }
      assert.equal(events.length, 3);
      const prop = (ev, name) => (ev.find((l) => l.startsWith(`${name}:`) || l.startsWith(`${name};`)) || '').replace(/^[^:]*:/, '');
      const uids = new Set();
      const entries = (await u.client.get('/api/entries?limit=100')).json.entries;
      for (const ev of events) {
        const uid = prop(ev, 'UID');
        assert.ok(uid, `UID: ${ev.join(' | ')}`);
        uids.add(uid);
        assert.match(prop(ev, 'DTSTART'), /^\d{8}T\d{6}Z$/);
        assert.match(prop(ev, 'DTEND'), /^\d{8}T\d{6}Z$/);
        assert.match(prop(ev, 'DTSTAMP'), /^\d{8}T\d{6}Z$/);
      }
      assert.equal(uids.size, 3, 'UIDs are unique');
      const compact = (iso) => iso.replace(/[-:]/g, '');
      const starts = events.map((ev) => prop(ev, 'DTSTART')).sort();
      assert.deepEqual(starts, entries.map((e) => compact(e.start_time)).sort());
      const first = events.find((ev) => prop(ev, 'DTSTART') === '20240115T090000Z');
      assert.equal(prop(first, 'DTEND'), '20240115T103000Z');
      assert.match(prop(first, 'SUMMARY'), /XL Proj/);
      const second = events.find((ev) => prop(ev, 'DTSTART') === '20240116T090000Z');
      assert.equal(icsUnescape(prop(second, 'DESCRIPTION')), entries.find((e) => e.start_time === '2024-01-16T09:00:00Z').notes);
    });
  });

  // ----- status, history, ownership, delete -----
  describe('status, history, ownership, delete', () => {
    let a;
    let b;
    let done;
    before(async () => {
      a = await createUser(admin, 'own-a', { timezone: 'UTC' });
      b = await createUser(admin, 'own-b', { timezone: 'UTC' });
      await mkEntry(a.client, { project: 'Own', client: 'Own', start_time: '2024-08-01T09:00:00Z', end_time: '2024-08-01T10:00:00Z', notes: 'own a' });
      done = await runExport(a.client, 'filtered', { format: 'csv', filters: { billable: true, tags: ['x'] }, columns: ['notes'] });
    });

    it('status echoes the validated filters', T, async () => {
      assert.deepEqual(done.status.filters.filters, { billable: true, tags: ['x'] });
      assert.deepEqual(done.status.filters.columns, ['notes']);
      assert.equal(done.status.filters.excel_safe, true);
      assert.equal(done.status.filters.excel, false);
    });

    it('another user\'s export: 404 on status, download and delete; admins see it', T, async () => {
      const id = done.id;
      assertApiError(await b.client.get(`/api/export/status/${id}`), 404, 'not_found');
      assertApiError(await b.client.get(`/api/export/download/${id}`), 404, 'not_found');
      assertApiError(await b.client.del(`/api/export/${id}`), 404, 'not_found');
      assertStatus(await a.client.get(`/api/export/download/${id}`), 200, 'still there after the 404s');
      const hb = await b.client.get('/api/export/history?limit=100');
      assertStatus(hb, 200);
      assert.ok(!hb.json.exports.some((e) => e.id === id));
      assertApiError(await b.client.get(`/api/export/history?user_id=${a.id}`), 403);
      // unknown ids look the same
      assertApiError(await b.client.get('/api/export/status/99999999'), 404, 'not_found');
      assertApiError(await b.client.get('/api/export/download/99999999'), 404, 'not_found');
      assertApiError(await b.client.del('/api/export/99999999'), 404, 'not_found');
      // admin
      const s = await admin.get(`/api/export/status/${id}`);
      assertStatus(s, 200);
      assert.equal(s.json.user_id, a.id);
      const d = await fetchBytes(admin, `/api/export/download/${id}`);
      assert.equal(d.status, 200);
      assert.ok(d.body.equals(done.file));
      const ha = await admin.get('/api/export/history?all=true&limit=100');
      assert.ok(ha.json.exports.some((e) => e.id === id));
      const hu = await admin.get(`/api/export/history?user_id=${a.id}`);
      assert.ok(hu.json.exports.every((e) => e.user_id === a.id) && hu.json.exports.some((e) => e.id === id));
      const own = await admin.get('/api/export/history?limit=100');
      assert.ok(!own.json.exports.some((e) => e.id === id), 'without all=true an admin sees their own');
      // not signed in
      assertApiError(await new Client(srv.url).get(`/api/export/status/${id}`), 401);
      assertApiError(await new Client(srv.url).get(`/api/export/download/${id}`), 401);
    });

    it('history: newest first, paging, totals, no server paths', T, async () => {
      const h = await createUser(admin, 'hist-user', { timezone: 'UTC' });
      const made = [];
      for (const format of ['csv', 'json', 'ics']) made.push((await startExport(h.client, 'filtered', { format })).export_id);
      made.push((await startExport(h.client, 'gdpr', { format: 'json' })).export_id);
      for (const id of made) await waitForExport(h.client, id);
      let r = await h.client.get('/api/export/history?limit=3');
      assertStatus(r, 200);
      assert.equal(r.json.total, 4);
      assert.equal(r.json.limit, 3);
      assert.equal(r.json.offset, 0);
      assert.deepEqual(r.json.exports.map((e) => e.id), [...made].reverse().slice(0, 3));
      for (const e of r.json.exports) assertStatusShape(srv, e, ' (history)');
      r = await h.client.get('/api/export/history?limit=3&offset=3');
      assert.deepEqual(r.json.exports.map((e) => e.id), [made[0]]);
      const g = (await h.client.get(`/api/export/status/${made[3]}`)).json;
      assert.equal(g.export_type, 'gdpr');
      assert.equal(g.export_format, 'json');
      assert.equal(g.filters, null);
      assertApiError(await h.client.get('/api/export/history?limit=0'), 400, undefined, 'limit');
      assertApiError(await h.client.get('/api/export/history?limit=abc'), 400, undefined, 'limit');
      assertApiError(await h.client.get('/api/export/history?offset=-1'), 400, undefined, 'offset');
      const all = await admin.get('/api/export/history?all=true&limit=100');
      assertNoServerPath(srv, all.json, 'history');
    });

    it('DELETE removes the file and keeps the row; then download 410, status expired', T, async () => {
      const x = await runExport(a.client, 'filtered', { format: 'json' });
      const filesBefore = exportFiles(srv).filter((n) => n.startsWith(`export-${x.id}-`));
      assert.equal(filesBefore.length, 1, `the file of export ${x.id}: ${exportFiles(srv).join(', ')}`);
      const total = (await a.client.get('/api/export/history')).json.total;
      const r = await a.client.del(`/api/export/${x.id}`);
      assertStatus(r, 200);
      assert.equal(r.json.success, true);
      assert.deepEqual(exportFiles(srv).filter((n) => n.startsWith(`export-${x.id}-`)), [], 'the file is deleted');
      assertApiError(await a.client.get(`/api/export/download/${x.id}`), 410, 'expired');
      const s = await a.client.get(`/api/export/status/${x.id}`);
      assertStatus(s, 200);
      assert.equal(s.json.status, 'expired');
      assert.equal(s.json.is_expired, true);
      const h = await a.client.get('/api/export/history');
      assert.equal(h.json.total, total, 'the history row is kept');
      assert.ok(h.json.exports.some((e) => e.id === x.id && e.status === 'expired'));
      // CSRF is required for a cookie-authenticated DELETE
      const y = await runExport(a.client, 'filtered', { format: 'json' });
      const noCsrf = await a.client.req('DELETE', `/api/export/${y.id}`, { csrf: false });
      assertApiError(noCsrf, 403, 'csrf_failed');
      assertStatus(await a.client.get(`/api/export/download/${y.id}`), 200, 'not deleted without CSRF');
    });

    it('files: our names only in DATA_DIR/exports, no .tmp left', T, async () => {
      const files = exportFiles(srv);
      assert.ok(files.length > 0);
      for (const n of files) {
        assert.match(n, /^export-\d+-[A-Za-z0-9]+\.(csv|json|xlsx|ics|zip)$/, `unexpected file in exports/: ${n}`);
      }
    });
  });
});

// ---------- a second server: one worker (not-ready), short TTL (expiry) ----------

describe('exports: not ready while queued, expiry', () => {
  let srv;
  let admin;
  before(async () => {
    srv = await startServer({ env: { TT_EXPORT_TTL: '2s', TT_SWEEP_INTERVAL: '1s', TT_WORKERS: '1' } });
    admin = await adminClient(srv);
  });
  after(async () => { await srv?.close(); });

  it('409 not_ready while the job waits (one worker busy with a big import), then complete', T, async () => {
    const u = await createUser(admin, 'big-user', { timezone: 'UTC' });
    const N = 50000;
    const rows = [H];
    const t0 = Date.parse('2020-01-01T00:00:00Z');
    for (let i = 0; i < N; i++) {
      const s = new Date(t0 + i * 3600000).toISOString().slice(0, 19);
      rows.push(`Big,,,${s}Z,,0.5,big row ${i},,`);
    }
    const up = await uploadCsv(u.client, `${rows.join('\n')}\n`);
    assertStatus(up, 202, 'async import');
    const start = await startExport(u.client, 'filtered', { format: 'csv' });
    const id = start.export_id;
    const d = await u.client.get(`/api/export/download/${id}`);
    assertApiError(d, 409, 'not_ready');
    const s = await u.client.get(`/api/export/status/${id}`);
    assertStatus(s, 200);
    assert.ok(['pending', 'processing'].includes(s.json.status), s.text);
    assert.equal(s.json.is_expired, false);
    assert.ok(s.json.progress_percent < 100);
    assertApiError(await u.client.del(`/api/export/${id}`), 409);
    const imp = await waitForImport(u.client, up.json.import_id);
    assert.equal(imp.successful_records, N, JSON.stringify(imp).slice(0, 400));
    const fin = await waitForExport(u.client, id);
    assert.equal(fin.status, 'completed', JSON.stringify(fin));
    assert.equal(fin.record_count, N, 'the export ran after the import');
    const res = await fetchBytes(u.client, `/api/export/download/${id}`);
    if (res.status === 200) {
      assert.equal(res.body.toString('utf8').split('\r\n').filter(Boolean).length, N + 1);
      assert.equal(sha256(res.body), fin.sha256);
    } else {
      assert.equal(res.status, 410, 'a 2 s TTL may already have expired it');
    }
  });

  it('short TTL: after expiry download is 410 expired and the file is gone; the row stays', T, async () => {
    const u = await createUser(admin, 'ttl-user', { timezone: 'UTC' });
    await mkEntry(u.client, { project: 'TTL', client: 'TTL', start_time: '2024-08-01T09:00:00Z', end_time: '2024-08-01T10:00:00Z', notes: 'ttl' });
    const x = await runExport(u.client, 'filtered', { format: 'csv' });
    const ttl = Date.parse(x.status.expires_at) - Date.parse(x.status.completed_at);
    assert.ok(ttl >= 1000 && ttl <= 3000, `expires_at - completed_at = ${ttl} ms with TT_EXPORT_TTL=2s`);
    const mine = () => exportFiles(srv).filter((n) => n.startsWith(`export-${x.id}-`));
    const s = await waitForExport(u.client, x.id, { until: (st) => st.status === 'expired', timeoutMs: 15000, intervalMs: 200 });
    assert.equal(s.is_expired, true);
    assertApiError(await u.client.get(`/api/export/download/${x.id}`), 410, 'expired');
    // The sweeper deletes the file (within a sweep interval or two).
    const deadline = Date.now() + 8000;
    while (mine().length && Date.now() < deadline) await sleep(200);
    assert.deepEqual(mine(), [], 'the sweeper deleted the expired file');
    const h = await u.client.get('/api/export/history');
    assert.ok(h.json.exports.some((e) => e.id === x.id && e.status === 'expired' && e.is_expired === true), h.text.slice(0, 400));
    const g = await runExport(u.client, 'gdpr', { format: 'zip' });
    await waitForExport(u.client, g.id, { until: (st) => st.status === 'expired', timeoutMs: 15000, intervalMs: 200 });
    const deadline2 = Date.now() + 8000;
    while (exportFiles(srv).some((n) => n.startsWith(`export-${g.id}-`)) && Date.now() < deadline2) await sleep(200);
    assert.deepEqual(exportFiles(srv).filter((n) => n.startsWith(`export-${g.id}-`)), []);
    assert.deepEqual(exportFiles(srv).filter((n) => n.endsWith('.tmp')), []);
  });
});
