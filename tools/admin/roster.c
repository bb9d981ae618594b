/*
 * roster.c - reading and checking the roster (see roster.h).
 */
#include "autoconfig.h"

#include <errno.h>
#include <iconv.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "csv.h"
#include "i18n.h"
#include "mail.h"
#include "roster.h"

#define NOMEM (-2)

typedef int col_fn(const char *in, struct roster_row *row, struct roster_msg *m);

static col_fn set_number, set_name, set_birth, set_mail, set_household, set_nickname, set_postal,
	set_address, set_employer, set_office, set_left;

/* The columns: canonical name, other accepted names, when required. */
enum need { OPTIONAL, ALWAYS, FOR_IDENTITY };
static const struct column {
	const char *name;
	const char *aliases[4];
	enum need need;
	col_fn *set;
	const char *help;
} columns[RC_COUNT] = {
	[RC_NUMBER] = { "member_number",
			{ "number", "被保険者番号", "会員番号", NULL },
			ALWAYS,
			set_number,
			"the stable key: 1 to 32 of A-Z a-z 0-9 -" },
	[RC_NAME] = { "name",
		      { "氏名", "名前", NULL, NULL },
		      ALWAYS,
		      set_name,
		      "the real name (cn; sn is its first word), at most 64 characters" },
	[RC_BIRTH] = { "birth_date",
		       { "date_of_birth", "生年月日", NULL, NULL },
		       FOR_IDENTITY,
		       set_birth,
		       "YYYY-MM-DD, YYYY/MM/DD (also YYYY/M/D) or YYYYMMDD" },
	[RC_MAIL] = { "mail",
		      { "roster_mail", "company_mail", "メールアドレス", NULL },
		      FOR_IDENTITY,
		      set_mail,
		      "the company mail address, matched by the identity check" },
	[RC_HOUSEHOLD] = { "household",
			   { "家族", "世帯", NULL, NULL },
			   OPTIONAL,
			   set_household,
			   "dependents: name[:birth date], separated by ';' (at most 99)" },
	[RC_NICKNAME] = { "nickname",
			  { "ニックネーム", NULL, NULL, NULL },
			  OPTIONAL,
			  set_nickname,
			  "shown instead of the name (default ご本人)" },
	[RC_POSTAL_CODE] = { "postal_code",
			     { "郵便番号", "zip", NULL, NULL },
			     OPTIONAL,
			     set_postal,
			     "〒 of the letter's address: NNN-NNNN (or 7 digits)" },
	[RC_ADDRESS] = { "address",
			 { "住所", "送付先住所", NULL, NULL },
			 OPTIONAL,
			 set_address,
			 "the letter's address, at most 120 characters" },
	[RC_EMPLOYER] = { "employer",
			  { "事業所名", "勤務先", "事業所", NULL },
			  OPTIONAL,
			  set_employer,
			  "the employer (事業所) the letter goes to or through" },
	[RC_OFFICE] = { "office_code",
			{ "事業所番号", "事業所コード", "office", NULL },
			OPTIONAL,
			set_office,
			"the employer's office code, 1 to 16 of A-Z a-z 0-9 -; letters are "
			"sorted by it" },
	[RC_LEFT] = { "left",
		      { "資格喪失日", "loss_date", NULL, NULL },
		      OPTIONAL,
		      set_left,
		      "資格喪失日: the date the member left; from then on disabled" },
};

const char *
roster_column_name(enum roster_column c)
{
	return (unsigned)c < RC_COUNT ? columns[c].name : "";
}

const char *
roster_columns_help(void)
{
	static char text[2400];
	size_t i, o = 0;
	int n;

	for (i = 0; i < RC_COUNT && o < sizeof text; i++) {
		n = snprintf(text + o, sizeof text - o, "  %-14s %-9s %s\n", columns[i].name,
			     columns[i].need == ALWAYS       ? "required" :
			     columns[i].need == FOR_IDENTITY ? "identity" :
							       "",
			     columns[i].help);
		if (n < 0)
			break;
		o += (size_t)n;
	}
	if (o < sizeof text)
		snprintf(text + o, sizeof text - o,
			 "  (identity: required when the society "
			 "registers by identity check)\n");
	return text;
}

