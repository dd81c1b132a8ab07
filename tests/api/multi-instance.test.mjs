// Several server instances on one database and one data directory (SPEC: jobs
// are claimed from the shared queue; sessions, imports and exports live in the
// database and the data directory). Runs on SQLite (several processes on one
// file) and, with TT_TEST_PG_BASE set, on PostgreSQL.
//
//  - A and B share a data dir: a cookie session made on A works on B; imports
//    submitted to A are followed on B and store every row exactly once; an
//    export made on A downloads from B with the checksum its status reports.
//  - C runs a large import alone, D joins, C is killed with SIGKILL: D notices
//    the stale heartbeat (TT_JOB_STALE) and finishes the import from the last
//    checkpoint, with no duplicates and no gaps.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import {
  startServer, assertStatus, adminClient, createUser, Client, uploadCsv, waitForImport, IMPORT_TERMINAL,
  startExport, waitForExport, fetchBytes, PG_BASE,
} from './lib/server.mjs';

const ENV = { TT_JOB_STALE: '2' };
const H = 'project_name,client_name,task_name,start_time,end_time,duration_hours,notes,tags,billable';

/**
 * n unique, valid rows for project `p`, start times 15 minutes apart from
 * `fromMs` (UTC). Different files use different projects and time ranges, so
 * no row of one file duplicates a row of another.
 */
function csvFile(n, p, fromMs) {
  const parts = [H];
  for (let i = 0; i < n; i++) {
    parts.push(`${p} ${i % 7},${p} Client,,${new Date(fromMs + i * 900000).toISOString().slice(0, 19)}Z,,0.25,${p} row ${i},,`);
  }
  return `${parts.join('\n')}\n`;
}

const sha256 = (buf) => crypto.createHash('sha256').update(buf).digest('hex');

/** A client on another server that reuses the cookie session (and CSRF token) of `c`. */
function sameSession(c, url) {
  const o = new Client(url);
  o.session = c.session;
  o.csrf = c.csrf;
  o.user = c.user;
  return o;
}

async function entryTotal(client, query = '') {
  const r = await client.get(`/api/entries?limit=1${query ? `&${query}` : ''}`);
  assertStatus(r, 200, `GET /api/entries?limit=1&${query}`);
  assert.equal(typeof r.json.total, 'number', r.text.slice(0, 300));
  return r.json.total;
}

