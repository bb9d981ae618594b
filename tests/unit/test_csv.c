/*
 * test_csv.c - the roster CSV reader and the letters CSV writer of
 * kenpo-admin (tools/admin/csv.c): RFC 4180 records, line numbers,
 * UTF-8 checks, caps, recovery after a bad record, and quoting on output.
 */
#include <autoconfig.h>

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "csv.h"

/* Read one record that must be good and compare its fields. */
static void
expect_record(struct csv_reader *r, unsigned long line, size_t n, ...)
{
	va_list ap;
	size_t i;
	const char *want;

	assert_int_equal(csv_next(r), CSV_RECORD);
	assert_int_equal(r->rec_line, line);
	assert_int_equal(r->nfields, n);
	va_start(ap, n);
	for (i = 0; i < n; i++) {
		want = va_arg(ap, const char *);
		assert_string_equal(csv_field(r, i), want);
		assert_int_equal(csv_field_len(r, i), strlen(want));
	}
	va_end(ap);
}

/* Read one record that must be bad, at this line and field, with a
 * message containing `what`. */
static void
expect_bad(struct csv_reader *r, unsigned long line, size_t field, const char *what)
{
	assert_int_equal(csv_next(r), CSV_BAD);
	assert_int_equal(r->err_line, line);
	assert_int_equal(r->err_field, field);
	if (strstr(r->err, what) == NULL)
		fail_msg("error \"%s\" does not mention \"%s\"", r->err, what);
}

static void
open_str(struct csv_reader *r, const char *s)
{
	csv_init(r, s, strlen(s), 0);
}

static void
test_plain_lf_and_crlf(void **state)
{
	struct csv_reader r;

	(void)state;
	open_str(&r, "a,b,c\nd,e,f\r\ng,h,i");
	expect_record(&r, 1, 3, "a", "b", "c");
	expect_record(&r, 2, 3, "d", "e", "f");
	expect_record(&r, 3, 3, "g", "h", "i");
	assert_int_equal(csv_next(&r), CSV_EOF);
	assert_int_equal(csv_next(&r), CSV_EOF);
	csv_free(&r);
}

static void
test_quoted_fields(void **state)
{
	struct csv_reader r;

	(void)state;
	open_str(&r, "\"a,b\",\"say \"\"hi\"\"\",\"\"\r\n\"x\",y\n");
	expect_record(&r, 1, 3, "a,b", "say \"hi\"", "");
	expect_record(&r, 2, 2, "x", "y");
	assert_int_equal(csv_next(&r), CSV_EOF);
	csv_free(&r);
}

static void
test_embedded_newlines_keep_line_numbers(void **state)
{
	struct csv_reader r;

	(void)state;
	open_str(&r, "1,\"two\nlines\"\n2,\"three\r\nmore\nlines\"\n3,x\n");
	expect_record(&r, 1, 2, "1", "two\nlines");
	expect_record(&r, 3, 2, "2", "three\r\nmore\nlines");
	expect_record(&r, 6, 2, "3", "x");
	assert_int_equal(csv_next(&r), CSV_EOF);
	csv_free(&r);
}

static void
test_empty_lines_and_fields(void **state)
{
	struct csv_reader r;

	(void)state;
	open_str(&r, "\n\r\na,,\n\n,\n");
	expect_record(&r, 3, 3, "a", "", "");
	expect_record(&r, 5, 2, "", "");
	assert_int_equal(csv_next(&r), CSV_EOF);
	csv_free(&r);
}

static void
test_bom_skipped_only_at_start(void **state)
{
	struct csv_reader r;

	(void)state;
	open_str(&r, "\xEF\xBB\xBFnumber,name\n\xEF\xBB\xBFx,y\n");
	expect_record(&r, 1, 2, "number", "name");
	expect_record(&r, 2, 2, "\xEF\xBB\xBFx", "y");
	csv_free(&r);
}

static void
test_utf8_names(void **state)
{
	struct csv_reader r;

	(void)state;
	open_str(&r, "123,東洋 太郎,\"ご家族;花子\",\xF0\x9F\x98\x80\n");
	expect_record(&r, 1, 4, "123", "東洋 太郎", "ご家族;花子", "\xF0\x9F\x98\x80");
	csv_free(&r);
}

static void
test_invalid_utf8_reported_and_skipped(void **state)
{
	struct csv_reader r;

	(void)state;
	open_str(&r, "ok,1\n"
		     "a,\xC0\xAF,c\n"         /* overlong '/' */
		     "\xED\xA0\x80\n"         /* a surrogate */
		     "x,y,\xF4\x90\x80\x80\n" /* past U+10FFFF */
		     "\xE3\x81\n"             /* cut short */
		     "\xFF\n"
		     "last,2\n");
	expect_record(&r, 1, 2, "ok", "1");
	expect_bad(&r, 2, 2, "invalid UTF-8");
	expect_bad(&r, 3, 1, "invalid UTF-8");
	expect_bad(&r, 4, 3, "invalid UTF-8");
	expect_bad(&r, 5, 1, "invalid UTF-8");
	expect_bad(&r, 6, 1, "invalid UTF-8");
	expect_record(&r, 7, 2, "last", "2");
	assert_int_equal(csv_next(&r), CSV_EOF);
	csv_free(&r);
}

