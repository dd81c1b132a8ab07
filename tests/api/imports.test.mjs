// CSV import API (SPEC §3.3): upload validation and options, auth/CSRF, the
// asynchronous flow and the status object, dry run, diagnostics, history,
// isolation, duplicates across imports, undo, cancel, templates, upload caps.
// The row-level rules are covered by the fixture corpus (import-corpus.test.mjs);
// long-running jobs (cancel while processing, resume after kill -9) by import-jobs.test.mjs.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startServer, assertApiError, assertStatus, adminClient, createUser, Client, csvForm, uploadCsv,
  importCsv, waitForImport, importDiagnostics, importEntries, sleep, ISO_Z, IMPORT_TERMINAL,
  rawRequest, multipartBody,
} from './lib/server.mjs';

const T = { timeout: 120000 };
const H = 'project_name,client_name,task_name,start_time,end_time,duration_hours,notes,tags,billable';
const TEMPLATE_HEADER = H;
const STATUS_KEYS = ['id', 'user_id', 'user', 'import_type', 'source_file', 'status', 'total_records',
  'successful_records', 'failed_records', 'skipped_records', 'warning_count', 'progress_percent',
  'created_at', 'started_at', 'completed_at', 'undone_at', 'summary', 'error_count', 'file_size',
  'error_message', 'options', 'status_url'];
const SUMMARY_KEYS = ['total', 'successful', 'failed', 'skipped', 'warnings', 'errors', 'date_range', 'created'];

const csv = (...rows) => `${[H, ...rows].join('\n')}\n`;
/** n valid rows with distinct start times (UTC) for project p. */
function rows(n, p = 'Bulk', day = '2024-09-01') {
  const out = [];
  for (let i = 0; i < n; i++) {
    const t = new Date(Date.parse(`${day}T00:00:00Z`) + i * 600000).toISOString().slice(0, 19);
    out.push(`${p},,,${t}Z,,0.1,${p} row ${i + 1},,`);
  }
  return out;
}

/** Minimal RFC 4180 parser (for the errors export). */
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

function assertStatusShape(s, ctx = '') {
  for (const k of STATUS_KEYS) assert.ok(k in s, `status object lacks ${k}${ctx}: ${JSON.stringify(s).slice(0, 400)}`);
  assert.equal(typeof s.id, 'number');
  assert.equal(s.import_type, 'csv');
  assert.equal(s.status_url, `/api/import/status/${s.id}`);
  assert.match(s.created_at, ISO_Z);
  assert.ok(IMPORT_TERMINAL.includes(s.status) || ['pending', 'processing'].includes(s.status), `status ${s.status}`);
  assert.equal(typeof s.options, 'object');
  assert.ok(s.progress_percent >= 0 && s.progress_percent <= 100);
  if (IMPORT_TERMINAL.includes(s.status) && s.status !== 'cancelled') {
    assert.equal(s.progress_percent, 100);
    for (const k of SUMMARY_KEYS) assert.ok(k in s.summary, `summary lacks ${k}: ${JSON.stringify(s.summary)}`);
    assert.equal(s.summary.total, s.total_records);
    assert.equal(s.summary.successful, s.successful_records);
    assert.equal(s.summary.failed, s.failed_records);
    assert.equal(s.summary.skipped, s.skipped_records);
    assert.equal(s.summary.warnings, s.warning_count);
    assert.equal(s.error_count, s.failed_records);
    assert.equal(s.total_records, s.successful_records + s.failed_records + s.skipped_records,
      `counters must add up: ${JSON.stringify(s).slice(0, 400)}`);
  }
}