static void say_lang(char *out, size_t outsz, enum kenpo_lang lang, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* fmt in lang into out.  The catalogue's text has the same conversions
 * as the msgid (msgfmt --check). */
static void
say_lang(char *out, size_t outsz, enum kenpo_lang lang, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(out, outsz, kenpo_i18n_text(lang, fmt), ap);
	va_end(ap);
}

void
roster_say(struct roster_msg *m, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(m->en, sizeof m->en, fmt, ap);
	va_end(ap);
	va_start(ap, fmt);
	vsnprintf(m->ja, sizeof m->ja, kenpo_i18n_text(KENPO_LANG_JA, fmt), ap);
	va_end(ap);
}

/* ---- encodings ---- */

static const struct {
	const char *name;
	enum roster_encoding e;
} encodings[] = {
	{ "utf-8", RE_UTF8 },        { "utf8", RE_UTF8 },       { "utf-16", RE_UTF16 },
	{ "cp932", RE_CP932 },       { "shift_jis", RE_CP932 }, { "sjis", RE_CP932 },
	{ "windows-31j", RE_CP932 },
};

int
roster_encoding_parse(const char *s, enum roster_encoding *out)
{
	size_t i;

	for (i = 0; i < sizeof encodings / sizeof encodings[0]; i++)
		if (strcasecmp(s, encodings[i].name) == 0) {
			*out = encodings[i].e;
			return 0;
		}
	return -1;
}

const char *
roster_encoding_name(enum roster_encoding e)
{
	return e == RE_UTF16 ? "UTF-16" : e == RE_CP932 ? "CP932" : "UTF-8";
}

/* The line (1-based) of byte off in data, counted by LF bytes: no CP932
 * character has an LF as its second byte. */
static unsigned long
line_of(const char *data, size_t off)
{
	unsigned long line = 1;
	size_t i;

	for (i = 0; i < off; i++)
		line += data[i] == '\n';
	return line;
}

/* Convert data from `from` into UTF-8 with iconv.  0, 1 (EILSEQ or a
 * truncated character: e says where), -1. */
static int
convert(const char *data, size_t len, const char *from, char **out, size_t *outlen,
	struct roster_error *e)
{
	iconv_t cd = iconv_open("UTF-8", from);
	char *in = (char *)(uintptr_t)data, *buf, *o;
	size_t inleft = len, cap = 3 * len + 4, oleft = cap;
	int ret = -1;

	if (cd == (iconv_t)-1)
		return -1;
	buf = malloc(cap + 1);
	if (buf == NULL)
		goto done;
	o = buf;
	if (iconv(cd, &in, &inleft, &o, &oleft) == (size_t)-1) {
		/* The buffer holds three times the input: never E2BIG. */
		e->line = line_of(data, (size_t)(in - data));
		e->field[0] = '\0';
		roster_say(&e->msg,
			   "not %s text: byte 0x%02X cannot be read (give --encoding "
			   "if the file is in another encoding)",
			   strcmp(from, "CP932") == 0 ? "UTF-8 or CP932 (Shift_JIS)" : from,
			   (unsigned char)*in);
		free(buf);
		ret = 1;
		goto done;
	}
	*o = '\0';
	*out = buf;
	*outlen = (size_t)(o - buf);
	ret = 0;
done:
	iconv_close(cd);
	return ret;
}

int
roster_decode(const char *data, size_t len, enum roster_encoding want, char **out, size_t *outlen,
	      enum roster_encoding *used, struct roster_error *e)
{
	int bom8 = len >= 3 && memcmp(data, "\xEF\xBB\xBF", 3) == 0;
	int bom16 = len >= 2 &&
		    (memcmp(data, "\xFF\xFE", 2) == 0 || memcmp(data, "\xFE\xFF", 2) == 0);

	if (want == RE_AUTO)
		want = bom8                      ? RE_UTF8 :
		       bom16                     ? RE_UTF16 :
		       csv_utf8_valid(data, len) ? RE_UTF8 :
						   RE_CP932;
	*used = want;
	if (want == RE_UTF16)
		return convert(data, len, "UTF-16", out, outlen, e);
	if (want == RE_CP932)
		return convert(data, len, "CP932", out, outlen, e);
	/* UTF-8 as it is: the CSV reader checks each field and skips the BOM. */
	*out = malloc(len + 1);
	if (*out == NULL)
		return -1;
	memcpy(*out, data, len);
	(*out)[len] = '\0';
	*outlen = len;
	return 0;
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

void
roster_name_key(const char *name, char *out, size_t outsz)
{
	size_t o = 0, n;
	int space = 0;

	/* Every run of white space (ASCII or U+3000) counts as one space, so
	 * that 「家族　花子」 and 「家族 花子」 are one person. */
	while ((n = space_at(name)) != 0)
		name += n;
	for (; *name != '\0' && o + 2 < outsz; name++) {
		if ((n = space_at(name)) != 0) {
			space = 1;
			name += n - 1;
			continue;
		}
		if (space)
			out[o++] = ' ';
		space = 0;
		out[o++] = *name;
	}
	out[o] = '\0';
}

/* Check a text value: valid UTF-8, no control character (C0, DEL, C1), at
 * most max characters.  0 or -1 with m. */
static int
text_ok(const char *s, size_t max, struct roster_msg *m)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t chars = 0, i, len = strlen(s);

	if (!csv_utf8_valid(s, len)) {
		roster_say(m, "invalid UTF-8");
		return -1;
	}
	for (i = 0; i < len; i++) {
		if (p[i] < 0x20 || p[i] == 0x7f ||
		    (p[i] == 0xC2 && i + 1 < len && p[i + 1] < 0xA0)) {
			roster_say(m, "control character in the text");
			return -1;
		}
		chars += (p[i] & 0xC0) != 0x80;
	}
	if (chars > max) {
		roster_say(m, "longer than %zu characters", max);
		return -1;
	}
	return 0;
}

int
roster_text_check(const char *s, size_t max, struct roster_msg *m)
{
	if (s[0] == '\0') {
		roster_say(m, "empty");
		return -1;
	}
	return text_ok(s, max, m);
}

/* Trim and check a text into *out.  0, -1 (m) or NOMEM. */
static int
take_text(const char *in, size_t max, char **out, struct roster_msg *m)
{
	char *t = trimmed(in);

	if (t == NULL)
		return NOMEM;
	if (t[0] == '\0') {
		roster_say(m, "empty");
		free(t);
		return -1;
	}
	if (text_ok(t, max, m) != 0) {
		free(t);
		return -1;
	}
	*out = t;
	return 0;
}

/* Full-width digits and dashes as Excel users type them ("５３０－０００１")
 * into ASCII, in a malloc'd copy of s (trimmed); NULL if out of memory. */
static char *
ascii_digits(const char *s)
{
	static const char *const dashes[] = {
		"\xEF\xBC\x8D", "\xE2\x88\x92", "\xE2\x80\x90", "\xE2\x80\x91", "\xE3\x83\xBC",
	};
	char *t = trimmed(s), *o, *p;
	size_t i;

	for (p = o = t; p != NULL && *p != '\0';) {
		/* U+FF10..U+FF19: EF BC 90..99 */
		if ((unsigned char)p[0] == 0xEF && (unsigned char)p[1] == 0xBC &&
		    (unsigned char)p[2] >= 0x90 && (unsigned char)p[2] <= 0x99) {
			*o++ = (char)('0' + ((unsigned char)p[2] - 0x90));
			p += 3;
			continue;
		}
		for (i = 0; i < sizeof dashes / sizeof dashes[0]; i++)
			if (strncmp(p, dashes[i], 3) == 0)
				break;
		if (i < sizeof dashes / sizeof dashes[0]) {
			*o++ = '-';
			p += 3;
			continue;
		}
		*o++ = *p++;
	}
	if (o != NULL)
		*o = '\0';
	return t;
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
set_number(const char *in, struct roster_row *row, struct roster_msg *m)
{
	char *t = trimmed(in);

	if (t == NULL)
		return NOMEM;
	if (!roster_number_ok(t)) {
		roster_say(m, "not a member number (1 to %d of A-Z a-z 0-9 -): %.40s",
			   ROSTER_NUMBER_MAX, t);
		free(t);
		return -1;
	}
	row->number = t;
	return 0;
}

/* ---- name ---- */

static int
set_name(const char *in, struct roster_row *row, struct roster_msg *m)
{
	char *name = NULL;
	size_t i;
	int r = take_text(in, ROSTER_NAME_MAX, &name, m);

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

/* Parse mindigits to maxdigits decimal digits at *p (strtoul, range-checked);
 * with exact, exactly maxdigits of a longer run of digits. */
static int
date_part(const char **p, size_t mindigits, size_t maxdigits, unsigned long *out)
{
	size_t n = strspn(*p, "0123456789");
	char buf[8];

	if (n < mindigits || maxdigits >= sizeof buf)
		return -1;
	if (n > maxdigits)
		n = maxdigits;
	/* A copy of the digits taken, so that strtoul stops where they end. */
	memcpy(buf, *p, n);
	buf[n] = '\0';
	errno = 0;
	*out = strtoul(buf, NULL, 10);
	if (errno != 0)
		return -1;
	*p += n;
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
		return date_part(&p, 4, 4, y) || date_part(&p, 2, 2, m) ||
				       date_part(&p, 2, 2, d) ?
			       -1 :
			       0;
	if (date_part(&p, 4, 4, y) != 0 || (*p != '-' && *p != '/'))
		return -1;
	sep = *p++;
	if (date_part(&p, 1, 2, m) != 0 || *p++ != sep || date_part(&p, 1, 2, d) != 0 ||
	    *p != '\0')
		return -1;
	return 0;
}

/* A date into "YYYY-MM-DD": a real calendar date from 1900 on, and, with
 * past_only, not after today (a child born today in Japan may be
 * "tomorrow" in UTC: a day is allowed).  0 or -1 with m. */
static int
norm_date(const char *s, int past_only, char out[ROSTER_DATE_LEN + 1], struct roster_msg *m)
{
	unsigned long y, mo, d;
	time_t now = time(NULL) + 24 * 3600;
	struct tm tm;
	char today[ROSTER_DATE_LEN + 1], text[3 * 24];

	if (date_fields(s, &y, &mo, &d) != 0) {
		roster_say(m, "not a date (YYYY-MM-DD, YYYY/MM/DD or YYYYMMDD): %.40s", s);
		return -1;
	}
	if (y < 1900 || mo < 1 || mo > 12 || d < 1 || d > (unsigned long)days_in_month(y, mo)) {
		roster_say(m, "no such date: %.40s", s);
		return -1;
	}
	/* y, mo and d are in range here, so the text is exactly 10 bytes. */
	snprintf(text, sizeof text, "%04lu-%02lu-%02lu", y, mo, d);
	memcpy(out, text, ROSTER_DATE_LEN);
	out[ROSTER_DATE_LEN] = '\0';
	if (past_only && (gmtime_r(&now, &tm) == NULL ||
			  strftime(today, sizeof today, "%Y-%m-%d", &tm) != ROSTER_DATE_LEN ||
			  strcmp(out, today) > 0)) {
		roster_say(m, "date in the future: %.40s", s);
		return -1;
	}
	return 0;
}

static int
take_date(const char *in, int past_only, char **out, struct roster_msg *m)
{
	char date[ROSTER_DATE_LEN + 1], *t = ascii_digits(in);
	int r;

	if (t == NULL)
		return NOMEM;
	r = norm_date(t, past_only, date, m);
	free(t);
	if (r != 0)
		return -1;
	*out = strdup(date);
	return *out != NULL ? 0 : NOMEM;
}

static int
set_birth(const char *in, struct roster_row *row, struct roster_msg *m)
{
	return take_date(in, 1, &row->birth, m);
}

static int
set_left(const char *in, struct roster_row *row, struct roster_msg *m)
{
	return take_date(in, 0, &row->left, m);
}

/* ---- mail ---- */

static int
set_mail(const char *in, struct roster_row *row, struct roster_msg *m)
{
	char *t = trimmed(in);

	if (t == NULL)
		return NOMEM;
	if (!kenpo_mail_address_ok(t)) {
		roster_say(m, "not a mail address: %.60s", t);
		free(t);
		return -1;
	}
	row->mail = t;
	return 0;
}

/* ---- household ---- */

/* One dependent, "name" or "name:date" in s (modified). 0, -1 or NOMEM. */
static int
add_dependent(char *s, struct roster_row *row, struct roster_msg *m)
{
	struct roster_house *h = &row->house[row->nhouse];
	char *colon = strrchr(s, ':');
	int r;

	if (colon != NULL) {
		*colon = '\0';
		r = take_date(colon + 1, 1, &h->birth, m);
		if (r != 0)
			return r;
	}
	r = take_text(s, ROSTER_NAME_MAX, &h->name, m);
	if (r != 0) {
		free(h->birth);
		h->birth = NULL;
		return r;
	}
	row->nhouse++;
	return 0;
}

/* 1 when dependent i is the same person as one before it. */
static int
dependent_twice(const struct roster_row *row, size_t i)
{
	char a[ROSTER_NAME_KEY_MAX], b[ROSTER_NAME_KEY_MAX];
	size_t j;

	roster_name_key(row->house[i].name, a, sizeof a);
	for (j = 0; j < i; j++) {
		roster_name_key(row->house[j].name, b, sizeof b);
		if (strcmp(a, b) == 0 &&
		    (row->house[i].birth == NULL) == (row->house[j].birth == NULL) &&
		    (row->house[i].birth == NULL ||
		     strcmp(row->house[i].birth, row->house[j].birth) == 0))
			return 1;
	}
	return 0;
}

static int
set_household(const char *in, struct roster_row *row, struct roster_msg *m)
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
			roster_say(m, "more than %d dependents", ROSTER_HOUSEHOLD_MAX);
			r = -1;
		} else if (t[0] != '\0') {
			r = add_dependent(t, row, m);
			if (r == -1) {
				struct roster_msg why = *m;

				/* Each language's message inside its own frame. */
				say_lang(m->en, sizeof m->en, KENPO_LANG_EN, "dependent %zu: %s",
					 row->nhouse + 1, why.en);
				say_lang(m->ja, sizeof m->ja, KENPO_LANG_JA, "dependent %zu: %s",
					 row->nhouse + 1, why.ja);
			} else if (r == 0 && dependent_twice(row, row->nhouse - 1)) {
				/* A dependent is known by name and birth date: twice
				 * the same would be one person in two entries. */
				roster_say(m,
					   "dependent %zu is given twice (same name and birth date)",
					   row->nhouse);
				r = -1;
			}
		}
		free(t);
	}
	free(copy);
	return r;
}

