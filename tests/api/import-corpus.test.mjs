// CSV import fixture corpus (SPEC §3.3, reference/external-apis.md §E cases 1-20).
//
// Every tests/fixtures/csv/<name>.csv (or .tsv) has a sibling <name>.expect.json:
//   description            what the fixture is about
//   upload_name            file name sent in the multipart part (default: the fixture's file name)
//   user                   extra fields for POST /api/users (e.g. {"timezone": "America/New_York"})
//   options                form fields sent with the file (timezone, date_order, delimiter, duplicates, atomic)
//   status, total, successful, failed, skipped, warnings   the exact outcome
//   diagnostics            every error and warning: {row, line, column, code, severity[, value][, message_includes]}
//                          (keys left out are not compared; the lists must have the same length)
//   entries                partial entries that must each match one stored entry (tags compared sorted)
//   error_message_includes strings the import's error_message must contain
//   dry_run_status         HTTP status of the dry run when it is not 200
//   dry_run                {status, counters: false}: where the dry run's verdict differs (atomic mode)
// Each fixture is imported by a fresh user: first as a dry run (which must agree with the real
// import and write nothing), then for real with wait=true. A few fixtures whose bytes are not
// valid UTF-8 (or are huge) are generated below instead of being committed.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  startServer, assertApiError, assertStatus, adminClient, createUser, uploadCsv, importCsv,
  importDiagnostics, importEntries, ISO_Z,
} from './lib/server.mjs';

const T = { timeout: 120000 };
const here = path.dirname(fileURLToPath(import.meta.url));
const FIXTURES = path.resolve(here, '..', 'fixtures', 'csv');
const H = 'project_name,client_name,task_name,start_time,end_time,duration_hours,notes,tags,billable';
const COUNTERS = ['total', 'successful', 'failed', 'skipped'];

function loadFixtures() {
  const out = [];
  for (const f of fs.readdirSync(FIXTURES).sort()) {
    const m = /^(.*)\.expect\.json$/.exec(f);
    if (!m) continue;
    const name = m[1];
    const dataFile = ['csv', 'tsv', 'txt'].map((e) => `${name}.${e}`).find((d) => fs.existsSync(path.join(FIXTURES, d)));
    assert.ok(dataFile, `fixture ${name}: no data file next to ${f}`);
    out.push({ name, file: dataFile, content: fs.readFileSync(path.join(FIXTURES, dataFile)), expect: JSON.parse(fs.readFileSync(path.join(FIXTURES, f), 'utf8')) });
  }
  return out;
}

