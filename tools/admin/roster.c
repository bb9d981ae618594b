/*
 * roster.c - reading and checking the roster (see roster.h).
 */
#include "autoconfig.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "csv.h"
#include "mail.h"
#include "roster.h"

#define NOMEM (-2)

typedef int col_fn(const char *in, struct roster_row *row, char *msg, size_t msgsz);

static col_fn set_number, set_name, set_birth, set_mail, set_household, set_nickname,
	set_key;

/* The columns: canonical name, other accepted names, when required. */
enum need { OPTIONAL, ALWAYS, FOR_IDENTITY };
static const struct column {
	const char *name;
	const char *aliases[3];
	enum need need;
	col_fn *set;
	const char *help;
} columns[] = {
	{ "member_number", { "number", "被保険者番号", "会員番号" }, ALWAYS, set_number,
	  "the stable key: 1 to 32 of A-Z a-z 0-9 -" },
	{ "name", { "氏名", "名前", NULL }, ALWAYS, set_name,
	  "the real name (cn; sn is its first word), at most 64 characters" },
	{ "birth_date", { "date_of_birth", "生年月日", NULL }, FOR_IDENTITY, set_birth,
	  "YYYY-MM-DD (also YYYY/MM/DD, YYYY/M/D, YYYYMMDD)" },
	{ "mail", { "roster_mail", "company_mail", "メールアドレス" }, FOR_IDENTITY, set_mail,
	  "the company mail address, matched by the identity check" },
	{ "household", { "家族", "世帯", NULL }, OPTIONAL, set_household,
	  "dependents: name[:birth date], separated by ';' (at most 99)" },
	{ "nickname", { "ニックネーム", NULL, NULL }, OPTIONAL, set_nickname,
	  "shown instead of the name (default ご本人)" },
	{ "key_required", { "認証キー", NULL, NULL }, OPTIONAL, set_key,
	  "yes or no: the mailed key after the password (default yes)" },
};
#define NCOLUMNS (sizeof columns / sizeof columns[0])

const char *
roster_columns_help(void)
{
	static char text[1400];
	size_t i, o = 0;
	int n;

	for (i = 0; i < NCOLUMNS && o < sizeof text; i++) {
		n = snprintf(text + o, sizeof text - o, "  %-14s %-9s %s\n", columns[i].name,
			     columns[i].need == ALWAYS ? "required" :
			     columns[i].need == FOR_IDENTITY ? "identity" : "", columns[i].help);
		if (n < 0)
			break;
		o += (size_t)n;
	}
	if (o < sizeof text)
		snprintf(text + o, sizeof text - o, "  (identity: required when the society "
			 "registers by identity check)\n");
	return text;
}

static void
say(char *msg, size_t msgsz, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void
say(char *msg, size_t msgsz, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, msgsz, fmt, ap);
	va_end(ap);
}

/* ---- text ---- */

/* Length of the white space (ASCII space, tab, U+3000) at s. */
static size_t
space_at(const char *s)
{
	if (*s == ' ' || *s == '\t')
		return 1;
	return strncmp(s, "\xE3\x80\x80", 3) == 0 ? 3 : 0;
}

/* A malloc'd copy of s without white space at either end; NULL if out of memory. */
static char *
trimmed(const char *s)
{
	size_t n, len;
	const char *end;

	while ((n = space_at(s)) != 0)
		s += n;
	len = strlen(s);
	for (;;) {
		end = s + len;
		if (len >= 1 && (end[-1] == ' ' || end[-1] == '\t'))
			len -= 1;
		else if (len >= 3 && strncmp(end - 3, "\xE3\x80\x80", 3) == 0)
			len -= 3;
		else
			break;
	}
	return strndup(s, len);
}

/* Check a text value: valid UTF-8, no control character (C0, DEL, C1), at
 * most max characters.  0 or -1 with msg. */