/* ---- nickname ---- */

static int
set_nickname(const char *in, struct roster_row *row, struct roster_msg *m)
{
	return take_text(in, ROSTER_NICKNAME_MAX, &row->nickname, m);
}

/* ---- the letter's address ---- */

static int
set_postal(const char *in, struct roster_row *row, struct roster_msg *m)
{
	char *t = ascii_digits(in), *p;
	char code[ROSTER_POSTAL_LEN + 1];
	size_t n;

	if (t == NULL)
		return NOMEM;
	/* 〒 in front is allowed: it is what the field means. */
	p = strncmp(t, "\xE3\x80\x92", 3) == 0 ? t + 3 : t;
	n = strlen(p);
	if (!((n == 7 && strspn(p, "0123456789") == 7) ||
	      (n == 8 && strspn(p, "0123456789") == 3 && p[3] == '-' &&
	       strspn(p + 4, "0123456789") == 4))) {
		roster_say(m, "not a postal code (NNN-NNNN): %.40s", t);
		free(t);
		return -1;
	}
	snprintf(code, sizeof code, "%.3s-%.4s", p, p + (n == 7 ? 3 : 4));
	free(t);
	row->postal_code = strdup(code);
	return row->postal_code != NULL ? 0 : NOMEM;
}

static int
set_address(const char *in, struct roster_row *row, struct roster_msg *m)
{
	return take_text(in, ROSTER_ADDRESS_MAX, &row->address, m);
}

