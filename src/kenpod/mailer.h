/*
 * mailer.h - kenpod's mails: a template of the member's society, in the
 * society's language, sent through the configured relay.
 */
#ifndef KENPOD_MAILER_H
#define KENPOD_MAILER_H

#include <stddef.h>

#include "template.h"

struct kenpo_config;
struct kenpo_society;

/* Read the relay's settings (and smtp_password_file, so call it before
 * dropping privileges) and initialise libcurl, before any thread starts.
 * 0, or -1 with errbuf filled. */
int mailer_setup(const struct kenpo_config *cfg, char *errbuf, size_t errsz);
/* Wipe the relay password. */
void mailer_cleanup(void);

/*
 * Render template `kind` of `soc` (its template_dir, its language) with
 * vars (SOCIETY is added) and send it to `to`.  0, or -1 after logging why
 * (never the body: it may carry a key or a temporary password).  The
 * rendered text is wiped on every path.
 */
int mailer_send(const struct kenpo_society *soc, enum kenpo_mail_kind kind,
		const struct kenpo_var *vars, size_t nvars, const char *to);

/* Mail a link: template `kind` with URL (url_tmpl with every %%TOKEN%%
 * replaced by token, KENPO_TOKEN_LEN characters) and VALIDITY (validity
 * seconds in the society's words), and at most MAILER_LINK_EXTRA_MAX more
 * variables.  As mailer_send. */
#define MAILER_LINK_EXTRA_MAX 4
int mailer_send_link(const struct kenpo_society *soc, enum kenpo_mail_kind kind,
		     const char *url_tmpl, const char *token, long validity,
		     const struct kenpo_var *extra, size_t nextra, const char *to);

/*
 * Queue template `kind` of `soc` with vars for `to` and return at once:
 * the mail goes out after the answer, so that how long a request takes
 * does not tell whether it mailed anything.  The variables are copied (and
 * wiped after sending).  0, or -1 when it cannot be queued (logged).
 */
int mailer_queue(const struct kenpo_society *soc, enum kenpo_mail_kind kind,
		 const struct kenpo_var *vars, size_t nvars, const char *to);

#endif
