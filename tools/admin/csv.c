/*
 * csv.c - RFC 4180 CSV reading and writing (see csv.h).
 *
 * Written here rather than taken from a library: Debian's only C CSV
 * library, libcsv (libcsv-dev 3.0.3, upstream unchanged since 2013),
 * reports a parse error as a bare CSV_EPARSE with neither line nor field,
 * accepts a lone CR as a record end, does not validate UTF-8, does not skip
 * a byte order mark and buffers a field of any size before the caller can
 * refuse it.  A roster import needs exactly those things ("line 12, field
 * 3: invalid UTF-8"), and a wrapper adding them around libcsv's callbacks
 * would be longer than this state machine.
 */
#include "autoconfig.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "csv.h"
#include "i18n.h"
#include "secret.h"

#define BUF_FIRST 1024

void
csv_init(struct csv_reader *r, const char *data, size_t len, size_t field_max)
{
	memset(r, 0, sizeof *r);
	r->data = data;
	r->len = len;
	r->field_max = field_max != 0 ? field_max : CSV_FIELD_MAX_DEFAULT;
	r->line = 1;
	/* A byte order mark says nothing but "UTF-8": skip it. */
	if (len >= 3 && memcmp(data, "\xEF\xBB\xBF", 3) == 0)
		r->pos = 3;
}

void
csv_free(struct csv_reader *r)
{
	kenpo_wipe_free(r->buf, r->bufcap);
	r->buf = NULL;
	r->bufcap = r->buflen = 0;
}