static int
set_employer(const char *in, struct roster_row *row, struct roster_msg *m)
{
	return take_text(in, ROSTER_NAME_MAX, &row->employer, m);
}

static int
set_office(const char *in, struct roster_row *row, struct roster_msg *m)
{
	char *t = ascii_digits(in);
	size_t n;

	if (t == NULL)
		return NOMEM;
	n = strlen(t);
	if (n == 0 || n > ROSTER_OFFICE_MAX ||
	    strspn(t, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-") != n) {
		roster_say(m, "not an office code (1 to %d of A-Z a-z 0-9 -): %.40s",
			   ROSTER_OFFICE_MAX, t);
		free(t);
		return -1;
	}
	row->office_code = t;
	return 0;
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
	free(row->postal_code);
	free(row->address);
	free(row->employer);
	free(row->office_code);
	free(row->left);
	memset(row, 0, sizeof *row);
}

/* 1 when the column must have a value for this registration method. */
static int
needed(const struct column *c, enum kenpo_regmethod method)
{
	return c->need == ALWAYS || (c->need == FOR_IDENTITY && method == KENPO_REG_IDENTITY);
}

static int
add_error(struct roster *r, unsigned long line, const char *field, const struct roster_msg *m)
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
	ne->msg = *m;
	return 0;
}