static void
test_nul_byte(void **state)
{
	static const char data[] = "a,b\0c\nd,e\n";
	struct csv_reader r;

	(void)state;
	csv_init(&r, data, sizeof data - 1, 0);
	expect_bad(&r, 1, 2, "NUL");
	expect_record(&r, 2, 2, "d", "e");
	csv_free(&r);
}

static void
test_field_cap(void **state)
{
	struct csv_reader r;
	char data[64];

	(void)state;
	/* Exactly 8 bytes pass with a cap of 8, 9 do not; quoted or not. */
	snprintf(data, sizeof data, "12345678,\"abcdefgh\"\n123456789,x\ny,\"abcdefghi\"\nz\n");
	csv_init(&r, data, strlen(data), 8);
	expect_record(&r, 1, 2, "12345678", "abcdefgh");
	expect_bad(&r, 2, 1, "longer than 8 bytes");
	expect_bad(&r, 3, 2, "longer than 8 bytes");
	expect_record(&r, 4, 1, "z");
	csv_free(&r);
}

static void
test_too_many_fields(void **state)
{
	struct csv_reader r;
	char *data;
	size_t i, n = 2 * (CSV_FIELDS_MAX + 1);

	(void)state;
	data = malloc(n + 16);
	assert_non_null(data);
	for (i = 0; i < CSV_FIELDS_MAX + 1; i++) {
		data[2 * i] = 'x';
		data[2 * i + 1] = ',';
	}
	data[n - 1] = '\n';
	memcpy(data + n, "ok\n", 4);
	csv_init(&r, data, strlen(data), 0);
	expect_bad(&r, 1, CSV_FIELDS_MAX + 1, "more than");
	expect_record(&r, 2, 1, "ok");
	csv_free(&r);
	free(data);
}

static void
test_stray_quotes(void **state)
{
	struct csv_reader r;

	(void)state;
	open_str(&r, "ab\"c,d\n\"ab\"c,d\n\"ok\",\"fine\"\n");
	expect_bad(&r, 1, 1, "quote inside an unquoted field");
	expect_bad(&r, 2, 1, "text after the closing quote");
	expect_record(&r, 3, 2, "ok", "fine");
	csv_free(&r);
}

static void
test_unterminated_quote_ends_reading(void **state)
{
	struct csv_reader r;

	(void)state;
	open_str(&r, "a,b\nc,\"open\nd,e\nf,g\n");
	expect_record(&r, 1, 2, "a", "b");
	expect_bad(&r, 2, 2, "opened on line 2 is not closed");
	assert_int_equal(csv_next(&r), CSV_EOF);
	csv_free(&r);
}

static void
test_lone_cr(void **state)
{
	struct csv_reader r;

	(void)state;
	open_str(&r, "a,b\rc\nd\n");
	expect_bad(&r, 1, 2, "carriage return");
	expect_record(&r, 2, 1, "d");
	csv_free(&r);
}

static void
test_utf8_valid(void **state)
{
	(void)state;
	assert_true(csv_utf8_valid("", 0));
	assert_true(csv_utf8_valid("健保", strlen("健保")));
	assert_true(csv_utf8_valid("\xF4\x8F\xBF\xBF", 4));  /* U+10FFFF */
	assert_true(csv_utf8_valid("\xEE\x80\x80", 3));      /* U+E000 */
	assert_false(csv_utf8_valid("\xE0\x80\xAF", 3));     /* overlong */
	assert_false(csv_utf8_valid("\xF0\x80\x80\xAF", 4)); /* overlong */
	assert_false(csv_utf8_valid("\xC1\xBF", 2));         /* overlong */
	assert_false(csv_utf8_valid("\xED\xBF\xBF", 3));     /* surrogate */
	assert_false(csv_utf8_valid("\xE5\x81", 2));         /* short */
	assert_false(csv_utf8_valid("\x80", 1));             /* lone continuation */
	assert_false(csv_utf8_valid("\xE5\x41\xA5", 3));     /* not a continuation */
}

/* Write rows into memory and return them (malloc'd). */
static char *
write_rows(const char *const *rows[], const size_t *n, size_t nrows)
{
	char *out = NULL;
	size_t len = 0, i;
	FILE *f = open_memstream(&out, &len);

	assert_non_null(f);
	for (i = 0; i < nrows; i++)
		assert_int_equal(csv_write_row(f, rows[i], n[i]), 0);
	assert_int_equal(fclose(f), 0);
	return out;
}