describe(`multi-instance: two servers on one ${PG_BASE ? 'PostgreSQL database' : 'SQLite file'} and data directory`, () => {
  let A;
  let B;
  let adminA; // logged in on A
  let adminB; // the same session, used on B

  before(async () => {
    A = await startServer({ env: ENV, keepDir: true });
    adminA = await adminClient(A);
    B = await startServer({ dataDir: A.dataDir, env: ENV, expectNoPassword: true });
    assert.equal(B.adminPassword, null, 'the second server must not create another administrator');
    adminB = sameSession(adminA, B.url);
  });

  after(async () => {
    try {
      await B?.close();
    } finally {
      await A?.close();
      if (A) await fsp.rm(A.dataDir, { recursive: true, force: true });
    }
  });

  it('a cookie session made on one server works on the other (sessions live in the database)', { timeout: 60000 }, async () => {
    const me = await adminB.get('/api/me');
    assertStatus(me, 200, 'GET /api/me on B with the session cookie from a login on A');
    assert.equal(me.json.username, 'admin', me.text.slice(0, 300));

    // A user created on A logs in on A; B accepts the session, including a
    // CSRF-protected write; logging out on B ends the session on A as well.
    const u = await createUser(adminA, 'multi-session', { timezone: 'UTC' });
    const onB = sameSession(u.client, B.url);
    const me2 = await onB.get('/api/me');
    assertStatus(me2, 200, 'GET /api/me on B');
    assert.equal(me2.json.username, 'multi-session', me2.text.slice(0, 300));
    const e = await onB.post('/api/entries', {
      project: 'Session P', start_time: '2024-03-01T09:00:00Z', end_time: '2024-03-01T10:00:00Z', notes: 'made on B',
    });
    assertStatus(e, 201, 'POST /api/entries on B with the CSRF token from the login on A');
    const got = await u.client.get(`/api/entries/${e.json.id}`);
    assertStatus(got, 200, 'the entry made on B, read on A');

    // The reverse direction: a login on B is valid on A.
    const viaB = new Client(B.url);
    assertStatus(await viaB.login('multi-session', u.password), 200, 'login on B');
    assertStatus(await sameSession(viaB, A.url).get('/api/me'), 200, 'session from B used on A');

    assertStatus(await onB.req('POST', '/logout'), 200, 'logout on B');
    const gone = await u.client.get('/api/me');
    assert.equal(gone.status, 401, `a session ended on B must be gone on A too: ${gone.status} ${gone.text.slice(0, 200)}`);
  });

  it('imports submitted to A, followed on B: every row stored exactly once', { timeout: 120000 }, async () => {
    const day = 86400000;
    const files = [
      { name: 'multi-a.csv', rows: 2000, body: csvFile(2000, 'Multi A', Date.UTC(2010, 0, 1)) },
      { name: 'multi-b.csv', rows: 5000, body: csvFile(5000, 'Multi B', Date.UTC(2011, 0, 1)) },
      { name: 'multi-c.csv', rows: 12000, body: csvFile(12000, 'Multi C', Date.UTC(2012, 0, 1)) },
      { name: 'multi-d.csv', rows: 20000, body: csvFile(20000, 'Multi D', Date.UTC(2013, 0, 1) + day) },
    ];
    const before0 = await entryTotal(adminA);
    assert.equal(before0, 0, 'the administrator has no entries before the imports');

    const ids = [];
    for (const f of files) {
      const r = await uploadCsv(adminA, f.body, { filename: f.name });
      assertStatus(r, 202, `POST /api/import/csv ${f.name} on A (no wait)`);
      assert.equal(typeof r.json.import_id, 'number', r.text.slice(0, 300));
      ids.push(r.json.import_id);
    }
    const finals = await Promise.all(ids.map((id) => waitForImport(adminB, id, { timeoutMs: 100000, intervalMs: 100 })));
    for (let i = 0; i < files.length; i++) {
      const s = finals[i];
      const ctx = `${files[i].name} (import ${ids[i]}) polled on B: ${JSON.stringify(s).slice(0, 500)}`;
      assert.equal(s.status, 'completed', ctx);
      assert.equal(s.total_records, files[i].rows, ctx);
      assert.equal(s.successful_records, files[i].rows, ctx);
      assert.equal(s.failed_records, 0, ctx);
      assert.equal(s.skipped_records, 0, ctx);
      assert.equal(await entryTotal(adminB, `import_id=${ids[i]}`), files[i].rows, `entries of ${ctx}`);
      assert.equal(await entryTotal(adminA, `import_id=${ids[i]}`), files[i].rows, `entries of ${ctx} (on A)`);
    }

    // The second file again: everything is a duplicate, nothing is stored.
    const r = await uploadCsv(adminA, files[1].body, { filename: 'multi-b-again.csv' });
    assertStatus(r, 202, 'POST /api/import/csv of a file imported before');
    const again = await waitForImport(adminB, r.json.import_id, { timeoutMs: 60000 });
    const ctx = JSON.stringify(again).slice(0, 500);
    assert.equal(again.status, 'completed', ctx);
    assert.deepEqual(
      [again.total_records, again.successful_records, again.skipped_records, again.failed_records],
      [files[1].rows, 0, files[1].rows, 0], `the second import of the same file must skip every row: ${ctx}`,
    );
    assert.equal(await entryTotal(adminB, `import_id=${r.json.import_id}`), 0);

    const unique = files.reduce((a, f) => a + f.rows, 0);
    assert.equal(await entryTotal(adminB) - before0, unique, 'entries on B = sum of unique rows');
    assert.equal(await entryTotal(adminA) - before0, unique, 'entries on A = sum of unique rows');
  });

  it('an export made on A downloads from B with the checksum its status reports', { timeout: 120000 }, async () => {
    const total = await entryTotal(adminA);
    for (const [kind, body] of [['filtered', { format: 'csv' }], ['gdpr', { format: 'zip' }]]) {
      const label = `${kind} ${JSON.stringify(body)}`;
      const start = await startExport(adminA, kind, body);
      const st = await waitForExport(adminB, start.export_id, { timeoutMs: 90000, intervalMs: 100 });
      assert.equal(st.status, 'completed', `${label} polled on B: ${JSON.stringify(st).slice(0, 500)}`);
      assert.match(st.sha256 || '', /^[0-9a-f]{64}$/, `${label}: sha256 in status`);
      const res = await fetchBytes(adminB, `/api/export/download/${start.export_id}`, { timeout: 60000 });
      assert.equal(res.status, 200, `${label}: GET /api/export/download/${start.export_id} on B: ${res.status} ${res.text.slice(0, 300)}`);
      assert.equal(res.body.length, st.file_size, `${label}: downloaded size = file_size`);
      assert.equal(sha256(res.body), st.sha256, `${label}: sha256 of the bytes downloaded from B = status.sha256`);
      const stA = await adminA.get(`/api/export/status/${start.export_id}`);
      assertStatus(stA, 200);
      assert.equal(stA.json.sha256, st.sha256, `${label}: A and B report the same checksum`);
      const resA = await fetchBytes(adminA, `/api/export/download/${start.export_id}`, { timeout: 60000 });
      assert.equal(resA.status, 200);
      assert.ok(resA.body.equals(res.body), `${label}: A and B serve the same bytes`);
      if (kind === 'filtered') {
        assert.equal(st.record_count, total, `${label}: record_count = entries of the user`);
        const lines = res.body.toString('utf8').split(/\r?\n/).filter((l) => l !== '');
        assert.equal(lines.length - 1, total, `${label}: data lines of the CSV`);
      } else {
        assert.equal(res.body.subarray(0, 4).toString('latin1'), 'PK\u0003\u0004', `${label}: a ZIP file`);
      }
    }
  });
});