/* Set one column of a row.  0, 1 (the value was refused: error added),
 * -1 when out of memory. */
static int
set_column(struct roster *r, const struct column *c, const char *value,
	   enum kenpo_regmethod method, struct roster_row *row)
{
	struct roster_msg m;
	char *t = trimmed(value);
	int empty, rc;

	if (t == NULL)
		return -1;
	empty = t[0] == '\0';
	free(t);
	if (empty && !needed(c, method))
		return 0;
	if (empty) {
		roster_say(&m, "missing");
		rc = -1;
	} else {
		rc = c->set(value, row, &m);
	}
	if (rc == NOMEM)
		return -1;
	if (rc != 0)
		return add_error(r, row->line, c->name, &m) == 0 ? 1 : -1;
	return 0;
}

int
roster_row_make(const char *const values[RC_COUNT], enum kenpo_regmethod method,
		struct roster_row *row, const char **field, struct roster_msg *msg)
{
	struct roster tmp = { 0 };
	size_t i;
	int rc = 0;

	memset(row, 0, sizeof *row);
	for (i = 0; i < RC_COUNT && rc == 0; i++)
		rc = set_column(&tmp, &columns[i], values[i] != NULL ? values[i] : "", method,
				row);
	if (rc != 0) {
		*field = tmp.nerrs > 0 ? columns[i - 1].name : "";
		if (tmp.nerrs > 0)
			*msg = tmp.errs[0].msg;
		else
			roster_say(msg, "out of memory");
		roster_row_clear(row);
	}
	free(tmp.errs);
	return rc != 0 ? -1 : 0;
}

