/*
 * test_csv_reader.c - the streaming CSV reader: BOMs, line ends, quoting,
 * sniffing, blank lines, UTF-8 checks, non-text detection, caps, malformed
 * quotes, seek/resume and a large file. Every parsing test writes its input
 * to a temporary file and reads it at several chunk sizes (1, 2, 3, 7 bytes
 * and the default) so that records, quotes, CRLFs and UTF-8 sequences
 * straddle chunk boundaries.
 */
#include "unit.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "imports/csv_reader.h"

static char dir[64];
static char path[128];

static const size_t chunks[] = {1, 2, 3, 7, 0};
#define NCHUNKS (sizeof(chunks) / sizeof(chunks[0]))

static int group_setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/tt-csv-XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	snprintf(path, sizeof(path), "%s/t.csv", dir);
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	unlink(path);
	return rmdir(dir);
}

static void write_file(const char *data, size_t n)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, n), (ssize_t)n);
	close(fd);
}

static int open_file(void)
{
	int fd = open(path, O_RDONLY);

	assert_true(fd >= 0);
	return fd;
}

static const char *status_name(int st)
{
	switch (st) {
	case CSV_ETOOBIG: return "ETOOBIG";
	case CSV_EQUOTE: return "EQUOTE";
	case CSV_EIO: return "EIO";
	case CSV_EENCODING: return "EENCODING";
	}
	return "?";
}

/*
 * One line per call until EOF or a sticky error:
 *   "<record> L<line> <offset>-<end_offset> [field]{quoted field} U<i>@<off>"
 *   "<record> L<line> <offset>-<end_offset> E<status>"
 * then, when `summary`, "EOF b<blank lines> <delimiter>" (T for TAB).
 */
static void dump_reader(csv_reader *r, FILE *out, bool summary)
{
	csv_record rec;
	int st;

	while ((st = csv_reader_next(r, &rec)) != CSV_EOF) {
		fprintf(out, "%lld L%lld %lld-%lld", (long long)rec.record, (long long)rec.line,
		        (long long)rec.offset, (long long)rec.end_offset);
		if (st == CSV_OK) {
			fputc(' ', out);
			for (size_t i = 0; i < rec.nfields; i++) {
				const csv_field *f = &rec.fields[i];

				assert_int_equal(f->ptr[f->len], '\0');
				fputc(f->quoted ? '{' : '[', out);
				fwrite(f->ptr, 1, f->len, out);
				fputc(f->quoted ? '}' : ']', out);
			}
			if (rec.bad_utf8_field >= 0)
				fprintf(out, " U%d@%lld", rec.bad_utf8_field,
				        (long long)rec.bad_utf8_offset);
			else
				assert_int_equal(rec.bad_utf8_offset, -1);
			fputc('\n', out);
			continue;
		}
		assert_int_equal(rec.nfields, 0);
		fprintf(out, " %s", status_name(st));
		if (st == CSV_EENCODING) {
			csv_record again;

			fprintf(out, " U%d@%lld\n", rec.bad_utf8_field,
			        (long long)rec.bad_utf8_offset);
			/* sticky */
			assert_int_equal(csv_reader_next(r, &again), CSV_EENCODING);
			assert_int_equal(again.offset, rec.offset);
			return;
		}
		fputc('\n', out);
		if (st == CSV_EIO)
			return;
	}
	if (summary) {
		char d = csv_reader_delimiter(r);

		fprintf(out, "EOF b%lld %c\n", (long long)csv_reader_blank_lines(r),
		        d == '\t' ? 'T' : d);
		/* EOF stays EOF */
		assert_int_equal(csv_reader_next(r, &rec), CSV_EOF);
	}
}

static char *dump(const csv_options *o, size_t chunk)
{
	csv_options opts = {0};
	char *s = NULL;
	size_t n = 0;
	FILE *out = open_memstream(&s, &n);
	csv_reader *r;
	int fd = open_file();

	if (o)
		opts = *o;
	opts.chunk = chunk;
	r = csv_reader_new(fd, &opts);
	dump_reader(r, out, true);
	csv_reader_free(r);
	close(fd);
	fclose(out);
	return s;
}

static void check_n(const char *data, size_t n, const csv_options *o, const char *want)
{
	write_file(data, n);
	for (size_t i = 0; i < NCHUNKS; i++) {
		char *got = dump(o, chunks[i]);

		if (strcmp(got, want) != 0)
			print_error("chunk size %zu, input:\n%.*s\n", chunks[i], (int)n, data);
		assert_string_equal(got, want);
		free(got);
	}
}

