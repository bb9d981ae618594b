/*
 * letters.h - the mail-merge CSV of the registration letters
 * 「健康マイポータル(健康ポータルサイト)への登録について」.
 *
 * A temporary password is stored only as a hash, so the moment it is made
 * is the only moment it exists in clear: issue, import and reissue write
 * it here, in a file only its owner may read (mode 0600, never an
 * existing file), with the login ID and the password also spelled out
 * character by character in katakana (0 ゼロ, O オー, 1 イチ, l エル),
 * so that nobody types one look-alike for another.
 */
#ifndef KENPO_ADMIN_LETTERS_H
#define KENPO_ADMIN_LETTERS_H

#include <stddef.h>

struct letters;

/* The columns of the letters CSV, in their order; its header line names
 * them with letters_columns (lettercmd.c finds them by these names). */
enum letters_column {
	LC_SOCIETY,
	LC_LINE,
	LC_NUMBER,
	LC_NAME,
	LC_NICKNAME,
	LC_LOGIN,
	LC_LOGIN_READING,
	LC_PASSWORD,
	LC_PASSWORD_READING,
	LC_EXPIRY,
	LC_POSTAL_CODE,
	LC_ADDRESS,
	LC_EMPLOYER,
	LC_OFFICE,
	LC_COUNT
};
extern const char *const letters_columns[LC_COUNT];

struct letter {
	unsigned long line; /* roster line, 0 for none */
	const char *number, *name, *nickname, *login, *password;
	const char *expiry; /* "YYYY-MM-DD HH:MM UTC" or "" */
	/* where the letter goes (the window of the envelope); NULL or "" for none */
	const char *postal_code, *address, *employer, *office_code;
};

/* Create path (O_EXCL, mode 0600) and write the header.  0, or -1 with err. */
int letters_open(const char *path, const char *society, struct letters **out, char *err,
		 size_t errsz);
/* Write one letter.  0 or -1. */
int letters_write(struct letters *l, const struct letter *x);
/* Flush to the disk and close; wipes the stream's buffer.  0 or -1 with
 * err.  l is freed in any case. */
int letters_close(struct letters *l, char *err, size_t errsz);

/* Room for the spelling of a login ID or password (at most 39
 * characters): the longest reading, 「ダブリュー(大)」, is 21 bytes, with
 * 「、」 24. */
#define LETTERS_SPELL_MAX (40 * 24 + 1)

/* Spell s in katakana readings separated by 「、」: each character of the
 * login ID and password alphabets (A-Z a-z 0-9 . _ -).  With mark_case,
 * letters carry (大) or (小), as passwords are case-sensitive; login IDs
 * are not.  0, or -1 for another character or a small out. */
int letters_spell(const char *s, int mark_case, char *out, size_t outsz);

#endif