/* ---- the header ---- */

/* The CSV reader's fault, in both languages. */
static void
csv_msg(const struct csv_reader *cr, struct roster_msg *m)
{
	snprintf(m->en, sizeof m->en, "%s", cr->err);
	snprintf(m->ja, sizeof m->ja, "%s", cr->err_ja);
}

static const struct column *
column_named(const char *name)
{
	size_t i, j;

	for (i = 0; i < RC_COUNT; i++) {
		if (strcasecmp(name, columns[i].name) == 0)
			return &columns[i];
		for (j = 0; j < 4 && columns[i].aliases[j] != NULL; j++)
			if (strcasecmp(name, columns[i].aliases[j]) == 0)
				return &columns[i];
	}
	return NULL;
}

/* Why the header's column `name` is refused.  key_required (認証キー) was
 * a member's setting once: whether a login needs the mailed key is the
 * society's policy now, and a roster that still sets it per member is
 * refused as a whole, so that nobody believes some members log in with
 * the password alone when the policy says otherwise. */
static void
say_bad_column(const char *name, struct roster_msg *m)
{
	if (strcasecmp(name, "key_required") == 0 || strcmp(name, "認証キー") == 0)
		roster_say(m,
			   "column \"%.40s\": whether a login needs the mailed key is no "
			   "member's setting: it is the society's key = required | optional "
			   "in kenpod.conf; remove the column",
			   name);
	else
		roster_say(m,
			   "unknown or repeated column \"%.40s\" "
			   "(see kenpo-admin --help import)",
			   name);
}