/* string literals may hold NULs: use their size */
#define CHECK(lit, opts, want) check_n((lit), sizeof(lit) - 1, (opts), (want))

static void test_empty_and_bom(void **state)
{
	(void)state;
	CHECK("", NULL, "EOF b0 ,\n");
	CHECK("\xEF\xBB\xBF", NULL, "EOF b0 ,\n");
	CHECK("\xEF\xBB\xBF\n\r\n", NULL, "EOF b2 ,\n");
	CHECK("\n", NULL, "EOF b1 ,\n");
	CHECK("\xEF\xBB\xBFname,age\nbob,3\n", NULL,
	      "1 L1 3-12 [name][age]\n"
	      "2 L2 12-18 [bob][3]\n"
	      "EOF b0 ,\n");
	/* a BOM is only special at the very start */
	CHECK("a\n\xEF\xBB\xBF\n", NULL, "1 L1 0-2 [a]\n2 L2 2-6 [\xEF\xBB\xBF]\nEOF b0 ,\n");
	/* short files that look like the start of a BOM */
	CHECK("\xEF", NULL, "1 L1 0-1 [\xEF] U0@0\nEOF b0 ,\n");
	CHECK("\xEF\xBB", NULL, "1 L1 0-2 [\xEF\xBB] U0@0\nEOF b0 ,\n");
	CHECK("a", NULL, "1 L1 0-1 [a]\nEOF b0 ,\n");
}

static void test_line_ends(void **state)
{
	(void)state;
	CHECK("a,b\r\nc,d\re,f\ng,h", NULL,
	      "1 L1 0-5 [a][b]\n"
	      "2 L2 5-9 [c][d]\n"
	      "3 L3 9-13 [e][f]\n"
	      "4 L4 13-16 [g][h]\n"
	      "EOF b0 ,\n");
	/* CR CR LF: a record end, then a blank CRLF line */
	CHECK("a\r\r\nb\n", NULL, "1 L1 0-2 [a]\n2 L3 4-6 [b]\nEOF b1 ,\n");
	/* LF CR: a record end, then a blank CR line */
	CHECK("a\n\rb", NULL, "1 L1 0-2 [a]\n2 L3 3-4 [b]\nEOF b1 ,\n");
	/* final CR / CRLF, and no final newline after a quoted field */
	CHECK("a\r", NULL, "1 L1 0-2 [a]\nEOF b0 ,\n");
	CHECK("a\r\n", NULL, "1 L1 0-3 [a]\nEOF b0 ,\n");
	CHECK("x,\"a\"", NULL, "1 L1 0-5 [x]{a}\nEOF b0 ,\n");
	CHECK("x,\"a\"\r", NULL, "1 L1 0-6 [x]{a}\nEOF b0 ,\n");
	CHECK("x,", NULL, "1 L1 0-2 [x][]\nEOF b0 ,\n");
}

static void test_quoted(void **state)
{
	(void)state;
	/* line breaks inside quotes are kept as written and counted */
	CHECK("\"x\ny\",1\n\"p\r\nq\",2\nz,3\n", NULL,
	      "1 L1 0-8 {x\ny}[1]\n"
	      "2 L3 8-17 {p\r\nq}[2]\n"
	      "3 L5 17-21 [z][3]\n"
	      "EOF b0 ,\n");
	CHECK("\"a\rb\",c\nd\n", NULL, "1 L1 0-8 {a\rb}[c]\n2 L3 8-10 [d]\nEOF b0 ,\n");
	CHECK("\"a\r\r\n\nb\"\nc\n", NULL, "1 L1 0-9 {a\r\r\n\nb}\n2 L5 9-11 [c]\nEOF b0 ,\n");
	/* doubled quotes; a quote inside an unquoted field is data */
	CHECK("\"a\"\"b\",\"\"\"\"\n\"\",x\"\"y\n", NULL,
	      "1 L1 0-12 {a\"b}{\"}\n"
	      "2 L2 12-20 {}[x\"\"y]\n"
	      "EOF b0 ,\n");
	/* delimiters inside quotes */
	CHECK("\"a,b\",\"c;d\"\n", NULL, "1 L1 0-12 {a,b}{c;d}\nEOF b0 ,\n");
	/* a space before a quote makes the field unquoted */
	CHECK("a, \"b\"\n", NULL, "1 L1 0-7 [a][ \"b\"]\nEOF b0 ,\n");
}

