/*
 * csv.h - RFC 4180 CSV reading and writing for kenpo-admin.
 *
 * Reading: the whole input is in memory (a roster of 100,000 members is a
 * few tens of megabytes); csv_next() returns one record at a time.
 *  - Fields are separated by ',' and records by CRLF or LF.  A field that
 *    holds ',', '"', CR or LF is quoted; a '"' inside is doubled.
 *  - A UTF-8 byte order mark at the very start is skipped.
 *  - Every field must be valid UTF-8 (no overlong forms, no surrogates,
 *    nothing above U+10FFFF) and hold no NUL byte.
 *  - An empty line is no record (its line is still counted).
 *  - A field is at most `field_max` bytes and a record at most
 *    CSV_FIELDS_MAX fields.
 * A record that breaks a rule is reported once, with the line of the
 * fault, and the reader goes on with the next record, so one bad row does
 * not hide the others.  Only a quote left open at the end of the input
 * ends the reading.
 *
 * Writing: csv_write_row() quotes only where needed and ends each row
 * with CRLF, as RFC 4180 says.  A cell that a spreadsheet would take for a
 * formula (starting with '=', '+', '-', '@', a tab or a carriage return)
 * gets a leading "'" (OWASP's advice against CSV injection), which
 * spreadsheets show as a text marker; csv_cell_text() takes it off again
 * when kenpo-admin reads its own files.
 */
#ifndef KENPO_ADMIN_CSV_H
#define KENPO_ADMIN_CSV_H

#include <stddef.h>
#include <stdio.h>

#define CSV_FIELDS_MAX 256
#define CSV_FIELD_MAX_DEFAULT 4096
#define CSV_ERR_MAX 160

enum csv_result {
	CSV_EOF = 0,    /* no more records */
	CSV_RECORD = 1, /* a record is in the reader */
	CSV_BAD = 2,    /* a record broke a rule: err and err_line say how;
			  * the next call reads the record after it */
};

struct csv_reader {
	const char *data;
	size_t len, pos;
	size_t field_max;
	unsigned long line; /* current line (1-based) */
	/* the current record */
	unsigned long rec_line; /* line on which it starts */
	size_t nfields;
	char *buf; /* field bytes, each NUL-terminated */
	size_t buflen, bufcap;
	size_t start[CSV_FIELDS_MAX]; /* offsets of the fields in buf */
	size_t flen[CSV_FIELDS_MAX];
	/* the first fault of the current record */
	unsigned long err_line;
	size_t err_field; /* 1-based field number, 0: the record */
	char err[CSV_ERR_MAX];
	char err_ja[2 * CSV_ERR_MAX]; /* the same in Japanese (po/ja.po) */
	int done;
};

/* Prepare to read data[0..len); field_max 0 means CSV_FIELD_MAX_DEFAULT.
 * The data must outlive the reader. */
void csv_init(struct csv_reader *r, const char *data, size_t len, size_t field_max);
/* Wipe and free what the reader allocated (the fields may be secrets). */
void csv_free(struct csv_reader *r);

/* Read the next record.  CSV_RECORD, CSV_BAD or CSV_EOF; -1 when out of
 * memory.  After CSV_RECORD the fields are csv_field(r, 0..nfields-1),
 * valid until the next call. */
int csv_next(struct csv_reader *r);

/* Field i of the current record, NUL-terminated (NULL when i >= nfields). */
const char *csv_field(const struct csv_reader *r, size_t i);
size_t csv_field_len(const struct csv_reader *r, size_t i);

/* 1 when s[0..len) is valid UTF-8 (shortest forms, no surrogates, at most
 * U+10FFFF); NUL bytes are valid UTF-8 and left to the caller. */
int csv_utf8_valid(const char *s, size_t len);

/* Write one row of n fields, quoting where needed, ending with CRLF, each
 * cell that could start a formula neutralised.  0, or -1 when the stream
 * failed. */
int csv_write_row(FILE *f, const char *const *fields, size_t n);

/* 1 when a cell starting like s would be read as a formula. */
int csv_formula_start(const char *s);

/* A cell read back from a file csv_write_row wrote: without the "'" it
 * put before a formula start. */
const char *csv_cell_text(const char *field);

#endif
