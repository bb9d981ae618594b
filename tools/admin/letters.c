/*
 * letters.c - the letters CSV (see letters.h).
 */
#include "autoconfig.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "csv.h"
#include "letters.h"
#include "secret.h"

/* The stream's buffer is ours, so that the passwords that pass through
 * it can be wiped. */
#define STREAM_BUF 16384

struct letters {
	FILE *f;
	char *society;
	char buf[STREAM_BUF];
};

/* How each character is read aloud in Japanese. */
static const struct reading {
	char c;
	const char *kana;
} readings[] = {
	{ '0', "ゼロ" },       { '1', "イチ" },         { '2', "ニ" },       { '3', "サン" },
	{ '4', "ヨン" },       { '5', "ゴ" },           { '6', "ロク" },     { '7', "ナナ" },
	{ '8', "ハチ" },       { '9', "キュウ" },       { 'A', "エー" },     { 'B', "ビー" },
	{ 'C', "シー" },       { 'D', "ディー" },       { 'E', "イー" },     { 'F', "エフ" },
	{ 'G', "ジー" },       { 'H', "エイチ" },       { 'I', "アイ" },     { 'J', "ジェー" },
	{ 'K', "ケー" },       { 'L', "エル" },         { 'M', "エム" },     { 'N', "エヌ" },
	{ 'O', "オー" },       { 'P', "ピー" },         { 'Q', "キュー" },   { 'R', "アール" },
	{ 'S', "エス" },       { 'T', "ティー" },       { 'U', "ユー" },     { 'V', "ブイ" },
	{ 'W', "ダブリュー" }, { 'X', "エックス" },     { 'Y', "ワイ" },     { 'Z', "ゼット" },
	{ '.', "ドット" },     { '_', "アンダーバー" }, { '-', "ハイフン" },
};

static const char *
reading_of(char c)
{
	size_t i;

	for (i = 0; i < sizeof readings / sizeof readings[0]; i++)
		if (readings[i].c == c)
			return readings[i].kana;
	return NULL;
}

int
letters_spell(const char *s, int mark_case, char *out, size_t outsz)
{
	size_t o = 0;
	int n, upper, lower;
	const char *kana;

	if (outsz == 0)
		return -1;
	out[0] = '\0';
	for (; *s != '\0'; s++) {
		upper = *s >= 'A' && *s <= 'Z';
		lower = *s >= 'a' && *s <= 'z';
		kana = reading_of(lower ? (char)(*s - 'a' + 'A') : *s);
		if (kana == NULL)
			return -1;
		n = snprintf(out + o, outsz - o, "%s%s%s", o > 0 ? "、" : "", kana,
			     !mark_case ? "" :
			     upper      ? "(大)" :
			     lower      ? "(小)" :
					  "");
		if (n < 0 || (size_t)n >= outsz - o)
			return -1;
		o += (size_t)n;
	}
	return 0;
}

const char *const letters_columns[LC_COUNT] = {
	[LC_SOCIETY] = "society",
	[LC_LINE] = "line",
	[LC_NUMBER] = "member_number",
	[LC_NAME] = "name",
	[LC_NICKNAME] = "nickname",
	[LC_LOGIN] = "login_id",
	[LC_LOGIN_READING] = "login_id_reading",
	[LC_PASSWORD] = "temp_password",
	[LC_PASSWORD_READING] = "temp_password_reading",
	[LC_EXPIRY] = "temp_password_expiry",
	[LC_POSTAL_CODE] = "postal_code",
	[LC_ADDRESS] = "address",
	[LC_EMPLOYER] = "employer",
	[LC_OFFICE] = "office_code",
};

int
letters_open(const char *path, const char *society, struct letters **out, char *err, size_t errsz)
{
	struct letters *l = calloc(1, sizeof *l);
	int fd;

	if (l == NULL || (l->society = strdup(society != NULL ? society : "")) == NULL) {
		snprintf(err, errsz, "out of memory");
		goto fail;
	}
	/* Never over an existing file: it may hold the letters of an earlier run. */
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0 || fchmod(fd, 0600) != 0 || (l->f = fdopen(fd, "w")) == NULL) {
		snprintf(err, errsz, "%s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		goto fail;
	}
	if (setvbuf(l->f, l->buf, _IOFBF, sizeof l->buf) != 0 ||
	    csv_write_row(l->f, letters_columns, LC_COUNT) != 0) {
		snprintf(err, errsz, "%s: cannot write", path);
		goto fail;
	}
	*out = l;
	return 0;
fail:
	if (l != NULL && l->f != NULL)
		fclose(l->f);
	if (l != NULL)
		free(l->society);
	free(l);
	return -1;
}

int
letters_write(struct letters *l, const struct letter *x)
{
	char line[24], id_spelled[LETTERS_SPELL_MAX], pw_spelled[LETTERS_SPELL_MAX];
	const char *fields[LC_COUNT];
	int ret = -1;

	snprintf(line, sizeof line, "%lu", x->line);
	if (letters_spell(x->login, 0, id_spelled, sizeof id_spelled) != 0 ||
	    letters_spell(x->password, 1, pw_spelled, sizeof pw_spelled) != 0)
		goto done;
	fields[LC_SOCIETY] = l->society;
	fields[LC_LINE] = x->line != 0 ? line : "";
	fields[LC_NUMBER] = x->number;
	fields[LC_NAME] = x->name;
	fields[LC_NICKNAME] = x->nickname;
	fields[LC_LOGIN] = x->login;
	fields[LC_LOGIN_READING] = id_spelled;
	fields[LC_PASSWORD] = x->password;
	fields[LC_PASSWORD_READING] = pw_spelled;
	fields[LC_EXPIRY] = x->expiry;
	fields[LC_POSTAL_CODE] = x->postal_code;
	fields[LC_ADDRESS] = x->address;
	fields[LC_EMPLOYER] = x->employer;
	fields[LC_OFFICE] = x->office_code;
	ret = csv_write_row(l->f, fields, LC_COUNT);
done:
	kenpo_wipe(pw_spelled, sizeof pw_spelled);
	return ret;
}

int
letters_close(struct letters *l, char *err, size_t errsz)
{
	int ret = 0;

	if (fflush(l->f) != 0 || fsync(fileno(l->f)) != 0) {
		snprintf(err, errsz, "cannot write the letters: %s", strerror(errno));
		ret = -1;
	}
	if (fclose(l->f) != 0 && ret == 0) {
		snprintf(err, errsz, "cannot write the letters: %s", strerror(errno));
		ret = -1;
	}
	kenpo_wipe(l->buf, sizeof l->buf);
	free(l->society);
	free(l);
	return ret;
}