static void test_sniff(void **state)
{
	csv_options o = {.delimiter = ';'};

	(void)state;
	CHECK("a;b;c\n1;2;3\n", NULL, "1 L1 0-6 [a][b][c]\n2 L2 6-12 [1][2][3]\nEOF b0 ;\n");
	CHECK("a\tb\n1\t2\n", NULL, "1 L1 0-4 [a][b]\n2 L2 4-8 [1][2]\nEOF b0 T\n");
	/* ties: ',' then ';' then TAB */
	CHECK("a,b;c\n", NULL, "1 L1 0-6 [a][b;c]\nEOF b0 ,\n");
	CHECK("a;b\tc\n", NULL, "1 L1 0-6 [a][b\tc]\nEOF b0 ;\n");
	CHECK("a\tb\tc;d;e,f,g,h\n", NULL, "1 L1 0-16 [a\tb\tc;d;e][f][g][h]\nEOF b0 ,\n");
	/* none: ',' */
	CHECK("abc\n", NULL, "1 L1 0-4 [abc]\nEOF b0 ,\n");
	/* quoted delimiters do not count, doubled quotes stay inside */
	CHECK("\"a,b,c\";d;e\n", NULL, "1 L1 0-12 {a,b,c}[d][e]\nEOF b0 ;\n");
	CHECK("\"a\"\",,\";b\n", NULL, "1 L1 0-10 {a\",,}[b]\nEOF b0 ;\n");
	/* quoted line breaks belong to the first record */
	CHECK("\"a\n,,,\";b\n", NULL, "1 L1 0-10 {a\n,,,}[b]\nEOF b0 ;\n");
	/* only the first record counts; blank lines before it are skipped */
	CHECK("a;b\n1,2,3,4\n", NULL, "1 L1 0-4 [a][b]\n2 L2 4-12 [1,2,3,4]\nEOF b0 ;\n");
	CHECK("\n\r\na\tb\n", NULL, "1 L3 3-7 [a][b]\nEOF b2 T\n");
	CHECK("\xEF\xBB\xBF"
	      "a;b\n",
	      NULL, "1 L1 3-7 [a][b]\nEOF b0 ;\n");
	/* an explicit delimiter wins */
	CHECK("a,b;c\n", &o, "1 L1 0-6 [a,b][c]\nEOF b0 ;\n");
	o.delimiter = '\t';
	CHECK("a,b;c\td\n", &o, "1 L1 0-8 [a,b;c][d]\nEOF b0 T\n");
	o.delimiter = '|';
	CHECK("a|b,c\n", &o, "1 L1 0-6 [a][b,c]\nEOF b0 |\n");
}

static void test_empty_fields_blank_lines_spaces(void **state)
{
	(void)state;
	CHECK(",,,\n", NULL, "1 L1 0-4 [][][][]\nEOF b0 ,\n");
	CHECK("a,,b\n,\n\"\"\n", NULL,
	      "1 L1 0-5 [a][][b]\n2 L2 5-7 [][]\n3 L3 7-10 {}\nEOF b0 ,\n");
	CHECK("a\nb\n\n\n", NULL, "1 L1 0-2 [a]\n2 L2 2-4 [b]\nEOF b2 ,\n");
	CHECK("a\n\r\n\rb\n", NULL, "1 L1 0-2 [a]\n2 L4 5-7 [b]\nEOF b2 ,\n");
	CHECK("a\n\n\nb\r\n\r\n", NULL, "1 L1 0-2 [a]\n2 L4 4-7 [b]\nEOF b3 ,\n");
	/* spaces are data: a line of spaces is a record */
	CHECK("  \n a , b \n", NULL, "1 L1 0-3 [  ]\n2 L2 3-11 [ a ][ b ]\nEOF b0 ,\n");
	CHECK("\t\n", NULL, "1 L1 0-2 [][]\nEOF b0 T\n");
	/* ragged rows come back as they are */
	CHECK("a,b,c\n1\n1,2,3,4,5\n", NULL,
	      "1 L1 0-6 [a][b][c]\n"
	      "2 L2 6-8 [1]\n"
	      "3 L3 8-18 [1][2][3][4][5]\n"
	      "EOF b0 ,\n");
}

