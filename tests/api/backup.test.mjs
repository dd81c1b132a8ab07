// Backup and restore (SPEC §3.5): POST /api/export/backup, POST /api/backup/verify,
// POST /api/backup/restore, GET /api/backup/restore/{id}, and `timetracker backup`.
//
// Round trip into an empty fresh instance (every table compared through the API
// and column by column through a second backup), damaged and hostile archives
// (verify names a problem, restore refuses and changes nothing), a constraint
// violation inside a consistent archive (the one transaction rolls back),
// maintenance mode during a large restore, SQLite -> PostgreSQL -> SQLite (with
// TT_TEST_PG_BASE; SQLite -> SQLite -> SQLite otherwise), permissions, and the CLI.
//
// Archives are read with the system `unzip`; test archives are written by the
// small ZIP writer below (node:zlib).

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import {
  startServer, assertApiError, assertStatus, adminClient, createUser, Client, importCsv, csvForm,
  importDiagnostics, runExport, fetchBytes, waitForExport, sleep, ISO_Z, PG_BASE,
} from './lib/server.mjs';

const T = { timeout: 120000 };
const H = 'project_name,client_name,task_name,start_time,end_time,duration_hours,notes,tags,billable';
const TABLES = ['users', 'api_tokens', 'data_imports', 'import_errors', 'clients', 'projects', 'tasks', 'tags',
  'time_entries', 'time_entry_tags', 'data_exports'];
const MEMBERS = TABLES.map((t, i) => `tables/${String(i + 1).padStart(2, '0')}_${t}.jsonl`);
const BOB_PW = 'Bob-Restore-Secret-1!';
const CAROL_PW = 'Carol-Restore-Secret-2!';

// ---------- archives ----------

const sha256 = (buf) => crypto.createHash('sha256').update(buf).digest('hex');

