/*
 * csv_reader_bench.c - rows per second of the CSV reader over a generated
 * time-entry export (9 columns, about 120 bytes a row, some quoted fields).
 *
 *   gcc -std=gnu11 -O2 -Isrc bench/csv_reader_bench.c src/imports/csv_reader.c \
 *       src/util/alloc.c -o /tmp/csvbench && /tmp/csvbench [rows] [file]
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "imports/csv_reader.h"

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void generate(const char *path, long rows)
{
	static const char *projects[] = {"Website", "Mobile app", "Internal, misc", "R&D"};
	FILE *f = fopen(path, "w");

	if (!f) {
		perror(path);
		exit(1);
	}
	fprintf(f, "id,user,email,project,task,start,end,minutes,note\n");
	for (long i = 0; i < rows; i++) {
		const char *p = projects[i % 4];

		fprintf(
		    f,
		    "%ld,user%ld,user%ld@example.com,%s%s%s,task-%ld,2024-03-%02ldT09:%02ld:00Z,"
		    "2024-03-%02ldT10:%02ld:00Z,%ld,%s\n",
		    i + 1, i % 97, i % 97, i % 4 == 2 ? "\"" : "", p, i % 4 == 2 ? "\"" : "",
		    i % 1000, 1 + i % 28, i % 60, 1 + i % 28, i % 60, 60 + i % 7,
		    i % 10 == 0 ? "\"Caf\xC3\xA9 meeting, \"\"planning\"\"\""
		                : "Reviewed pull requests");
	}
	fclose(f);
}

int main(int argc, char **argv)
{
	long rows = argc > 1 ? atol(argv[1]) : 1000000;
	const char *path = argc > 2 ? argv[2] : "/tmp/csv_reader_bench.csv";
	csv_record rec;
	csv_reader *r;
	long n = 0;
	size_t fields = 0;
	double t0, t1;
	int fd, st;

	generate(path, rows);
	fd = open(path, O_RDONLY);
	if (fd < 0) {
		perror(path);
		return 1;
	}
	t0 = now();
	r = csv_reader_new(fd, NULL);
	while ((st = csv_reader_next(r, &rec)) == CSV_OK) {
		n++;
		fields += rec.nfields;
	}
	t1 = now();
	printf("%ld records, %zu fields, %.1f MB in %.3f s: %.0f rows/s, %.0f MB/s (status %d)\n",
	       n, fields, (double)csv_reader_bytes(r) / 1e6, t1 - t0, (double)n / (t1 - t0),
	       (double)csv_reader_bytes(r) / 1e6 / (t1 - t0), st);
	csv_reader_free(r);
	close(fd);
	return 0;
}
