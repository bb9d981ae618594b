/*
 * fuzz_roster.c - libFuzzer target for the roster kenpo-admin imports
 * (tools/admin/roster.c) and its CSV reader and writer (tools/admin/csv.c).
 *
 * The input is one byte of options, then the roster file: bits 0-1 the
 * encoding asked for (auto, UTF-8, UTF-16, CP932), bit 2 the registration
 * method (letter or identity check), bits 3-7 the largest field the raw
 * CSV reader takes (n * 64 bytes, 0 for its default).
 *
 * The file goes through roster_decode and roster_read, as `kenpo-admin
 * import` reads it.  Every row they keep must have a valid member number
 * and a name of valid UTF-8, and every error a line within the file.  The
 * same bytes are read record by record with the CSV reader, and every
 * record it accepts is written again with csv_write_row (as the letters
 * CSV is written) and read back: it must come out with the same fields,
 * the formula mark taken off by csv_cell_text.
 */
#include "autoconfig.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "csv.h"
#include "roster.h"
#include "text.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static unsigned long
lines_in(const char *s, size_t n)
{
	unsigned long lines = 1;
	size_t i;

	for (i = 0; i < n; i++)
		lines += s[i] == '\n';
	return lines;
}

static void
check_roster(const struct roster *r, const char *text, size_t len)
{
	unsigned long lines = lines_in(text, len);
	size_t i;

	for (i = 0; i < r->nrows; i++) {
		if (!roster_number_ok(r->rows[i].number) || r->rows[i].name == NULL ||
		    !kenpo_utf8_valid(r->rows[i].name, strlen(r->rows[i].name)))
			abort();
		if (r->rows[i].line == 0 || r->rows[i].line > lines)
			abort();
	}
	for (i = 0; i < r->nerrs; i++)
		if (r->errs[i].line > lines || (i > 0 && r->errs[i].line < r->errs[i - 1].line))
			abort();
}

/* Write the current record of cr as one row and read it back. */
static void
round_trip(const struct csv_reader *cr)
{
	const char *fields[CSV_FIELDS_MAX];
	struct csv_reader back;
	char *out = NULL;
	size_t outlen = 0, i;
	FILE *f;

	for (i = 0; i < cr->nfields; i++)
		fields[i] = csv_field(cr, i);
	f = open_memstream(&out, &outlen);
	if (f == NULL)
		return;
	if (csv_write_row(f, fields, cr->nfields) != 0 || fclose(f) != 0) {
		free(out);
		return;
	}
	/* Room for the formula mark the writer may add. */
	csv_init(&back, out, outlen, cr->field_max + 1);
	if (csv_next(&back) != CSV_RECORD || back.nfields != cr->nfields)
		abort();
	for (i = 0; i < cr->nfields; i++)
		if (strcmp(csv_cell_text(csv_field(&back, i)), fields[i]) != 0)
			abort();
	if (csv_next(&back) != CSV_EOF)
		abort();
	csv_free(&back);
	free(out);
}

static void
read_csv(const char *text, size_t len, size_t field_max)
{
	struct csv_reader cr;
	int rc;

	csv_init(&cr, text, len, field_max);
	while ((rc = csv_next(&cr)) != CSV_EOF) {
		if (rc < 0)
			break;
		if (rc == CSV_RECORD)
			round_trip(&cr);
		else if (cr.err[0] == '\0')
			abort();
	}
	csv_free(&cr);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const enum roster_encoding encodings[] = { RE_AUTO, RE_UTF8, RE_UTF16, RE_CP932 };
	enum roster_encoding used = RE_AUTO;
	struct roster_error e;
	struct roster r;
	char *file, *text = NULL;
	size_t len, textlen = 0;
	uint8_t opt;

	if (size < 1)
		return 0;
	opt = data[0];
	len = size - 1;
	file = malloc(len > 0 ? len : 1);
	if (file == NULL)
		return 0;
	memcpy(file, data + 1, len);
	memset(&e, 0, sizeof e);
	if (roster_decode(file, len, encodings[opt & 3], &text, &textlen, &used, &e) == 0) {
		if (strlen(text) > textlen)
			abort();
		memset(&r, 0, sizeof r);
		if (roster_read(text, textlen, (opt & 4) ? KENPO_REG_IDENTITY : KENPO_REG_LETTER,
				&r) == 0)
			check_roster(&r, text, textlen);
		roster_free(&r);
		free(text);
	}
	read_csv(file, len, (size_t)(opt >> 3) * 64);
	free(file);
	return 0;
}