static void test_utf8(void **state)
{
	(void)state;
	/* emoji, RTL, combining marks, the edges of the valid ranges */
	CHECK("\xF0\x9F\x98\x80,\xD7\xA9\xD7\x9C\xD7\x95\xD7\x9D,e\xCC\x81\n"
	      "\xC2\x80,\xDF\xBF,\xE0\xA0\x80,\xED\x9F\xBF,\xEE\x80\x80,\xEF\xBF\xBF,"
	      "\xF0\x90\x80\x80,\xF4\x8F\xBF\xBF\n",
	      NULL,
	      "1 L1 0-18 [\xF0\x9F\x98\x80][\xD7\xA9\xD7\x9C\xD7\x95\xD7\x9D][e\xCC\x81]\n"
	      "2 L2 18-50 "
	      "[\xC2\x80][\xDF\xBF][\xE0\xA0\x80][\xED\x9F\xBF][\xEE\x80\x80][\xEF\xBF\xBF]"
	      "[\xF0\x90\x80\x80][\xF4\x8F\xBF\xBF]\n"
	      "EOF b0 ,\n");
	/* one bad sequence per record, at field 1, offset = start of the sequence */
	CHECK("n,a\xFF\n"            /* 0-5: FF at 3 */
	      "n,\xC0\xAF\n"         /* 5-10: overlong '/' at 7 */
	      "n,\xC1\xBF\n"         /* 10-15 */
	      "n,\xE0\x80\xAF\n"     /* 15-21: overlong 3 bytes at 17 */
	      "n,\xF0\x80\x80\xAF\n" /* 21-28: overlong 4 bytes at 23 */
	      "n,\xED\xA0\x80\n"     /* 28-34: surrogate U+D800 at 30 */
	      "n,\xED\xBF\xBF\n"     /* 34-40: surrogate U+DFFF at 36 */
	      "n,\xF4\x90\x80\x80\n" /* 40-47: U+110000 at 42 */
	      "n,\xF5\x80\x80\x80\n" /* 47-54 */
	      "n,ab\xE2\x82\n"       /* 54-61: truncated at field end, at 58 */
	      "n,\xE2\x82,x\n"       /* 61-68: cut by the delimiter, at 63 */
	      "n,\x80\n"             /* 68-72: stray continuation at 70 */
	      "n,\xC3(\n"            /* 72-77: bad continuation at 74 */
	      "\xFF,\xFE\n"          /* 77-81: the first bad field wins: field 0 at 77 */
	      "ok,\"a\"\"\xC3\"\n",  /* 81-91: quoted, after a doubled quote: at 88 */
	      NULL,
	      "1 L1 0-5 [n][a\xFF] U1@3\n"
	      "2 L2 5-10 [n][\xC0\xAF] U1@7\n"
	      "3 L3 10-15 [n][\xC1\xBF] U1@12\n"
	      "4 L4 15-21 [n][\xE0\x80\xAF] U1@17\n"
	      "5 L5 21-28 [n][\xF0\x80\x80\xAF] U1@23\n"
	      "6 L6 28-34 [n][\xED\xA0\x80] U1@30\n"
	      "7 L7 34-40 [n][\xED\xBF\xBF] U1@36\n"
	      "8 L8 40-47 [n][\xF4\x90\x80\x80] U1@42\n"
	      "9 L9 47-54 [n][\xF5\x80\x80\x80] U1@49\n"
	      "10 L10 54-61 [n][ab\xE2\x82] U1@58\n"
	      "11 L11 61-68 [n][\xE2\x82][x] U1@63\n"
	      "12 L12 68-72 [n][\x80] U1@70\n"
	      "13 L13 72-77 [n][\xC3(] U1@74\n"
	      "14 L14 77-81 [\xFF][\xFE] U0@77\n"
	      "15 L15 81-91 [ok]{a\"\xC3} U1@88\n"
	      "EOF b0 ,\n");
	/* long ASCII runs around a bad byte (the 8-byte fast path) */
	CHECK("abcdefghijklmnopq\xFFrstuvwxyz\n", NULL,
	      "1 L1 0-28 [abcdefghijklmnopq\xFFrstuvwxyz] U0@17\nEOF b0 ,\n");
}