static int
text_ok(const char *s, size_t max, char *msg, size_t msgsz)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t chars = 0, i, len = strlen(s);

	if (!csv_utf8_valid(s, len)) {
		say(msg, msgsz, "invalid UTF-8");
		return -1;
	}
	for (i = 0; i < len; i++) {
		if (p[i] < 0x20 || p[i] == 0x7f || (p[i] == 0xC2 && i + 1 < len && p[i + 1] < 0xA0)) {
			say(msg, msgsz, "control character in the text");
			return -1;
		}
		chars += (p[i] & 0xC0) != 0x80;
	}
	if (chars > max) {
		say(msg, msgsz, "longer than %zu characters", max);
		return -1;
	}
	return 0;
}

/* Trim and check a text into *out.  0, -1 (msg) or NOMEM. */
static int
take_text(const char *in, size_t max, char **out, char *msg, size_t msgsz)
{
	char *t = trimmed(in);

	if (t == NULL)
		return NOMEM;
	if (t[0] == '\0') {
		say(msg, msgsz, "empty");
		free(t);
		return -1;
	}
	if (text_ok(t, max, msg, msgsz) != 0) {
		free(t);
		return -1;
	}
	*out = t;
	return 0;
}

/* ---- member number ---- */

int
roster_number_ok(const char *s)
{
	size_t n = strlen(s);

	return n >= 1 && n <= ROSTER_NUMBER_MAX &&
	       strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-") == n;
}

static int
set_number(const char *in, struct roster_row *row, char *msg, size_t msgsz)
{
	char *t = trimmed(in);

	if (t == NULL)
		return NOMEM;
	if (!roster_number_ok(t)) {
		say(msg, msgsz, "not a member number (1 to %d of A-Z a-z 0-9 -): %.40s",
		    ROSTER_NUMBER_MAX, t);
		free(t);
		return -1;
	}
	row->number = t;
	return 0;
}

/* ---- name ---- */

static int
set_name(const char *in, struct roster_row *row, char *msg, size_t msgsz)
{
	char *name = NULL;
	size_t i;
	int r = take_text(in, ROSTER_NAME_MAX, &name, msg, msgsz);

	if (r != 0)
		return r;
	/* The family name is the first word: 「東洋 太郎」 -> 「東洋」. */
	for (i = 0; name[i] != '\0' && space_at(name + i) == 0; i++)
		;
	row->sn = strndup(name, i);
	if (row->sn == NULL) {
		free(name);
		return NOMEM;
	}
	row->name = name;
	return 0;
}

/* ---- dates ---- */

/* Parse 1 to maxdigits decimal digits at *p (strtoul, range-checked). */
static int
date_part(const char **p, size_t mindigits, size_t maxdigits, unsigned long *out)
{
	size_t n = strspn(*p, "0123456789");
	char *end;

	if (n < mindigits || n > maxdigits)
		return -1;
	errno = 0;
	*out = strtoul(*p, &end, 10);
	if (errno != 0 || end != *p + n)
		return -1;
	*p = end;
	return 0;
}