/* Remember the first fault of the record; later ones add nothing. */
static void fault(struct csv_reader *r, unsigned long line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void
fault(struct csv_reader *r, unsigned long line, const char *fmt, ...)
{
	va_list ap;

	if (r->err[0] != '\0')
		return;
	r->err_line = line;
	r->err_field = r->nfields + 1;
	va_start(ap, fmt);
	vsnprintf(r->err, sizeof r->err, fmt, ap);
	va_end(ap);
	/* The catalogue's text has the msgid's conversions (msgfmt --check). */
	va_start(ap, fmt);
	vsnprintf(r->err_ja, sizeof r->err_ja, kenpo_i18n_text(KENPO_LANG_JA, fmt), ap);
	va_end(ap);
}

/* Append one byte to the record's buffer.  0, or -1 when out of memory.
 * The buffer grows into a fresh allocation and the old one is wiped:
 * realloc would leave a copy of the fields (the letters CSV holds
 * temporary passwords) in freed memory. */
static int
put_byte(struct csv_reader *r, char c)
{
	char *nb;
	size_t ncap;

	if (r->buflen + 1 > r->bufcap) {
		ncap = r->bufcap != 0 ? 2 * r->bufcap : BUF_FIRST;
		nb = malloc(ncap);
		if (nb == NULL)
			return -1;
		if (r->buflen > 0)
			memcpy(nb, r->buf, r->buflen);
		kenpo_wipe_free(r->buf, r->bufcap);
		r->buf = nb;
		r->bufcap = ncap;
	}
	r->buf[r->buflen++] = c;
	return 0;
}

/* Add one byte to the current field.  0, or -1 when out of memory.  Bytes
 * past the caps are dropped: the record is reported as bad anyway, and
 * memory stays bounded whatever the input. */
static int
put(struct csv_reader *r, char c)
{
	if (r->nfields >= CSV_FIELDS_MAX)
		return 0;
	if (r->buflen - r->start[r->nfields] >= r->field_max) {
		fault(r, r->line, "field longer than %zu bytes", r->field_max);
		return 0;
	}
	return put_byte(r, c);
}

/* Length of the line break at pos: 2 for CRLF, 1 for LF, 0 for none. */
static size_t
newline_at(const struct csv_reader *r, size_t pos)
{
	if (pos < r->len && r->data[pos] == '\n')
		return 1;
	if (pos + 1 < r->len && r->data[pos] == '\r' && r->data[pos + 1] == '\n')
		return 2;
	return 0;
}

/* The body of a quoted field, after its opening quote, up to and
 * including the closing one.  0 or -1 (out of memory). */
static int
read_quoted(struct csv_reader *r)
{
	unsigned long opened = r->line;
	char c;

	for (;;) {
		if (r->pos >= r->len) {
			fault(r, opened, "quoted field opened on line %lu is not closed", opened);
			r->done = 1;
			return 0;
		}
		c = r->data[r->pos++];
		if (c == '"') {
			if (r->pos < r->len && r->data[r->pos] == '"')
				r->pos++;
			else
				return 0;
		} else if (c == '\n') {
			r->line++;
		}
		if (put(r, c) != 0)
			return -1;
	}
}

/* Unquoted text up to the next separator, line break or the end.  `after`
 * is true for text that follows a closing quote. 0 or -1. */
static int
read_unquoted(struct csv_reader *r, int after)
{
	char c;

	if (after && r->pos < r->len && r->data[r->pos] != ',' && newline_at(r, r->pos) == 0)
		fault(r, r->line, "text after the closing quote");
	while (r->pos < r->len && r->data[r->pos] != ',' && newline_at(r, r->pos) == 0) {
		c = r->data[r->pos++];
		if (c == '"')
			fault(r, r->line,
			      "quote inside an unquoted field (quote the field "
			      "and double the quote)");
		else if (c == '\r')
			fault(r, r->line, "carriage return without line feed");
		if (put(r, c) != 0)
			return -1;
	}
	return 0;
}

/* Close the current field: terminate it and check its bytes. 0 or -1. */
static int
end_field(struct csv_reader *r)
{
	size_t i = r->nfields, len;
	const char *s;

	if (i >= CSV_FIELDS_MAX) {
		fault(r, r->line, "more than %d fields", CSV_FIELDS_MAX);
		r->nfields = CSV_FIELDS_MAX;
		return 0;
	}
	len = r->buflen - r->start[i];
	if (put_byte(r, '\0') != 0)
		return -1;
	s = r->buf + r->start[i];
	if (memchr(s, '\0', len) != NULL)
		fault(r, r->line, "NUL byte in the field");
	else if (!csv_utf8_valid(s, len))
		fault(r, r->line, "invalid UTF-8");
	r->flen[i] = len;
	r->nfields++;
	if (r->nfields < CSV_FIELDS_MAX)
		r->start[r->nfields] = r->buflen;
	return 0;
}

/* Skip empty lines; 1 when a record starts at pos, 0 at the end. */
static int
skip_empty_lines(struct csv_reader *r)
{
	size_t nl;

	while ((nl = newline_at(r, r->pos)) != 0) {
		r->pos += nl;
		r->line++;
	}
	return r->pos < r->len;
}

/* Read the fields of one record and its line break. 0 or -1. */
static int
read_record(struct csv_reader *r)
{
	size_t nl;
	int quoted;

	for (;;) {
		quoted = r->pos < r->len && r->data[r->pos] == '"';
		if (quoted) {
			r->pos++;
			if (read_quoted(r) != 0)
				return -1;
		}
		if (!r->done && read_unquoted(r, quoted) != 0)
			return -1;
		if (end_field(r) != 0)
			return -1;
		if (r->done || r->pos >= r->len)
			return 0;
		if (r->data[r->pos] == ',') {
			r->pos++;
			continue;
		}
		nl = newline_at(r, r->pos);
		r->pos += nl;
		r->line++;
		return 0;
	}
}

int
csv_next(struct csv_reader *r)
{
	if (r->done || !skip_empty_lines(r)) {
		r->done = 1;
		return CSV_EOF;
	}
	r->rec_line = r->line;
	r->nfields = 0;
	r->buflen = 0;
	r->start[0] = 0;
	r->err[0] = '\0';
	r->err_line = 0;
	r->err_field = 0;
	if (read_record(r) != 0)
		return -1;
	return r->err[0] != '\0' ? CSV_BAD : CSV_RECORD;
}

const char *
csv_field(const struct csv_reader *r, size_t i)
{
	return i < r->nfields ? r->buf + r->start[i] : NULL;
}

size_t
csv_field_len(const struct csv_reader *r, size_t i)
{
	return i < r->nfields ? r->flen[i] : 0;
}

/* Length of the UTF-8 sequence at s (at most n bytes), 0 if invalid. */
static size_t
utf8_seq(const unsigned char *s, size_t n)
{
	uint32_t cp;
	size_t len, i;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xC2 && s[0] <= 0xDF)
		len = 2, cp = s[0] & 0x1F;
	else if (s[0] >= 0xE0 && s[0] <= 0xEF)
		len = 3, cp = s[0] & 0x0F;
	else if (s[0] >= 0xF0 && s[0] <= 0xF4)
		len = 4, cp = s[0] & 0x07;
	else
		return 0;
	if (len > n)
		return 0;
	for (i = 1; i < len; i++) {
		if ((s[i] & 0xC0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3F);
	}
	/* Overlong forms, surrogates and values past U+10FFFF. */
	if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
	    (cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF)
		return 0;
	return len;
}

int
csv_utf8_valid(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, n;

	while (i < len) {
		n = utf8_seq(p + i, len - i);
		if (n == 0)
			return 0;
		i += n;
	}
	return 1;
}

/* A field needs quotes when it holds a separator, a quote or a line
 * break, starts or ends with a space (which some readers trim), or starts
 * with a byte order mark (which a reader skips at the start of a file). */
static int
needs_quotes(const char *s)
{
	size_t n = strlen(s);

	return strpbrk(s, ",\"\r\n") != NULL || (n > 0 && (s[0] == ' ' || s[n - 1] == ' ')) ||
	       strncmp(s, "\xEF\xBB\xBF", 3) == 0;
}

int
csv_formula_start(const char *s)
{
	return s[0] != '\0' && strchr("=+-@\t\r", s[0]) != NULL;
}

/* 1 when the cell gets a "'" in front: a formula start, after any "'"
 * already there (so that a cell that itself starts with "'=" reads back
 * as it was). */
static int
needs_mark(const char *s)
{
	return csv_formula_start(s + strspn(s, "'"));
}

const char *
csv_cell_text(const char *field)
{
	return field[0] == '\'' && needs_mark(field) ? field + 1 : field;
}

static int
write_field(FILE *f, const char *s)
{
	const char *p;
	int formula = needs_mark(s);

	if (!needs_quotes(s) && !formula)
		return fputs(s, f) < 0 ? -1 : 0;
	if (putc('"', f) == EOF)
		return -1;
	/* Quoted as well: a "'" alone is not enough for every reader. */
	if (formula && putc('\'', f) == EOF)
		return -1;
	for (p = s; *p != '\0'; p++) {
		if (*p == '"' && putc('"', f) == EOF)
			return -1;
		if (putc(*p, f) == EOF)
			return -1;
	}
	return putc('"', f) == EOF ? -1 : 0;
}

int
csv_write_row(FILE *f, const char *const *fields, size_t n)
{
	size_t i;

	/* A row of one empty cell, written bare, would be an empty line,
	 * which is no record at all. */
	if (n == 1 && (fields[0] == NULL || fields[0][0] == '\0'))
		return fputs("\"\"\r\n", f) < 0 ? -1 : 0;
	for (i = 0; i < n; i++) {
		if (i > 0 && putc(',', f) == EOF)
			return -1;
		if (write_field(f, fields[i] != NULL ? fields[i] : "") != 0)
			return -1;
	}
	return fputs("\r\n", f) < 0 ? -1 : 0;
}
