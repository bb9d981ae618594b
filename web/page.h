/*
 * page.h - HTML of the screens: an output buffer, escaping, the frame of
 * every page (header with 文字サイズ, ヘルプ and the language switch), and
 * form fields with their labels.
 *
 * Everything that did not come from this file's string literals goes
 * through page_text() or the %s of hf(), which escape it: no screen
 * writes unescaped text.  Forms carry the session's CSRF token.
 */
#ifndef KENPO_WEB_PAGE_H
#define KENPO_WEB_PAGE_H

#include "web.h"

void buf_add(struct buf *b, const char *s, size_t n);
void buf_free(struct buf *b);
/* Append s with & < > " ' escaped. */
void buf_escape(struct buf *b, const char *s);

/* Raw HTML: the format is a literal of the program. */
__attribute__((format(printf, 2, 3))) void hraw(struct req *r, const char *fmt, ...);
/* HTML with every %s argument escaped (only %s, %d, %ld and %% are allowed). */
void hf(struct req *r, const char *fmt, ...);
void page_text(struct req *r, const char *s);

/* The start of a page: title (h1) and its lead line, as the manuals show. */
void page_begin(struct req *r, const char *title, const char *lead);
void page_end(struct req *r);
/* A message box: an error (role=alert) or a notice. */
void page_error(struct req *r, const char *msg);
void page_notice(struct req *r, const char *msg);
/* The notice a previous request left in the session, once. */
void page_session_notice(struct req *r);

void form_begin(struct req *r, const char *action);
void form_end(struct req *r);

struct field {
	const char *name; /* also the id */
	const char *label;
	const char *type;  /* text, password, email, number */
	const char *value; /* NULL: empty */
	const char *autocomplete;
	int maxlength;
	int required;          /* the manual's 「*」 */
	const char *hint;      /* a line under the field, or NULL */
	const char *inputmode; /* numeric, email, or NULL */
};
void page_field(struct req *r, const struct field *f);
/* The 「パスワードを表示する」 box (shown by kenpo.js; pages work without it). */
void page_show_password(struct req *r, const char *ids);
void page_button(struct req *r, const char *label, const char *cls);
/* A link that looks like a button (GET) to a page of the society, e.g.
 * 「ログイン画面」 to "login". */
void page_link_button(struct req *r, const char *href, const char *label);

/* Every rule of a policy mask (enum kenpo_rule, KENPO_PWC_SAME_AS_OLD),
 * one line each, in an error box under `intro`. */
void page_policy(struct req *r, const char *intro, unsigned mask);
/* The manual's 【注1】 (login ID) and 【注2】 (password) notes. */
void page_rules_id(struct req *r);
void page_rules_password(struct req *r);
/* "10分" / "10 minutes", "45秒" / "45 seconds". */
void page_duration(const struct req *r, long seconds, char *out, size_t outsz);

#endif