describe('imports API', () => {
  let srv;
  let admin;
  before(async () => {
    srv = await startServer();
    admin = await adminClient(srv);
  });
  after(async () => { await srv?.close(); });

  async function historyTotal(c) {
    const r = await c.get('/api/import/history');
    assertStatus(r, 200);
    return r.json.total;
  }
  async function entryTotal(c) {
    const r = await c.get('/api/entries');
    assertStatus(r, 200);
    return r.json.total;
  }

  describe('templates', () => {
    it('GET /api/import/template/csv is a CSV attachment with our header, and imports cleanly', T, async () => {
      const r = await admin.get('/api/import/template/csv');
      assertStatus(r, 200);
      assert.match(r.headers.get('content-type'), /^text\/csv/);
      assert.match(r.headers.get('content-disposition'), /attachment;\s*filename="?timetracker_import_template\.csv"?/);
      assert.equal(r.text.split(/\r?\n/)[0], TEMPLATE_HEADER);
      const u = await createUser(admin, 'tpl-user', { timezone: 'UTC' });
      const s = await importCsv(u.client, r.text, { filename: 'timetracker_import_template.csv' });
      assert.equal(s.status, 'completed', JSON.stringify(s));
      assert.equal(s.total_records, 3);
      assert.equal(s.successful_records, 3);
      assert.equal(s.warning_count, 0);
      const entries = await importEntries(u.client, s.import_id);
      assert.equal(entries.length, 3);
      const internal = entries.find((e) => e.project === 'Internal');
      assert.ok(internal, 'row with an empty client');
      assert.equal(internal.client, 'Internal');
      assert.equal(internal.billable, false);
      assert.equal(internal.task, null);
      const dev = entries.find((e) => e.task === 'Development');
      assert.equal(dev.start_time, '2024-01-15T13:30:00Z');
      assert.equal(dev.end_time, '2024-01-15T16:00:00Z', 'duration_hours 2.5');
    });

    it('GET /api/import/template/csv/clients is the clients template attachment', T, async () => {
      const r = await admin.get('/api/import/template/csv/clients');
      assertStatus(r, 200);
      assert.match(r.headers.get('content-type'), /^text\/csv/);
      assert.match(r.headers.get('content-disposition'), /attachment;\s*filename="?timetracker_clients_import_template\.csv"?/);
      assert.ok(r.text.split(/\r?\n/)[0].split(',').includes('name'), r.text);
    });

    it('templates need a signed-in user', T, async () => {
      const anon = new Client(srv.url);
      assertApiError(await anon.get('/api/import/template/csv'), 401);
    });
  });

  describe('upload validation', () => {
    let u;
    before(async () => { u = await createUser(admin, 'upload-user', { timezone: 'UTC' }); });

    it('without a file part: 400 missing_field (file)', T, async () => {
      const r = await uploadCsv(u.client, null, { fields: { wait: 'true' } });
      assertApiError(r, 400, 'missing_field', 'file');
    });

    it('a .xlsx file is refused with 400 invalid_file; .CSV .txt and .tsv are accepted', T, async () => {
      const body = csv('Ext,,,2024-10-01 09:00,,1,x,,');
      assertApiError(await uploadCsv(u.client, body, { filename: 'report.xlsx' }), 400, 'invalid_file', 'file');
      assertApiError(await uploadCsv(u.client, body, { filename: 'report.csv.exe' }), 400, 'invalid_file', 'file');
      for (const [i, name] of ['REPORT.CSV', 'report.txt', 'report.tsv'].entries()) {
        const s = await importCsv(u.client, csv(`Ext,,,2024-10-0${i + 2} 09:00,,1,${name},,`), { filename: name });
        assert.equal(s.status, 'completed', `${name}: ${JSON.stringify(s)}`);
        assert.equal(s.source_file, name);
      }
    });

    it('an empty file is refused with 400', T, async () => {
      const before = await historyTotal(u.client);
      const r = await uploadCsv(u.client, '', { filename: 'empty.csv' });
      assertApiError(r, 400, ['empty_file', 'invalid_file'], 'file');
      assert.equal(await historyTotal(u.client), before, 'no import recorded');
    });

    it('tiny files (1 to 3 bytes) are judged as files, not refused as several file parts', T, async () => {
      for (const c of ['a', '\n', '--', 'x\r', Buffer.from([0xef, 0xbb, 0xbf])]) {
        const r = await uploadCsv(u.client, c, { fields: { dry_run: 'true' } });
        assertApiError(r, 400, 'invalid_file', 'file');
      }
    });

    it('UTF-16 (with either BOM, or without BOM) and binary files are refused with 400 invalid_file', T, async () => {
      const before = await historyTotal(u.client);
      const text = csv('Utf16,,,2024-10-05 09:00,,1,x,,');
      const le = Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(text, 'utf16le')]);
      const be = Buffer.from([0xfe, 0xff, ...Buffer.from(text, 'utf16le').swap16()]);
      const leNoBom = Buffer.from(text, 'utf16le');
      const png = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 0x0d, 0x49, 0x48, 0x44, 0x52]);
      const gzip = Buffer.from([0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03, 0x4b, 0x4c, 0x4a, 0x06, 0x00]);
      for (const [what, bytes] of [['utf-16le', le], ['utf-16be', be], ['utf-16le without BOM', leNoBom], ['png', png], ['gzip', gzip]]) {
        const r = await uploadCsv(u.client, bytes, { filename: 'data.csv' });
        assertApiError(r, 400, 'invalid_file', 'file');
        assert.ok(r.json.error.length > 10, `${what}: a clear message: ${r.text}`);
        if (what.startsWith('utf-16')) assert.match(r.json.error, /UTF-16|UTF-8|text/i, `${what}: ${r.text}`);
      }
      assert.equal(await historyTotal(u.client), before, 'no import recorded for refused files');
    });

    it('a body that is not multipart/form-data gets 415', T, async () => {
      const body = csv('Raw,,,2024-10-06 09:00,,1,x,,');
      assertApiError(await u.client.req('POST', '/api/import/csv', { body, headers: { 'Content-Type': 'text/csv' } }), 415);
      assertApiError(await u.client.req('POST', '/api/import/csv', { json: { file: body } }), 415);
      assertApiError(await u.client.req('POST', '/api/import/csv', {
        body: new URLSearchParams({ file: body }).toString(), headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      }), 415);
    });

    it('an unknown form field is refused with 400 unknown_field naming it', T, async () => {
      const r = await uploadCsv(u.client, csv('Unknown,,,2024-10-07 09:00,,1,x,,'), { fields: { skip_header: 'true' } });
      assertApiError(r, 400, 'unknown_field', 'skip_header');
    });

    it('bad option values are refused with 400 naming the field, and nothing is recorded', T, async () => {
      const before = await historyTotal(u.client);
      const entriesBefore = await entryTotal(u.client);
      const body = csv('Opts,,,2024-10-08 09:00,,1,x,,');
      for (const [k, v] of [['date_order', 'xyz'], ['timezone', 'Mars/Base'], ['duplicates', 'maybe'], ['delimiter', '|'],
        ['atomic', 'perhaps'], ['dry_run', 'sometimes'], ['wait', 'later'], ['format', 'xlsx'], ['timezone', '../../etc/passwd']]) {
        const r = await uploadCsv(u.client, body, { fields: { [k]: v } });
        assertApiError(r, 400, undefined, k);
      }
      assert.equal(await historyTotal(u.client), before);
      assert.equal(await entryTotal(u.client), entriesBefore);
    });

    it('two file parts in one request are refused (not concatenated)', T, async () => {
      const before = await historyTotal(u.client);
      const fd = csvForm(csv('Two,,,2024-10-09 09:00,,1,x,,'), { fields: { wait: 'true' } });
      fd.append('file', new Blob([csv('Two,,,2024-10-09 10:00,,1,y,,')]), 'second.csv');
      const r = await u.client.req('POST', '/api/import/csv', { body: fd });
      assertApiError(r, 400);
      assert.equal(await historyTotal(u.client), before, 'no import recorded');
    });

    it('the stored options are echoed in the status object', T, async () => {
      const s = await importCsv(u.client, `${H.replace(/,/g, ';')}\nEcho;;;03/04/2024 09:00;;1,5;x;;\n`, {
        fields: { timezone: 'Europe/Vienna', date_order: 'dmy', delimiter: ';', duplicates: 'allow', atomic: 'false' },
      });
      assert.equal(s.status, 'completed', JSON.stringify(s));
      assert.equal(s.options.timezone, 'Europe/Vienna');
      assert.equal(s.options.date_order, 'dmy');
      assert.equal(s.options.delimiter, ';');
      assert.equal(s.options.duplicates, 'allow');
      assert.equal(s.options.atomic, false);
      const [e] = await importEntries(u.client, s.import_id);
      assert.equal(e.start_time, '2024-04-03T07:00:00Z');
      assert.equal(e.duration_seconds, 5400);
    });

    it('text with NUL bytes after the first 4 KiB: the import ends, counters match what was stored', T, async () => {
      const good = rows(120, 'LateNul', '2024-10-10');
      const text = csv(...good, 'LateNul,,,2024-10-11 09:00,,1,has a \u0000 NUL,,', 'LateNul,,,2024-10-11 10:00,,1,after,,');
      assert.ok(text.indexOf('\u0000') > 4096);
      const r = await uploadCsv(u.client, text, { fields: { wait: 'true' } });
      if (r.status === 400) {
        assertApiError(r, 400, 'invalid_file', 'file');
        return;
      }
      assertStatus(r, 200);
      const s = r.json;
      assert.ok(['failed', 'partial'].includes(s.status), JSON.stringify(s).slice(0, 500));
      assert.equal(typeof s.error_message, 'string');
      assert.match(s.error_message, /line 122/, 'names the line with the NUL byte');
      assert.equal((await importEntries(u.client, s.import_id)).length, s.successful_records);
      assert.ok(s.successful_records === 0 || s.successful_records === 120, `rows before the NUL: ${s.successful_records}`);
    });
  });

  describe('authentication and CSRF', () => {
    let u;
    before(async () => { u = await createUser(admin, 'csrf-user', { timezone: 'UTC' }); });

    it('needs a signed-in user', T, async () => {
      const { body, contentType } = multipartBody(csv('Anon,,,2024-10-12 09:00,,1,x,,'));
      const r = await rawRequest(`${srv.url}/api/import/csv`, { headers: { 'Content-Type': contentType }, body });
      assert.equal(r.status, 401, r.text);
      assert.equal(r.json?.code, 'unauthorized', r.text);
    });

    it('a fetch() client sees that 401 too (the server must not reset the connection under a small body)', T, async () => {
      const anon = new Client(srv.url);
      let r;
      try {
        r = await uploadCsv(anon, csv('Anon,,,2024-10-12 09:00,,1,x,,'));
      } catch (e) {
        assert.fail(`fetch failed instead of answering 401: ${e.message} (${e.cause?.code || e.cause?.message || ''})`);
      }
      assertApiError(r, 401);
    });

    it('a cookie session needs the CSRF token, as a header or as the csrf_token form field', T, async () => {
      const before = await historyTotal(u.client);
      const body = csv('Csrf,,,2024-10-13 09:00,,1,x,,');
      assertApiError(await uploadCsv(u.client, body, { csrf: false }), 403, 'csrf_failed');
      assertApiError(await uploadCsv(u.client, body, { csrf: false, fields: { csrf_token: 'not-the-token' } }), 403, 'csrf_failed');
      assert.equal(await historyTotal(u.client), before, 'refused uploads record nothing');
      const viaField = await uploadCsv(u.client, body, { csrf: false, fields: { csrf_token: u.client.csrf, wait: 'true' } });
      assertStatus(viaField, 200, 'csrf_token form field');
      assert.equal(viaField.json.status, 'completed');
      const viaHeader = await uploadCsv(u.client, csv('Csrf,,,2024-10-13 10:00,,1,y,,'), { fields: { wait: 'true' } });
      assertStatus(viaHeader, 200, 'X-CSRF-Token header');
    });

    it('a bearer token needs no CSRF token', T, async () => {
      const t = await u.client.post('/api/tokens', { name: 'importer' });
      assertStatus(t, 201);
      const bc = new Client(srv.url, { bearer: t.json.token });
      const r = await uploadCsv(bc, csv('Bearer,,,2024-10-14 09:00,,1,x,,'), { fields: { wait: 'true' } });
      assertStatus(r, 200);
      assert.equal(r.json.status, 'completed');
      assert.equal(r.json.user_id, u.id);
    });
  });

  describe('asynchronous flow and the status object', () => {
    let u;
    before(async () => { u = await createUser(admin, 'flow-user', { timezone: 'UTC' }); });

    it('without wait: 202 {success, import_id, status: pending, status_url}; polling ends completed', T, async () => {
      const r = await uploadCsv(u.client, csv(...rows(50, 'Async')), { filename: 'async.csv' });
      assertStatus(r, 202);
      assert.equal(r.json.success, true);
      assert.equal(typeof r.json.import_id, 'number');
      assert.equal(r.json.status, 'pending');
      assert.equal(r.json.status_url, `/api/import/status/${r.json.import_id}`);
      const first = await u.client.get(r.json.status_url);
      assertStatus(first, 200);
      assertStatusShape(first.json);
      const s = await waitForImport(u.client, r.json.import_id);
      assertStatusShape(s);
      assert.equal(s.status, 'completed');
      assert.equal(s.id, r.json.import_id);
      assert.equal(s.user_id, u.id);
      assert.equal(s.user, 'flow-user');
      assert.equal(s.source_file, 'async.csv');
      assert.equal(s.total_records, 50);
      assert.equal(s.successful_records, 50);
      assert.match(s.started_at, ISO_Z);
      assert.match(s.completed_at, ISO_Z);
      assert.ok(s.started_at <= s.completed_at && s.created_at <= s.started_at);
      assert.equal(s.undone_at, null);
      assert.equal(s.error_message, null);
      assert.equal(s.summary.date_range.from, '2024-09-01T00:00:00Z');
      assert.equal(s.summary.date_range.to, new Date(Date.parse('2024-09-01T00:00:00Z') + 49 * 600000).toISOString().replace('.000', ''));
    });

    it('with wait=true: 200 with the final status object plus success and import_id', T, async () => {
      const s = await importCsv(u.client, csv('Waited,Waited Client,Waited Task,2024-10-15 09:00,2024-10-15 10:00,,w,"a;b",'));
      assertStatusShape(s);
      assert.equal(s.success, true);
      assert.equal(s.import_id, s.id);
      assert.equal(s.status, 'completed');
      const g = await u.client.get(`/api/import/status/${s.id}`);
      assertStatus(g, 200);
      const { success, import_id: _i, ...rest } = s;
      assert.deepEqual(g.json, rest, 'GET status answers the same object');
      assert.deepEqual(s.summary.created, { clients: 1, projects: 1, tasks: 1, tags: 2 });
    });

    it('entries of an import have source csv and import_id, and are listed by ?import_id', T, async () => {
      const s = await importCsv(u.client, csv(...rows(3, 'Listed')));
      const r = await u.client.get(`/api/entries?import_id=${s.import_id}`);
      assertStatus(r, 200);
      assert.equal(r.json.total, 3);
      for (const e of r.json.entries) {
        assert.equal(e.source, 'csv');
        assert.equal(e.import_id, s.import_id);
        assert.equal(e.user_id, u.id);
      }
    });

    it('counts: partial when some rows fail, failed when none is stored, completed when only skipped', T, async () => {
      const p = await importCsv(u.client, csv('Counts,,,2024-10-16 09:00,,1,ok,,', 'Counts,,,bad,,1,bad,,'));
      assert.equal(p.status, 'partial');
      assert.deepEqual([p.total_records, p.successful_records, p.failed_records, p.skipped_records], [2, 1, 1, 0]);
      const f = await importCsv(u.client, csv('Counts,,,bad,,1,bad,,'));
      assert.equal(f.status, 'failed');
      assert.equal(f.error_message, null, 'row errors are not a fatal error');
      const c = await importCsv(u.client, csv('Counts,,,2024-10-16 09:00,,1,ok,,'));
      assert.equal(c.status, 'completed');
      assert.deepEqual([c.total_records, c.successful_records, c.skipped_records], [1, 0, 1]);
      const mixed = await importCsv(u.client, csv('Counts,,,2024-10-16 09:00,,1,ok,,', 'Counts,,,bad,,1,bad,,'));
      assert.equal(mixed.status, 'partial', 'a skipped row and a failed row: partial');
    });

    it('a header without the required columns: the import fails naming them', T, async () => {
      const s = await importCsv(u.client, 'client,notes,end\nA,b,2024-01-01 10:00\n');
      assert.equal(s.status, 'failed');
      assert.match(s.error_message, /project_name/);
      assert.match(s.error_message, /start_time/);
      assert.equal(s.successful_records, 0);
    });

    it('status of an unknown import: 404', T, async () => {
      assertApiError(await u.client.get('/api/import/status/999999'), 404);
      assertApiError(await u.client.get('/api/import/999999/errors'), 404);
    });
  });

  describe('dry run', () => {
    let u;
    before(async () => { u = await createUser(admin, 'dry-user', { timezone: 'UTC' }); });

    it('answers summary, errors, preview (first 20 rows) and would_create, and writes nothing', T, async () => {
      const catalogBefore = {};
      for (const k of ['clients', 'projects', 'tasks', 'tags']) catalogBefore[k] = (await u.client.get(`/api/${k}`)).json.total;
      const body = csv(
        'Dry P1,Dry C1,Dry T1,2024-11-01 09:00,2024-11-01 10:00,,first,dry1;dry2,no',
        'Dry P2,Dry C1,,2024-11-01 11:00,,1.5,second,dry1,',
        'Dry P1,Dry C1,Dry T1,2024-11-01 09:00,2024-11-01 10:00,,first,,',
        'Dry P1,Dry C1,,not a date,,1,bad,,',
        ...rows(25, 'Dry P3', '2024-11-02'),
      );
      const r = await uploadCsv(u.client, body, { fields: { dry_run: 'true' } });
      assertStatus(r, 200);
      const d = r.json;
      assert.equal(d.success, true);
      assert.equal(d.dry_run, true);
      assert.equal(d.status, 'partial');
      for (const k of SUMMARY_KEYS) assert.ok(k in d.summary, `summary lacks ${k}`);
      assert.deepEqual([d.summary.total, d.summary.successful, d.summary.failed, d.summary.skipped], [29, 27, 1, 1]);
      assert.equal(d.errors.length, 1);
      assert.deepEqual({ ...d.errors[0], message: undefined }, {
        row: 4, line: 5, column: 'start_time', value: 'not a date', code: 'invalid_format', message: undefined, severity: 'error',
      });
      assert.equal(d.preview.length, 20);
      assert.deepEqual(d.preview[0], {
        row: 1, line: 2, project: 'Dry P1', client: 'Dry C1', task: 'Dry T1', start_time: '2024-11-01T09:00:00Z',
        end_time: '2024-11-01T10:00:00Z', duration_seconds: 3600, notes: 'first', tags: ['dry1', 'dry2'], billable: false, duplicate: false,
      });
      assert.equal(d.preview[1].duration_seconds, 5400);
      assert.equal(d.preview[2].row, 3);
      assert.equal(d.preview[2].duplicate, true, 'a duplicate of an earlier row is flagged');
      assert.equal(d.preview[3].row, 5, 'the failed row is not previewed');
      assert.deepEqual(d.would_create, { clients: 2, projects: 3, tasks: 1, tags: 2 }, 'Dry C1, and Dry P3 as its own client');

      assert.equal(await entryTotal(u.client), 0, 'no entries written');
      assert.equal(await historyTotal(u.client), 0, 'no import recorded');
      for (const k of ['clients', 'projects', 'tasks', 'tags']) {
        assert.equal((await u.client.get(`/api/${k}`)).json.total, catalogBefore[k], `no ${k} created`);
      }

      // The real import agrees with the dry run.
      const s = await importCsv(u.client, body);
      assert.equal(s.status, d.status);
      for (const k of ['total', 'successful', 'failed', 'skipped']) assert.equal(s.summary[k], d.summary[k], k);
      assert.deepEqual(s.summary.created, d.would_create);
      assert.deepEqual(s.summary.date_range, d.summary.date_range);
    });

    it('flags rows that duplicate stored entries, and would create nothing for them', T, async () => {
      const body = csv('Dry P1,Dry C1,Dry T1,2024-11-01 09:00,2024-11-01 10:00,,first,dry1;dry2,no');
      const r = await uploadCsv(u.client, body, { fields: { dry_run: 'true' } });
      assertStatus(r, 200);
      assert.equal(r.json.summary.skipped, 1);
      assert.equal(r.json.summary.successful, 0);
      assert.equal(r.json.preview[0].duplicate, true);
      assert.deepEqual(r.json.would_create, { clients: 0, projects: 0, tasks: 0, tags: 0 });
    });

    it('a header without required columns: 400 invalid_file naming them', T, async () => {
      const r = await uploadCsv(u.client, 'project_name,notes\nX,y\n', { fields: { dry_run: 'true' } });
      assertApiError(r, 400, 'invalid_file', 'file');
      assert.match(r.json.error, /start_time/);
    });
  });

  describe('diagnostics: GET /api/import/{id}/errors', () => {
    let u;
    let s;
    const formula = '=HYPERLINK("http://x.example/?a,b",1)';
    before(async () => {
      u = await createUser(admin, 'diag-user', { timezone: 'UTC' });
      const bad = [];
      for (let i = 1; i <= 12; i++) bad.push(`Diag,,,2024-12-01 ${String(i).padStart(2, '0')}:00,,1,bad ${i},,nope${i}`);
      const body = [
        `${H},Approval`,
        'Diag,,,2024-12-01 00:00,2024-12-01 00:30,1,mismatch warning,,,',
        ...bad,
        '',
        `Diag,,,2024-12-02 00:00,,1,formula value,,"${formula.replace(/"/g, '""')}"`,
        'Diag,,,2024-12-03 00:00,,1,good,,',
      ].join('\n');
      s = await importCsv(u.client, body);
    });

    it('the status counts the rows; summary.errors holds the first ten as "Row N: message"', T, async () => {
      assert.equal(s.status, 'partial');
      assert.equal(s.total_records, 15);
      assert.equal(s.failed_records, 13);
      assert.equal(s.successful_records, 2);
      assert.equal(s.warning_count, 2, 'unknown column + duration mismatch');
      assert.equal(s.summary.errors.length, 10);
      assert.equal(s.summary.errors[0], 'Row 2: billable must be true/false, yes/no, 1/0 or y/n (empty means true)');
      s.summary.errors.forEach((e, i) => assert.match(e, new RegExp(`^Row ${i + 2}: `)));
    });

    it('JSON: errors only by default, in row order, with row/line/column/value/code/message/severity', T, async () => {
      const r = await u.client.get(`/api/import/${s.import_id}/errors`);
      assertStatus(r, 200);
      assert.equal(r.json.total, 13);
      assert.equal(r.json.errors.length, 13);
      assert.equal(r.json.offset, 0);
      assert.equal(typeof r.json.limit, 'number');
      assert.deepEqual(r.json.errors[0], {
        row: 2, line: 3, column: 'billable', value: 'nope1', code: 'invalid_boolean',
        message: 'billable must be true/false, yes/no, 1/0 or y/n (empty means true)', severity: 'error',
      });
      const last = r.json.errors[12];
      assert.equal(last.row, 14, 'the blank line is not a row');
      assert.equal(last.line, 16, 'but it is a line');
      assert.equal(last.value, formula);
      const rowsSeen = r.json.errors.map((e) => e.row);
      assert.deepEqual(rowsSeen, [...rowsSeen].sort((a, b) => a - b));
    });

    it('include_warnings=true adds the warnings; limit/offset page through', T, async () => {
      const all = await u.client.get(`/api/import/${s.import_id}/errors?include_warnings=true`);
      assertStatus(all, 200);
      assert.equal(all.json.total, 15);
      const w = all.json.errors.filter((e) => e.severity === 'warning');
      assert.deepEqual(w.map((e) => e.code).sort(), ['duration_mismatch', 'unknown_column']);
      const unk = w.find((e) => e.code === 'unknown_column');
      assert.equal(unk.row, 0);
      assert.equal(unk.line, 1);
      assert.match(unk.message, /approval/i);
      const mism = w.find((e) => e.code === 'duration_mismatch');
      assert.deepEqual([mism.row, mism.line, mism.column], [1, 2, 'duration_hours']);

      const p1 = await u.client.get(`/api/import/${s.import_id}/errors?limit=5`);
      const p3 = await u.client.get(`/api/import/${s.import_id}/errors?limit=5&offset=10`);
      assertStatus(p1, 200);
      assertStatus(p3, 200);
      assert.equal(p1.json.errors.length, 5);
      assert.equal(p1.json.total, 13);
      assert.equal(p1.json.limit, 5);
      assert.equal(p3.json.errors.length, 3);
      assert.equal(p3.json.offset, 10);
      assert.equal(p3.json.errors[0].row, 12);
      const beyond = await u.client.get(`/api/import/${s.import_id}/errors?offset=100`);
      assert.deepEqual(beyond.json.errors, []);
      assert.equal(beyond.json.total, 13);
    });

    it('format=csv: a CSV attachment with the documented header, RFC 4180 quoting and the formula guard', T, async () => {
      const r = await u.client.get(`/api/import/${s.import_id}/errors?format=csv`);
      assertStatus(r, 200);
      assert.match(r.headers.get('content-type'), /^text\/csv/);
      assert.match(r.headers.get('content-disposition') || '', /attachment/);
      const recs = parseCsv(r.text);
      assert.deepEqual(recs[0], ['row', 'line', 'column', 'value', 'code', 'message', 'severity']);
      assert.equal(recs.length, 14, 'header + 13 errors');
      assert.deepEqual(recs[1], ['2', '3', 'billable', 'nope1', 'invalid_boolean',
        'billable must be true/false, yes/no, 1/0 or y/n (empty means true)', 'error']);
      assert.equal(recs[13][3], `'${formula}`, 'a value starting with = is guarded with a leading quote');
      const w = parseCsv((await u.client.get(`/api/import/${s.import_id}/errors?format=csv&include_warnings=true`)).text);
      assert.equal(w.length, 16);
      const paged = parseCsv((await u.client.get(`/api/import/${s.import_id}/errors?format=csv&limit=2&offset=1`)).text);
      assert.equal(paged.length, 3);
      assert.equal(paged[1][0], '3');
    });

    it('bad parameters: 400 naming the parameter', T, async () => {
      assertApiError(await u.client.get(`/api/import/${s.import_id}/errors?format=xml`), 400, undefined, 'format');
      assertApiError(await u.client.get(`/api/import/${s.import_id}/errors?limit=0`), 400, undefined, 'limit');
      assertApiError(await u.client.get(`/api/import/${s.import_id}/errors?limit=abc`), 400, undefined, 'limit');
      assertApiError(await u.client.get(`/api/import/${s.import_id}/errors?offset=-1`), 400, undefined, 'offset');
      assertApiError(await u.client.get(`/api/import/${s.import_id}/errors?include_warnings=maybe`), 400, undefined, 'include_warnings');
    });
  });

  describe('history and isolation', () => {
    let a;
    let b;
    const ids = [];
    before(async () => {
      a = await createUser(admin, 'hist-a', { timezone: 'UTC' });
      b = await createUser(admin, 'hist-b', { timezone: 'UTC' });
      for (let i = 0; i < 3; i++) ids.push((await importCsv(a.client, csv(`Hist,,,2024-12-1${i} 09:00,,1,h${i},,`), { filename: `h${i}.csv` })).import_id);
    });

    it('newest first, with total, limit and offset', T, async () => {
      const r = await a.client.get('/api/import/history');
      assertStatus(r, 200);
      assert.equal(r.json.total, 3);
      assert.deepEqual(r.json.imports.map((i) => i.id), [...ids].reverse());
      for (const i of r.json.imports) assertStatusShape(i);
      assert.equal(r.json.imports[0].source_file, 'h2.csv');
      const p = await a.client.get('/api/import/history?limit=2&offset=2');
      assertStatus(p, 200);
      assert.deepEqual(p.json.imports.map((i) => i.id), [ids[0]]);
      assert.equal(p.json.total, 3);
      assert.equal(p.json.limit, 2);
      assert.equal(p.json.offset, 2);
      assertApiError(await a.client.get('/api/import/history?limit=0'), 400, undefined, 'limit');
      assertApiError(await a.client.get('/api/import/history?limit=x'), 400, undefined, 'limit');
    });

    it('a user sees only their own history; asking for another user is 403', T, async () => {
      const r = await b.client.get('/api/import/history');
      assertStatus(r, 200);
      assert.ok(!r.json.imports.some((i) => ids.includes(i.id)));
      assertApiError(await b.client.get(`/api/import/history?user_id=${a.id}`), 403);
      assertStatus(await b.client.get(`/api/import/history?user_id=${b.id}`), 200);
    });

    it('admins see everyone\'s by default, and can filter by user_id', T, async () => {
      const r = await admin.get('/api/import/history?limit=100');
      assertStatus(r, 200);
      for (const id of ids) assert.ok(r.json.imports.some((i) => i.id === id), `admin sees import ${id}`);
      assert.equal(r.json.imports.find((i) => i.id === ids[0]).user, 'hist-a');
      const f = await admin.get(`/api/import/history?user_id=${a.id}`);
      assertStatus(f, 200);
      assert.equal(f.json.total, 3);
      assert.ok(f.json.imports.every((i) => i.user_id === a.id));
      const own = await admin.get('/api/import/history?all=false&limit=100');
      assertStatus(own, 200);
      assert.ok(own.json.imports.every((i) => i.user_id === admin.user.id));
    });

    it('someone else\'s import id: 404 for status, errors, cancel and undo; admins can see it', T, async () => {
      const id = ids[0];
      assertApiError(await b.client.get(`/api/import/status/${id}`), 404);
      assertApiError(await b.client.get(`/api/import/${id}/errors`), 404);
      assertApiError(await b.client.get(`/api/import/${id}/errors?format=csv`), 404);
      assertApiError(await b.client.post(`/api/import/${id}/cancel`), 404);
      assertApiError(await b.client.post(`/api/import/${id}/undo`, {}), 404);
      const st = await a.client.get(`/api/import/status/${id}`);
      assert.equal(st.json.status, 'completed', 'still intact');
      assert.equal((await b.client.get(`/api/entries?import_id=${id}`)).json.total, 0);
      const adm = await admin.get(`/api/import/status/${id}`);
      assertStatus(adm, 200);
      assert.equal(adm.json.user_id, a.id);
      assertStatus(await admin.get(`/api/import/${id}/errors`), 200);
    });
  });

  describe('duplicates across imports', () => {
    let u;
    before(async () => { u = await createUser(admin, 'dup-user', { timezone: 'UTC' }); });

    it('importing the same file twice creates nothing the second time; duplicates=allow does', T, async () => {
      const body = csv(
        'Again P,Again C,Again T,2025-01-10 09:00,2025-01-10 10:00,,one,again1,',
        'Again P,Again C,,2025-01-10 11:00,,2,two,,',
        'Again Q,,,2025-01-10 13:00,,0.5,three,again2,',
      );
      const first = await importCsv(u.client, body);
      assert.equal(first.successful_records, 3);
      const n = await entryTotal(u.client);
      const second = await importCsv(u.client, body);
      assert.equal(second.status, 'completed');
      assert.deepEqual([second.total_records, second.successful_records, second.skipped_records, second.failed_records], [3, 0, 3, 0]);
      assert.deepEqual(second.summary.created, { clients: 0, projects: 0, tasks: 0, tags: 0 });
      assert.equal(second.summary.date_range, null);
      assert.equal(await entryTotal(u.client), n);
      const third = await importCsv(u.client, body, { fields: { duplicates: 'allow' } });
      assert.equal(third.successful_records, 3);
      assert.equal(await entryTotal(u.client), n + 3);
    });

    it('a row equal to a manual entry is a duplicate too', T, async () => {
      const m = await u.client.post('/api/entries', { project: 'Manual Dup', start_time: '2025-01-11T09:00:00Z', end_time: '2025-01-11T10:00:00Z', notes: 'by hand' });
      assertStatus(m, 201);
      const s = await importCsv(u.client, csv('Manual Dup,,,2025-01-11 09:00,2025-01-11 10:00,,by hand,,', 'Manual Dup,,,2025-01-11 09:00,2025-01-11 10:00,,other notes,,'));
      assert.deepEqual([s.successful_records, s.skipped_records], [1, 1]);
    });

    it('another user\'s identical rows are not duplicates', T, async () => {
      const o = await createUser(admin, 'dup-other', { timezone: 'UTC' });
      const s = await importCsv(o.client, csv('Manual Dup,,,2025-01-11 09:00,2025-01-11 10:00,,by hand,,'));
      assert.deepEqual([s.successful_records, s.skipped_records], [1, 0]);
    });

    it('two concurrent imports of the same file store each row once', T, async () => {
      const c = await createUser(admin, 'dup-concurrent', { timezone: 'UTC' });
      const body = csv(...rows(6000, 'Concurrent', '2023-01-01'));
      const [r1, r2] = await Promise.all([uploadCsv(c.client, body), uploadCsv(c.client, body)]);
      assertStatus(r1, 202);
      assertStatus(r2, 202);
      const [s1, s2] = await Promise.all([waitForImport(c.client, r1.json.import_id), waitForImport(c.client, r2.json.import_id)]);
      assert.equal(s1.status, 'completed', JSON.stringify(s1).slice(0, 300));
      assert.equal(s2.status, 'completed', JSON.stringify(s2).slice(0, 300));
      assert.equal(s1.successful_records + s2.successful_records, 6000, `stored ${s1.successful_records} + ${s2.successful_records}`);
      assert.equal(s1.skipped_records + s2.skipped_records, 6000);
      assert.equal(await entryTotal(c.client), 6000);
    });
  });

  describe('undo', () => {
    let u;
    before(async () => { u = await createUser(admin, 'undo-user', { timezone: 'UTC' }); });

    async function catalog(kind) {
      const r = await u.client.get(`/api/${kind}`);
      assertStatus(r, 200);
      return r.json[kind];
    }

    it('removes the entries and the catalogue rows the import created; keeps what existed', T, async () => {
      const manual = await u.client.post('/api/entries', {
        project: 'Undo Keep P', client: 'Undo Keep C', start_time: '2025-02-01T08:00:00Z', end_time: '2025-02-01T08:30:00Z', tags: ['undo-keep'],
      });
      assertStatus(manual, 201);
      const s = await importCsv(u.client, csv(
        'Undo Keep P,Undo Keep C,,2025-02-01 09:00,,1,uses existing,undo-keep;undo-new1,',
        'Undo New P,Undo New C,Undo New T,2025-02-01 10:00,,1,creates,undo-new2,',
        'Undo New P,Undo New C,Undo New T,2025-02-01 11:00,,1,creates more,undo-new1,',
      ));
      assert.equal(s.successful_records, 3);
      assert.deepEqual(s.summary.created, { clients: 1, projects: 1, tasks: 1, tags: 2 });
      const newClient = (await catalog('clients')).find((c) => c.name === 'Undo New C');
      assert.equal(newClient.created_by_import_id, s.import_id);
      assert.equal((await catalog('clients')).find((c) => c.name === 'Undo Keep C').created_by_import_id, null);

      const r = await u.client.post(`/api/import/${s.import_id}/undo`, {});
      assertStatus(r, 200);
      assert.deepEqual(r.json, { success: true, status: 'undone', import_id: s.import_id, deleted: { entries: 3, clients: 1, projects: 1, tasks: 1, tags: 2 } });
      assert.equal((await u.client.get(`/api/entries?import_id=${s.import_id}`)).json.total, 0);
      assertStatus(await u.client.get(`/api/entries/${manual.json.id}`), 200, 'the manual entry stays');
      const names = async (k) => (await catalog(k)).map((x) => x.name);
      assert.ok(!(await names('clients')).includes('Undo New C'));
      assert.ok(!(await names('projects')).includes('Undo New P'));
      assert.ok(!(await names('tasks')).includes('Undo New T'));
      assert.ok(!(await names('tags')).includes('undo-new1'));
      assert.ok(!(await names('tags')).includes('undo-new2'));
      assert.ok((await names('clients')).includes('Undo Keep C'));
      assert.ok((await names('projects')).includes('Undo Keep P'));
      assert.ok((await names('tags')).includes('undo-keep'));

      const st = await u.client.get(`/api/import/status/${s.import_id}`);
      assert.equal(st.json.status, 'undone');
      assert.match(st.json.undone_at, ISO_Z);
      assertApiError(await u.client.post(`/api/import/${s.import_id}/undo`, {}), 409);

      // After the undo the same file imports again (the rows are no longer duplicates).
      const again = await importCsv(u.client, csv('Undo New P,Undo New C,Undo New T,2025-02-01 10:00,,1,creates,undo-new2,'));
      assert.equal(again.successful_records, 1);
    });

    it('keeps catalogue rows created by the import that something else uses since', T, async () => {
      const s = await importCsv(u.client, csv('Undo Shared P,Undo Shared C,,2025-02-02 09:00,,1,x,undo-shared-tag,'));
      assert.deepEqual(s.summary.created, { clients: 1, projects: 1, tasks: 0, tags: 1 });
      const m = await u.client.post('/api/entries', {
        project: 'Undo Shared P', client: 'Undo Shared C', start_time: '2025-02-02T12:00:00Z', duration_seconds: 600, tags: ['undo-shared-tag'],
      });
      assertStatus(m, 201);
      const r = await u.client.post(`/api/import/${s.import_id}/undo`, {});
      assertStatus(r, 200);
      assert.deepEqual(r.json.deleted, { entries: 1, clients: 0, projects: 0, tasks: 0, tags: 0 });
      const g = await u.client.get(`/api/entries/${m.json.id}`);
      assertStatus(g, 200);
      assert.equal(g.json.project, 'Undo Shared P');
      assert.deepEqual(g.json.tags, ['undo-shared-tag']);
    });

    it('409 edited_since_import when an entry was edited since; force:true removes them anyway', T, async () => {
      const s = await importCsv(u.client, csv('Undo Edit,,,2025-02-03 09:00,,1,a,,', 'Undo Edit,,,2025-02-03 10:00,,1,b,,'));
      const [e] = await importEntries(u.client, s.import_id);
      await sleep(1100);
      assertStatus(await u.client.put(`/api/entries/${e.id}`, { notes: 'edited by hand' }), 200);
      const r = await u.client.post(`/api/import/${s.import_id}/undo`, {});
      assertApiError(r, 409, 'edited_since_import');
      assert.equal((await u.client.get(`/api/entries?import_id=${s.import_id}`)).json.total, 2, 'nothing removed');
      assert.equal((await u.client.get(`/api/import/status/${s.import_id}`)).json.status, 'completed');
      const f = await u.client.post(`/api/import/${s.import_id}/undo`, { force: true });
      assertStatus(f, 200);
      assert.equal(f.json.deleted.entries, 2);
      assertApiError(await u.client.get(`/api/entries/${e.id}`), 404);
    });

    it('an edit in the same second as the import still counts as an edit', T, async () => {
      const s = await importCsv(u.client, csv('Undo Quick,,,2025-02-04 09:00,,1,a,,'));
      const [e] = await importEntries(u.client, s.import_id);
      assertStatus(await u.client.put(`/api/entries/${e.id}`, { notes: 'edited at once' }), 200);
      const r = await u.client.post(`/api/import/${s.import_id}/undo`, {});
      assertApiError(r, 409, 'edited_since_import');
      assertStatus(await u.client.get(`/api/entries/${e.id}`), 200, 'the edited entry must not be removed without force');
    });

    it('an empty body is fine; unknown keys and a non-boolean force are 400', T, async () => {
      const s = await importCsv(u.client, csv('Undo Body,,,2025-02-05 09:00,,1,a,,'));
      assertApiError(await u.client.post(`/api/import/${s.import_id}/undo`, { forse: true }), 400);
      assertApiError(await u.client.post(`/api/import/${s.import_id}/undo`, { force: 'yes' }), 400);
      const r = await u.client.req('POST', `/api/import/${s.import_id}/undo`);
      assertStatus(r, 200, 'undo without a body');
      assert.equal(r.json.deleted.entries, 1);
    });

    it('undo needs the CSRF token with a cookie session', T, async () => {
      const s = await importCsv(u.client, csv('Undo Csrf,,,2025-02-06 09:00,,1,a,,'));
      assertApiError(await u.client.req('POST', `/api/import/${s.import_id}/undo`, { json: {}, csrf: false }), 403, 'csrf_failed');
      assert.equal((await u.client.get(`/api/entries?import_id=${s.import_id}`)).json.total, 1);
    });
  });

  describe('cancel', () => {
    it('an import that has ended: 409', T, async () => {
      const u = await createUser(admin, 'cancel-ended', { timezone: 'UTC' });
      const s = await importCsv(u.client, csv('Ended,,,2025-03-01 09:00,,1,a,,'));
      const r = await u.client.post(`/api/import/${s.import_id}/cancel`);
      assertApiError(r, 409);
      assert.equal((await u.client.get(`/api/import/status/${s.import_id}`)).json.status, 'completed');
      assertApiError(await u.client.post('/api/import/999999/cancel'), 404);
    });
  });
});