static int
days_in_month(unsigned long y, unsigned long m)
{
	static const int days[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

	return m == 2 && leap ? 29 : days[m - 1];
}

/* Split a date into y, m, d: YYYY-MM-DD, YYYY/MM/DD (months and days of
 * one or two digits) or YYYYMMDD.  0 or -1. */
static int
date_fields(const char *s, unsigned long *y, unsigned long *m, unsigned long *d)
{
	const char *p = s;
	char sep;

	if (strlen(s) == 8 && strspn(s, "0123456789") == 8)
		return date_part(&p, 4, 4, y) || date_part(&p, 2, 2, m) || date_part(&p, 2, 2, d)
		       ? -1 : 0;
	if (date_part(&p, 4, 4, y) != 0 || (*p != '-' && *p != '/'))
		return -1;
	sep = *p++;
	if (date_part(&p, 1, 2, m) != 0 || *p++ != sep || date_part(&p, 1, 2, d) != 0 ||
	    *p != '\0')
		return -1;
	return 0;
}

/* A date of birth into "YYYY-MM-DD": a real calendar date from 1900 to
 * today.  0 or -1 with msg. */
static int
norm_date(const char *s, char out[ROSTER_DATE_LEN + 1], char *msg, size_t msgsz)
{
	unsigned long y, m, d;
	time_t now = time(NULL);
	struct tm tm;
	char today[ROSTER_DATE_LEN + 1], text[3 * 24];

	if (date_fields(s, &y, &m, &d) != 0) {
		say(msg, msgsz, "not a date (YYYY-MM-DD): %.40s", s);
		return -1;
	}
	if (y < 1900 || m < 1 || m > 12 || d < 1 || d > (unsigned long)days_in_month(y, m)) {
		say(msg, msgsz, "no such date: %.40s", s);
		return -1;
	}
	/* y, m and d are in range here, so the text is exactly 10 bytes. */
	snprintf(text, sizeof text, "%04lu-%02lu-%02lu", y, m, d);
	memcpy(out, text, ROSTER_DATE_LEN);
	out[ROSTER_DATE_LEN] = '\0';
	/* Japan is ahead of UTC: a child born today there may be "tomorrow". */
	now += 24 * 3600;
	if (gmtime_r(&now, &tm) == NULL ||
	    strftime(today, sizeof today, "%Y-%m-%d", &tm) != ROSTER_DATE_LEN ||
	    strcmp(out, today) > 0) {
		say(msg, msgsz, "date in the future: %.40s", s);
		return -1;
	}
	return 0;
}

static int
set_birth(const char *in, struct roster_row *row, char *msg, size_t msgsz)
{
	char date[ROSTER_DATE_LEN + 1], *t = trimmed(in);
	int r;

	if (t == NULL)
		return NOMEM;
	r = norm_date(t, date, msg, msgsz);
	free(t);
	if (r != 0)
		return -1;
	row->birth = strdup(date);
	return row->birth != NULL ? 0 : NOMEM;
}

/* ---- mail ---- */

static int
set_mail(const char *in, struct roster_row *row, char *msg, size_t msgsz)
{
	char *t = trimmed(in);

	if (t == NULL)
		return NOMEM;
	if (!kenpo_mail_address_ok(t)) {
		say(msg, msgsz, "not a mail address: %.60s", t);
		free(t);
		return -1;
	}
	row->mail = t;
	return 0;
}

/* ---- household ---- */

/* One dependent, "name" or "name:date" in s (modified). 0, -1 or NOMEM. */
static int
add_dependent(char *s, struct roster_row *row, char *msg, size_t msgsz)
{
	struct roster_house *h = &row->house[row->nhouse];
	char *colon = strrchr(s, ':'), date[ROSTER_DATE_LEN + 1], *dt;
	int r;

	if (colon != NULL) {
		*colon = '\0';
		dt = trimmed(colon + 1);
		if (dt == NULL)
			return NOMEM;
		r = norm_date(dt, date, msg, msgsz);
		free(dt);
		if (r != 0)
			return -1;
		if ((h->birth = strdup(date)) == NULL)
			return NOMEM;
	}
	r = take_text(s, ROSTER_NAME_MAX, &h->name, msg, msgsz);
	if (r != 0) {
		free(h->birth);
		h->birth = NULL;
		return r;
	}
	row->nhouse++;
	return 0;
}

static int
set_household(const char *in, struct roster_row *row, char *msg, size_t msgsz)
{
	char *copy = strdup(in), *item, *save = NULL, *t;
	int r = 0;

	if (copy == NULL)
		return NOMEM;
	row->house = calloc(ROSTER_HOUSEHOLD_MAX, sizeof *row->house);
	if (row->house == NULL)
		r = NOMEM;
	for (item = strtok_r(copy, ";", &save); item != NULL && r == 0;
	     item = strtok_r(NULL, ";", &save)) {
		if ((t = trimmed(item)) == NULL) {
			r = NOMEM;
			break;
		}
		if (t[0] != '\0' && row->nhouse == ROSTER_HOUSEHOLD_MAX) {
			say(msg, msgsz, "more than %d dependents", ROSTER_HOUSEHOLD_MAX);
			r = -1;
		} else if (t[0] != '\0') {
			r = add_dependent(t, row, msg, msgsz);
			if (r == -1) {
				char why[ROSTER_MSG_MAX];

				snprintf(why, sizeof why, "%s", msg);
				say(msg, msgsz, "dependent %zu: %s", row->nhouse + 1, why);
			}
		}
		free(t);
	}
	free(copy);
	return r;
}

/* ---- nickname, key ---- */

static int
set_nickname(const char *in, struct roster_row *row, char *msg, size_t msgsz)
{
	return take_text(in, ROSTER_NICKNAME_MAX, &row->nickname, msg, msgsz);
}

static int
set_key(const char *in, struct roster_row *row, char *msg, size_t msgsz)
{
	static const struct { const char *word; int value; } words[] = {
		{ "yes", 1 }, { "true", 1 }, { "on", 1 }, { "1", 1 },
		{ "no", 0 }, { "false", 0 }, { "off", 0 }, { "0", 0 },
	};
	size_t i;
	char *t = trimmed(in);

	if (t == NULL)
		return NOMEM;
	for (i = 0; i < sizeof words / sizeof words[0]; i++)
		if (strcasecmp(t, words[i].word) == 0) {
			row->key_required = words[i].value;
			free(t);
			return 0;
		}
	say(msg, msgsz, "not yes or no: %.20s", t);
	free(t);
	return -1;
}

/* ---- rows ---- */

void
roster_row_clear(struct roster_row *row)
{
	size_t i;

	free(row->number);
	free(row->name);
	free(row->sn);
	free(row->birth);
	free(row->mail);
	free(row->nickname);
	for (i = 0; i < row->nhouse; i++) {
		free(row->house[i].name);
		free(row->house[i].birth);
	}
	free(row->house);
	memset(row, 0, sizeof *row);
	row->key_required = -1;
}

/* 1 when the column must have a value for this registration method. */
static int
needed(const struct column *c, enum kenpo_regmethod method)
{
	return c->need == ALWAYS || (c->need == FOR_IDENTITY && method == KENPO_REG_IDENTITY);
}

static int
add_error(struct roster *r, unsigned long line, const char *field, const char *msg)
{
	struct roster_error *ne;

	if (r->nerrs == r->errcap) {
		ne = realloc(r->errs, (r->errcap == 0 ? 8 : 2 * r->errcap) * sizeof *ne);
		if (ne == NULL)
			return -1;
		r->errs = ne;
		r->errcap = r->errcap == 0 ? 8 : 2 * r->errcap;
	}
	ne = &r->errs[r->nerrs];
	ne->seq = r->nerrs++;
	ne->line = line;
	snprintf(ne->field, sizeof ne->field, "%s", field);
	snprintf(ne->msg, sizeof ne->msg, "%s", msg);
	return 0;
}

/* Set one column of a row.  0, 1 (the value was refused: error added),
 * -1 when out of memory. */
static int
set_column(struct roster *r, const struct column *c, const char *value,
	   enum kenpo_regmethod method, struct roster_row *row)
{
	char msg[ROSTER_MSG_MAX];
	char *t = trimmed(value);
	int empty, rc;

	if (t == NULL)
		return -1;
	empty = t[0] == '\0';
	free(t);
	if (empty && !needed(c, method))
		return 0;
	if (empty) {
		snprintf(msg, sizeof msg, "missing");
		rc = -1;
	} else {
		rc = c->set(value, row, msg, sizeof msg);
	}
	if (rc == NOMEM)
		return -1;
	if (rc != 0)
		return add_error(r, row->line, c->name, msg) == 0 ? 1 : -1;
	return 0;
}

int
roster_row_make(const char *number, const char *name, const char *birth,
		const char *mail, const char *household, const char *nickname,
		const char *key_required, enum kenpo_regmethod method,
		struct roster_row *row, const char **field, char *msg, size_t msgsz)
{
	const char *values[NCOLUMNS] = {
		number, name, birth, mail, household, nickname, key_required
	};
	struct roster tmp = { 0 };
	size_t i;
	int rc = 0;

	memset(row, 0, sizeof *row);
	row->key_required = -1;
	for (i = 0; i < NCOLUMNS && rc == 0; i++)
		rc = set_column(&tmp, &columns[i], values[i] != NULL ? values[i] : "", method, row);
	if (rc != 0) {
		*field = tmp.nerrs > 0 ? columns[i - 1].name : "";
		snprintf(msg, msgsz, "%s", tmp.nerrs > 0 ? tmp.errs[0].msg : "out of memory");
		roster_row_clear(row);
	}
	free(tmp.errs);
	return rc != 0 ? -1 : 0;
}

/* ---- the header ---- */

static const struct column *
column_named(const char *name)
{
	size_t i, j;

	for (i = 0; i < NCOLUMNS; i++) {
		if (strcasecmp(name, columns[i].name) == 0)
			return &columns[i];
		for (j = 0; j < 3 && columns[i].aliases[j] != NULL; j++)
			if (strcasecmp(name, columns[i].aliases[j]) == 0)
				return &columns[i];
	}
	return NULL;
}

/* Map the header's fields to columns.  0, or 1 (fatal error added), -1. */
static int
read_header(struct roster *r, struct csv_reader *cr, enum kenpo_regmethod method,
	    const struct column **map)
{
	char msg[ROSTER_MSG_MAX], *name;
	size_t i, j;
	int rc = csv_next(cr), seen;

	if (rc < 0)
		return -1;
	if (rc == CSV_EOF || rc == CSV_BAD)
		return add_error(r, rc == CSV_BAD ? cr->err_line : 1, "",
				 rc == CSV_BAD ? cr->err : "empty file: no header line") == 0 ? 1 : -1;
	for (i = 0; i < cr->nfields; i++) {
		if ((name = trimmed(csv_field(cr, i))) == NULL)
			return -1;
		map[i] = column_named(name);
		for (j = 0; j < i && map[i] != NULL; j++)
			if (map[j] == map[i])
				map[i] = NULL;
		if (map[i] == NULL)
			snprintf(msg, sizeof msg, "unknown or repeated column \"%.40s\" "
				 "(see kenpo-admin --help import)", name);
		free(name);
		if (map[i] == NULL)
			return add_error(r, cr->rec_line, "", msg) == 0 ? 1 : -1;
	}
	for (i = 0; i < NCOLUMNS; i++) {
		for (j = 0, seen = 0; j < cr->nfields; j++)
			seen |= map[j] == &columns[i];
		if (!seen && needed(&columns[i], method)) {
			snprintf(msg, sizeof msg, "no \"%s\" column", columns[i].name);
			return add_error(r, cr->rec_line, "", msg) == 0 ? 1 : -1;
		}
	}
	return 0;
}

/* ---- the rows ---- */

static int
keep_row(struct roster *r, struct roster_row *row)
{
	struct roster_row *nr;

	if (r->nrows == r->rowcap) {
		nr = realloc(r->rows, (r->rowcap == 0 ? 64 : 2 * r->rowcap) * sizeof *nr);
		if (nr == NULL)
			return -1;
		r->rows = nr;
		r->rowcap = r->rowcap == 0 ? 64 : 2 * r->rowcap;
	}
	r->rows[r->nrows++] = *row;
	return 0;
}

/* One record of the CSV: checked, then kept or refused. 0 or -1. */
static int
read_row(struct roster *r, struct csv_reader *cr, const struct column **map, size_t ncols,
	 enum kenpo_regmethod method)
{
	struct roster_row row = { .line = cr->rec_line, .key_required = -1 };
	char msg[ROSTER_MSG_MAX];
	size_t i;
	int bad = 0, rc;

	if (cr->nfields != ncols) {
		snprintf(msg, sizeof msg, "%zu fields where the header has %zu", cr->nfields, ncols);
		r->nbad++;
		return add_error(r, cr->rec_line, "", msg);
	}
	for (i = 0; i < ncols; i++) {
		rc = set_column(r, map[i], csv_field(cr, i), method, &row);
		if (rc < 0) {
			roster_row_clear(&row);
			return -1;
		}
		bad |= rc;
	}
	if (bad) {
		r->nbad++;
		roster_row_clear(&row);
		return 0;
	}
	if (keep_row(r, &row) != 0) {
		roster_row_clear(&row);
		return -1;
	}
	return 0;
}

static int
by_number(const void *a, const void *b)
{
	const struct roster_row *const *x = a, *const *y = b;
	int c = strcasecmp((*x)->number, (*y)->number);

	return c != 0 ? c : ((*x)->line > (*y)->line) - ((*x)->line < (*y)->line);
}

/* A member number twice: the later rows are refused. 0 or -1. */
static int
refuse_duplicates(struct roster *r)
{
	struct roster_row **idx = malloc((r->nrows + 1) * sizeof *idx);
	char msg[ROSTER_MSG_MAX];
	size_t i, first = 0, kept = 0;

	if (idx == NULL)
		return -1;
	for (i = 0; i < r->nrows; i++)
		idx[i] = &r->rows[i];
	if (r->nrows > 1)
		qsort(idx, r->nrows, sizeof *idx, by_number);
	for (i = 1; i < r->nrows; i++) {
		if (strcasecmp(idx[i]->number, idx[first]->number) != 0) {
			first = i;
			continue;
		}
		snprintf(msg, sizeof msg, "%s is on line %lu already", idx[i]->number,
			 idx[first]->line);
		if (add_error(r, idx[i]->line, "member_number", msg) != 0) {
			free(idx);
			return -1;
		}
		idx[i]->line = 0;   /* refused below */
		r->nbad++;
	}
	free(idx);
	for (i = 0; i < r->nrows; i++) {
		if (r->rows[i].line == 0)
			roster_row_clear(&r->rows[i]);
		else
			r->rows[kept++] = r->rows[i];
	}
	r->nrows = kept;
	return 0;
}

static int
by_error_line(const void *a, const void *b)
{
	const struct roster_error *x = a, *y = b;

	if (x->line != y->line)
		return (x->line > y->line) - (x->line < y->line);
	return (x->seq > y->seq) - (x->seq < y->seq);
}

int
roster_read(const char *data, size_t len, enum kenpo_regmethod method, struct roster *r)
{
	struct csv_reader cr;
	const struct column *map[CSV_FIELDS_MAX];
	size_t ncols;
	int rc, ret = -1;

	memset(r, 0, sizeof *r);
	csv_init(&cr, data, len, 0);
	rc = read_header(r, &cr, method, map);
	if (rc != 0) {
		r->fatal = rc > 0;
		ret = rc > 0 ? 0 : -1;
		goto done;
	}
	ncols = cr.nfields;
	while ((rc = csv_next(&cr)) != CSV_EOF) {
		if (rc < 0)
			goto done;
		if (rc == CSV_BAD) {
			r->nbad++;
			if (add_error(r, cr.err_line, cr.err_field >= 1 && cr.err_field <= ncols ?
				      map[cr.err_field - 1]->name : "", cr.err) != 0)
				goto done;
		} else if (read_row(r, &cr, map, ncols, method) != 0) {
			goto done;
		}
	}
	if (refuse_duplicates(r) != 0)
		goto done;
	if (r->nerrs > 1)
		qsort(r->errs, r->nerrs, sizeof *r->errs, by_error_line);
	ret = 0;
done:
	csv_free(&cr);
	return ret;
}

void
roster_free(struct roster *r)
{
	size_t i;

	for (i = 0; i < r->nrows; i++)
		roster_row_clear(&r->rows[i]);
	free(r->rows);
	free(r->errs);
	memset(r, 0, sizeof *r);
}