/* Map the header's fields to columns.  0, or 1 (fatal error added), -1. */
static int
read_header(struct roster *r, struct csv_reader *cr, enum kenpo_regmethod method,
	    const struct column **map)
{
	struct roster_msg m;
	char *name;
	size_t i, j;
	int rc = csv_next(cr), seen;

	if (rc < 0)
		return -1;
	if (rc == CSV_EOF) {
		roster_say(&m, "empty file: no header line");
		return add_error(r, 1, "", &m) == 0 ? 1 : -1;
	}
	if (rc == CSV_BAD) {
		csv_msg(cr, &m);
		return add_error(r, cr->err_line, "", &m) == 0 ? 1 : -1;
	}
	for (i = 0; i < cr->nfields; i++) {
		if ((name = trimmed(csv_field(cr, i))) == NULL)
			return -1;
		map[i] = column_named(name);
		for (j = 0; j < i && map[i] != NULL; j++)
			if (map[j] == map[i])
				map[i] = NULL;
		if (map[i] == NULL)
			say_bad_column(name, &m);
		free(name);
		if (map[i] == NULL)
			return add_error(r, cr->rec_line, "", &m) == 0 ? 1 : -1;
	}
	for (i = 0; i < RC_COUNT; i++) {
		for (j = 0, seen = 0; j < cr->nfields; j++)
			seen |= map[j] == &columns[i];
		if (!seen && needed(&columns[i], method)) {
			roster_say(&m, "no \"%s\" column", columns[i].name);
			return add_error(r, cr->rec_line, "", &m) == 0 ? 1 : -1;
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
	struct roster_row row = { .line = cr->rec_line };
	struct roster_msg m;
	size_t i;
	int bad = 0, rc;

	if (cr->nfields != ncols) {
		roster_say(&m, "%zu fields where the header has %zu", cr->nfields, ncols);
		r->nbad++;
		return add_error(r, cr->rec_line, "", &m);
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
	struct roster_msg m;
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
		roster_say(&m, "%s is on line %lu already", idx[i]->number, idx[first]->line);
		if (add_error(r, idx[i]->line, "member_number", &m) != 0) {
			free(idx);
			return -1;
		}
		idx[i]->line = 0; /* refused below */
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
	struct roster_msg m;
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
			csv_msg(&cr, &m);
			if (add_error(r, cr.err_line,
				      cr.err_field >= 1 && cr.err_field <= ncols ?
					      map[cr.err_field - 1]->name :
					      "",
				      &m) != 0)
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
