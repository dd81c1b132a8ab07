// Time entries (SPEC §3.2): create/read/update/delete, time zones, validation,
// list filters and totals, clients/projects/tasks/tags.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startServer, assertApiError, assertStatus, adminClient, createUser, ISO_Z,
} from './lib/server.mjs';

const T = { timeout: 60000 };
const ENTRY_KEYS = ['id', 'user_id', 'project_id', 'project', 'client_id', 'client', 'task_id', 'task',
  'start_time', 'end_time', 'duration_seconds', 'notes', 'tags', 'billable', 'source', 'external_id',
  'import_id', 'created_at', 'updated_at'];

const sorted = (a) => [...a].sort();
const ids = (entries) => entries.map((e) => e.id);

describe('entries', () => {
  let srv;
  let admin;
  let adminId;
  before(async () => {
    srv = await startServer();
    admin = await adminClient(srv);
    adminId = admin.user.id;
  });
  after(async () => { await srv?.close(); });

  async function total(c = admin) {
    const r = await c.get('/api/entries');
    assertStatus(r, 200);
    return r.json.total;
  }

  describe('create and read', () => {
    it('creates an entry by project/client/task names with the full entry shape', T, async () => {
      const r = await admin.post('/api/entries', {
        project: 'Website', client: 'Acme', task: 'Design',
        start_time: '2024-01-15T09:00:00Z', end_time: '2024-01-15T10:30:00Z',
        notes: 'Kick-off ✓ "quoted"', tags: ['Dev', 'Frontend'], billable: false,
      });
      assertStatus(r, 201);
      const e = r.json;
      for (const k of ENTRY_KEYS) assert.ok(k in e, `missing key ${k}: ${r.text}`);
      assert.equal(typeof e.id, 'number');
      assert.equal(e.user_id, adminId);
      assert.equal(e.project, 'Website');
      assert.equal(e.client, 'Acme');
      assert.equal(e.task, 'Design');
      assert.equal(typeof e.project_id, 'number');
      assert.equal(typeof e.client_id, 'number');
      assert.equal(typeof e.task_id, 'number');
      assert.equal(e.start_time, '2024-01-15T09:00:00Z');
      assert.equal(e.end_time, '2024-01-15T10:30:00Z');
      assert.equal(e.duration_seconds, 5400);
      assert.equal(e.notes, 'Kick-off ✓ "quoted"');
      assert.deepEqual(sorted(e.tags), ['Dev', 'Frontend']);
      assert.equal(e.billable, false);
      assert.equal(e.source, 'manual');
      assert.equal(e.external_id, null);
      assert.equal(e.import_id, null);
      assert.match(e.created_at, ISO_Z);
      assert.match(e.updated_at, ISO_Z);

      const g = await admin.get(`/api/entries/${e.id}`);
      assertStatus(g, 200);
      assert.deepEqual({ ...g.json, tags: sorted(g.json.tags) }, { ...e, tags: sorted(e.tags) });
    });

    it('billable defaults to true, notes to empty, tags to [], client to the project name, no task', T, async () => {
      const r = await admin.post('/api/entries', {
        project: 'Solo', start_time: '2024-01-16T09:00:00Z', end_time: '2024-01-16T09:15:00Z',
      });
      assertStatus(r, 201);
      assert.equal(r.json.billable, true);
      assert.equal(r.json.client, 'Solo');
      assert.deepEqual(r.json.tags, []);
      assert.ok(r.json.notes === '' || r.json.notes === null, `notes ${r.json.notes}`);
      assert.equal(r.json.task_id, null);
      assert.equal(r.json.task, null);
      assert.equal(r.json.duration_seconds, 900);
    });

    it('project by project_id; same names reuse the project; same project name under another client differs', T, async () => {
      const a = await admin.post('/api/entries', { project: 'Shared', client: 'ClientA', start_time: '2024-01-17T09:00:00Z', duration_seconds: 60 });
      const b = await admin.post('/api/entries', { project: 'Shared', client: 'ClientB', start_time: '2024-01-17T10:00:00Z', duration_seconds: 60 });
      const c = await admin.post('/api/entries', { project: 'Shared', client: 'ClientA', start_time: '2024-01-17T11:00:00Z', duration_seconds: 60 });
      for (const x of [a, b, c]) assertStatus(x, 201);
      assert.notEqual(a.json.project_id, b.json.project_id);
      assert.notEqual(a.json.client_id, b.json.client_id);
      assert.equal(a.json.project_id, c.json.project_id);
      const d = await admin.post('/api/entries', { project_id: b.json.project_id, start_time: '2024-01-17T12:00:00Z', duration_seconds: 120 });
      assertStatus(d, 201);
      assert.equal(d.json.project, 'Shared');
      assert.equal(d.json.client, 'ClientB');
      assert.equal(d.json.client_id, b.json.client_id);
      assert.equal(d.json.end_time, '2024-01-17T12:02:00Z');
    });

    it('duration_seconds instead of end_time computes the end', T, async () => {
      const r = await admin.post('/api/entries', { project: 'Dur', start_time: '2024-01-18T10:00:00Z', duration_seconds: 5400 });
      assertStatus(r, 201);
      assert.equal(r.json.end_time, '2024-01-18T11:30:00Z');
      assert.equal(r.json.duration_seconds, 5400);
    });

    it('honours offsets and answers in UTC', T, async () => {
      const r = await admin.post('/api/entries', {
        project: 'Tz', start_time: '2024-01-15T10:00:00+01:00', end_time: '2024-01-15T12:30:00+01:00',
      });
      assertStatus(r, 201);
      assert.equal(r.json.start_time, '2024-01-15T09:00:00Z');
      assert.equal(r.json.end_time, '2024-01-15T11:30:00Z');
      const n = await admin.post('/api/entries', {
        project: 'Tz', start_time: '2024-01-15T10:00:00-05:30', duration_seconds: 60,
      });
      assertStatus(n, 201);
      assert.equal(n.json.start_time, '2024-01-15T15:30:00Z');
    });

    it('naive times use the given timezone (DST-aware), else the user\'s zone', T, async () => {
      const s = await admin.post('/api/entries', {
        project: 'Tz', start_time: '2024-07-01T10:00:00', end_time: '2024-07-01T11:00:00', timezone: 'Europe/Berlin',
      });
      assertStatus(s, 201);
      assert.equal(s.json.start_time, '2024-07-01T08:00:00Z');
      assert.equal(s.json.end_time, '2024-07-01T09:00:00Z');
      const w = await admin.post('/api/entries', {
        project: 'Tz', start_time: '2024-01-15T10:00:00', duration_seconds: 60, timezone: 'Europe/Berlin',
      });
      assertStatus(w, 201);
      assert.equal(w.json.start_time, '2024-01-15T09:00:00Z');
      // Admin's zone is UTC (no TT_TIMEZONE).
      const u = await admin.post('/api/entries', { project: 'Tz', start_time: '2024-01-15T10:00:00', duration_seconds: 60 });
      assertStatus(u, 201);
      assert.equal(u.json.start_time, '2024-01-15T10:00:00Z');
      // A user whose zone is America/New_York.
      const ny = await createUser(admin, 'nyuser', { timezone: 'America/New_York' });
      const me = await ny.client.get('/api/me');
      assert.equal(me.json.timezone, 'America/New_York');
      const r = await ny.client.post('/api/entries', { project: 'Tz', start_time: '2024-01-15T10:00:00', duration_seconds: 60 });
      assertStatus(r, 201);
      assert.equal(r.json.start_time, '2024-01-15T15:00:00Z');
      // An explicit offset wins over the timezone.
      const o = await ny.client.post('/api/entries', {
        project: 'Tz', start_time: '2024-01-15T10:00:00Z', duration_seconds: 60, timezone: 'Asia/Tokyo',
      });
      assertStatus(o, 201);
      assert.equal(o.json.start_time, '2024-01-15T10:00:00Z');
    });

    it('exactly the maximum length (24 h) is accepted', T, async () => {
      const r = await admin.post('/api/entries', { project: 'Long', start_time: '2024-01-20T00:00:00Z', end_time: '2024-01-21T00:00:00Z' });
      assertStatus(r, 201);
      assert.equal(r.json.duration_seconds, 86400);
    });

    it('tags are matched case-insensitively and reuse one tag', T, async () => {
      const a = await admin.post('/api/entries', { project: 'Tags', start_time: '2024-01-19T09:00:00Z', duration_seconds: 60, tags: ['CaseTag'] });
      const b = await admin.post('/api/entries', { project: 'Tags', start_time: '2024-01-19T10:00:00Z', duration_seconds: 60, tags: ['casetag'] });
      assertStatus(a, 201);
      assertStatus(b, 201);
      assert.equal(b.json.tags.length, 1);
      assert.equal(b.json.tags[0].toLowerCase(), 'casetag');
      const t = await admin.get('/api/tags');
      assertStatus(t, 200);
      const matches = t.json.tags.filter((x) => x.name.toLowerCase() === 'casetag');
      assert.equal(matches.length, 1, `one tag: ${JSON.stringify(t.json.tags)}`);
      assert.equal(typeof matches[0].id, 'number');
    });
  });

  describe('validation (nothing stored on error)', () => {
    const base = { project: 'Val', start_time: '2024-02-01T09:00:00Z', end_time: '2024-02-01T10:00:00Z' };
    const cases = [
      ['end before start', { ...base, end_time: '2024-02-01T08:00:00Z' }, 'invalid_field', ['end_time', 'start_time']],
      ['zero duration (end = start)', { ...base, end_time: base.start_time }, 'invalid_field', ['end_time', 'start_time']],
      ['zero duration_seconds', { ...base, end_time: undefined, duration_seconds: 0 }, 'invalid_field', ['duration_seconds']],
      ['negative duration_seconds', { ...base, end_time: undefined, duration_seconds: -60 }, 'invalid_field', ['duration_seconds']],
      ['over 24 h', { ...base, end_time: '2024-02-02T09:00:01Z' }, 'invalid_field', ['end_time', 'start_time']],
      ['over 24 h by duration', { ...base, end_time: undefined, duration_seconds: 86401 }, 'invalid_field', ['duration_seconds']],
      ['February 30', { ...base, start_time: '2024-02-30T10:00:00Z' }, 'invalid_field', 'start_time'],
      ['hour 25', { ...base, start_time: '2024-02-01T25:00:00Z' }, 'invalid_field', 'start_time'],
      ['not a date', { ...base, start_time: 'yesterday' }, 'invalid_field', 'start_time'],
      ['bad end', { ...base, end_time: '2024-02-01 10:00 tomorrow' }, 'invalid_field', 'end_time'],
      ['unknown timezone', { ...base, timezone: 'Mars/Base' }, 'invalid_field', 'timezone'],
      ['billable as a string', { ...base, billable: 'false' }, 'invalid_field', 'billable'],
      ['tags as a string', { ...base, tags: 'a,b' }, 'invalid_field', 'tags'],
      ['tags with a number', { ...base, tags: ['a', 2] }, 'invalid_field', 'tags'],
      ['notes too long', { ...base, notes: 'n'.repeat(10001) }, 'invalid_field', 'notes'],
      ['unknown project_id', { ...base, project: undefined, project_id: 987654 }, 'invalid_field', 'project_id'],
      ['missing start_time', { ...base, start_time: undefined }, 'missing_field', undefined],
      ['missing end_time and duration', { ...base, end_time: undefined }, ['missing_field', 'invalid_field'], undefined],
      ['unknown field', { ...base, foo: 1 }, 'unknown_field', undefined],
      ['empty project name', { ...base, project: '   ' }, 'invalid_field', 'project'],
    ];
    for (const [name, body, code, field] of cases) {
      it(`rejects: ${name}`, T, async () => {
        const before = await total();
        const r = await admin.post('/api/entries', body);
        assertApiError(r, 400, code, field);
        assert.equal(await total(), before, 'nothing stored');
      });
    }

    it('missing start_time names the field', T, async () => {
      const r = await admin.post('/api/entries', { project: 'Val', end_time: '2024-02-01T10:00:00Z' });
      assertApiError(r, 400, 'missing_field');
      if ('field' in r.json) assert.equal(r.json.field, 'start_time');
    });

    it('notes of exactly 10000 characters are accepted', T, async () => {
      const r = await admin.post('/api/entries', { ...base, notes: 'n'.repeat(10000) });
      assertStatus(r, 201);
      assert.equal(r.json.notes.length, 10000);
    });

    it('a rejected entry creates no project, client or tag', T, async () => {
      const r = await admin.post('/api/entries', {
        project: 'GhostProject', client: 'GhostClient', start_time: '2024-02-01T09:00:00Z',
        end_time: '2024-02-01T08:00:00Z', tags: ['ghosttag'],
      });
      assertApiError(r, 400, 'invalid_field');
      const p = await admin.get('/api/projects');
      assert.ok(!p.json.projects.some((x) => x.name === 'GhostProject'), 'no ghost project');
      const c = await admin.get('/api/clients');
      assert.ok(!c.json.clients.some((x) => x.name === 'GhostClient'), 'no ghost client');
      const t = await admin.get('/api/tags');
      assert.ok(!t.json.tags.some((x) => x.name === 'ghosttag'), 'no ghost tag');
    });
  });

  describe('update and delete', () => {
    it('PUT with a subset changes only those fields', T, async () => {
      const c = await admin.post('/api/entries', {
        project: 'Upd', client: 'UpdC', start_time: '2024-03-01T09:00:00Z', end_time: '2024-03-01T10:00:00Z',
        notes: 'before', tags: ['one'],
      });
      assertStatus(c, 201);
      const u = await admin.put(`/api/entries/${c.json.id}`, { notes: 'after' });
      assertStatus(u, 200);
      assert.equal(u.json.id, c.json.id);
      assert.equal(u.json.notes, 'after');
      assert.equal(u.json.start_time, '2024-03-01T09:00:00Z');
      assert.equal(u.json.end_time, '2024-03-01T10:00:00Z');
      assert.equal(u.json.project, 'Upd');
      assert.deepEqual(u.json.tags, ['one']);
      assert.equal(u.json.created_at, c.json.created_at);
      assert.match(u.json.updated_at, ISO_Z);
      assert.ok(u.json.updated_at >= c.json.created_at, `updated_at ${u.json.updated_at} >= created_at ${c.json.created_at}`);

      const u2 = await admin.put(`/api/entries/${c.json.id}`, {
        end_time: '2024-03-01T11:00:00Z', tags: ['two', 'three'], billable: false, project: 'Upd2', client: 'UpdC',
      });
      assertStatus(u2, 200);
      assert.equal(u2.json.duration_seconds, 7200);
      assert.deepEqual(sorted(u2.json.tags), ['three', 'two']);
      assert.equal(u2.json.billable, false);
      assert.equal(u2.json.project, 'Upd2');
      assert.equal(u2.json.client_id, c.json.client_id);
      const g = await admin.get(`/api/entries/${c.json.id}`);
      assert.deepEqual({ ...g.json, tags: sorted(g.json.tags) }, { ...u2.json, tags: sorted(u2.json.tags) });

      const u3 = await admin.put(`/api/entries/${c.json.id}`, { duration_seconds: 600 });
      assertStatus(u3, 200);
      assert.equal(u3.json.end_time, '2024-03-01T09:10:00Z');
      const u4 = await admin.put(`/api/entries/${c.json.id}`, { tags: [] });
      assertStatus(u4, 200);
      assert.deepEqual(u4.json.tags, []);
    });

    it('a bad PUT changes nothing', T, async () => {
      const c = await admin.post('/api/entries', { project: 'Upd', start_time: '2024-03-02T09:00:00Z', end_time: '2024-03-02T10:00:00Z', notes: 'keep' });
      assertStatus(c, 201);
      const bad = [
        [{ end_time: '2024-03-02T08:00:00Z' }, 'invalid_field'],
        [{ notes: 'changed', start_time: '2024-02-30T00:00:00Z' }, 'invalid_field'],
        [{ notes: 'changed', billable: 'yes' }, 'invalid_field'],
        [{ notes: 'changed', id: 5 }, ['unknown_field', 'invalid_field']],
        [{ notes: 'changed', project_id: 987654 }, 'invalid_field'],
      ];
      for (const [body, code] of bad) {
        const r = await admin.put(`/api/entries/${c.json.id}`, body);
        assert.ok(r.status === 400 || r.status === 403, `PUT ${JSON.stringify(body)} -> ${r.status} ${r.text}`);
        assertApiError(r, r.status, code);
      }
      const g = await admin.get(`/api/entries/${c.json.id}`);
      assert.deepEqual(g.json, c.json);
    });

    it('DELETE removes the entry; afterwards GET/PUT/DELETE are 404', T, async () => {
      const c = await admin.post('/api/entries', { project: 'Del', start_time: '2024-03-03T09:00:00Z', duration_seconds: 60 });
      assertStatus(c, 201);
      const before = await total();
      const d = await admin.del(`/api/entries/${c.json.id}`);
      assertStatus(d, 200);
      assert.equal(d.json.success, true);
      assert.equal(await total(), before - 1);
      assertApiError(await admin.get(`/api/entries/${c.json.id}`), 404, 'not_found');
      assertApiError(await admin.put(`/api/entries/${c.json.id}`, { notes: 'x' }), 404, 'not_found');
      assertApiError(await admin.del(`/api/entries/${c.json.id}`), 404, 'not_found');
    });
  });

  describe('list filters', () => {
    let u; // a dedicated user with exactly four entries
    let e1; let e2; let e3; let e4;
    let p1; let p2; let c2; let t1;
    before(async () => {
      u = (await createUser(admin, 'lister')).client;
      const mk = async (b) => {
        const r = await u.post('/api/entries', b);
        assertStatus(r, 201, `create ${JSON.stringify(b)}`);
        return r.json;
      };
      e1 = await mk({ project: 'LP1', client: 'LC1', start_time: '2024-03-10T23:30:00Z', end_time: '2024-03-11T00:30:00Z', tags: ['la'] });
      e2 = await mk({ project: 'LP2', client: 'LC2', start_time: '2024-03-12T09:00:00Z', end_time: '2024-03-12T10:30:00Z', tags: ['lb'], billable: false });
      e3 = await mk({ project: 'LP1', client: 'LC1', task: 'LT1', start_time: '2024-03-13T08:00:00Z', end_time: '2024-03-13T08:15:00Z', tags: ['la', 'lc'] });
      e4 = await mk({ project: 'LP2', client: 'LC2', start_time: '2024-03-09T12:00:00Z', end_time: '2024-03-09T13:00:00Z' });
      p1 = e1.project_id; p2 = e2.project_id; c2 = e2.client_id; t1 = e3.task_id;
    });

    async function list(q) {
      const r = await u.get(`/api/entries${q ? `?${q}` : ''}`);
      assertStatus(r, 200, q);
      return r.json;
    }

    it('lists newest start first with total, total_seconds, limit and offset', T, async () => {
      const j = await list('');
      assert.deepEqual(ids(j.entries), [e3.id, e2.id, e1.id, e4.id]);
      assert.equal(j.total, 4);
      assert.equal(j.total_seconds, 3600 + 5400 + 900 + 3600);
      assert.equal(typeof j.limit, 'number');
      assert.equal(j.offset, 0);
      for (const e of j.entries) assert.equal(e.user_id, u.user.id);
    });

    it('limit/offset page the list; totals ignore paging', T, async () => {
      const j = await list('limit=2&offset=1');
      assert.deepEqual(ids(j.entries), [e2.id, e1.id]);
      assert.equal(j.total, 4);
      assert.equal(j.total_seconds, 13500);
      assert.equal(j.limit, 2);
      assert.equal(j.offset, 1);
      const k = await list('limit=10&offset=10');
      assert.deepEqual(k.entries, []);
      assert.equal(k.total, 4);
    });

    it('start_date/end_date are inclusive calendar days in the given timezone', T, async () => {
      let j = await list('start_date=2024-03-11&end_date=2024-03-11&timezone=Europe/Berlin');
      assert.deepEqual(ids(j.entries), [e1.id]);
      assert.equal(j.total_seconds, 3600);
      j = await list('start_date=2024-03-10&end_date=2024-03-10&timezone=Europe/Berlin');
      assert.deepEqual(ids(j.entries), []);
      j = await list('start_date=2024-03-10&end_date=2024-03-10&timezone=UTC');
      assert.deepEqual(ids(j.entries), [e1.id]);
      j = await list('start_date=2024-03-10&end_date=2024-03-10'); // user's zone: UTC
      assert.deepEqual(ids(j.entries), [e1.id]);
      j = await list('start_date=2024-03-12&end_date=2024-03-13');
      assert.deepEqual(ids(j.entries), [e3.id, e2.id]);
      j = await list('start_date=2024-03-12');
      assert.deepEqual(ids(j.entries), [e3.id, e2.id]);
      j = await list('end_date=2024-03-09');
      assert.deepEqual(ids(j.entries), [e4.id]);
      j = await list('start_date=2024-03-09&end_date=2024-03-09&timezone=Pacific%2FKiritimati');
      assert.deepEqual(ids(j.entries), [], 'Kiritimati is UTC+14: 03-09 12:00Z is 03-10 there');
    });

    it('filters by project_ids, client_ids, task_ids', T, async () => {
      assert.deepEqual(ids((await list(`project_ids=${p1}`)).entries), [e3.id, e1.id]);
      assert.deepEqual(ids((await list(`project_ids=${p1},${p2}`)).entries), [e3.id, e2.id, e1.id, e4.id]);
      assert.deepEqual(ids((await list(`client_ids=${c2}`)).entries), [e2.id, e4.id]);
      assert.deepEqual(ids((await list(`task_ids=${t1}`)).entries), [e3.id]);
      const j = await list(`project_ids=${p1}&tags=lc`);
      assert.deepEqual(ids(j.entries), [e3.id]);
      assert.equal(j.total_seconds, 900);
    });

    it('filters by tags (any of), billable, source, import_id', T, async () => {
      assert.deepEqual(ids((await list('tags=la')).entries), [e3.id, e1.id]);
      assert.deepEqual(ids((await list('tags=lb,lc')).entries), [e3.id, e2.id]);
      assert.deepEqual(ids((await list('billable=false')).entries), [e2.id]);
      const b = await list('billable=true');
      assert.deepEqual(ids(b.entries), [e3.id, e1.id, e4.id]);
      assert.equal(b.total_seconds, 3600 + 900 + 3600);
      assert.equal((await list('source=manual')).total, 4);
      assert.equal((await list('source=csv')).total, 0);
      assert.equal((await list('import_id=424242')).total, 0);
    });

    it('bad parameters are 400 naming the parameter', T, async () => {
      const bad = [
        ['start_date=2024-13-01', 'start_date'],
        ['end_date=2024-02-30', 'end_date'],
        ['start_date=yesterday', 'start_date'],
        ['billable=maybe', 'billable'],
        ['limit=-1', 'limit'],
        ['limit=abc', 'limit'],
        ['offset=-5', 'offset'],
        ['timezone=Mars/Base', 'timezone'],
        ['project_ids=abc', 'project_ids'],
      ];
      for (const [q, field] of bad) {
        const r = await u.get(`/api/entries?${q}`);
        assertApiError(r, 400, ['invalid_field', 'invalid_input'], field);
      }
    });

    it('day boundaries are exact: the end day includes 23:59:59 and excludes the next midnight', T, async () => {
      const b = (await createUser(admin, 'boundary')).client;
      const late = await b.post('/api/entries', { project: 'B', start_time: '2024-06-01T23:59:59Z', duration_seconds: 60 });
      const next = await b.post('/api/entries', { project: 'B', start_time: '2024-06-02T00:00:00Z', duration_seconds: 60 });
      const early = await b.post('/api/entries', { project: 'B', start_time: '2024-06-01T00:00:00Z', duration_seconds: 60 });
      const prev = await b.post('/api/entries', { project: 'B', start_time: '2024-05-31T23:59:59Z', duration_seconds: 60 });
      for (const x of [late, next, early, prev]) assertStatus(x, 201);
      const r = await b.get('/api/entries?start_date=2024-06-01&end_date=2024-06-01');
      assertStatus(r, 200);
      assert.deepEqual(ids(r.json.entries), [late.json.id, early.json.id]);
      assert.equal(r.json.total_seconds, 120);
    });

    it('GET /api/clients, /api/projects, /api/tasks, /api/tags', T, async () => {
      const c = await u.get('/api/clients');
      assertStatus(c, 200);
      const lc1 = c.json.clients.find((x) => x.name === 'LC1');
      assert.ok(lc1 && typeof lc1.id === 'number', 'LC1 listed');
      assert.equal(lc1.id, e1.client_id);
      const p = await u.get('/api/projects');
      assertStatus(p, 200);
      const lp1 = p.json.projects.find((x) => x.id === p1);
      assert.ok(lp1, 'LP1 listed');
      assert.equal(lp1.name, 'LP1');
      assert.equal(lp1.client_id, e1.client_id);
      assert.equal(lp1.client, 'LC1');
      assert.equal(lp1.billable, true);
      assert.equal(typeof lp1.status, 'string');
      const t = await u.get(`/api/tasks?project_id=${p1}`);
      assertStatus(t, 200);
      assert.ok(t.json.tasks.some((x) => x.id === t1 && x.name === 'LT1'), 'LT1 listed');
      const t2 = await u.get(`/api/tasks?project_id=${p2}`);
      assertStatus(t2, 200);
      assert.ok(!t2.json.tasks.some((x) => x.id === t1), 'LT1 not under LP2');
      const tg = await u.get('/api/tags');
      assertStatus(tg, 200);
      for (const n of ['la', 'lb', 'lc']) assert.ok(tg.json.tags.some((x) => x.name === n), `tag ${n}`);
    });
  });
});

describe('TT_MAX_ENTRY_HOURS (fresh server)', () => {
  let srv;
  let admin;
  before(async () => {
    srv = await startServer({ env: { TT_MAX_ENTRY_HOURS: '2' } });
    admin = await adminClient(srv);
  });
  after(async () => { await srv?.close(); });

  it('caps entry length at the configured hours', T, async () => {
    const ok = await admin.post('/api/entries', { project: 'Cap', start_time: '2024-01-01T08:00:00Z', end_time: '2024-01-01T10:00:00Z' });
    assertStatus(ok, 201);
    const bad = await admin.post('/api/entries', { project: 'Cap', start_time: '2024-01-01T08:00:00Z', end_time: '2024-01-01T10:00:01Z' });
    assertApiError(bad, 400, 'invalid_field', ['end_time', 'start_time']);
  });
});
