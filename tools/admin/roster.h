/*
 * roster.h - the society's roster: a CSV file of insured members, read and
 * checked row by row before anything is written to the directory.
 *
 * The file may be UTF-8 (with or without a byte order mark), UTF-16 with a
 * byte order mark, or CP932 (Shift_JIS as Windows and Excel write it):
 * roster_decode finds which and gives UTF-8.
 *
 * The columns are named in a header line (any order, names without regard
 * to case; Japanese names are accepted too):
 *   member_number  required  the stable key: 1 to 32 of A-Z a-z 0-9 '-'
 *   name           required  the real name (cn; sn is its first word)
 *   birth_date               YYYY-MM-DD, YYYY/MM/DD (or YYYY/M/D), YYYYMMDD
 *   mail                     the company address (kenpoRosterMail)
 *   household                dependents: "name[:birth date]" separated by ';'
 *   nickname                 shown instead of the name (default ご本人)
 *   postal_code              〒 of the letter's address: NNN-NNNN
 *   address                  the letter's address
 *   employer                 the employer (事業所) the letter goes through
 *   office_code              the employer's office code (letters are sorted by it)
 *   left                     資格喪失日: from that date the member is disabled
 * With the identity-check registration, birth_date and mail are required.
 * A key_required (認証キー) column is refused: whether a login needs the
 * mailed key is the society's `key` in kenpod.conf, no member's setting.
 */
#ifndef KENPO_ADMIN_ROSTER_H
#define KENPO_ADMIN_ROSTER_H

#include <stddef.h>
#include "config.h"

#define ROSTER_NUMBER_MAX 32
#define ROSTER_NAME_MAX 64     /* characters */
#define ROSTER_NICKNAME_MAX 64 /* characters (kenpoNickname is DS{64}) */
#define ROSTER_ADDRESS_MAX 120 /* characters */
#define ROSTER_OFFICE_MAX 16
#define ROSTER_HOUSEHOLD_MAX 99 /* kenpoHouseholdIndex has two digits */
#define ROSTER_DATE_LEN 10
#define ROSTER_POSTAL_LEN 8 /* NNN-NNNN */
#define ROSTER_MSG_MAX 320

/* A message in both languages: English, and Japanese from the catalogue
 * (English again when there is no translation). */
struct roster_msg {
	char en[ROSTER_MSG_MAX];
	char ja[ROSTER_MSG_MAX];
};

struct roster_house {
	char *name;
	char *birth; /* YYYY-MM-DD or NULL */
};

/* The columns, in the order of roster_row_make's values. */
enum roster_column {
	RC_NUMBER,
	RC_NAME,
	RC_BIRTH,
	RC_MAIL,
	RC_HOUSEHOLD,
	RC_NICKNAME,
	RC_POSTAL_CODE,
	RC_ADDRESS,
	RC_EMPLOYER,
	RC_OFFICE,
	RC_LEFT,
	RC_COUNT
};

struct roster_row {
	unsigned long line;
	char *number, *name, *sn;
	char *birth, *mail, *nickname; /* NULL when not given */
	size_t nhouse;
	struct roster_house *house;
	char *postal_code, *address, *employer, *office_code; /* NULL when not given */
	char *left; /* 資格喪失日 YYYY-MM-DD, or NULL */
};

struct roster_error {
	unsigned long line;
	char field[24]; /* column name, or "" for the whole row */
	struct roster_msg msg;
	size_t seq; /* order of discovery, to sort by line stably */
};

struct roster {
	struct roster_row *rows; /* the good rows, in file order */
	size_t nrows;
	struct roster_error *errs;
	size_t nerrs;
	size_t nbad; /* rows refused */
	int fatal;   /* nothing could be read (header, encoding) */
	size_t rowcap, errcap;
};

/* The encodings a roster may be in. */
enum roster_encoding { RE_AUTO, RE_UTF8, RE_UTF16, RE_CP932 };

/* Parse an --encoding value: "utf-8", "utf-16", "cp932" ("shift_jis",
 * "sjis" are taken as CP932, its superset).  0 or -1. */
int roster_encoding_parse(const char *s, enum roster_encoding *out);
const char *roster_encoding_name(enum roster_encoding e);

/* The roster in data[0..len) as UTF-8 in a malloc'd *out (NUL-terminated)
 * and the encoding found in *used.  RE_AUTO: a UTF-8 byte order mark, or
 * text that is valid UTF-8, is UTF-8; a UTF-16 byte order mark is UTF-16;
 * anything else is read as CP932.  0; 1 when the text is not in that
 * encoding (e says where: line and what); -1 when out of memory. */
int roster_decode(const char *data, size_t len, enum roster_encoding want, char **out,
		  size_t *outlen, enum roster_encoding *used, struct roster_error *e);

/* Read the roster (UTF-8) in data[0..len).  0 (errors, if any, are in
 * r->errs; r->fatal when the header itself is wrong), -1 when out of
 * memory. */
int roster_read(const char *data, size_t len, enum kenpo_regmethod method, struct roster *r);
void roster_free(struct roster *r);
void roster_row_clear(struct roster_row *row);

/* One row from values[RC_COUNT] (the options of `kenpo-admin issue`; NULL
 * for a value not given).  0, or -1 with *field (the column) and msg
 * saying what is wrong. */
int roster_row_make(const char *const values[RC_COUNT], enum kenpo_regmethod method,
		    struct roster_row *row, const char **field, struct roster_msg *msg);

/* The column name of c ("member_number", ...). */
const char *roster_column_name(enum roster_column c);

/* A text value as a roster column takes it (UTF-8, no control character,
 * not empty, at most max characters).  0, or -1 with m. */
int roster_text_check(const char *s, size_t max, struct roster_msg *m);

/* 1 when s is a valid member number. */
int roster_number_ok(const char *s);

/* A dependent's identity as compared between a roster and the directory:
 * the name with its white space collapsed.  out has room for
 * 4 * ROSTER_NAME_MAX + 1 bytes. */
void roster_name_key(const char *name, char *out, size_t outsz);
#define ROSTER_NAME_KEY_MAX (4 * ROSTER_NAME_MAX + 1)

/* The columns, for --help: one line each. */
const char *roster_columns_help(void);

/* Format a message in both languages: fmt is the English text and the
 * msgid of the Japanese one (po/ja.po). */
void roster_say(struct roster_msg *m, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