static void test_not_text(void **state)
{
	(void)state;
	CHECK("a,b\nc,\0d\ne\n", NULL, "1 L1 0-4 [a][b]\n2 L2 4-6 EENCODING U1@6\n");
	CHECK("\0", NULL, "1 L1 0-0 EENCODING U0@0\n");
	CHECK("a\n\"x\n\0\"\n", NULL, "1 L1 0-2 [a]\n2 L2 2-5 EENCODING U0@5\n");
	CHECK("a\n\"x\"\0\n", NULL, "1 L1 0-2 [a]\n2 L2 2-5 EENCODING U0@5\n");
	CHECK("a\0,\0b\0", NULL, "1 L1 0-1 EENCODING U0@1\n");
	/* NUL after a blank line / a CR */
	CHECK("\n\r\0", NULL, "1 L3 2-2 EENCODING U0@2\n");
	/* UTF-16 and UTF-32 byte order marks */
	CHECK("\xFF\xFE"
	      "a\0",
	      NULL, "1 L1 0-0 EENCODING U-1@0\n");
	CHECK("\xFE\xFF\0a", NULL, "1 L1 0-0 EENCODING U-1@0\n");
	CHECK("\xFF\xFE", NULL, "1 L1 0-0 EENCODING U-1@0\n");
	CHECK("\xFF\xFE\0\0a\0\0\0", NULL, "1 L1 0-0 EENCODING U-1@0\n");
	CHECK("\0\0\xFE\xFF\0\0\0a", NULL, "1 L1 0-0 EENCODING U-1@0\n");
	assert_non_null(strstr(csv_status_message(CSV_EENCODING), "UTF-8"));
	assert_string_equal(csv_status_message(CSV_OK), "ok");
	assert_non_null(csv_status_message(12345));
}

static void test_caps(void **state)
{
	csv_options o = {.max_field = 4};

	(void)state;
	CHECK("abcd,e\nabcde,f\ng,h\n", &o,
	      "1 L1 0-7 [abcd][e]\n"
	      "2 L2 7-15 ETOOBIG\n"
	      "3 L3 15-19 [g][h]\n"
	      "EOF b0 ,\n");
	/* the skip respects quotes: the line break and comma inside are data */
	CHECK("\"abcde\n,x\",y\nz\n", &o, "1 L1 0-13 ETOOBIG\n2 L3 13-15 [z]\nEOF b0 ,\n");
	CHECK("\"ab\"\"\"\"\",\"a\"\"\"\"\"\nz\n", &o,
	      "1 L1 0-17 {ab\"\"}{a\"\"}\n2 L2 17-19 [z]\nEOF b0 ,\n");
	CHECK("\"abc\"\"\",x\n\"abcd\"\"\",x\nz\n", &o,
	      "1 L1 0-10 {abc\"}[x]\n2 L2 10-21 ETOOBIG\n3 L3 21-23 [z]\nEOF b0 ,\n");
	CHECK("\"ab\"\"\",\"a\"\"\"\nz\n", &o, "1 L1 0-13 {ab\"}{a\"}\n2 L2 13-15 [z]\nEOF b0 ,\n");

	o = (csv_options){.max_record = 8};
	CHECK("abc,def\nabc,defg\nabcd,efgh,i\na,,,,,,,,\na,,,,,,,\nx\n", &o,
	      "1 L1 0-8 [abc][def]\n"
	      "2 L2 8-17 [abc][defg]\n"
	      "3 L3 17-29 ETOOBIG\n"
	      "4 L4 29-39 ETOOBIG\n"
	      "5 L5 39-48 [a][][][][][][][]\n"
	      "6 L6 48-50 [x]\n"
	      "EOF b0 ,\n");
	o = (csv_options){.max_record = 1};
	CHECK("a\nab\n,\n,,\n\"\"\nb\n", &o,
	      "1 L1 0-2 [a]\n2 L2 2-5 ETOOBIG\n3 L3 5-7 [][]\n4 L4 7-10 ETOOBIG\n5 L5 10-13 {}\n"
	      "6 L6 13-15 [b]\nEOF b0 ,\n");

	o = (csv_options){.max_fields = 3};
	CHECK("a,b,c\na,b,c,d\n,,,\n,,\nx\n", &o,
	      "1 L1 0-6 [a][b][c]\n"
	      "2 L2 6-14 ETOOBIG\n"
	      "3 L3 14-18 ETOOBIG\n"
	      "4 L4 18-21 [][][]\n"
	      "5 L5 21-23 [x]\n"
	      "EOF b0 ,\n");
	o = (csv_options){.max_fields = 1};
	CHECK("a\na,b\n\"a,b\"\n", &o,
	      "1 L1 0-2 [a]\n2 L2 2-6 ETOOBIG\n3 L3 6-12 {a,b}\nEOF b0 ,\n");

	/* a too-big record whose quote never closes: EQUOTE wins */
	o = (csv_options){.max_field = 2};
	CHECK("ok\n\"abcdef\n", &o, "1 L1 0-3 [ok]\n2 L2 3-11 EQUOTE\nEOF b0 ,\n");
}

