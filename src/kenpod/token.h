/*
 * token.h - the self-service records kenpod keeps in the directory:
 * tokens (mailed URLs, registration tickets, profile tickets) and rate
 * counters.
 *
 * A token is an entry kenpoTokenHash=<keyed hash>,ou=tokens,<society base>
 * holding its kind, expiry, the address it went to and the member it
 * belongs to.  Only the keyed hash (BLAKE2b with the server secret) of the
 * token is stored, so a copy of the directory opens nothing.  Using a token
 * once is deleting its entry: a server applies a delete once, so of two
 * requests presenting one token at the same time exactly one gets it.
 * Across hosts that holds because every kenpod reads and deletes tokens on
 * the one write provider (myldap.h): two providers would each delete their
 * own copy, and replication would not undo the second use.  The expiry is
 * checked on every use (the dds overlay, where present, only cleans up).
 *
 * A rate counter is an entry kenpoRateKey=<what>:<keyed hash of the value>,
 * ou=rates,<society base> counting events in a window; it is changed
 * optimistically (delete the value read, add the new one) on the write
 * provider, so that no event is lost between hosts.
 */
#ifndef KENPOD_TOKEN_H
#define KENPOD_TOKEN_H

#include <stddef.h>
#include <stdint.h>

#include "gen.h"
#include "secret.h"
#include "template.h"

struct request;
struct kenpo_society;

#define TOKEN_DN_MAX 512
#define TOKEN_MAIL_MAX 256

/* A token as read from the directory. */
struct token {
	const struct kenpo_society *soc;
	char dn[TOKEN_DN_MAX];
	char hash[KENPO_KEYED_HASH_HEX];
	int kind;                  /* KENPO_TOKEN_* */
	int64_t expiry;            /* ms since the epoch */
	char expiry_text[32];      /* as stored */
	char mail[TOKEN_MAIL_MAX]; /* "" if none */
	char member[TOKEN_DN_MAX]; /* "" if none */
	unsigned tries;            /* wrong answers so far */
	int has_tries;
	char authkey_hash[KENPO_KEYED_HASH_HEX]; /* "" if none */
	int64_t not_after;                       /* a ticket's absolute end, 0 if none */
	char not_after_text[32];                 /* as stored, "" if none */
};

/* What a new token is. */
struct token_spec {
	int kind;
	int64_t expiry;      /* ms since the epoch */
	const char *mail;    /* NULL: none */
	const char *member;  /* NULL: none */
	const char *authkey; /* the on-screen key, stored hashed; NULL */
	int64_t not_after;   /* a ticket's absolute end; 0: none */
};

/* Make a token (kenpo_gen_token) and store it under soc.  The token text
 * goes into out (>= KENPO_TOKEN_LEN + 1).  A kenpo_result. */
int token_create(struct request *rq, const struct kenpo_society *soc,
		 const struct token_spec *spec, char *out, size_t outsz);

/* Find the token `text` (in any society) and check that it is of `kind`
 * and not expired.  A kenpo_result: OK with *t filled, TOKEN_INVALID
 * (malformed, unknown, used, or another kind), TOKEN_EXPIRED, UNAVAIL,
 * INTERNAL. */
int token_get(struct request *rq, const char *text, int kind, struct token *t);

/* Use the token once.  OK when this request deleted it, TOKEN_INVALID
 * when another got there first. */
int token_consume(struct request *rq, const struct token *t);

/* Put back a token consumed by this request, as it was (the member can
 * then correct a form and send it again).  A kenpo_result. */
int token_restore(struct request *rq, const struct token *t);

/* Make a token and queue the mail of its link (mailer_queue, after the
 * answer): template `kind` with URL (url_tmpl with every %%TOKEN%%
 * replaced by the token), VALIDITY (validity seconds in the society's
 * words) and at most TOKEN_MAIL_EXTRA_MAX more variables.  A
 * kenpo_result; whether the mail then reaches the relay is only logged. */
#define TOKEN_MAIL_EXTRA_MAX 4
int token_mail(struct request *rq, const struct kenpo_society *soc, const struct token_spec *spec,
	       enum kenpo_mail_kind kind, const char *url_tmpl, long validity,
	       const struct kenpo_var *extra, size_t nextra, const char *to);

/* The same directory work as the request that mails, for one whose answer
 * must not tell that nothing was mailed: a token of `kind` is made, already
 * at its end and bound to no member or address, and deleted again.  With
 * writes 2 it is deleted before the answer (for a request whose mailing
 * path writes twice); with writes 1 after it (rq->delete_after), so that
 * the answer waits for exactly one write, like token_mail's.  Errors are
 * logged only. */
