// Long-running CSV imports (SPEC §3.3): cancel while processing, and resume
// after the server is killed with SIGKILL (TT_JOB_STALE). The big files are
// generated here, never committed.

import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import {
  startServer, assertApiError, assertStatus, adminClient, Client, uploadCsv, waitForImport, IMPORT_TERMINAL,
} from './lib/server.mjs';

const H = 'project_name,client_name,task_name,start_time,end_time,duration_hours,notes,tags,billable';

/** n unique, valid rows (distinct start times, 15 minutes apart, from 2000-01-01). */
function bigCsv(n) {
  const base = Date.UTC(2000, 0, 1);
  const parts = [H];
  for (let i = 0; i < n; i++) {
    parts.push(`Big ${i % 20},Big Client ${i % 5},,${new Date(base + i * 900000).toISOString().slice(0, 19)}Z,,0.25,row ${i},,`);
  }
  return `${parts.join('\n')}\n`;
}

const running = (s) => s.status === 'processing' && s.successful_records > 0;

/**
 * Uploads files of growing size until one is caught while processing with
 * rows stored; returns {rows, id, status}. The caller acts on it right away.
 */
async function catchRunning(client, sizes = [1000000, 2000000, 3000000]) {
  for (const rows of sizes) {
    const r = await uploadCsv(client, bigCsv(rows), { filename: `big-${rows}.csv`, timeout: 300000 });
    assertStatus(r, 202, 'upload of the big file');
    const id = r.json.import_id;
    const s = await waitForImport(client, id, { until: (x) => running(x) || IMPORT_TERMINAL.includes(x.status), timeoutMs: 120000, intervalMs: 5 });
    if (running(s)) return { rows, id, status: s };
    // Too fast: it ended before we could act; try a bigger file.
  }
  throw new Error('every import completed before it could be interrupted; make the files bigger');
}

describe('import jobs: cancel while processing', () => {
  let srv;
  after(async () => { await srv?.close(); });

  it('cancel stops at a batch boundary: status cancelled, stored rows stay, counters match', { timeout: 600000 }, async () => {
    srv = await startServer();
    const admin = await adminClient(srv);
    // Under load an import can end between the status poll that saw it running and the
    // cancel request: then try again with a bigger file (each size at most once).
    let rows; let id; let status; let c; let u0;
    for (const size of [1000000, 2000000, 3000000]) {
      ({ rows, id, status } = await catchRunning(admin, [size]).catch(() => ({})));
      if (!id) continue;
      u0 = await admin.post(`/api/import/${id}/undo`, {});
      c = await admin.post(`/api/import/${id}/cancel`);
      if (c.status === 200 && ['cancelling', 'cancelled'].includes(c.json.status)) break;
    }
    assert.ok(id, 'an import was caught running');
    assert.ok(status.progress_percent >= 0 && status.progress_percent < 100, `progress while processing: ${status.progress_percent}`);
    // Undo refused the import while it ran (the cancel after it still found it running).
    assertApiError(u0, 409);
    assertStatus(c, 200, 'cancel');
    assert.equal(c.json.success, true);
    assert.equal(c.json.import_id, id);
    assert.ok(['cancelling', 'cancelled'].includes(c.json.status), `cancel answered ${c.text}`);
    const s = await waitForImport(admin, id, { timeoutMs: 120000 });
    assert.equal(s.status, 'cancelled', JSON.stringify(s).slice(0, 500));
    assert.ok(s.successful_records > 0, 'rows stored before the cancel stay');
    assert.ok(s.total_records < rows, `stopped early: ${s.total_records} of ${rows}`);
    assert.equal(s.total_records, s.successful_records + s.failed_records + s.skipped_records, JSON.stringify(s).slice(0, 500));
    assert.match(s.completed_at || '', /Z$/, 'completed_at is set when cancelled');
    const e = await admin.get(`/api/entries?import_id=${id}&limit=1`);
    assertStatus(e, 200);
    assert.equal(e.json.total, s.successful_records, 'entries stored = successful_records');
    // It stays cancelled.
    await new Promise((r) => setTimeout(r, 1500));
    const later = await admin.get(`/api/import/status/${id}`);
    assert.equal(later.json.status, 'cancelled');
    assert.equal(later.json.successful_records, s.successful_records);
    assert.equal((await admin.get(`/api/entries?import_id=${id}&limit=1`)).json.total, s.successful_records);
    assertApiError(await admin.post(`/api/import/${id}/cancel`), 409);

    // A cancelled import can be undone.
    const u = await admin.post(`/api/import/${id}/undo`, {});
    assertStatus(u, 200, 'undo after cancel');
    assert.equal(u.json.deleted.entries, s.successful_records);
    assert.equal((await admin.get(`/api/entries?import_id=${id}&limit=1`)).json.total, 0);
  });
});

describe('import jobs: resume after kill -9', () => {
  let dataDir;
  let srv2;
  after(async () => {
    await srv2?.close();
    if (dataDir) await fsp.rm(dataDir, { recursive: true, force: true });
  });

  it('a job orphaned by SIGKILL is resumed by the next server: no duplicates, no gaps, exact counters', { timeout: 900000 }, async () => {
    dataDir = await fsp.mkdtemp(path.join(os.tmpdir(), 'tt-resume-'));
    const env = { TT_JOB_STALE: '2' };
    const srv1 = await startServer({ dataDir, env });
    const password = srv1.adminPassword;
    const admin1 = await adminClient(srv1);
    let caught;
    try {
      caught = await catchRunning(admin1);
    } finally {
      srv1.proc.kill('SIGKILL');
      await srv1.exited;
    }
    const { rows, id, status } = caught;
    assert.equal(srv1.exitInfo().signal, 'SIGKILL');
    assert.ok(status.successful_records < rows, 'killed before the end');

    srv2 = await startServer({ dataDir, env, expectNoPassword: true });
    const admin = new Client(srv2.url);
    assertStatus(await admin.login('admin', password), 200, 'admin login after restart');
    const s = await waitForImport(admin, id, { timeoutMs: 180000, intervalMs: 250 });
    const ctx = JSON.stringify(s).slice(0, 600);
    assert.equal(s.status, 'completed', ctx);
    assert.equal(s.total_records, rows, `total_records: ${ctx}`);
    assert.equal(s.successful_records + s.failed_records + s.skipped_records, s.total_records, ctx);
    assert.equal(s.failed_records, 0, ctx);
    assert.equal(s.skipped_records, 0, `a resumed batch must not be re-read (rows counted as duplicates): ${ctx}`);
    assert.equal(s.successful_records, rows, ctx);
    const e = await admin.get(`/api/entries?import_id=${id}&limit=1`);
    assertStatus(e, 200);
    assert.equal(e.json.total, rows, 'every row stored exactly once');
    // The first and the last row are there.
    const last = await admin.get(`/api/entries?import_id=${id}&limit=1`);
    assert.equal(last.json.entries[0].notes, `row ${rows - 1}`);
    const first = await admin.get(`/api/entries?import_id=${id}&limit=1&offset=${rows - 1}`);
    assert.equal(first.json.entries[0].notes, 'row 0');
    assert.equal(s.summary.date_range.from, '2000-01-01T00:00:00Z');
  });
});