static void test_caps_large(void **state)
{
	/* a 3 MB field with the default caps, then a normal record */
	size_t big = 3u << 20, n = big + 16;
	char *data = malloc(n);
	csv_record rec;
	csv_reader *r;
	int fd;

	(void)state;
	memcpy(data, "h1,h2\n", 6);
	memset(data + 6, 'x', big);
	memcpy(data + 6 + big, ",y\nz,w\n", 7);
	n = 6 + big + 7;
	write_file(data, n);
	free(data);
	fd = open_file();
	r = csv_reader_new(fd, NULL);
	assert_int_equal(csv_reader_next(r, &rec), CSV_OK);
	assert_int_equal(csv_reader_next(r, &rec), CSV_ETOOBIG);
	assert_int_equal(rec.record, 2);
	assert_int_equal(rec.offset, 6);
	assert_int_equal(rec.end_offset, 6 + big + 3);
	assert_int_equal(csv_reader_next(r, &rec), CSV_OK);
	assert_int_equal(rec.record, 3);
	assert_int_equal(rec.line, 3);
	assert_int_equal(rec.nfields, 2);
	assert_string_equal(rec.fields[0].ptr, "z");
	assert_int_equal(csv_reader_next(r, &rec), CSV_EOF);
	assert_int_equal(csv_reader_bytes(r), (int64_t)n);
	csv_reader_free(r);
	close(fd);
}

static void test_bad_quotes(void **state)
{
	(void)state;
	/* unterminated: the record runs to EOF */
	CHECK("a,b\n\"c,d\ne,f\n", NULL, "1 L1 0-4 [a][b]\n2 L2 4-13 EQUOTE\nEOF b0 ,\n");
	CHECK("\"", NULL, "1 L1 0-1 EQUOTE\nEOF b0 ,\n");
	CHECK("a,\"b\"\"", NULL, "1 L1 0-6 EQUOTE\nEOF b0 ,\n");
	CHECK("a,\"\r", NULL, "1 L1 0-4 EQUOTE\nEOF b0 ,\n");
	/* junk after a closing quote: that record is bad, the next one is read */
	CHECK("\"ab\"c,d\ne,f\n", NULL, "1 L1 0-8 EQUOTE\n2 L2 8-12 [e][f]\nEOF b0 ,\n");
	CHECK("x,\"ab\" \r\ne,f\n", NULL, "1 L1 0-9 EQUOTE\n2 L2 9-13 [e][f]\nEOF b0 ,\n");
	CHECK("\"a\"b\"c,d\nx\n", NULL, "1 L1 0-9 EQUOTE\n2 L2 9-11 [x]\nEOF b0 ,\n");
	CHECK("\"a\"b,\"c\nd\"\nx\n", NULL, "1 L1 0-11 EQUOTE\n2 L3 11-13 [x]\nEOF b0 ,\n");
	CHECK("\"a\"b", NULL, "1 L1 0-4 EQUOTE\nEOF b0 ,\n");
	/* junk in a record that is also too big: the first problem is reported */
	{
		csv_options o = {.max_field = 1};

		CHECK("\"abc\"d\nx\n", &o, "1 L1 0-7 ETOOBIG\n2 L2 7-9 [x]\nEOF b0 ,\n");
		CHECK("\"a\"bcd\nx\n", &o, "1 L1 0-7 EQUOTE\n2 L2 7-9 [x]\nEOF b0 ,\n");
	}
}

/* a file with a bit of everything, for seeking */
static const char seek_data[] = "\xEF\xBB\xBF"
                                "id;name;note\r\n"
                                "1;\"multi\nline\";x\r\n"
                                "\r\n"
                                "2;plain;\"quote \"\"here\"\"\"\n"
                                "3;\"bad\"junk;y\n"
                                "\n\n"
                                "4;\xC3\xA9t\xC3\xA9;\xFF\r"
                                "5;\"a;b\";\"c\rd\"\n"
                                "6;toolongfieldtoolongfield;z\n"
                                "7;;\n"
                                "8;\"open\n";

