/*
 * mailer.h - kenpod's mails: a template of the member's society, in the
 * society's language, sent through the configured relay by a bounded pool
 * of mailer threads.
 *
 * No request worker talks to the relay itself.  A mail is rendered and
 * composed in the caller's thread (so a template error is the caller's to
 * see) and handed to the pool:
 *
 *   mailer_queue()  returns at once; the mail goes out after the answer.
 *                   For mails whose answer must not depend on whether an
 *                   address is known (reset, guide, identity, notices):
 *                   the time of the answer is then the same either way.
 *   mailer_send()   waits for the outcome, at most the relay's timeout and
 *                   a little more (mailer_wait_ms), for the one mail whose
 *                   outcome the answer needs: the key.  Such mails go to
 *                   the front of the queue.
 *
 * So a stalled relay holds the mailer threads and the requests that wait
 * for a key mail, and no other worker.  The queue is bounded
 * (mail_queue); the threads (mail_threads) start with the first mail, and
 * at exit the queue is given smtp_timeout to drain.
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
/* A request worker holds the mails its request queues (mailer_queue)
 * from mailer_hold until mailer_release, called once the answer is sent:
 * their places in the queue are taken at once (a full queue is the
 * request's to see), but no mailer thread starts on them while the answer
 * is still being made, so the answer's time does not show whether a mail
 * was queued, even on a machine with no processor to spare. */
void mailer_hold(void);
void mailer_release(void);

/* Stop the mailer threads (after giving the queue smtp_timeout to drain;
 * what is left is dropped and logged) and wipe the relay password. */
void mailer_cleanup(void);

/*
 * Render template `kind` of `soc` (its template_dir, its language) with
 * vars (SOCIETY is added), send it to `to` and wait for the outcome.  0
 * when the relay took it; -1 after logging why (never the body: it may
 * carry a key or a temporary password): a template or address error, the
 * queue full, the relay refusing or failing, or no outcome within
 * mailer_wait_ms (the mail is then dropped if it has not started, and
 * its late outcome only logged if it has).  The rendered text is wiped on
 * every path.
 */
int mailer_send(const struct kenpo_society *soc, enum kenpo_mail_kind kind,
		const struct kenpo_var *vars, size_t nvars, const char *to);

/*
 * As mailer_send, but return at once: 0 when the mail is queued, -1 when
 * it cannot be rendered or the queue is full (both logged).  Whether the
 * relay takes it is only logged.
 */
int mailer_queue(const struct kenpo_society *soc, enum kenpo_mail_kind kind,
		 const struct kenpo_var *vars, size_t nvars, const char *to);

/*
 * Render and compose the mail as mailer_queue would, and drop it unsent:
 * the work of a mail, for a request whose answer must not tell that none
 * was queued.  Errors are logged only.
 */
void mailer_compose_only(const struct kenpo_society *soc, enum kenpo_mail_kind kind,
			 const struct kenpo_var *vars, size_t nvars, const char *to);

/* The longest mailer_send waits: smtp_timeout and two seconds. */
long mailer_wait_ms(void);

/* Mail a link: template `kind` with URL (url_tmpl with every %%TOKEN%%
 * replaced by token, KENPO_TOKEN_LEN characters) and VALIDITY (validity
 * seconds in the society's words), and at most MAILER_LINK_EXTRA_MAX more
 * variables.  As mailer_send. */
#define MAILER_LINK_EXTRA_MAX 4
int mailer_send_link(const struct kenpo_society *soc, enum kenpo_mail_kind kind,
		     const char *url_tmpl, const char *token, long validity,
		     const struct kenpo_var *extra, size_t nextra, const char *to);
/* The same link, queued: as mailer_queue. */
int mailer_queue_link(const struct kenpo_society *soc, enum kenpo_mail_kind kind,
		      const char *url_tmpl, const char *token, long validity,
		      const struct kenpo_var *extra, size_t nextra, const char *to);

#endif