void token_decoy(struct request *rq, const struct kenpo_society *soc, int kind, int writes);

/* What token_mail costs, for a request whose answer must not tell that
 * nothing was mailed: token_decoy(token_kind, writes), and the mail of a
 * stand-in link rendered and composed as token_mail would (to the address
 * asked for), then dropped.  Errors are logged only. */
void token_mail_decoy(struct request *rq, const struct kenpo_society *soc, int token_kind,
		      int writes, enum kenpo_mail_kind kind, const char *url_tmpl, long validity,
		      const struct kenpo_var *extra, size_t nextra, const char *to);

/* ---- profile tickets: the profile session ----
 *
 * A ticket proves a login a while ago: PROFILE_GET and PROFILE_SET accept
 * it for its member as often as it is presented, so that a second tab or a
 * form sent twice works.  kenpoTokenExpiry is the end of its idle time and
 * moves forward on use, never past kenpoTokenNotAfter, the society's
 * session_lifetime after the login; PROFILE_END deletes it. */

/*
 * Issue a profile ticket for the member entry member_dn (after a
 * successful login), valid for session_idle at first.  The ticket text
 * (KENPO_TOKEN_LEN characters) goes into out (outsz >= KENPO_TOKEN_LEN + 1).
 * A kenpo_result: OK, UNAVAIL, INTERNAL (member_dn in no society).
 */
int token_ticket_issue(struct request *rq, const char *member_dn, char *out, size_t outsz);

/* The ticket t was used now: its idle time starts again (written only when
 * it moves by more than a tenth of session_idle, so that a busy session
 * does not write on every call).  OK, TOKEN_INVALID (ended meanwhile),
 * UNAVAIL, INTERNAL. */
int token_ticket_touch(struct request *rq, struct token *t);

/* End the session of ticket t (logout).  A kenpo_result. */
int token_ticket_end(struct request *rq, const struct token *t);

/* Count one wrong answer given with the token; at `max` the token is
 * deleted.  *left is the number of answers still allowed (0: the token is
 * gone).  A kenpo_result. */
int token_fail(struct request *rq, struct token *t, unsigned max, unsigned *left);

/* Whether `key` is the on-screen key of the token (constant time). */
int token_authkey_matches(const struct request *rq, const struct token *t, const char *key);

/* Delete the tokens of `kind` that belong to member_dn (a new reset link
 * voids the old one).  Errors are logged; a kenpo_result. */
int token_void_member(struct request *rq, const struct kenpo_society *soc, const char *member_dn,
		      int kind);

/* Stable name of a kind ("guide", ...), NULL when unknown. */
const char *token_kind_name(int kind);

/* ---- holding a login ID ----
 *
 * slapo-unique refuses a second holder of a login ID only when the two
 * changes do not overlap: it searches before the write and holds no lock,
 * so two modifies at the same moment both pass, even on one server (the
 * two-host tests saw it about once in a hundred rounds).  A request that
 * gives a member a login ID therefore first holds the ID: it adds an entry
 * named by the keyed hash of the ID in lower case, which a server does
 * atomically (of two adds of one DN, exactly one succeeds), and only then
 * checks that nobody has the ID, writes it and lets go.  Every hold is kept
 * under ou=tokens of the society whose id sorts first, one place for all
 * societies (login IDs are unique across them); like every one-time write
 * it goes to the write provider.  A hold left by a kenpod that stopped in
 * between ends by itself after a minute.
 */
struct login_hold {
	char dn[TOKEN_DN_MAX];
	int held;
};

/* Hold `login` (any case) for this request.  OK; ID_TAKEN while another
 * request holds it; UNAVAIL; INTERNAL. */
int token_hold_login(struct request *rq, const char *login, struct login_hold *h);
/* Let go of a hold (nothing when none is held). */
void token_release_login(struct request *rq, struct login_hold *h);

/* ---- rate counters ---- */

/* Events counted for what:value within the last `window` seconds into
 * *count.  A kenpo_result. */
int rate_count(struct request *rq, const struct kenpo_society *soc, const char *what,
	       const char *value, long window, unsigned *count);

/* Count one event for what:value if fewer than `limit` were counted in the
 * window; *allowed tells whether it was.  A kenpo_result. */
int rate_take(struct request *rq, const struct kenpo_society *soc, const char *what,
	      const char *value, unsigned limit, long window, int *allowed);

#endif
