/*
 * lettertext.c - the letters' wording from a template file (see
 * lettertext.h).
 */
#include "autoconfig.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lettertext.h"
#include "template.h"
#include "text.h"

static const char *const names[LT_COUNT] = {
	[LT_HEADING] = "heading",
	[LT_INTRO] = "intro",
	[LT_DEPENDENTS] = "dependents",
	[LT_NUMBER] = "number",
	[LT_HONORIFIC] = "honorific",
	[LT_OFFICE] = "office",
	[LT_NAME_LABEL] = "name_label",
	[LT_NICKNAME_LABEL] = "nickname_label",
	[LT_LOGIN_LABEL] = "login_label",
	[LT_PASSWORD_LABEL] = "password_label",
	[LT_EXPIRY_LABEL] = "expiry_label",
	[LT_EXPIRY_NOTE] = "expiry_note",
	[LT_SPELL_OPEN] = "spell_open",
	[LT_SPELL_CLOSE] = "spell_close",
	[LT_SPELL_SEP] = "spell_sep",
	[LT_FLOW] = "flow",
	[LT_STEP1] = "step1",
	[LT_STEP1_LEAD] = "step1_lead",
	[LT_STEP1_LEAD_WEB] = "step1_lead_web",
	[LT_WAY_A] = "way_a",
	[LT_WAY_A_URL] = "way_a_url",
	[LT_WAY_A_SEND] = "way_a_send",
	[LT_WAY_B] = "way_b",
	[LT_WAY_B_MAIL] = "way_b_mail",
	[LT_WAY_B_QR] = "way_b_qr",
	[LT_STEP2] = "step2",
	[LT_STEP2_TEXT] = "step2_text",
	[LT_STEP2_SPAM] = "step2_spam",
	[LT_STEP3] = "step3",
	[LT_STEP3_TEXT] = "step3_text",
	[LT_NOTE1] = "note1",
	[LT_NOTE2] = "note2",
	[LT_KEEP] = "keep",
	[LT_COVER_HEADING] = "cover_heading",
	[LT_COVER_COUNT] = "cover_count",
	[LT_COVER_NOTE] = "cover_note",
};

/* The section a "[name]" line names, LT_COUNT for another name, -1 when
 * the line is no section line. */
static int
section_of(const char *line, size_t n)
{
	size_t k;

	if (n < 3 || line[0] != '[' || line[n - 1] != ']')
		return -1;
	for (k = 0; k < LT_COUNT; k++)
		if (strlen(names[k]) == n - 2 && memcmp(names[k], line + 1, n - 2) == 0)
			return (int)k;
	return LT_COUNT;
}

/* Keep the text of section k: from..to, without the empty lines around it. */
static int
keep(struct letter_text *t, int k, const char *from, const char *to, unsigned line)
{
	while (from < to && *from == '\n') {
		from++;
		line++;
	}
	while (to > from && to[-1] == '\n')
		to--;
	t->text[k] = strndup(from, (size_t)(to - from));
	t->line[k] = line;
	return t->text[k] != NULL ? 0 : -1;
}

/* Split the file into its sections.  0 or -1 with err. */
static int
parse(struct letter_text *t, const char *s, size_t len, char *err, size_t errsz)
{
	const char *p = s, *end = s + len, *nl, *body = NULL;
	unsigned line = 1, body_line = 0;
	int k, cur = -1;

	for (; p < end; p = nl + 1, line++) {
		nl = memchr(p, '\n', (size_t)(end - p));
		if (nl == NULL)
			nl = end;
		k = section_of(p, (size_t)(nl - p));
		if (k < 0 && cur < 0 && (p == nl || *p == '#'))
			continue;
		if (k < 0 && cur < 0) {
			snprintf(err, errsz, "%.300s:%u: text before the first [section]",
				 t->path, line);
			return -1;
		}
		if (k < 0)
			continue;
		/* The section still open counts as given: its text is kept
		 * only when the next header comes. */
		if (k == LT_COUNT || t->text[k] != NULL || k == cur) {
			snprintf(err, errsz, "%.300s:%u: %s section %.*s", t->path, line,
				 k == LT_COUNT ? "unknown" : "repeated", (int)(nl - p), p);
			return -1;
		}
		if (cur >= 0 && keep(t, cur, body, p, body_line) != 0)
			goto nomem;
		cur = k;
		body = nl < end ? nl + 1 : end;
		body_line = line + 1;
	}
	if (cur >= 0 && keep(t, cur, body, end, body_line) != 0)
		goto nomem;
	for (k = 0; k < LT_COUNT; k++)
		if (t->text[k] == NULL) {
			snprintf(err, errsz, "%.300s: no [%s] section", t->path, names[k]);
			return -1;
		}
	return 0;
nomem:
	snprintf(err, errsz, "out of memory");
	return -1;
}

static char *
fill(const struct letter_text *t, enum letter_key k, const char *count, const char *office,
     char *err, size_t errsz)
{
	const struct kenpo_var vars[] = {
		{ "SOCIETY", t->soc->name },
		{ "LOGINURL", t->soc->login_url },
		{ "ENTRY", t->soc->entry_address != NULL ? t->soc->entry_address : "" },
		{ "COUNT", count },
		{ "OFFICE", office },
	};
	char *out = NULL, e[512];

	if (kenpo_template_fill(t->text[k], strlen(t->text[k]), t->line[k], vars,
				sizeof vars / sizeof vars[0], &out, e, sizeof e) != 0) {
		snprintf(err, errsz, "%.300s: [%s]: %s", t->path, names[k], e);
		return NULL;
	}
	return out;
}

int
letter_text_parse(struct letter_text *t, const char *s, size_t len, char *err, size_t errsz)
{
	char *v;
	size_t k;

	if (!kenpo_utf8_valid(s, len) || memchr(s, '\0', len) != NULL ||
	    memchr(s, '\r', len) != NULL) {
		snprintf(err, errsz, "%.300s: not UTF-8 text with LF line ends", t->path);
		goto fail;
	}
	if (parse(t, s, len, err, errsz) != 0)
		goto fail;
	/* Every placeholder known and filled, before any page is drawn. */
	for (k = 0; k < LT_COUNT; k++) {
		if ((v = fill(t, (enum letter_key)k, "0", "0", err, errsz)) == NULL)
			goto fail;
		free(v);
	}
	return 0;
fail:
	letter_text_free(t);
	return -1;
}

int
letter_text_load(const struct kenpo_society *soc, struct letter_text *t, char *err, size_t errsz)
{
	char *s = NULL;
	size_t len = 0;
	int ret;

	memset(t, 0, sizeof *t);
	t->soc = soc;
	if (kenpo_template_read("letter", soc->lang, soc->template_dir, &s, &len, t->path,
				sizeof t->path, err, errsz) != 0)
		return -1;
	ret = letter_text_parse(t, s, len, err, errsz);
	free(s);
	return ret;
}

void
letter_text_free(struct letter_text *t)
{
	size_t k;

	for (k = 0; k < LT_COUNT; k++) {
		free(t->text[k]);
		t->text[k] = NULL;
	}
}

char *
letter_text(const struct letter_text *t, enum letter_key k, const char *count, const char *office)
{
	char err[512];

	return fill(t, k, count != NULL ? count : "", office != NULL ? office : "", err,
		    sizeof err);
}
