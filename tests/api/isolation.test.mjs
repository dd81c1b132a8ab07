// Users and isolation: POST /api/users (admin only), and one user's entries are
// invisible and untouchable for another; admins may list with user_id.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startServer, Client, assertApiError, assertStatus, adminClient, createUser,
} from './lib/server.mjs';

const T = { timeout: 60000 };

describe('users and isolation', () => {
  let srv;
  let admin;
  let alice;
  let bob;
  let aliceEntry;
  before(async () => {
    srv = await startServer();
    admin = await adminClient(srv);
    alice = await createUser(admin, 'alice', { email: 'alice@example.com', full_name: 'Alice A', timezone: 'Europe/Berlin' });
    bob = await createUser(admin, 'bob');
    const r = await alice.client.post('/api/entries', {
      project: 'AliceProject', client: 'AliceClient', start_time: '2024-05-01T09:00:00Z',
      end_time: '2024-05-01T10:00:00Z', notes: 'alice private', tags: ['secret'],
    });
    assertStatus(r, 201);
    aliceEntry = r.json;
  });
  after(async () => { await srv?.close(); });

  describe('POST /api/users', () => {
    it('creates a user with the given profile', T, async () => {
      assert.equal(typeof alice.id, 'number');
      assert.equal(alice.user.username, 'alice');
      assert.ok(!JSON.stringify(alice.user).includes(alice.password), 'password not echoed');
      assert.ok(!('password_hash' in alice.user));
      const me = await alice.client.get('/api/me');
      assertStatus(me, 200);
      assert.equal(me.json.id, alice.id);
      assert.equal(me.json.email, 'alice@example.com');
      assert.equal(me.json.full_name, 'Alice A');
      assert.equal(me.json.timezone, 'Europe/Berlin');
      assert.equal(me.json.is_admin, false);
    });

    it('role admin makes an administrator', T, async () => {
      const a2 = await createUser(admin, 'admin2', { role: 'admin' });
      const me = await a2.client.get('/api/me');
      assert.equal(me.json.is_admin, true);
    });

    it('a taken username is 409 conflict', T, async () => {
      const r = await admin.post('/api/users', { username: 'alice', password: 'another-password-1' });
      assertApiError(r, 409, 'conflict');
    });

    it('invalid input is 400 naming the field', T, async () => {
      const cases = [
        [{ username: 'Bad Name', password: 'long-enough-pw-1' }, 'username'],
        [{ username: 'x'.repeat(81), password: 'long-enough-pw-1' }, 'username'],
        [{ username: 'okname', password: 'long-enough-pw-1', role: 'root' }, 'role'],
        [{ username: 'okname', password: 'long-enough-pw-1', timezone: 'Mars/Base' }, 'timezone'],
        [{ username: 'okname', password: 42 }, 'password'],
      ];
      for (const [body, field] of cases) {
        const r = await admin.post('/api/users', body);
        assertApiError(r, 400, ['invalid_field', 'missing_field'], field);
      }
      assertApiError(await admin.post('/api/users', { username: 'nopass' }), 400, 'missing_field');
      const l = await new Client(srv.url).login('okname', 'long-enough-pw-1');
      assert.equal(l.status, 401, 'no user was created by a bad request');
    });

    it('non-admins cannot create users (403 forbidden)', T, async () => {
      const r = await bob.client.post('/api/users', { username: 'mallory', password: 'mallory-password-1' });
      assertApiError(r, 403, 'forbidden');
      const l = await new Client(srv.url).login('mallory', 'mallory-password-1');
      assert.equal(l.status, 401);
    });
  });

  describe('entries are private', () => {
    it('bob cannot GET, PUT or DELETE alice\'s entry (404) and it stays unchanged', T, async () => {
      const path = `/api/entries/${aliceEntry.id}`;
      assertApiError(await bob.client.get(path), 404, 'not_found');
      assertApiError(await bob.client.put(path, { notes: 'pwned' }), 404, 'not_found');
      assertApiError(await bob.client.del(path), 404, 'not_found');
      const t = await bob.client.post('/api/tokens', { name: 'bob' });
      assertStatus(t, 201);
      const bb = new Client(srv.url, { bearer: t.json.token });
      assertApiError(await bb.put(path, { notes: 'pwned' }), 404, 'not_found');
      assertApiError(await bb.del(path), 404, 'not_found');
      const g = await alice.client.get(path);
      assertStatus(g, 200);
      assert.deepEqual(g.json, aliceEntry);
    });

    it('404 for someone else\'s entry looks like 404 for a missing one', T, async () => {
      const a = await bob.client.get(`/api/entries/${aliceEntry.id}`);
      const b = await bob.client.get('/api/entries/987654');
      assert.equal(a.status, b.status);
      assert.equal(a.json.code, b.json.code);
    });

    it('bob\'s list does not include alice\'s entries', T, async () => {
      const r = await bob.client.post('/api/entries', { project: 'BobProject', start_time: '2024-05-02T09:00:00Z', duration_seconds: 1800 });
      assertStatus(r, 201);
      const l = await bob.client.get('/api/entries');
      assertStatus(l, 200);
      assert.ok(!l.json.entries.some((e) => e.id === aliceEntry.id));
      assert.ok(l.json.entries.every((e) => e.user_id === bob.id));
      assert.equal(l.json.total, 1);
      assert.equal(l.json.total_seconds, 1800);
      const lp = await bob.client.get(`/api/entries?project_ids=${aliceEntry.project_id}`);
      assertStatus(lp, 200);
      assert.equal(lp.json.total, 0);
    });

    it('admin sees alice\'s entries with ?user_id, and not by default', T, async () => {
      const own = await admin.get('/api/entries');
      assertStatus(own, 200);
      assert.ok(!own.json.entries.some((e) => e.id === aliceEntry.id), 'admin\'s own list is their own');
      const r = await admin.get(`/api/entries?user_id=${alice.id}`);
      assertStatus(r, 200);
      assert.ok(r.json.entries.some((e) => e.id === aliceEntry.id));
      assert.ok(r.json.entries.every((e) => e.user_id === alice.id));
      assert.equal(r.json.total, 1);
    });

    it('a non-admin passing user_id gets 403 forbidden', T, async () => {
      assertApiError(await bob.client.get(`/api/entries?user_id=${alice.id}`), 403, 'forbidden');
    });

    it('user_id in an entry body: admins may act for another user, others get 403', T, async () => {
      const r = await bob.client.post('/api/entries', {
        project: 'Sneaky', start_time: '2024-05-03T09:00:00Z', duration_seconds: 60, user_id: alice.id,
      });
      assertApiError(r, 403, 'forbidden');
      const own = await bob.client.post('/api/entries', { project: 'BobOwn', start_time: '2024-05-04T09:00:00Z', duration_seconds: 60 });
      assertStatus(own, 201);
      const p = await bob.client.put(`/api/entries/${own.json.id}`, { user_id: alice.id, notes: 'moved' });
      assertApiError(p, 403, 'forbidden');
      assert.deepEqual((await bob.client.get(`/api/entries/${own.json.id}`)).json, own.json);
      const a = await admin.post('/api/entries', {
        project: 'ForAlice', start_time: '2024-05-05T09:00:00Z', duration_seconds: 60, user_id: alice.id,
      });
      assertStatus(a, 201);
      assert.equal(a.json.user_id, alice.id);
      const g = await alice.client.get(`/api/entries/${a.json.id}`);
      assertStatus(g, 200, 'alice owns the entry the admin created for her');
      assertStatus(await alice.client.del(`/api/entries/${a.json.id}`), 200);
      const none = await admin.post('/api/entries', {
        project: 'ForNobody', start_time: '2024-05-05T09:00:00Z', duration_seconds: 60, user_id: 987654,
      });
      assertApiError(none, 400, 'invalid_field', 'user_id');
      // An admin cannot silently move an entry to someone else: refused, nothing changes.
      const mine = await bob.client.post('/api/entries', { project: 'BobKeeps', start_time: '2024-05-06T09:00:00Z', duration_seconds: 60 });
      assertStatus(mine, 201);
      const mv = await admin.put(`/api/entries/${mine.json.id}`, { user_id: alice.id, notes: 'moved' });
      assertApiError(mv, 400, 'invalid_field', 'user_id');
      assert.deepEqual((await bob.client.get(`/api/entries/${mine.json.id}`)).json, mine.json);
    });

    it('a user\'s tokens list shows only their tokens', T, async () => {
      await alice.client.post('/api/tokens', { name: 'alice-only' });
      const l = await bob.client.get('/api/tokens');
      assertStatus(l, 200);
      assert.ok(!l.json.tokens.some((t) => t.name === 'alice-only'));
    });
  });
});
