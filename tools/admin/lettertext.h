/*
 * lettertext.h - the wording of the registration letters, from a template
 * file as the mails' (template.h): TEMPLATEDIR/<lang>/letter.txt, or the
 * society's template_dir/<lang>/letter.txt when it has one.
 *
 * The file is UTF-8 text in sections: a line "[name]" starts the text of
 * `name`, which runs to the next such line; the empty lines around a text
 * are left out, spaces at the start or end of its lines stay (" 様").
 * Lines before the first section starting with '#' are comments.  Every
 * section of enum letter_key must be there, once, and no other; the
 * placeholders %%SOCIETY%%, %%LOGINURL%%, %%ENTRY%% (the entry address,
 * "" without one), %%COUNT%% and %%OFFICE%% (an employer's cover page)
 * are replaced.  Errors name the file and its line.
 */
#ifndef KENPO_ADMIN_LETTERTEXT_H
#define KENPO_ADMIN_LETTERTEXT_H

#include <stddef.h>

#include "config.h"

enum letter_key {
	LT_HEADING,
	LT_INTRO,
	LT_DEPENDENTS,
	LT_NUMBER,
	LT_HONORIFIC,
	LT_OFFICE,
	LT_NAME_LABEL,
	LT_NICKNAME_LABEL,
	LT_LOGIN_LABEL,
	LT_PASSWORD_LABEL,
	LT_EXPIRY_LABEL,
	LT_EXPIRY_NOTE,
	LT_SPELL_OPEN,
	LT_SPELL_CLOSE,
	LT_SPELL_SEP,
	LT_FLOW,
	LT_STEP1,
	LT_STEP1_LEAD,
	LT_STEP1_LEAD_WEB,
	LT_WAY_A,
	LT_WAY_A_URL,
	LT_WAY_A_SEND,
	LT_WAY_B,
	LT_WAY_B_MAIL,
	LT_WAY_B_QR,
	LT_STEP2,
	LT_STEP2_TEXT,
	LT_STEP2_SPAM,
	LT_STEP3,
	LT_STEP3_TEXT,
	LT_NOTE1,
	LT_NOTE2,
	LT_KEEP,
	LT_COVER_HEADING,
	LT_COVER_COUNT,
	LT_COVER_NOTE,
	LT_COUNT
};

struct letter_text {
	char *text[LT_COUNT];    /* the sections as written (placeholders in them) */
	unsigned line[LT_COUNT]; /* where each starts, for messages */
	char path[4096];
	const struct kenpo_society *soc;
};

/* Read and check the wording of soc's letters (soc must outlive t).  0, or
 * -1 with err filled. */
int letter_text_load(const struct kenpo_society *soc, struct letter_text *t, char *err,
		     size_t errsz);
/* The check of letter_text_load on the file's text s[0..len), which need
 * not end in a NUL: t->soc and t->path (for messages) are set, its texts
 * NULL.  0, or -1 with err filled and t's texts freed. */
int letter_text_parse(struct letter_text *t, const char *s, size_t len, char *err, size_t errsz);
void letter_text_free(struct letter_text *t);

/* Section k with its placeholders filled (count and office for a cover
 * page, NULL elsewhere), in a malloc'd string; NULL when out of memory
 * (the text was checked when loaded). */
char *letter_text(const struct letter_text *t, enum letter_key k, const char *count,
		  const char *office);

#endif