/** Fixtures whose bytes are built here: invalid UTF-8, very long cells. */
function generatedFixtures() {
  const enc = (s) => Buffer.from(s, 'utf8');
  const out = [];
  // Windows-1252 "Müller" (0xFC) in the client column (case 20).
  out.push({
    name: 'gen_windows1252_cell',
    file: 'gen_windows1252_cell.csv',
    content: Buffer.concat([
      enc(`${H}\n`),
      enc('Ansi,'), Buffer.from([0x4d, 0xfc, 0x6c, 0x6c, 0x65, 0x72]), enc(',,2024-08-01 09:00,,1,cp1252 client,,\n'),
      enc('Ansi,Mueller,,2024-08-01 10:00,,1,fine,,\n'),
      enc('Ansi,,,2024-08-01 11:00,,1,'), Buffer.from([0x93, 0x71, 0x94]), enc(',,\n'),
    ]),
    expect: {
      options: { timezone: 'UTC' },
      status: 'partial', total: 3, successful: 1, failed: 2, skipped: 0, warnings: 0,
      diagnostics: [
        { row: 1, line: 2, column: 'client_name', code: 'invalid_utf8', severity: 'error' },
        { row: 3, line: 4, column: 'notes', code: 'invalid_utf8', severity: 'error' },
      ],
      entries: [{ client: 'Mueller', notes: 'fine' }],
    },
  });
  // Windows-1252 in the header: the file cannot be read at all.
  out.push({
    name: 'gen_windows1252_header',
    file: 'gen_windows1252_header.csv',
    content: Buffer.concat([enc('project_name,start_time,duration_hours,Bemerkung '), Buffer.from([0xfc]), enc('\nX,2024-08-02 09:00,1,y\n')]),
    expect: {
      options: { timezone: 'UTC' },
      status: 'failed', total: 0, successful: 0, failed: 0, skipped: 0,
      error_message_includes: ['UTF-8'], dry_run_status: 400, entries: [],
    },
  });
  // A BOM and nothing else.
  out.push({
    name: 'gen_bom_only',
    file: 'gen_bom_only.csv',
    content: Buffer.from([0xef, 0xbb, 0xbf]),
    expect: {
      options: { timezone: 'UTC' },
      status: 'failed', total: 0, successful: 0, failed: 0, skipped: 0,
      error_message_includes: ['empty'], dry_run_status: 400, entries: [],
    },
  });
  // Very long text (case 16): notes cap 10000 bytes, names 200 bytes (bytes, not characters).
  {
    const rows = [
      ['Long', '', '', 'n'.repeat(10000), 'notes of exactly 10000 bytes'],
      ['Long', '', '', 'n'.repeat(10001), null],
      ['P'.repeat(200), '', '', 'project of 200 bytes', 'ok'],
      ['P'.repeat(201), '', '', 'project of 201 bytes', null],
      ['Long', 'C'.repeat(201), '', 'client of 201 bytes', null],
      ['Long', '', 'T'.repeat(201), 'task of 201 bytes', null],
      ['é'.repeat(100), '', '', 'project of 100 two-byte characters', 'ok'],
      ['é'.repeat(100) + 'x', '', '', 'project of 201 bytes in 101 characters', null],
      ['Long', '', '', 'ünïcødé '.repeat(1000).slice(0, 5001), 'ok'], // 5001 characters, under 10000 bytes
    ];
    const cols = ['notes', 'notes', null, 'project_name', 'client_name', 'task_name', null, 'project_name', null];
    const lines = [H];
    rows.forEach(([p, c, t, n], i) => lines.push([p, c, t, `2024-08-03 ${String(i).padStart(2, '0')}:00`, '', '1', n, '', ''].join(',')));
    const diagnostics = [];
    const entries = [];
    rows.forEach(([p, c, t, n, ok], i) => {
      if (ok === null) diagnostics.push({ row: i + 1, line: i + 2, column: cols[i], code: 'too_long', severity: 'error' });
      else entries.push({ project: p, notes: n, start_time: `2024-08-03T${String(i).padStart(2, '0')}:00:00Z` });
    });
    out.push({
      name: 'gen_long_text',
      file: 'gen_long_text.csv',
      content: enc(`${lines.join('\n')}\n`),
      expect: {
        options: { timezone: 'UTC' },
        status: 'partial', total: rows.length, successful: entries.length, failed: diagnostics.length, skipped: 0, warnings: 0,
        diagnostics, entries,
      },
    });
  }
  // 50 tags are fine, 51 are too many.
  {
    const tags = (n) => Array.from({ length: n }, (_, i) => `tag${i}`).join(';');
    out.push({
      name: 'gen_many_tags',
      file: 'gen_many_tags.csv',
      content: enc(`${H}\nTags,,,2024-08-04 09:00,,1,fifty,${tags(50)},\nTags,,,2024-08-04 10:00,,1,fifty-one,${tags(51)},\n`),
      expect: {
        options: { timezone: 'UTC' },
        status: 'partial', total: 2, successful: 1, failed: 1, skipped: 0, warnings: 0,
        diagnostics: [{ row: 2, line: 3, column: 'tags', code: 'too_many_tags', severity: 'error' }],
        entries: [{ notes: 'fifty', tags: Array.from({ length: 50 }, (_, i) => `tag${i}`) }],
      },
    });
  }
  // A record over the reader's caps (a 70 000-byte cell) is one row error; reading goes on after it.
  out.push({
    name: 'gen_row_too_large',
    file: 'gen_row_too_large.csv',
    content: enc(`${H}\nHuge,,,2024-08-05 09:00,,1,before,,\nHuge,,,2024-08-05 10:00,,1,"${'z'.repeat(70000)}\nstill inside",,\nHuge,,,2024-08-05 11:00,,1,after,,\n`),
    expect: {
      options: { timezone: 'UTC' },
      status: 'partial', total: 3, successful: 2, failed: 1, skipped: 0, warnings: 0,
      diagnostics: [{ row: 2, line: 3, column: null, code: 'row_too_large', severity: 'error' }],
      entries: [{ notes: 'before' }, { notes: 'after', start_time: '2024-08-05T11:00:00Z' }],
    },
  });
  return out;
}

const sorted = (a) => [...a].sort();

/** Does the stored entry e have every key of the partial expectation x? */
function entryMatches(e, x) {
  for (const [k, v] of Object.entries(x)) {
    if (k === 'tags') {
      if (JSON.stringify(sorted(e.tags || [])) !== JSON.stringify(sorted(v))) return false;
    } else if (e[k] !== v) return false;
  }
  return true;
}

function diagMatches(d, x) {
  for (const [k, v] of Object.entries(x)) {
    if (k === 'message_includes') {
      if (!v.every((s) => String(d.message).toLowerCase().includes(s.toLowerCase()))) return false;
    } else if (d[k] !== v) return false;
  }
  return true;
}