describe('multi-instance: a server killed with SIGKILL mid-import, the other one finishes it', () => {
  let dataDir;
  let C;
  let D;
  after(async () => {
    try {
      if (C && !C.exitInfo()) await C.stop('SIGKILL');
      await D?.close();
    } finally {
      if (dataDir) await fsp.rm(dataDir, { recursive: true, force: true });
    }
  });

  it('D resumes the import of the killed C from its checkpoint: exact counters, every row once', { timeout: 240000 }, async () => {
    dataDir = await fsp.mkdtemp(path.join(os.tmpdir(), 'tt-multi-'));
    C = await startServer({ dataDir, env: ENV });
    const password = C.adminPassword;
    const adminC = await adminClient(C);

    // C is alone, so the import runs on C. D is started while it runs, and C is
    // killed right away (D reuses C's session: no login delay). If the import
    // ends before that, D is stopped, the import undone, and a bigger file tried.
    let caught = null;
    let adminD = null;
    for (const rows of [300000, 1000000, 3000000]) {
      const r = await uploadCsv(adminC, csvFile(rows, 'Kill', Date.UTC(2000, 0, 1)), { filename: `kill-${rows}.csv`, timeout: 300000 });
      assertStatus(r, 202, `upload of ${rows} rows to C`);
      const id = r.json.import_id;
      const s = await waitForImport(adminC, id, {
        until: (x) => (x.status === 'processing' && x.successful_records > 0) || IMPORT_TERMINAL.includes(x.status),
        timeoutMs: 120000,
        intervalMs: 5,
      });
      if (s.status === 'processing') {
        D = await startServer({ dataDir, env: ENV, expectNoPassword: true });
        adminD = sameSession(adminC, D.url);
        const mid = await adminD.get(`/api/import/status/${id}`);
        assertStatus(mid, 200, 'status on D, with the session made on C');
        if (mid.json.status === 'processing') {
          await C.stop('SIGKILL');
          caught = { rows, id, mid: mid.json };
          break;
        }
        assert.equal(mid.json.status, 'completed', `import ${id} on C: ${mid.text.slice(0, 500)}`);
        await D.close();
        D = null;
      } else {
        assert.equal(s.status, 'completed', `import ${id} of ${rows} rows on C: ${JSON.stringify(s).slice(0, 500)}`);
      }
      // Completed before it could be interrupted: undo it (so the next file's
      // rows are not duplicates) and try a bigger one.
      assertStatus(await adminC.post(`/api/import/${id}/undo`, {}), 200, `undo of import ${id}`);
    }
    assert.ok(caught, 'every import completed before C could be killed; make the files bigger');
    const { rows, id, mid } = caught;
    assert.equal(C.exitInfo().signal, 'SIGKILL');
    assert.ok(mid.successful_records > 0 && mid.successful_records < rows, `killed mid-import: ${JSON.stringify(mid).slice(0, 400)}`);

    // C did not finish it: right after the kill the import is still "processing"
    // (until D finds its heartbeat stale, TT_JOB_STALE=2).
    const dead = await adminD.get(`/api/import/status/${id}`);
    assertStatus(dead, 200);
    assert.equal(dead.json.status, 'processing', `status right after the kill: ${dead.text.slice(0, 400)}`);
    assert.ok(dead.json.successful_records < rows);
    // A fresh login on D works too.
    const loginD = new Client(D.url);
    assertStatus(await loginD.login('admin', password), 200, 'admin login on D');

    const s = await waitForImport(loginD, id, { timeoutMs: 120000, intervalMs: 250 });
    const ctx = `${JSON.stringify(s).slice(0, 600)}\n--- D stderr (tail) ---\n${D.stderr().slice(-1500)}`;
    assert.equal(s.status, 'completed', ctx);
    assert.equal(s.total_records, rows, `total_records = rows in the file: ${ctx}`);
    assert.equal(s.successful_records + s.failed_records + s.skipped_records, s.total_records, ctx);
    assert.equal(s.skipped_records, 0, `a resumed batch must not be re-read (rows counted as duplicates): ${ctx}`);
    assert.equal(s.failed_records, 0, ctx);
    assert.equal(s.successful_records, rows, ctx);
    assert.equal(await entryTotal(adminD, `import_id=${id}`), rows, 'every row stored exactly once');
    const last = await adminD.get(`/api/entries?import_id=${id}&limit=1`);
    assert.equal(last.json.entries[0].notes, `Kill row ${rows - 1}`);
    const first = await adminD.get(`/api/entries?import_id=${id}&limit=1&offset=${rows - 1}`);
    assert.equal(first.json.entries[0].notes, 'Kill row 0');
  });
});