function tmpDir(prefix = 'tt-bk-') {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

/** Reads a ZIP with `unzip`: {names (in archive order), files: Map name -> Buffer}. */
function readZip(buf) {
  const dir = tmpDir();
  try {
    const f = path.join(dir, 'a.zip');
    fs.writeFileSync(f, buf);
    const names = execFileSync('unzip', ['-Z1', f], { encoding: 'utf8' }).split('\n').filter(Boolean);
    const files = new Map(names.map((n) => [n, execFileSync('unzip', ['-p', f, n], { maxBuffer: 1 << 30 })]));
    return { names, files };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** A minimal ZIP writer: members [{name, data (Buffer), store (no compression)}]. */
function makeZip(members) {
  const parts = [];
  const central = [];
  let off = 0;
  for (const m of members) {
    const data = Buffer.isBuffer(m.data) ? m.data : Buffer.from(m.data);
    const comp = m.store ? data : zlib.deflateRawSync(data);
    const name = Buffer.from(m.name);
    const crc = zlib.crc32(data);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt16LE(0x0800, 6); // UTF-8 names
    local.writeUInt16LE(m.store ? 0 : 8, 8);
    local.writeUInt16LE(0, 10);
    local.writeUInt16LE(0x21, 12); // 1980-01-01
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(comp.length, 18);
    local.writeUInt32LE(data.length, 22);
    local.writeUInt16LE(name.length, 26);
    local.writeUInt16LE(0, 28);
    const cd = Buffer.alloc(46);
    cd.writeUInt32LE(0x02014b50, 0);
    cd.writeUInt16LE(0x031e, 4); // made by: Unix
    cd.writeUInt16LE(20, 6);
    cd.writeUInt16LE(0x0800, 8);
    cd.writeUInt16LE(m.store ? 0 : 8, 10);
    cd.writeUInt16LE(0, 12);
    cd.writeUInt16LE(0x21, 14);
    cd.writeUInt32LE(crc, 16);
    cd.writeUInt32LE(comp.length, 20);
    cd.writeUInt32LE(data.length, 24);
    cd.writeUInt16LE(name.length, 28);
    cd.writeUInt32LE(((0o100600 << 16) >>> 0), 38); // regular file
    cd.writeUInt32LE(off, 42);
    parts.push(local, name, comp);
    central.push(cd, name);
    off += local.length + name.length + comp.length;
  }
  const cdBuf = Buffer.concat(central);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(members.length, 8);
  end.writeUInt16LE(members.length, 10);
  end.writeUInt32LE(cdBuf.length, 12);
  end.writeUInt32LE(off, 16);
  return Buffer.concat([...parts, cdBuf, end]);
}

/** The lines of a JSONL member as objects. */
const rowsOf = (buf) => buf.toString('utf8').split('\n').filter((l) => l.length).map((l) => JSON.parse(l));
const jsonl = (rows) => Buffer.from(rows.map((r) => `${JSON.stringify(r)}\n`).join(''));

/**
 * Rebuilds a backup from files (Map name -> Buffer): tables in order, then manifest.json.
 * recompute: the manifest's rows, sizes and sha256 are made to match; editManifest(m) may change it after.
 */
function rebuild(files, { omit = [], extra = [], recompute = false, editManifest = null } = {}) {
  const manifest = JSON.parse(files.get('manifest.json').toString('utf8'));
  if (recompute) {
    for (const t of manifest.tables) t.rows = rowsOf(files.get(t.member)).length;
    for (const f of manifest.files) {
      f.size = files.get(f.name).length;
      f.sha256 = sha256(files.get(f.name));
    }
  }
  if (editManifest) editManifest(manifest);
  const members = MEMBERS.filter((n) => !omit.includes(n)).map((n) => ({ name: n, data: files.get(n) }));
  members.push(...extra);
  members.push({ name: 'manifest.json', data: Buffer.from(JSON.stringify(manifest, null, 2)) });
  return makeZip(members);
}

/** The archive with one byte flipped in the middle of the compressed data of member. */
function flipByteIn(buf, member) {
  const out = Buffer.from(buf);
  const name = Buffer.from(member);
  let at = -1;
  for (let i = out.indexOf(name); i >= 0; i = out.indexOf(name, i + 1)) {
    if (i >= 30 && out.readUInt32LE(i - 30) === 0x04034b50) { at = i - 30; break; }
  }
  assert.ok(at >= 0, `no local header for ${member}`);
  const start = at + 30 + out.readUInt16LE(at + 26) + out.readUInt16LE(at + 28);
  let end = out.indexOf(Buffer.from([0x50, 0x4b, 0x07, 0x08]), start);
  if (end < 0) end = out.indexOf(Buffer.from([0x50, 0x4b, 0x03, 0x04]), start);
  assert.ok(end - start > 40, `${member}: compressed data too short to damage (${end - start})`);
  const mid = start + Math.floor((end - start) / 2);
  out[mid] ^= 0xff;
  return out;
}

// ---------- API helpers ----------

function backupForm(buf, fields = {}) {
  return csvForm(buf, { filename: 'backup.ttbackup', type: 'application/zip', fields });
}

async function verifyBackup(c, buf) {
  const r = await c.req('POST', '/api/backup/verify', { body: backupForm(buf), timeout: 120000 });
  assertStatus(r, 200, 'POST /api/backup/verify');
  return r.json;
}

function restoreBackup(c, buf, fields = { confirm: 'true', wait: 'true' }) {
  return c.req('POST', '/api/backup/restore', { body: backupForm(buf, fields), timeout: 300000 });
}

/** Restores with wait=true; asserts the documented 200 answer and returns it. */
async function restoreOk(c, buf) {
  const r = await restoreBackup(c, buf);
  assertStatus(r, 200, 'restore with wait=true');
  assert.equal(r.json.success, true, r.text);
  assert.equal(r.json.status, 'completed', r.text);
  assert.equal(typeof r.json.restore_id, 'number', r.text);
  assert.equal(r.json.status_url, `/api/backup/restore/${r.json.restore_id}`);
  const res = r.json.result;
  assert.ok(res && res.success === true, r.text);
  for (const k of ['counts', 'rows', 'pre_restore_backup', 'import_id', 'schema_version', 'source_engine']) {
    assert.ok(k in res, `result.${k} missing: ${r.text}`);
  }
  return r.json;
}

/** Restores with wait=true and asserts a refusal: 422 {success:false, status: failed, error}. */
async function restoreRefused(c, buf, what) {
  const r = await restoreBackup(c, buf);
  assertStatus(r, 422, `restore of ${what}`);
  assert.equal(r.json.success, false, r.text);
  assert.equal(r.json.status, 'failed', r.text);
  assert.equal(typeof r.json.error, 'string', r.text);
  assert.ok(r.json.error.length > 0, r.text);
  assert.ok(!('result' in r.json) || r.json.result === null, `a failed restore has no result: ${r.text}`);
  return r.json;
}

async function waitForRestore(c, id, timeoutMs = 120000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const r = await c.get(`/api/backup/restore/${id}`);
    assertStatus(r, 200, `status of restore ${id}`);
    if (['completed', 'failed'].includes(r.json.status)) return r.json;
    assert.ok(['pending', 'processing'].includes(r.json.status), r.text);
    if (Date.now() > deadline) throw new Error(`restore ${id} did not end: ${r.text}`);
    await sleep(50);
  }
}

async function makeBackup(c) {
  const x = await runExport(c, 'backup', {}, { timeoutMs: 120000 });
  assert.equal(x.status.export_type, 'backup');
  assert.equal(x.status.export_format, 'ttbackup');
  return x;
}

async function paged(c, p, key, limit) {
  const out = [];
  const sep = p.includes('?') ? '&' : '?';
  for (let offset = 0; ; offset += limit) {
    const r = await c.get(`${p}${sep}limit=${limit}&offset=${offset}`);
    assertStatus(r, 200, p);
    out.push(...r.json[key]);
    if (r.json[key].length < limit) return out;
  }
}

const byId = (a, b) => a.id - b.id;

/** Everything an admin can see through the API, in a comparable form. */
async function snapshot(c) {
  const s = {};
  const users = await c.get('/api/users');
  assertStatus(users, 200, 'users');
  s.users = users.json.users.sort(byId);
  s.entries = (await paged(c, '/api/entries?all=true', 'entries', 1000)).sort(byId);
  for (const k of ['clients', 'projects', 'tasks', 'tags']) {
    const r = await c.get(`/api/${k}`);
    assertStatus(r, 200, k);
    s[k] = r.json[k].sort(byId);
  }
  s.imports = (await paged(c, '/api/import/history', 'imports', 100)).sort(byId);
  for (const i of s.imports) i.diagnostics = await importDiagnostics(c, i.id);
  s.exports = (await paged(c, '/api/export/history?all=true', 'exports', 100)).sort(byId);
  const t = await c.get('/api/tokens');
  assertStatus(t, 200, 'tokens');
  s.tokens = t.json.tokens.sort(byId);
  return s;
}

/** a without the rows whose id is not in ref (rows added since ref was taken). */
const onlyIds = (a, ref) => a.filter((x) => ref.some((y) => y.id === x.id));
const omitKeys = (o, keys) => Object.fromEntries(Object.entries(o).filter(([k]) => !keys.includes(k)));

/**
 * Compares two snapshots: identical, except rows that the later one has in
 * addition (restores and backups made since), and last_login_at of the users in
 * `loggedIn` (signed in since).
 */
function assertSameData(later, ref, { loggedIn = [], ctx = '' } = {}) {
  const strip = (u) => (loggedIn.includes(u.username) ? omitKeys(u, ['last_login_at']) : u);
  assert.deepEqual(later.users.map(strip), ref.users.map(strip), `${ctx}users`);
  for (const k of ['entries', 'clients', 'projects', 'tasks', 'tags', 'tokens']) {
    assert.deepEqual(later[k], ref[k], `${ctx}${k}`);
  }
  assert.deepEqual(onlyIds(later.imports, ref.imports), ref.imports, `${ctx}import history`);
  assert.deepEqual(onlyIds(later.exports, ref.exports), ref.exports, `${ctx}export history`);
  for (const i of later.imports.filter((x) => !ref.imports.some((y) => y.id === x.id))) {
    assert.equal(i.import_type, 'backup', `${ctx}an unexpected new import: ${JSON.stringify(i).slice(0, 300)}`);
  }
}

/**
 * Compares two backups column by column: every table identical, except rows of
 * data_imports / data_exports that `later` has in addition, and the
 * last_login_at of users in loggedIn.
 */
function assertSameArchiveRows(later, ref, { loggedIn = [], ctx = '' } = {}) {
  for (const [i, t] of TABLES.entries()) {
    let a = rowsOf(later.files.get(MEMBERS[i]));
    let b = rowsOf(ref.files.get(MEMBERS[i]));
    if (t === 'data_imports' || t === 'data_exports') a = a.filter((r) => b.some((x) => x.id === r.id));
    if (t === 'data_imports' || t === 'data_exports') {
      // Rows that were still running when the backup was taken (the backup's own
      // export) have no job after a restore: they end as failed, saying why.
      const running = new Set(b.filter((r) => ['pending', 'processing'].includes(r.status)).map((r) => r.id));
      for (const r of a.filter((x) => running.has(x.id))) {
        assert.equal(r.status, 'failed', `${ctx}${t} ${r.id} was running in the backup: failed after the restore`);
        assert.match(r.error_message || '', /still running when the backup was taken/);
      }
      const norm = (r) => (running.has(r.id) ? omitKeys(r, ['status', 'error_message', 'completed_at']) : r);
      a = a.map(norm);
      b = b.map(norm);
    }
    if (t === 'users') {
      const strip = (u) => (loggedIn.includes(u.username) ? omitKeys(u, ['last_login_at']) : u);
      a = a.map(strip);
      b = b.map(strip);
    }
    const key = (r) => ('id' in r ? r.id : `${r.entry_id}/${r.tag_id}`);
    const sort = (x) => [...x].sort((p, q) => (String(key(p)) < String(key(q)) ? -1 : 1));
    assert.deepEqual(sort(a), sort(b), `${ctx}rows of ${t}`);
  }
}

async function mkEntry(c, e) {
  const r = await c.post('/api/entries', e);
  assertStatus(r, 201, `create entry ${JSON.stringify(e).slice(0, 200)}`);
  return r.json;
}

/**
 * Fills an instance with a bit of everything: users (a second admin, a user with
 * a known password), tokens (one revoked), a clients import with custom fields,
 * CSV imports with errors and one undone, entries with tasks and tags, exports.
 */
async function fill(srv) {
  const admin = await adminClient(srv);
  const bob = await createUser(admin, 'bob', {
    password: BOB_PW, email: 'bob@example.com', full_name: 'Bob Ünïcødé "the" Builder', timezone: 'Europe/Berlin',
  });
  const carol = await createUser(admin, 'carol', { password: CAROL_PW, role: 'admin', timezone: 'America/New_York' });

  let r = await bob.client.post('/api/tokens', { name: 'bob-ci' });
  assertStatus(r, 201, 'token');
  const bobToken = r.json.token;
  r = await admin.post('/api/tokens', { name: 'admin-revoked' });
  assertStatus(r, 201, 'token');
  const revokedToken = r.json.token;
  assertStatus(await admin.del(`/api/tokens/${r.json.id}`), 200, 'revoke');
  r = await admin.post('/api/tokens', { name: 'admin-live' });
  assertStatus(r, 201, 'token');
  const adminToken = r.json.token;

  // Clients with custom fields.
  const clientsCsv = 'name,description,contact_person,email,phone,address,hourly_rate,status,Region,Account Manager\n'
    + '"Acme, Inc.","Big ""quoted"" client",Wile E.,acme@example.com,+1 555 0100,"1 Road\nDesert",120.50,active,EMEA,Zoë\n'
    + 'Globex,,,,,,,inactive,APAC,\n';
  r = await admin.req('POST', '/api/import/csv/clients', { body: csvForm(clientsCsv, { filename: 'clients.csv', fields: { wait: 'true' } }) });
  assertStatus(r, 200, 'clients import');
  const clients = (await admin.get('/api/clients')).json.clients;
  const acme = clients.find((c) => c.name === 'Acme, Inc.');
  assert.ok(acme && acme.custom_fields.Region === 'EMEA' && acme.custom_fields['Account Manager'] === 'Zoë',
    `custom fields were not stored: ${JSON.stringify(clients)}`);

  // A CSV import with errors (partial).
  const partial = await importCsv(bob.client, [H,
    '"Acme, Inc.",Apollo,Design,2024-05-01T08:00:00Z,2024-05-01T09:30:00Z,,"imported, with ""quotes""\nand a newline",red;Blue,true',
    'Apollo,"Acme, Inc.",Build,2024-05-02T08:00:00Z,2024-05-02T10:00:00Z,,imported 2,red,false',
    'Apollo,"Acme, Inc.",,not-a-date,,1,bad row,,',
    'Zeus,Globex,,2024-05-03T08:00:00Z,2024-05-03T07:00:00Z,,ends before it starts,,',
    ''].join('\n'));
  assert.equal(partial.status, 'partial', JSON.stringify(partial));
  assert.ok(partial.failed_records >= 2, JSON.stringify(partial));

  // An import that is undone.
  const undone = await importCsv(bob.client, [H, 'Hermes,Globex,,2024-05-04T08:00:00Z,2024-05-04T09:00:00Z,,to be undone,tmp,true', ''].join('\n'));
  assertStatus(await bob.client.post(`/api/import/${undone.import_id}/undo`, {}), 200, 'undo');

  // Manual entries.
  await mkEntry(bob.client, { project: 'Apollo', client: 'Acme, Inc.', task: 'Review', start_time: '2024-06-01T08:00:00Z',
    end_time: '2024-06-01T09:15:00Z', notes: 'manual 😀 ünïcode\ttab', tags: ['red', 'green'], billable: true });
  await mkEntry(bob.client, { project: 'Apollo', client: 'Acme, Inc.', start_time: '2024-06-02T22:30:00Z',
    end_time: '2024-06-03T01:00:00Z', notes: '', billable: false });
  await mkEntry(carol.client, { project: 'Internal', client: 'Globex', task: 'Ops', start_time: '2024-06-01T12:00:00Z',
    end_time: '2024-06-01T12:01:00Z', notes: '=1+1 formula-looking', tags: ['ops'] });
  await mkEntry(admin, { project: 'Admin stuff', start_time: '2024-06-05T10:00:00Z', end_time: '2024-06-05T11:00:00Z',
    notes: 'by admin', tags: ['Red'] });

  // Exports.
  await runExport(bob.client, 'filtered', { format: 'csv' });
  await runExport(bob.client, 'gdpr', { format: 'json' });
  return { admin, bob, carol, bobToken, revokedToken, adminToken };
}

function entryCount(s) {
  return s.entries.length;
}

// ---------- round trip, damaged and hostile archives ----------

describe('backup: round trip into an empty fresh instance', () => {
  let A; // the source
  let B; // the empty instance restored into
  let f; // what fill() returned
  let refSnap; // A's data right before the backup
  let backup; // {id, status, file}
  let archive; // readZip(backup.file)
  let restored; // the restore answer on B
  let bAdmin; // A's admin, signed in on B after the restore
  before(async () => {
    A = await startServer();
    f = await fill(A);
    refSnap = await snapshot(f.admin);
    backup = await makeBackup(f.admin);
    archive = readZip(backup.file);
  });
  after(async () => {
    await A?.close();
    await B?.close();
  });

  it('the archive: table members in dependency order, manifest.json last, sums and counts that match', T, async () => {
    assert.deepEqual(archive.names, [...MEMBERS, 'manifest.json']);
    const m = JSON.parse(archive.files.get('manifest.json').toString('utf8'));
    assert.equal(m.format_version, 1);
    assert.ok(Number.isInteger(m.schema_version) && m.schema_version >= 1, JSON.stringify(m));
    assert.equal(m.engine, PG_BASE ? 'pg' : 'sqlite');
    assert.equal(typeof m.app_version, 'string');
    assert.match(m.created_at, ISO_Z);
    assert.deepEqual(m.tables.map((t) => [t.name, t.member]), TABLES.map((t, i) => [t, MEMBERS[i]]));
    assert.deepEqual(m.files.map((x) => x.name), MEMBERS);
    for (const x of m.files) {
      assert.equal(x.size, archive.files.get(x.name).length, x.name);
      assert.equal(x.sha256, sha256(archive.files.get(x.name)), x.name);
    }
    for (const t of m.tables) assert.equal(t.rows, rowsOf(archive.files.get(t.member)).length, t.name);
    const counts = Object.fromEntries(m.tables.map((t) => [t.name, t.rows]));
    assert.equal(counts.users, 3);
    assert.equal(counts.time_entries, entryCount(refSnap));
    assert.ok(counts.import_errors >= 2 && counts.api_tokens === 3 && counts.time_entry_tags >= 5, JSON.stringify(counts));
    assert.equal(backup.status.record_count, Object.values(counts).reduce((a, b) => a + b, 0), 'record_count = rows');
    // Password hashes are kept (users keep their passwords), but no secret in clear.
    const all = backup.file.toString('latin1') + [...archive.files.values()].map((b) => b.toString('utf8')).join('');
    for (const secret of [BOB_PW, CAROL_PW, A.adminPassword, f.bobToken, f.adminToken]) {
      assert.ok(!all.includes(secret), 'a secret in clear in the backup');
    }
    assert.ok(rowsOf(archive.files.get(MEMBERS[0])).every((u) => typeof u.password_hash === 'string' && u.password_hash.length > 20));
  });

  it('verify on the source: valid, versions, counts as in the manifest, no problems', T, async () => {
    const v = await verifyBackup(f.admin, backup.file);
    const m = JSON.parse(archive.files.get('manifest.json').toString('utf8'));
    assert.deepEqual(Object.keys(v).sort(), ['app_version', 'counts', 'created_at', 'engine', 'format_version', 'problems',
      'schema_version', 'valid']);
    assert.equal(v.valid, true, JSON.stringify(v.problems));
    assert.deepEqual(v.problems, []);
    assert.equal(v.format_version, 1);
    assert.equal(v.schema_version, m.schema_version);
    assert.equal(v.engine, m.engine);
    assert.equal(v.app_version, m.app_version);
    assert.equal(v.created_at, m.created_at);
    assert.deepEqual(v.counts, Object.fromEntries(m.tables.map((t) => [t.name, t.rows])));
    // verify changes nothing
    assertSameData(await snapshot(f.admin), refSnap, { ctx: 'after verify: ' });
  });

  it('restore into an empty instance: 200 completed with counts, rows, pre-restore backup, import id', T, async () => {
    B = await startServer();
    const bOwnAdmin = await adminClient(B);
    const bBefore = await snapshot(bOwnAdmin);
    assert.equal(bBefore.users.length, 1);
    restored = await restoreOk(bOwnAdmin, backup.file);
    const res = restored.result;
    const m = JSON.parse(archive.files.get('manifest.json').toString('utf8'));
    assert.deepEqual(res.counts, Object.fromEntries(m.tables.map((t) => [t.name, t.rows])));
    assert.equal(res.rows, m.tables.reduce((a, t) => a + t.rows, 0));
    assert.equal(res.schema_version, m.schema_version);
    assert.equal(res.source_engine, m.engine);
    assert.match(res.pre_restore_backup, /^pre-restore-[\w.-]+\.ttbackup$/);
    assert.ok(!res.pre_restore_backup.includes('/'), 'no server path in the answer');
    // The status endpoint tells the same.
    // (B's own admin session is gone with the users it belonged to.)
    const me = await bOwnAdmin.get('/api/me');
    assert.equal(me.status, 401, `a session from before the restore still works: ${me.text.slice(0, 200)}`);
    assert.equal((await new Client(B.url).login('admin', B.adminPassword)).status, 401,
      'the instance\'s own admin password must be gone (users replaced)');
    bAdmin = new Client(B.url);
    assertStatus(await bAdmin.login('admin', A.adminPassword), 200, 'the backup\'s admin signs in with the old password');
    const st = await bAdmin.get(`/api/backup/restore/${restored.restore_id}`);
    assertStatus(st, 200, 'restore status');
    assert.equal(st.json.status, 'completed');
    assert.equal(st.json.restore_id, restored.restore_id);
    assert.deepEqual(st.json.result, res);
    // The pre-restore backup holds B's old data and is itself a valid backup.
    const pre = path.join(B.dataDir, 'backups', res.pre_restore_backup);
    assert.ok(fs.existsSync(pre), `pre-restore backup missing: ${pre}`);
    const pv = await verifyBackup(bAdmin, fs.readFileSync(pre));
    assert.equal(pv.valid, true, JSON.stringify(pv.problems));
    assert.equal(pv.counts.users, 1);
    assert.equal(pv.counts.time_entries, 0);
    // No upload left behind.
    const up = path.join(B.dataDir, 'uploads');
    const left = fs.existsSync(up) ? fs.readdirSync(up).filter((n) => /restore/.test(n)) : [];
    assert.deepEqual(left, [], 'the uploaded archive is removed after the restore');
  });

  it('every table through the API is identical to the source, apart from the new "backup" import row', T, async () => {
    assert.ok(bAdmin, 'the restore test must have run');
    const got = await snapshot(bAdmin);
    assertSameData(got, refSnap, { loggedIn: ['admin'] });
    assert.equal(got.users.find((u) => u.username === 'admin').id, 1);
    const added = got.imports.filter((i) => !refSnap.imports.some((x) => x.id === i.id));
    assert.equal(added.length, 1, JSON.stringify(added));
    const h = added[0];
    assert.equal(h.id, restored.result.import_id);
    assert.equal(h.import_type, 'backup');
    assert.equal(h.status, 'completed');
    assert.equal(h.total_records, restored.result.rows);
    assert.equal(h.successful_records, restored.result.rows);
    assert.equal(h.user, 'admin');
    assert.deepEqual(h.summary.counts, restored.result.counts);
    assert.equal(h.summary.source_engine, restored.result.source_engine);
    // The export history additionally holds the backup's own row (it was running when the snapshot was read).
    const addedExports = got.exports.filter((e) => !refSnap.exports.some((x) => x.id === e.id));
    assert.deepEqual(addedExports.map((e) => [e.id, e.export_type]), [[backup.id, 'backup']]);
  });

  it('column by column (a backup of the restored instance): every row identical to the source\'s', T, async () => {
    const again = readZip((await makeBackup(bAdmin)).file);
    assertSameArchiveRows(again, archive, { loggedIn: ['admin'] });
  });

  it('users sign in with their old passwords; tokens from the backup work, revoked ones stay revoked; old sessions are gone', T, async () => {
    const bob = new Client(B.url);
    assertStatus(await bob.login('bob', BOB_PW), 200, 'bob signs in on the restored instance');
    assert.equal(bob.user.full_name, 'Bob Ünïcødé "the" Builder');
    assert.equal((await new Client(B.url).login('bob', 'wrong-password')).status, 401);
    const carol = new Client(B.url);
    assertStatus(await carol.login('carol', CAROL_PW), 200, 'carol signs in');
    assert.equal(carol.user.is_admin, true);
    // tokens
    const tb = new Client(B.url, { bearer: f.bobToken });
    const me = await tb.get('/api/me');
    assertStatus(me, 200, 'bob\'s token from the backup');
    assert.equal(me.json.username, 'bob', me.text);
    const e = await tb.get('/api/entries?limit=1000');
    assertStatus(e, 200);
    assert.equal(e.json.entries.length, refSnap.entries.filter((x) => x.user_id === bob.user.id).length);
    assert.equal((await new Client(B.url, { bearer: f.adminToken }).get('/api/users')).status, 200, 'admin token works');
    assert.equal((await new Client(B.url, { bearer: f.revokedToken }).get('/api/me')).status, 401, 'a revoked token stays revoked');
    // A session of the source instance is not in the backup.
    const stolen = new Client(B.url);
    stolen.session = f.bob.client.session;
    assert.ok(stolen.session);
    assert.equal((await stolen.get('/api/me')).status, 401, 'sessions are not part of a backup');
    // ...and the source is untouched: its sessions still work.
    assertStatus(await f.bob.client.get('/api/me'), 200, 'the source keeps its sessions');
  });

  it('after the restore new rows get fresh ids (sequences were reset), and restored export files are gone (410)', T, async () => {
    const maxEntry = Math.max(...refSnap.entries.map((x) => x.id));
    const e = await mkEntry(bAdmin, { project: 'After restore', start_time: '2024-07-01T08:00:00Z', end_time: '2024-07-01T09:00:00Z',
      notes: 'new after restore', tags: ['brand-new'] });
    assert.ok(e.id > maxEntry, `new entry id ${e.id} <= restored max ${maxEntry}`);
    const u = await bAdmin.post('/api/users', { username: 'newbie', password: 'Newbie-Password-9!' });
    assertStatus(u, 201, 'create a user after restore');
    assert.ok(u.json.id > Math.max(...refSnap.users.map((x) => x.id)));
    const t = await bAdmin.post('/api/tokens', { name: 'after' });
    assertStatus(t, 201);
    assert.ok(t.json.id > 3);
    // a completed export row is restored, its file is not (export files are not in a backup)
    const done = refSnap.exports.find((x) => x.status === 'completed');
    assert.ok(done, 'the source had a completed export');
    const d = await fetchBytes(bAdmin, `/api/export/download/${done.id}`);
    assert.equal(d.status, 410, `download of a restored export without its file: ${d.status} ${d.text.slice(0, 200)}`);
    // A new export and import work on the restored instance.
    const x = await runExport(bAdmin, 'filtered', { format: 'json' });
    assert.ok(x.id > Math.max(...refSnap.exports.map((y) => y.id), backup.id));
    const i = await importCsv(bAdmin, [H, 'P,C,,2024-07-02T08:00:00Z,2024-07-02T09:00:00Z,,after,,true', ''].join('\n'));
    assert.equal(i.status, 'completed');
    assert.ok(i.import_id > restored.result.import_id);
  });

  it('the backup\'s own export row is not left "processing" forever in the restored instance', T, async () => {
    // The backup snapshot is read while its own export is running, so its row is in
    // the archive as "processing". No job will ever finish it on the restored instance.
    const r = await bAdmin.get(`/api/export/status/${backup.id}`);
    assertStatus(r, 200, 'status of the restored backup export row');
    assert.ok(!['pending', 'processing'].includes(r.json.status),
      `the restored instance shows export ${backup.id} as "${r.json.status}" forever (no job runs it; `
      + `download answers 409 not_ready and DELETE 409 "still running" for ever): ${r.text.slice(0, 300)}`);
  });

  // ----- verify catches damage; restore refuses it and changes nothing -----

  describe('damaged archives: verify names a problem, restore refuses, nothing changes', () => {
    const cases = {
      'a flipped byte': () => flipByteIn(backup.file, 'tables/09_time_entries.jsonl'),
      'a truncated file': () => backup.file.subarray(0, Math.floor(backup.file.length * 0.6)),
      'a missing member': () => rebuild(archive.files, { omit: ['tables/04_import_errors.jsonl'] }),
      'an edited count in the manifest': () => rebuild(archive.files, {
        editManifest: (m) => { m.tables.find((t) => t.name === 'time_entries').rows += 1; },
      }),
      'a member changed with its count and sums recomputed, but a dangling reference': () => {
        const files = new Map(archive.files);
        const rows = rowsOf(files.get('tables/09_time_entries.jsonl'));
        rows[0].user_id = 987654;
        files.set('tables/09_time_entries.jsonl', jsonl(rows));
        return rebuild(files, { recompute: true });
      },
      'a newer schema version': () => rebuild(archive.files, { editManifest: (m) => { m.schema_version += 50; } }),
      'an unknown format version': () => rebuild(archive.files, { editManifest: (m) => { m.format_version = 2; } }),
    };
    const expect = {
      'a flipped byte': /damaged|SHA-256|checksum|not valid JSON|could not be read|truncated|crc/i,
      'a truncated file': /not a complete ZIP|truncated|damaged/i,
      'a missing member': /no member tables\/04_import_errors\.jsonl/,
      'an edited count in the manifest': /time_entries has \d+ rows/,
      'a member changed with its count and sums recomputed, but a dangling reference': /user_id 987654 is not a row of users/,
      'a newer schema version': /newer/,
      'an unknown format version': /format_version 2/,
    };
    for (const [name, make] of Object.entries(cases)) {
      it(`${name}`, T, async () => {
        const buf = make();
        const v = await verifyBackup(f.admin, buf);
        assert.equal(v.valid, false, `verify says valid: ${JSON.stringify(v)}`);
        assert.ok(Array.isArray(v.problems) && v.problems.length > 0, JSON.stringify(v));
        assert.ok(v.problems.every((p) => typeof p === 'string' && p.length > 10), JSON.stringify(v.problems));
        assert.ok(v.problems.some((p) => expect[name].test(p)), `no problem matches ${expect[name]}: ${JSON.stringify(v.problems)}`);
        const r = await restoreRefused(f.admin, buf, name);
        assert.match(r.error, /not valid|nothing was changed/i);
        assertSameData(await snapshot(f.admin), refSnap, { ctx: `after refusing ${name}: ` });
      });
    }
  });

  describe('hostile archives are refused, data untouched', () => {
    const evil = () => path.join(path.dirname(A.dataDir), 'evil');
    const cases = {
      'not a ZIP at all': () => [Buffer.from('this is not a zip archive, just text\n'.repeat(20)), /not a complete ZIP/],
      'an empty file': () => [Buffer.alloc(0), /empty/],
      'a zip bomb (64 MiB of zeros in a known member)': () => {
        const files = new Map(archive.files);
        files.set('tables/09_time_entries.jsonl', Buffer.alloc(64 << 20));
        return [rebuild(files), /zip bomb|expands/];
      },
      'a path traversal member name (../evil)': () => [rebuild(archive.files, { extra: [{ name: '../evil', data: Buffer.from('pwned\n') }] }),
        /unexpected member "\.\.\/evil"/],
      'an absolute member name': () => [rebuild(archive.files, { extra: [{ name: '/tmp/tt-evil-abs', data: Buffer.from('x\n') }] }),
        /unexpected member/],
      'an extra unknown member': () => [rebuild(archive.files, { extra: [{ name: 'tables/12_sessions.jsonl', data: Buffer.from('{"id":1}\n') }] }),
        /unexpected member "tables\/12_sessions\.jsonl"/],
      'a member twice': () => [rebuild(archive.files, { extra: [{ name: MEMBERS[0], data: archive.files.get(MEMBERS[0]) }] }),
        /more than once|dependency order/],
    };
    for (const [name, make] of Object.entries(cases)) {
      it(name, T, async () => {
        const [buf, re] = make();
        const v = await verifyBackup(f.admin, buf);
        assert.equal(v.valid, false, JSON.stringify(v));
        assert.ok(v.problems.some((p) => re.test(p)), `no problem matches ${re}: ${JSON.stringify(v.problems)}`);
        await restoreRefused(f.admin, buf, name);
        assertSameData(await snapshot(f.admin), refSnap, { ctx: `after refusing ${name}: ` });
        assert.ok(!fs.existsSync(evil()) && !fs.existsSync(path.join(A.dataDir, 'evil')) && !fs.existsSync('/tmp/tt-evil-abs'),
          'a member was extracted to disk');
      });
    }
  });

  describe('a consistent archive that violates a constraint: the restore fails as a whole', () => {
    const cases = {
      'two users with the same username': (files) => {
        const users = rowsOf(files.get(MEMBERS[0]));
        users.push({ ...users.find((u) => u.username === 'bob'), id: 4242, email: 'other@example.com' });
        files.set(MEMBERS[0], jsonl(users));
      },
      'the same tag twice on one entry': (files) => {
        const links = rowsOf(files.get(MEMBERS[9]));
        links.push({ ...links[0] });
        files.set(MEMBERS[9], jsonl(links));
      },
    };
    for (const [name, edit] of Object.entries(cases)) {
      it(name, T, async (t) => {
        const files = new Map(archive.files);
        edit(files);
        const buf = rebuild(files, { recompute: true });
        const v = await verifyBackup(f.admin, buf); // checksums and counts are consistent
        assert.ok(!v.problems.some((p) => /SHA-256|rows, but|bytes, but/.test(p)), `the archive is not consistent: ${JSON.stringify(v.problems)}`);
        const r = await restoreRefused(f.admin, buf, name);
        t.diagnostic(`verify: valid=${v.valid} ${JSON.stringify(v.problems)}; restore: ${r.error}`);
        // All or nothing: the data, and the sessions (deleted inside the transaction), are untouched.
        assertSameData(await snapshot(f.admin), refSnap, { ctx: `after the failed restore (${name}): ` });
        assertStatus(await f.bob.client.get('/api/me'), 200, 'sessions survive a failed restore');
        // maintenance mode ended
        const e = await f.bob.client.post('/api/entries', { project: 'Apollo', client: 'Acme, Inc.', start_time: '2024-08-01T08:00:00Z', end_time: '2024-08-01T09:00:00Z' });
        assertStatus(e, 201, 'writes work again after a failed restore');
        assertStatus(await f.bob.client.del(`/api/entries/${e.json.id}`), 200);
      });
    }
  });
});

// ---------- requests, permissions ----------

describe('backup: requests and permissions', () => {
  let srv;
  let admin;
  let user;
  let file;
  before(async () => {
    srv = await startServer();
    admin = await adminClient(srv);
    user = await createUser(admin, 'plain', { password: 'Plain-User-Pass-1!' });
    await mkEntry(user.client, { project: 'P', start_time: '2024-01-01T08:00:00Z', end_time: '2024-01-01T09:00:00Z' });
    file = (await makeBackup(admin)).file;
  });
  after(async () => { await srv?.close(); });

  it('non-admins get 403 on every backup endpoint (session and bearer); anonymous 401', T, async () => {
    const t = await user.client.post('/api/tokens', { name: 'plain' });
    assertStatus(t, 201);
    const bearer = new Client(srv.url, { bearer: t.json.token });
    for (const c of [user.client, bearer]) {
      assertApiError(await c.post('/api/export/backup', {}), 403, 'forbidden');
      assertApiError(await c.req('POST', '/api/backup/verify', { body: backupForm(file) }), 403, 'forbidden');
      assertApiError(await c.req('POST', '/api/backup/restore', { body: backupForm(file, { confirm: 'true', wait: 'true' }) }), 403, 'forbidden');
      assertApiError(await c.get('/api/backup/restore/1'), 403, 'forbidden');
    }
    const anon = new Client(srv.url);
    assertApiError(await anon.post('/api/export/backup', {}), 401);
    assertApiError(await anon.req('POST', '/api/backup/verify', { body: backupForm(file) }), 401);
    assertApiError(await anon.req('POST', '/api/backup/restore', { body: backupForm(file, { confirm: 'true' }) }), 401);
    assertApiError(await anon.get('/api/backup/restore/1'), 401);
    // nothing happened
    const h = await admin.get('/api/import/history');
    assert.equal(h.json.imports.filter((i) => i.import_type === 'backup').length, 0);
    assert.equal((await admin.get('/api/export/history?all=true')).json.exports.filter((e) => e.export_type === 'backup').length, 1);
  });

  it('the backup export: 202 like every export, {} only; a regular user cannot download it', T, async () => {
    const r = await admin.post('/api/export/backup', {});
    assertStatus(r, 202);
    assert.equal(r.json.success, true);
    assertApiError(await admin.post('/api/export/backup', { format: 'zip' }), 400, 'unknown_field');
    const done = await waitForExport(admin, r.json.export_id);
    assert.equal(done.status, 'completed');
    const d = await fetchBytes(user.client, `/api/export/download/${r.json.export_id}`);
    assert.ok([403, 404].includes(d.status), `a regular user downloads an admin's backup: ${d.status}`);
  });

  it('restore needs confirm=true (400 confirmation_required, field confirm) and a file; bad fields are named', T, async () => {
    const before = await snapshot(admin);
    assertApiError(await restoreBackup(admin, file, {}), 400, 'confirmation_required', 'confirm');
    assertApiError(await restoreBackup(admin, file, { confirm: 'false', wait: 'true' }), 400, 'confirmation_required', 'confirm');
    assertApiError(await restoreBackup(admin, file, { confirm: 'maybe' }), 400, undefined, 'confirm');
    assertApiError(await restoreBackup(admin, file, { confirm: 'true', wait: 'soon' }), 400, undefined, 'wait');
    assertApiError(await restoreBackup(admin, file, { confirm: 'true', dry_run: 'true' }), 400, 'unknown_field', 'dry_run');
    assertApiError(await admin.req('POST', '/api/backup/restore', { body: csvForm(null, { fields: { confirm: 'true' } }) }), 400, 'missing_field', 'file');
    assertApiError(await admin.req('POST', '/api/backup/verify', { body: csvForm(null) }), 400, 'missing_field', 'file');
    assertApiError(await admin.req('POST', '/api/backup/verify', { body: backupForm(file, { confirm: 'true' }) }), 400, 'unknown_field', 'confirm');
    assertApiError(await admin.get('/api/backup/restore/987654'), 404, 'not_found');
    // the session is alive: nothing was restored
    const after = await snapshot(admin);
    assert.deepEqual(after, before);
  });

  it('without wait: 202 {success, restore_id, status: pending, status_url}; an invalid archive ends "failed" with an error', T, async () => {
    const r = await restoreBackup(admin, Buffer.from('PK\x03\x04 definitely not a backup'), { confirm: 'true' });
    assertStatus(r, 202, 'restore without wait');
    assert.deepEqual(Object.keys(r.json).sort(), ['restore_id', 'status', 'status_url', 'success']);
    assert.equal(r.json.success, true);
    assert.equal(r.json.status, 'pending');
    assert.equal(r.json.status_url, `/api/backup/restore/${r.json.restore_id}`);
    const s = await waitForRestore(admin, r.json.restore_id);
    assert.equal(s.status, 'failed', JSON.stringify(s));
    assert.equal(typeof s.error, 'string');
    assert.ok(s.error.length > 0);
    assertStatus(await admin.get('/api/me'), 200, 'a refused restore keeps the sessions');
  });
});

// ---------- maintenance mode ----------

describe('backup: maintenance mode during a large restore', () => {
  let srv;
  after(async () => { await srv?.close(); });

  it('while the restore replaces the data, writes and sign-ins answer 503 maintenance with Retry-After; reads go on', { timeout: 240000 }, async (t) => {
    srv = await startServer();
    const admin = await adminClient(srv);
    const bob = await createUser(admin, 'bob', { password: BOB_PW });
    const N = 100000;
    const lines = [H];
    const t0 = Date.UTC(2015, 0, 1);
    for (let i = 0; i < N; i++) {
      const s = new Date(t0 + i * 3600e3);
      lines.push(`P${i % 7},C${i % 3},,${s.toISOString()},${new Date(+s + 1800e3).toISOString()},,n${i},t${i % 2},true`);
    }
    const imp = await importCsv(bob.client, `${lines.join('\n')}\n`, { timeout: 240000 });
    assert.equal(imp.successful_records, N, JSON.stringify(imp).slice(0, 300));
    const at = await admin.post('/api/tokens', { name: 'poller' });
    const bt = await bob.client.post('/api/tokens', { name: 'prober' });
    const poller = new Client(srv.url, { bearer: at.json.token });
    const prober = new Client(srv.url, { bearer: bt.json.token });
    const { file } = await makeBackup(admin);

    const r = await restoreBackup(admin, file, { confirm: 'true' });
    assertStatus(r, 202, 'restore without wait');
    const id = r.json.restore_id;
    let seen503 = 0;
    let login503 = 0;
    let other = 0;
    const statuses = new Set();
    let final = null;
    const deadline = Date.now() + 200000;
    const madeBefore503 = []; // probes stored before maintenance began: the restore must wipe them
    for (let k = 0; !final; k++) {
      const start = new Date(Date.UTC(2030, 0, 1) + k * 120e3);
      const p = await prober.post('/api/entries', { project: 'P0', client: 'C0', start_time: start.toISOString(),
        end_time: new Date(+start + 60e3).toISOString(), notes: `probe ${k}` });
      if (p.status === 201 && seen503 === 0) madeBefore503.push(`probe ${k}`);
      if (p.status === 503) {
        seen503++;
        assertApiError(p, 503, 'maintenance');
        assert.ok(Number(p.headers.get('retry-after')) > 0, `Retry-After: ${p.headers.get('retry-after')}`);
        const l = await new Client(srv.url).login('bob', BOB_PW);
        if (l.status === 503) {
          login503++;
          assertApiError(l, 503, 'maintenance');
        }
        const g = await prober.get('/api/entries?limit=1');
        assert.ok([200].includes(g.status), `GET during maintenance: ${g.status} ${g.text.slice(0, 200)}`);
      } else if (p.status !== 201) {
        other++;
        assert.fail(`POST /api/entries during a restore: ${p.status} ${p.text.slice(0, 300)}`);
      }
      const s = await poller.get(`/api/backup/restore/${id}`);
      assertStatus(s, 200, 'GET restore status goes on during maintenance');
      statuses.add(s.json.status);
      if (['completed', 'failed'].includes(s.json.status)) final = s.json;
      if (Date.now() > deadline) assert.fail(`restore did not end; last ${s.text}`);
    }
    t.diagnostic(`probes answered 503: ${seen503} (sign-ins 503: ${login503}); stored before maintenance: ${madeBefore503.length}`);
    assert.equal(final.status, 'completed', JSON.stringify(final));
    assert.equal(other, 0);
    assert.ok(seen503 >= 1, `no 503 seen during the restore (statuses ${[...statuses]}); the restore was too fast to observe`);
    assert.ok(login503 >= 1, `POST /login during maintenance never answered 503 (${seen503} writes did)`);
    // After: writes work, the data is the backup's (probe entries made before maintenance are gone),
    // sessions are gone, passwords kept.
    assertStatus(await prober.post('/api/entries', { project: 'after', start_time: '2030-02-01T08:00:00Z', end_time: '2030-02-01T09:00:00Z' }), 201);
    const probes = await poller.get('/api/entries?all=true&start_date=2030-01-01&end_date=2030-12-31&limit=1000');
    assertStatus(probes, 200);
    const survivors = probes.json.entries.map((e) => e.notes).filter((n) => madeBefore503.includes(n));
    assert.deepEqual(survivors, [], 'entries written before the restore replaced the data must be gone');
    const cnt = await poller.get('/api/entries?all=true&limit=1');
    assert.equal(cnt.json.total, N + probes.json.total, 'the backup\'s entries plus the probes made after the restore');
    assert.equal((await admin.get('/api/me')).status, 401, 'sessions are gone after the restore');
    assert.equal((await bob.client.get('/api/me')).status, 401, 'sessions are gone after the restore');
    assertStatus(await new Client(srv.url).login('bob', BOB_PW), 200, 'sign in again');
    assert.equal(final.result.counts.time_entries, N);
  });
});

// ---------- cross-engine ----------

describe('backup: cross-engine round trip', () => {
  const servers = [];
  const dirs = [];
  after(async () => {
    for (const s of servers) await s.close();
    for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
  });

  async function sqliteServer() {
    const dir = tmpDir('tt-bk-sqlite-');
    dirs.push(dir);
    const s = await startServer({ dataDir: dir, env: { TT_DB: `sqlite:${dir}/timetracker.db` } });
    servers.push(s);
    return s;
  }

  it(PG_BASE ? 'SQLite -> PostgreSQL -> SQLite: identical data' : 'SQLite -> SQLite -> SQLite (PostgreSQL leg with TT_TEST_PG_BASE): identical data', { timeout: 180000 }, async () => {
    const mid = PG_BASE ? 'pg' : 'sqlite';
    const S1 = await sqliteServer();
    const f = await fill(S1);
    const ref = await snapshot(f.admin);
    const b1 = await makeBackup(f.admin);
    const a1 = readZip(b1.file);
    assert.equal(JSON.parse(a1.files.get('manifest.json')).engine, 'sqlite');

    const P = await startServer(); // PostgreSQL when TT_TEST_PG_BASE is set
    servers.push(P);
    const r1 = await restoreOk(await adminClient(P), b1.file);
    assert.equal(r1.result.source_engine, 'sqlite');
    const pAdmin = new Client(P.url);
    assertStatus(await pAdmin.login('admin', S1.adminPassword), 200);
    assertSameData(await snapshot(pAdmin), ref, { loggedIn: ['admin'], ctx: `${mid}: ` });
    const b2 = await makeBackup(pAdmin);
    const a2 = readZip(b2.file);
    assert.equal(JSON.parse(a2.files.get('manifest.json')).engine, mid);
    assertSameArchiveRows(a2, a1, { loggedIn: ['admin'], ctx: `sqlite -> ${mid}: ` });

    const S2 = await sqliteServer();
    const r2 = await restoreOk(await adminClient(S2), b2.file);
    assert.equal(r2.result.source_engine, mid);
    const sAdmin = new Client(S2.url);
    assertStatus(await sAdmin.login('admin', S1.adminPassword), 200);
    assertSameData(await snapshot(sAdmin), ref, { loggedIn: ['admin'], ctx: `${mid} -> sqlite: ` });
    const a3 = readZip((await makeBackup(sAdmin)).file);
    assertSameArchiveRows(a3, a1, { loggedIn: ['admin'], ctx: `sqlite -> ${mid} -> sqlite: ` });
    // users and tokens work at the end of the chain
    assertStatus(await new Client(S2.url).login('bob', BOB_PW), 200);
    assertStatus(await new Client(S2.url, { bearer: f.bobToken }).get('/api/me'), 200);
  });
});

// ---------- CLI ----------

describe('backup: command line', () => {
  let srv;
  let dir;
  let badRestore; // the CLI's answer to restoring a damaged archive
  const dirs = [];
  after(async () => {
    await srv?.close();
    for (const d of [dir, ...dirs]) if (d) fs.rmSync(d, { recursive: true, force: true });
  });

  /** Runs the CLI on srv's data dir; a sanitizer report on stderr fails the test. */
  async function cli(s, args) {
    const r = await s.cli(args);
    assert.doesNotMatch(r.stderr, /AddressSanitizer|LeakSanitizer|UndefinedBehaviorSanitizer|runtime error:/, `sanitizer report from ${args.join(' ')}`);
    return r;
  }

  it('backup create -o / verify (exit 0 valid, 1 invalid with problems) / restore FILE --yes (2 without)', { timeout: 180000 }, async () => {
    const first = await startServer({ keepDir: true });
    dir = first.dataDir;
    const pw = first.adminPassword;
    let admin = await adminClient(first);
    const u = await createUser(admin, 'cli-user', { password: BOB_PW });
    await mkEntry(u.client, { project: 'CLI', client: 'CLI Co', task: 'T', start_time: '2024-03-01T08:00:00Z', end_time: '2024-03-01T09:00:00Z', notes: 'kept', tags: ['k'] });
    const ref = await snapshot(admin);
    const out = tmpDir('tt-bk-cli-');
    dirs.push(out);
    const file = path.join(out, 'cli.ttbackup');

    let r = await cli(first, ['backup', 'create', '-o', file]);
    assert.equal(r.code, 0, `create: ${r.stdout}${r.stderr}`);
    assert.match(r.stdout, /Backup \d+: \d+ rows/);
    assert.ok(fs.statSync(file).size > 0);
    r = await cli(first, ['backup', 'create', '-o', file]);
    assert.equal(r.code, 2, `create over an existing file: ${r.code} ${r.stderr}`);

    r = await cli(first, ['backup', 'verify', file]);
    assert.equal(r.code, 0, `verify: ${r.stdout}${r.stderr}`);
    assert.match(r.stdout, /^valid: format 1, schema \d+/);
    assert.match(r.stdout, /time_entries\s+1 rows/);
    const v = await verifyBackup(admin, fs.readFileSync(file));
    assert.equal(v.valid, true, JSON.stringify(v.problems));

    const bad = path.join(out, 'bad.ttbackup');
    const files = readZip(fs.readFileSync(file)).files;
    fs.writeFileSync(bad, rebuild(files, { editManifest: (m) => { m.tables[0].rows += 5; } }));
    r = await cli(first, ['backup', 'verify', bad]);
    assert.equal(r.code, 1, `verify of a damaged archive: ${r.code} ${r.stdout}${r.stderr}`);
    assert.match(r.stdout, /INVALID/);
    assert.match(r.stdout, /problem: .*users has \d+ rows/);
    r = await cli(first, ['backup', 'verify', path.join(out, 'nope.ttbackup')]);
    assert.equal(r.code, 1, `verify of a missing file: ${r.code}`);
    r = await cli(first, ['backup', 'verify']);
    assert.equal(r.code, 2);

    // Change the data, then restore the backup with the CLI (server stopped).
    await mkEntry(u.client, { project: 'CLI', start_time: '2024-03-02T08:00:00Z', end_time: '2024-03-02T09:00:00Z', notes: 'after the backup' });
    await first.close(); // keeps the data dir (keepDir)
    r = await cli(first, ['backup', 'restore', file]);
    assert.equal(r.code, 2, `restore without --yes: ${r.code} ${r.stderr}`);
    badRestore = await cli(first, ['backup', 'restore', bad, '--yes']);
    assert.notEqual(badRestore.code, 0, 'restore of a damaged archive must fail');
    assert.match(badRestore.stderr, /not valid.*users has \d+ rows.*nothing was changed/);
    srv = await startServer({ dataDir: dir, expectNoPassword: true });
    admin = new Client(srv.url);
    assertStatus(await admin.login('admin', pw), 200);
    let s = await snapshot(admin);
    assert.equal(s.entries.length, 2, 'nothing restored without --yes or from a damaged archive');
    const stopped = srv;
    srv = null;
    await stopped.close(); // not its own dir: kept

    r = await cli(stopped, ['backup', 'restore', file, '--yes']);
    assert.equal(r.code, 0, `restore --yes: ${r.stdout}${r.stderr}`);
    assert.match(r.stdout, /Restored \d+ rows/);
    const m = /saved as (\S+)/.exec(r.stdout);
    assert.ok(m && fs.existsSync(m[1]), `pre-restore backup: ${r.stdout}`);
    srv = await startServer({ dataDir: dir, expectNoPassword: true });
    admin = new Client(srv.url);
    assertStatus(await admin.login('admin', pw), 200);
    s = await snapshot(admin);
    assertSameData(s, ref, { loggedIn: ['admin'] });
    const h = s.imports.filter((i) => i.import_type === 'backup');
    assert.equal(h.length, 1, 'the CLI restore is in the import history');
    assert.equal(h[0].user, 'admin');
    assert.equal(h[0].status, 'completed');
    assertStatus(await new Client(srv.url).login('cli-user', BOB_PW), 200);
  });

  it('restore of a damaged archive exits 1 (failed), like verify of it, not 2 (usage error)', T, async () => {
    assert.ok(badRestore, 'the CLI test must have run');
    assert.equal(badRestore.code, 1, `exit ${badRestore.code}: a damaged archive is a failure (SPEC §4: 1 failed, 2 usage error); `
      + `\`backup verify\` of the same file exits 1, and a script cannot tell this 2 from a missing --yes: ${badRestore.stderr}`);
  });
});