static void test_seek_resume(void **state)
{
	csv_options o = {.max_field = 16};
	int64_t ends[32], lines[32], recs[32];
	char *lines_txt[32];
	size_t n = 0;
	csv_record rec;
	csv_reader *r;
	int fd, st;

	(void)state;
	write_file(seek_data, sizeof(seek_data) - 1);
	fd = open_file();
	o.chunk = 5;
	r = csv_reader_new(fd, &o);
	while ((st = csv_reader_next(r, &rec)) != CSV_EOF) {
		char *s = NULL;
		size_t len = 0;
		FILE *out = open_memstream(&s, &len);

		assert_true(n < 32);
		assert_true(st == CSV_OK || st == CSV_ETOOBIG || st == CSV_EQUOTE);
		fprintf(out, "%d %lld L%lld %lld-%lld %zu", st, (long long)rec.record,
		        (long long)rec.line, (long long)rec.offset, (long long)rec.end_offset,
		        rec.nfields);
		for (size_t i = 0; i < rec.nfields; i++)
			fprintf(out, "[%s]", rec.fields[i].ptr);
		fprintf(out, " U%d@%lld", rec.bad_utf8_field, (long long)rec.bad_utf8_offset);
		fclose(out);
		lines_txt[n] = s;
		ends[n] = rec.end_offset;
		recs[n] = rec.record;
		lines[n] = csv_reader_line(r);
		n++;
	}
	assert_int_equal(n, 9);
	assert_int_equal(csv_reader_delimiter(r), ';');
	assert_int_equal(csv_reader_blank_lines(r), 3);
	/* spot checks of the full pass */
	assert_string_equal(lines_txt[0], "1 1 L1 3-17 3[id][name][note] U-1@-1");
	assert_string_equal(lines_txt[1], "1 2 L2 17-35 3[1][multi\nline][x] U-1@-1");
	assert_string_equal(lines_txt[2], "1 3 L5 37-62 3[2][plain][quote \"here\"] U-1@-1");
	assert_string_equal(lines_txt[3], "-2 4 L6 62-76 0 U-1@-1");
	assert_string_equal(lines_txt[4], "1 5 L9 78-88 3[4][\xC3\xA9t\xC3\xA9][\xFF] U2@86");
	assert_string_equal(lines_txt[5], "1 6 L10 88-102 3[5][a;b][c\rd] U-1@-1");
	assert_string_equal(lines_txt[6], "-1 7 L12 102-131 0 U-1@-1");
	assert_string_equal(lines_txt[7], "1 8 L13 131-135 3[7][][] U-1@-1");
	assert_string_equal(lines_txt[8], "-2 9 L14 135-143 0 U-1@-1");

	/* resume after every record, on this reader and on a fresh one, at several chunk sizes */
	for (size_t k = 0; k < n; k++) {
		for (size_t c = 0; c < NCHUNKS; c++) {
			csv_options o2 = o;
			csv_reader *r2;
			size_t j = k + 1;

			o2.chunk = chunks[c];
			o2.delimiter = csv_reader_delimiter(r);
			r2 = c == 0 ? r : csv_reader_new(fd, &o2);
			assert_int_equal(csv_reader_seek(r2, ends[k], recs[k] + 1, lines[k]), 0);
			while ((st = csv_reader_next(r2, &rec)) != CSV_EOF) {
				char want[64];

				assert_true(j < n);
				snprintf(want, sizeof(want), "%d %lld L%lld %lld-%lld", st,
				         (long long)rec.record, (long long)rec.line,
				         (long long)rec.offset, (long long)rec.end_offset);
				assert_memory_equal(lines_txt[j], want, strlen(want));
				if (st == CSV_OK && rec.nfields > 1)
					assert_non_null(strstr(lines_txt[j], rec.fields[1].ptr));
				j++;
			}
			assert_int_equal(j, n);
			if (r2 != r)
				csv_reader_free(r2);
		}
	}
	/* back to the start: the BOM is stripped again */
	assert_int_equal(csv_reader_seek(r, 0, 1, 1), 0);
	assert_int_equal(csv_reader_next(r, &rec), CSV_OK);
	assert_int_equal(rec.offset, 3);
	assert_string_equal(rec.fields[0].ptr, "id");
	/* seeking clears a sticky error */
	write_file("a\n\0\nb\n", 6);
	{
		int fd2 = open_file();
		csv_reader *r3 = csv_reader_new(fd2, NULL);

		assert_int_equal(csv_reader_next(r3, &rec), CSV_OK);
		assert_int_equal(csv_reader_next(r3, &rec), CSV_EENCODING);
		assert_int_equal(csv_reader_next(r3, &rec), CSV_EENCODING);
		assert_int_equal(csv_reader_seek(r3, 4, 3, 3), 0);
		assert_int_equal(csv_reader_next(r3, &rec), CSV_OK);
		assert_string_equal(rec.fields[0].ptr, "b");
		assert_int_equal(rec.record, 3);
		assert_int_equal(rec.line, 3);
		assert_int_equal(csv_reader_seek(r3, -1, 1, 1), -1);
		csv_reader_free(r3);
		close(fd2);
	}
	for (size_t k = 0; k < n; k++)
		free(lines_txt[k]);
	csv_reader_free(r);
	close(fd);
}