/** Every expected diagnostic matches a distinct actual one, and there are no others. */
function assertDiagnostics(actual, expected, ctx) {
  const left = [...actual];
  for (const x of expected) {
    const i = left.findIndex((d) => diagMatches(d, x));
    assert.ok(i >= 0, `${ctx}: expected diagnostic ${JSON.stringify(x)} not found among ${JSON.stringify(left)}`);
    left.splice(i, 1);
  }
  assert.deepEqual(left, [], `${ctx}: unexpected diagnostics`);
  for (const d of actual) {
    for (const k of ['row', 'line', 'column', 'value', 'code', 'message', 'severity']) assert.ok(k in d, `${ctx}: diagnostic lacks ${k}: ${JSON.stringify(d)}`);
    assert.ok(['error', 'warning'].includes(d.severity), `${ctx}: severity ${d.severity}`);
    assert.equal(typeof d.message, 'string');
    assert.ok(d.message.length > 0, `${ctx}: empty message`);
  }
}

describe('import fixture corpus', () => {
  let srv;
  let admin;
  let seq = 0;
  const crashes = [];
  before(async () => {
    srv = await startServer();
    admin = await adminClient(srv);
  });
  after(async () => {
    await srv?.close();
    assert.deepEqual(crashes, [], 'the server died during the corpus');
  });

  /**
   * Runs one fixture; when the server died under it, the fixture fails with the
   * server's stderr and a fresh server is started for the next one.
   */
  async function guarded(name, fn) {
    if (srv.exitInfo()) {
      srv = await startServer();
      admin = await adminClient(srv);
    }
    try {
      await fn();
    } catch (e) {
      await new Promise((r) => setTimeout(r, 200));
      if (srv.exitInfo()) {
        const tail = srv.stderr().slice(-2500);
        crashes.push(`${name}: ${JSON.stringify(srv.exitInfo())}`);
        throw new Error(`the server died while importing ${name} (${JSON.stringify(srv.exitInfo())}); stderr tail:\n${tail}\n(test error: ${e.message})`);
      }
      throw e;
    }
  }

  const fixtures = [...loadFixtures(), ...generatedFixtures()];

  it('the committed corpus is complete and byte-exact where it matters', () => {
    const names = fixtures.map((f) => f.name);
    assert.ok(names.length >= 30, `only ${names.length} fixtures`);
    const bom = fixtures.find((f) => f.name === 'bom_crlf');
    assert.deepEqual([...bom.content.subarray(0, 3)], [0xef, 0xbb, 0xbf], 'bom_crlf.csv must start with a BOM');
    assert.ok(bom.content.includes('\r\n'), 'bom_crlf.csv must have CRLF line ends');
    const mixed = fixtures.find((f) => f.name === 'line_endings_mixed').content.toString('latin1');
    assert.ok(/[^\r]\n/.test(mixed) && mixed.includes('\r\n') && /\r[^\n]/.test(mixed) && !mixed.endsWith('\n'),
      'line_endings_mixed.csv must mix LF, CRLF and lone CR and have no final newline');
    assert.ok(fixtures.find((f) => f.name === 'quoted_fields').content.includes('Line one\r\nLine two'), 'quoted_fields.csv keeps CRLF inside quotes');
  });

  for (const fx of fixtures) {
    const x = fx.expect;
    it(`${fx.name}: ${x.description || 'generated'}`, T, () => guarded(fx.name, async () => {
      const uname = `fx${++seq}-${fx.name.replace(/[^a-z0-9]/gi, '').toLowerCase().slice(0, 40)}`;
      const { client } = await createUser(admin, uname, x.user || {});
      const uploadName = x.upload_name || fx.file;
      const fields = { ...(x.options || {}) };

      // 1. Dry run: same verdict, nothing written.
      const dry = await uploadCsv(client, fx.content, { filename: uploadName, fields: { ...fields, dry_run: 'true' } });
      if (x.dry_run_status) {
        assertApiError(dry, x.dry_run_status, 'invalid_file', 'file');
        for (const s of x.error_message_includes || []) assert.ok(dry.json.error.includes(s), `dry-run error should mention ${s}: ${dry.text}`);
      } else {
        assertStatus(dry, 200, 'dry run');
        assert.equal(dry.json.success, true);
        assert.equal(dry.json.dry_run, true);
        const dx = x.dry_run || {};
        assert.equal(dry.json.status, dx.status || x.status, `dry-run status: ${dry.text.slice(0, 600)}`);
        if (dx.counters !== false) {
          for (const k of COUNTERS) assert.equal(dry.json.summary[k], x[k], `dry-run summary.${k}: ${JSON.stringify(dry.json.summary)}`);
          assert.equal(dry.json.preview.length, Math.min(20, x.successful + x.skipped), 'preview holds the first 20 stored or skipped rows');
        }
        if (x.warnings !== undefined) assert.equal(dry.json.summary.warnings, x.warnings, 'dry-run summary.warnings');
        if (x.diagnostics) assertDiagnostics(dry.json.errors, x.diagnostics, 'dry-run errors');
        for (const p of dry.json.preview) {
          for (const k of ['row', 'line', 'project', 'client', 'task', 'start_time', 'end_time', 'duration_seconds', 'notes', 'tags', 'billable', 'duplicate']) {
            assert.ok(k in p, `preview row lacks ${k}: ${JSON.stringify(p)}`);
          }
        }
      }
      const e0 = await client.get('/api/entries');
      assertStatus(e0, 200);
      assert.equal(e0.json.total, 0, 'the dry run stored entries');
      const h0 = await client.get('/api/import/history');
      assertStatus(h0, 200);
      assert.equal(h0.json.total, 0, 'the dry run recorded an import');

      // 2. The real import.
      const s = await importCsv(client, fx.content, { filename: uploadName, fields });
      const ctx = `${fx.name}: ${JSON.stringify(s).slice(0, 900)}`;
      assert.equal(s.status, x.status, `status: ${ctx}`);
      assert.equal(s.total_records, x.total, `total_records: ${ctx}`);
      assert.equal(s.successful_records, x.successful, `successful_records: ${ctx}`);
      assert.equal(s.failed_records, x.failed, `failed_records: ${ctx}`);
      assert.equal(s.skipped_records, x.skipped, `skipped_records: ${ctx}`);
      assert.equal(s.error_count, s.failed_records);
      assert.equal(s.source_file, uploadName);
      assert.equal(s.file_size, fx.content.length);
      assert.equal(s.progress_percent, 100);
      assert.match(s.completed_at, ISO_Z);
      assert.ok(s.summary && typeof s.summary === 'object', `summary: ${ctx}`);
      for (const k of COUNTERS) assert.equal(s.summary[k], x[k], `summary.${k}: ${ctx}`);
      if (x.warnings !== undefined) {
        assert.equal(s.warning_count, x.warnings, `warning_count: ${ctx}`);
        assert.equal(s.summary.warnings, x.warnings, `summary.warnings: ${ctx}`);
      }
      if (x.error_message_includes) {
        assert.equal(typeof s.error_message, 'string', `error_message: ${ctx}`);
        for (const m of x.error_message_includes) assert.ok(s.error_message.includes(m), `error_message should mention ${m}: ${s.error_message}`);
      } else {
        assert.equal(s.error_message, null, `error_message: ${ctx}`);
      }

      // Diagnostics through the errors endpoint, and the summary's first ten.
      const all = await importDiagnostics(client, s.import_id);
      if (x.diagnostics) assertDiagnostics(all.errors, x.diagnostics, 'errors?include_warnings=true');
      const onlyErrors = await importDiagnostics(client, s.import_id, { warnings: false });
      assert.ok(onlyErrors.errors.every((d) => d.severity === 'error'), 'default listing holds errors only');
      assert.equal(onlyErrors.total, all.errors.filter((d) => d.severity === 'error').length);
      const errorRows = new Set(onlyErrors.errors.map((d) => d.row));
      if (!x.error_message_includes) assert.equal(errorRows.size, x.failed, 'one failed row per distinct row with errors');
      assert.deepEqual(s.summary.errors, onlyErrors.errors.slice(0, 10).map((d) => `Row ${d.row}: ${d.message}`), 'summary.errors');

      // What was stored.
      const entries = await importEntries(client, s.import_id);
      assert.equal(entries.length, x.successful, `stored entries: ${JSON.stringify(entries.map((e) => e.notes))}`);
      for (const e of entries) {
        assert.equal(e.source, 'csv');
        assert.equal(e.import_id, s.import_id);
        assert.match(e.start_time, ISO_Z);
        assert.match(e.end_time, ISO_Z);
        assert.equal(Date.parse(e.end_time) - Date.parse(e.start_time), e.duration_seconds * 1000);
      }
      for (const want of x.entries || []) {
        assert.ok(entries.some((e) => entryMatches(e, want)),
          `no stored entry matches ${JSON.stringify(want)}; stored: ${JSON.stringify(entries.map((e) => ({ project: e.project, client: e.client, task: e.task, start_time: e.start_time, end_time: e.end_time, notes: e.notes, tags: e.tags, billable: e.billable })))}`);
      }
      if (entries.length) {
        const starts = entries.map((e) => e.start_time).sort();
        assert.deepEqual(s.summary.date_range, { from: starts[0], to: starts[starts.length - 1] }, 'summary.date_range');
      } else {
        assert.equal(s.summary.date_range, null, 'date_range without stored entries');
      }
    }));
  }
});