static void
test_writer_quotes_only_when_needed(void **state)
{
	static const char *const r1[] = { "plain", "a,b", "say \"hi\"", "two\nlines", "" };
	static const char *const r2[] = { " lead", "trail ", "東洋 太郎", NULL };
	const char *const *rows[] = { r1, r2 };
	const size_t n[] = { 5, 4 };
	char *out;

	(void)state;
	out = write_rows(rows, n, 2);
	assert_string_equal(out, "plain,\"a,b\",\"say \"\"hi\"\"\",\"two\nlines\",\r\n"
				 "\" lead\",\"trail \",東洋 太郎,\r\n");
	free(out);
}

static void
test_writer_round_trip(void **state)
{
	static const char *const r1[] = { "0\"1", ",", "\r\n", "ゼロ、イチ" };
	const char *const *rows[] = { r1, r1 };
	const size_t n[] = { 4, 4 };
	struct csv_reader r;
	char *out;

	(void)state;
	out = write_rows(rows, n, 2);
	csv_init(&r, out, strlen(out), 0);
	/* "\r\n" starts like a formula: written as "'\r\n", read back whole. */
	expect_record(&r, 1, 4, "0\"1", ",", "'\r\n", "ゼロ、イチ");
	assert_string_equal(csv_cell_text(csv_field(&r, 2)), "\r\n");
	expect_record(&r, 3, 4, "0\"1", ",", "'\r\n", "ゼロ、イチ");
	assert_int_equal(csv_next(&r), CSV_EOF);
	csv_free(&r);
	free(out);
}

/* Rows that a bare writer would lose on reading back: one empty cell (an
 * empty line is no record), and a first cell that starts with a byte
 * order mark at the start of the file (the reader skips it there). */
static void
test_writer_rows_read_back(void **state)
{
	static const char *const r1[] = { "\xEF\xBB\xBF"
					  "a",
					  "b" };
	static const char *const r2[] = { "" };
	const char *const *rows[] = { r1, r2, r1 };
	const size_t n[] = { 2, 1, 2 };
	struct csv_reader r;
	char *out;

	(void)state;
	out = write_rows(rows, n, 3);
	csv_init(&r, out, strlen(out), 0);
	expect_record(&r, 1, 2,
		      "\xEF\xBB\xBF"
		      "a",
		      "b");
	expect_record(&r, 2, 1, "");
	expect_record(&r, 3, 2,
		      "\xEF\xBB\xBF"
		      "a",
		      "b");
	assert_int_equal(csv_next(&r), CSV_EOF);
	csv_free(&r);
	free(out);
}

/* Cells a spreadsheet would run as a formula (OWASP's CSV injection) are
 * written as text: a leading "'" inside quotes; kenpo-admin reads them back
 * as they were, a cell that starts with "'=" itself included. */
static void
test_writer_neutralises_formulas(void **state)
{
	static const char *const r1[] = {
		"=HYPERLINK(\"http://x\")", "+1", "-2+3", "@SUM(A1)", "\tx", "\rx", "a=b", "'=c",
	};
	const char *const *rows[] = { r1 };
	const size_t n[] = { 8 };
	struct csv_reader r;
	char *out;
	size_t i;

	(void)state;
	out = write_rows(rows, n, 1);
	assert_non_null(
		strstr(out, "\"'=HYPERLINK(\"\"http://x\"\")\",\"'+1\",\"'-2+3\",\"'@SUM(A1)\""));
	assert_non_null(strstr(out, ",a=b,\"''=c\"\r\n"));
	csv_init(&r, out, strlen(out), 0);
	assert_int_equal(csv_next(&r), CSV_RECORD);
	for (i = 0; i < 8; i++) {
		assert_int_equal(csv_formula_start(csv_field(&r, i)), 0);
		assert_int_equal(csv_formula_start(r1[i]), i < 6);
		assert_string_equal(csv_cell_text(csv_field(&r, i)), r1[i]);
	}
	csv_free(&r);
	free(out);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plain_lf_and_crlf),
		cmocka_unit_test(test_quoted_fields),
		cmocka_unit_test(test_embedded_newlines_keep_line_numbers),
		cmocka_unit_test(test_empty_lines_and_fields),
		cmocka_unit_test(test_bom_skipped_only_at_start),
		cmocka_unit_test(test_utf8_names),
		cmocka_unit_test(test_invalid_utf8_reported_and_skipped),
		cmocka_unit_test(test_nul_byte),
		cmocka_unit_test(test_field_cap),
		cmocka_unit_test(test_too_many_fields),
		cmocka_unit_test(test_stray_quotes),
		cmocka_unit_test(test_unterminated_quote_ends_reading),
		cmocka_unit_test(test_lone_cr),
		cmocka_unit_test(test_utf8_valid),
		cmocka_unit_test(test_writer_quotes_only_when_needed),
		cmocka_unit_test(test_writer_round_trip),
		cmocka_unit_test(test_writer_neutralises_formulas),
		cmocka_unit_test(test_writer_rows_read_back),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
