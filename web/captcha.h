/*
 * captcha.h - the CAPTCHA of 本人確認, and the hook for a society's own.
 *
 * A provider makes a challenge for a session, shows it in the form and
 * checks the answer.  Every answer is bound to the session that was shown
 * the challenge and is good for one try: verify() uses it up, right or
 * wrong, and the next form gets a new one.
 *
 * The built-in provider "image" draws five letters and digits of an
 * alphabet without look-alikes (no 0/O, 1/I/L, 2/Z, 5/S, 8/B), each turned
 * and moved a little, over crossing curves and dots, as a PNG made with
 * pango and cairo (no audio).  A society's own CAPTCHA is one more
 * provider: a file defining a struct captcha_provider with these four
 * functions, one row in the providers[] table of captcha.c, and its name
 * in kenpo-web.conf's `captcha` setting; the screens do not change.
 *
 * Tests only: a server built with KENPO_WEB_TEST_HOOKS (the
 * tests/web/kenpo-web-test binary, never installed) writes each new answer
 * to the file named by $KENPO_WEB_TEST_CAPTCHA_FILE, so that a browser test
 * can type it.  The installed kenpo-web has no such code, so no setting or
 * environment can make it reveal an answer.
 */
#ifndef KENPO_WEB_CAPTCHA_H
#define KENPO_WEB_CAPTCHA_H

#include <stddef.h>

#include "web.h"

struct captcha_provider {
	const char *name;
	/* A new challenge for r->s (kept in the session). 0 or -1. */
	int (*challenge)(struct req *r);
	/* The form's part: the challenge and the answer field "captcha". */
	void (*form)(struct req *r);
	/* GET <society>/captcha.png: the challenge's image into r->body. */
	void (*image)(struct req *r);
	/* 1 when `answer` solves the session's challenge, which is used up. */
	int (*verify)(struct req *r, const char *answer);
};

/* The provider of that name, or NULL. */
const struct captcha_provider *captcha_find(const char *name);

/* At the end of the server: the shared font map and fontconfig's caches. */
void captcha_shutdown(void);

/* The built-in provider's drawing, exposed for the unit tests: a PNG of
 * `text`.  0 or -1; *png is malloc'd. */
int captcha_draw(const char *text, unsigned char **png, size_t *len);

#endif
