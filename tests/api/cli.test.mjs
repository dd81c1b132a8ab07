// Command line: help, usage errors, users, tokens and migrations, run against
// the data directory of a live server (SQLite WAL allows that).

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import {
  startServer, runBin, Client, assertStatus, assertApiError,
} from './lib/server.mjs';

const T = { timeout: 60000 };

describe('cli without a server', () => {
  it('--help exits 0 and lists the commands', T, async () => {
    const r = await runBin(['--help']);
    assert.equal(r.code, 0, r.stderr);
    const text = r.stdout + r.stderr;
    for (const cmd of ['serve', 'migrate', 'user', 'token']) assert.match(text, new RegExp(`\\b${cmd}\\b`));
  });

  it('an unknown command exits 2', T, async () => {
    const r = await runBin(['frobnicate']);
    assert.equal(r.code, 2, `code ${r.code}: ${r.stderr}`);
    assert.ok(r.stderr.length > 0, 'says why on stderr');
  });

  it('an unknown option exits 2', T, async () => {
    const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'tt-cli-'));
    try {
      const r = await runBin(['migrate', 'status', '--no-such-option', '--data-dir', dir], { cwd: dir });
      assert.equal(r.code, 2, `code ${r.code}: ${r.stderr}`);
    } finally {
      await fsp.rm(dir, { recursive: true, force: true });
    }
  });

  it('migrate status on a fresh data dir exits 0', T, async () => {
    const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'tt-cli-'));
    try {
      const up = await runBin(['migrate', 'up', '--data-dir', dir], { cwd: dir });
      assert.equal(up.code, 0, up.stderr);
      const st = await runBin(['migrate', 'status', '--data-dir', dir], { cwd: dir });
      assert.equal(st.code, 0, st.stderr);
      assert.ok((st.stdout + st.stderr).trim().length > 0, 'prints something');
    } finally {
      await fsp.rm(dir, { recursive: true, force: true });
    }
  });
});

describe('cli against a running server', () => {
  let srv;
  before(async () => { srv = await startServer(); });
  after(async () => { await srv?.close(); });

  it('migrate status exits 0', T, async () => {
    const r = await srv.cli(['migrate', 'status']);
    assert.equal(r.code, 0, r.stderr);
  });

  it('user list shows admin', T, async () => {
    const r = await srv.cli(['user', 'list']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /\badmin\b/);
  });

  it('user add with --password-stdin creates a user who can log in over HTTP', T, async () => {
    const pw = 'bob-cli-Password-42';
    const r = await srv.cli(['user', 'add', 'bob', '--password-stdin', '--email', 'bob@example.com'], { input: `${pw}\n` });
    assert.equal(r.code, 0, `code ${r.code}: ${r.stderr}`);
    assert.ok(!(r.stdout + r.stderr).includes(pw), 'password not echoed');
    const list = await srv.cli(['user', 'list']);
    assert.match(list.stdout, /\bbob\b/);
    const c = new Client(srv.url);
    const l = await c.login('bob', pw);
    assertStatus(l, 200, 'bob logs in');
    assert.equal(l.json.user.is_admin, false);
    assert.equal(l.json.user.email, 'bob@example.com');
    assert.ok(!srv.stderr().includes(pw), 'password not in the server log');
  });

  it('user add --admin makes an administrator', T, async () => {
    const pw = 'root2-cli-Password-42';
    const r = await srv.cli(['user', 'add', 'root2', '--admin', '--password-stdin'], { input: `${pw}\n` });
    assert.equal(r.code, 0, r.stderr);
    const l = await new Client(srv.url).login('root2', pw);
    assertStatus(l, 200);
    assert.equal(l.json.user.is_admin, true);
  });

  it('user add of a taken name fails without changing the password', T, async () => {
    const r = await srv.cli(['user', 'add', 'admin', '--password-stdin'], { input: 'other-Password-99\n' });
    assert.notEqual(r.code, 0);
    assertStatus(await new Client(srv.url).login('admin', srv.adminPassword), 200, 'admin password unchanged');
  });

  it('user add rejects a password on argv', T, async () => {
    const r = await srv.cli(['user', 'add', 'carol', '--password', 'carol-Password-1']);
    assert.equal(r.code, 2, `code ${r.code}: ${r.stderr}`);
    const list = await srv.cli(['user', 'list']);
    assert.doesNotMatch(list.stdout, /\bcarol\b/);
  });

  it('user add rejects an invalid username', T, async () => {
    const r = await srv.cli(['user', 'add', 'Not Valid', '--password-stdin'], { input: 'some-Password-1\n' });
    assert.notEqual(r.code, 0);
  });

  it('token create USER prints a tt_ token that works as Bearer; token list does not show it', T, async () => {
    const r = await srv.cli(['token', 'create', 'admin', '--name', 'from-cli']);
    assert.equal(r.code, 0, r.stderr);
    const m = /\btt_[A-Za-z0-9_\-]+/.exec(r.stdout);
    assert.ok(m, `token in stdout: ${r.stdout}`);
    const token = m[0];
    const me = await new Client(srv.url, { bearer: token }).get('/api/me');
    assertStatus(me, 200);
    assert.equal(me.json.username, 'admin');
    const list = await srv.cli(['token', 'list', 'admin']);
    assert.equal(list.code, 0, list.stderr);
    assert.match(list.stdout, /from-cli/);
    assert.ok(!list.stdout.includes(token), 'secret not listed');
    // The HTTP list sees the CLI-created token too.
    const admin = new Client(srv.url);
    assertStatus(await admin.login('admin', srv.adminPassword), 200);
    const tl = await admin.get('/api/tokens');
    const row = tl.json.tokens.find((t) => t.name === 'from-cli');
    assert.ok(row, 'listed over HTTP');
    // Revoke by id through the CLI.
    const rv = await srv.cli(['token', 'revoke', String(row.id)]);
    assert.equal(rv.code, 0, rv.stderr);
    assertApiError(await new Client(srv.url, { bearer: token }).get('/api/me'), 401, 'invalid_token');
  });

  it('token create for an unknown user fails', T, async () => {
    const r = await srv.cli(['token', 'create', 'nobody-here']);
    assert.notEqual(r.code, 0);
    assert.doesNotMatch(r.stdout, /\btt_/);
  });
});