describe('imports: upload size cap (TT_MAX_UPLOAD_MB)', () => {
  let srv;
  let admin;
  before(async () => {
    srv = await startServer({ env: { TT_MAX_UPLOAD_MB: '1' } });
    admin = await adminClient(srv);
  });
  after(async () => { await srv?.close(); });

  const big = () => csv(...rows(50000, 'TooBig', '2010-01-01'));

  // The server answers 413 from Content-Length before reading the body ("Expect: 100-continue"
  // lets the client wait for that answer), or once the streamed body passes the cap.
  const send = (chunked, expectContinue = false) => {
    const { body, contentType } = multipartBody(big(), { fields: { wait: 'true' } });
    assert.ok(body.length > 2 * 1024 * 1024);
    return rawRequest(`${srv.url}/api/import/csv`, {
      headers: { 'Content-Type': contentType, Cookie: `session=${admin.session}`, 'X-CSRF-Token': admin.csrf },
      body, chunked, expectContinue, timeout: 60000,
    });
  };

  it('an upload over the cap: 413 too_large, nothing recorded', T, async () => {
    const r = await send(false, true);
    assert.equal(r.status, 413, r.text);
    assert.equal(r.json?.code, 'too_large', r.text);
    assert.equal((await admin.get('/api/import/history')).json.total, 0);
    assert.equal((await admin.get('/api/entries')).json.total, 0);
  });

  it('an upload over the cap without Content-Length (chunked): 413 too_large, nothing recorded', T, async () => {
    const r = await send(true);
    assert.equal(r.status, 413, r.text);
    assert.equal(r.json?.code, 'too_large', r.text);
    assert.equal((await admin.get('/api/import/history')).json.total, 0);
  });

  it('an upload under the cap is accepted', T, async () => {
    const s = await importCsv(admin, csv(...rows(2000, 'UnderCap')));
    assert.equal(s.status, 'completed');
    assert.equal(s.successful_records, 2000);
  });
});