static void test_read_error(void **state)
{
	csv_record rec;
	csv_reader *r;
	int fd = open(dir, O_RDONLY | O_DIRECTORY);

	(void)state;
	assert_true(fd >= 0);
	r = csv_reader_new(fd, NULL);
	assert_int_equal(csv_reader_next(r, &rec), CSV_EIO);
	assert_int_equal(csv_reader_next(r, &rec), CSV_EIO);
	csv_reader_free(r);
	close(fd);
	csv_reader_free(NULL);
}

static void test_large_file(void **state)
{
	const size_t rows = 200000;
	const size_t sizes[] = {0, 1000, 4093};
	FILE *f = fopen(path, "w");
	csv_record rec;

	(void)state;
	assert_non_null(f);
	fprintf(f, "id,user,project,start,end,note\r\n");
	for (size_t i = 0; i < rows; i++) {
		if (i % 1000 == 999)
			fprintf(f, "\n");
		if (i % 7 == 0)
			fprintf(f,
			        "%zu,u%zu,\"p,%zu\",2024-01-01T10:00,2024-01-01T11:00,"
			        "\"line\nbreak \"\"%zu\"\"\"\r\n",
			        i, i % 13, i % 5, i);
		else
			fprintf(f,
			        "%zu,u%zu,p%zu,2024-01-01T10:00,2024-01-01T11:00,caf\xC3\xA9 %zu\n",
			        i, i % 13, i % 5, i);
	}
	fclose(f);
	for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
		csv_options o = {.chunk = sizes[s]};
		int fd = open_file();
		csv_reader *r = csv_reader_new(fd, &o);
		size_t i = 0;
		int64_t line = 2;
		char want[64];

		assert_int_equal(csv_reader_next(r, &rec), CSV_OK);
		assert_int_equal(rec.nfields, 6);
		while (csv_reader_next(r, &rec) == CSV_OK) {
			assert_int_equal(rec.nfields, 6);
			assert_int_equal(rec.bad_utf8_field, -1);
			assert_int_equal(rec.record, (int64_t)i + 2);
			if (i % 1000 == 999)
				line++;
			assert_int_equal(rec.line, line);
			line += i % 7 == 0 ? 2 : 1;
			snprintf(want, sizeof(want), "%zu", i);
			assert_string_equal(rec.fields[0].ptr, want);
			if (i % 7 == 0) {
				snprintf(want, sizeof(want), "line\nbreak \"%zu\"", i);
				assert_true(rec.fields[5].quoted);
			} else {
				snprintf(want, sizeof(want), "caf\xC3\xA9 %zu", i);
			}
			assert_string_equal(rec.fields[5].ptr, want);
			i++;
		}
		assert_int_equal(i, rows);
		assert_int_equal(csv_reader_blank_lines(r), rows / 1000);
		assert_int_equal(csv_reader_bytes(r), lseek(fd, 0, SEEK_END));
		csv_reader_free(r);
		close(fd);
	}
}

/* inputs from fuzzing */
static void test_fuzz_regressions(void **state)
{
	csv_options o = {.max_record = 4};

	(void)state;
	/*
	 * Sniffing looked at "whatever was buffered" past max_record, so the
	 * delimiter depended on the chunk size. It now looks at exactly the
	 * first max_record bytes: "ab;c" says ';'.
	 */
	CHECK("ab;c,d,e\nx\n", &o, "1 L1 0-9 ETOOBIG\n2 L2 9-11 [x]\nEOF b0 ;\n");
	CHECK("\"\r\n;d\xC5\xC5\",e\nx\n", &o, "1 L1 0-11 ETOOBIG\n2 L3 11-13 [x]\nEOF b0 ,\n");
	CHECK("\"\r", NULL, "1 L1 0-2 EQUOTE\nEOF b0 ,\n");
	CHECK("\r\"\"\r", NULL, "1 L2 1-4 {}\nEOF b1 ,\n");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_empty_and_bom),
	    cmocka_unit_test(test_line_ends),
	    cmocka_unit_test(test_quoted),
	    cmocka_unit_test(test_sniff),
	    cmocka_unit_test(test_empty_fields_blank_lines_spaces),
	    cmocka_unit_test(test_utf8),
	    cmocka_unit_test(test_not_text),
	    cmocka_unit_test(test_caps),
	    cmocka_unit_test(test_caps_large),
	    cmocka_unit_test(test_bad_quotes),
	    cmocka_unit_test(test_seek_resume),
	    cmocka_unit_test(test_read_error),
	    cmocka_unit_test(test_large_file),
	    cmocka_unit_test(test_fuzz_regressions),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
