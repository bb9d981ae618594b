/*
 * auth.c - authentication in kenpod: passwords, the mailed one-time key
 * (暗証キー), temporary passwords, lockout, account state, the session's
 * 前回ログイン日時 and password changes (see kenpo-proto.h for the wire).
 *
 * Where the password is verified.  kenpod reads userPassword with its
 * service account and verifies it with libsodium; it does not bind as the
 * member.  tests/bench/run-verify-bench times both with the same {ARGON2}
 * argon2id hash (t=2, m=64 MiB), alternately in one run: on the reference
 * machine (2 cores, busy) libsodium took a median 65 ms and a simple bind
 * against the sandbox slapd (Debian's libargon2) 115 ms, a ratio of 1.8;
 * on an idle machine 45-63 ms against about 120 ms, up to 2.5.  So a core
 * serves about twice the logins, and the bind would not spare kenpod its
 * search and its modifies for the key anyway.  Binding would keep the hash
 * out of kenpod, but kenpod's service account must write userPassword in
 * any case (password changes), so reading it exposes little more.  The
 * price is that ppolicy never sees these attempts: kenpod keeps the
 * lockout state itself (attempt.h), and honours pwdAccountLockedTime that
 * an administrator sets.
 *
 * Every argon2 run takes one of hash_workers regions kept mapped (pwhash.h)
 * for the run alone: the search before it and the modify and mail after
 * it hold none, so other logins hash while this one waits for slapd, and
 * a login beyond hash_workers queues (the log line says how long) instead
 * of mapping more memory.  tests/bench/run-login-bench measures logins
 * through PAM against nslcd's, and what each costs kenpod beside the
 * verification itself.
 *
 * Lockout that an outsider cannot turn against the member (lockout.h,
 * after Microsoft Entra's smart lockout and OWASP's authentication
 * guidance).  Failures are counted by source: PAM_RHOST, or the client
 * address a portal passes.  A source from which the member completed a
 * login lately is familiar and counts on the member's own state; any other
 * counts on a state of its own and on the pool of all unfamiliar sources.
 * From the third failure of a state on, attempts wait 2^(n-3) seconds
 * (capped at a minute), answered DELAY before any argon2 work; at
 * lockout_failures that state is locked for lockout_duration; the pool
 * locks every unfamiliar source at lockout_unfamiliar_failures.  So one
 * source guessing stops only itself, and the member logging in from
 * elsewhere with the right password and key is not held up; many sources
 * guessing together stop at the pool, and the member's familiar places
 * still work.  Every attempt is counted before the password is verified,
 * in one optimistic modify (member.h): attempts in parallel re-read the
 * entry, and each sees the ones before it, so the delay holds; a right
 * password then takes its count back.  Unknown login IDs go through the
 * same delays and locks, their state in a directory entry every kenpod
 * host sees, found by the same search and written by one operation as a
 * member's (attempt.h), so that neither answers, nor times, nor the
 * directory's work tell whether a login ID exists; they cost one
 * verification against kenpo_pw_fake_hash, like a wrong password.
 *
 * Keys.  A key goes to the address the member chose (kenpoKeyMail, 1 to
 * 3; address 1 when that one is empty) and the masked form of that
 * address is what the member is shown; mailing a login factor to more
 * addresses would only widen who can read it.  Whether a key is needed is
 * the society's policy (key = required | optional); the old per-member
 * kenpoKeyRequired is not read, and goes at the member's next login.  The
 * entry keeps the keyed hash of the key, its expiry, the wrong answers,
 * the time it was sent, the source of its login and the keyed hash of a
 * random transaction handle (txn), which AUTH_KEY, AUTH_RESEND and
 * AUTH_ABORT must present, so that nobody who has not given the password
 * can burn the key's tries or void it.  The key is stored before it is
 * mailed (a mailed key is always usable) and taken back if the mail fails.
 * A resend keeps the txn.  Wrong keys count as failures of their login's
 * source and in a window of a day (key_failures_per_day), keys mailed in
 * an hour are capped (key_mails_per_hour): kenpod(8) gives the arithmetic
 * that bounds guessing a key by someone who knows the password.
 *
 * Concurrency.  Every read-modify-write deletes the value it read and adds
 * the new one in one modify (member.h): a concurrent change by another
 * worker or another host makes the modify fail, and the decision is taken
 * again on a fresh read.  That holds where both modifies reach one server.
 * Replication is not part of a modify: a provider does not see a change
 * written to another provider a moment before (or during a replication
 * outage), and would accept both.  So a key is used once, and no failure is
 * lost, because every kenpod reads and writes this state on the one write
 * provider (myldap.h), never on a replica.
 *
 * A new password must differ from the old one given (the current password
 * or the temporary one): a forced change that keeps the password would
 * defeat its purpose.  It is compared as text, in constant time, without
 * another argon2 verification.
 */
#include "autoconfig.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <sodium.h>

#include "attempt.h"
#include "auth.h"
#include "config.h"
#include "gen.h"
#include "gentime.h"
#include "history.h"
#include "lockout.h"
#include "log.h"
#include "mail.h"
#include "mailer.h"
#include "member.h"
#include "myldap.h"
#include "policy.h"
#include "proof.h"
#include "prototab.h"
#include "pwhash.h"
#include "secret.h"
#include "token.h"
#include "zone.h"

#define MASK_MAX 300
#define HOUR_MS (3600LL * 1000)

/* Set by auth_setup before the workers start, read-only afterwards. */
static struct {
	const struct kenpo_config *cfg;
	struct kenpo_pwcost cost;
	const char *fake_hash;
	int ready;
} A;

struct str {
	const char *p;
	size_t len;
};

/* ---- answers ---- */

static enum kenpo_lang
default_lang(void)
{
	return A.cfg->societies[0].lang;
}

/* Answers that could also come for an unknown login ID carry the default
 * language, so that their language cannot tell which society a login ID
 * belongs to, or whether it exists. */
static int
answer(struct kenpo_buf *out, int result, enum kenpo_lang lang)
{
	kenpo_put_int32(out, (int32_t)lang);
	return result;
}

static int
answer_secs(struct kenpo_buf *out, int result, enum kenpo_lang lang, long secs)
{
	kenpo_put_int32(out, (int32_t)lang);
	kenpo_put_int32(out, (int32_t)secs);
	return result;
}

/* UNAVAIL and INTERNAL as the answer to a failed directory step. */
static int
answer_failed(struct kenpo_buf *out, int rc)
{
	if (rc == KENPO_RES_UNAVAIL)
		return answer(out, KENPO_RES_UNAVAIL, default_lang());
	return KENPO_RES_INTERNAL;
}

/* A failed update: the member gone meanwhile is answered like a wrong
 * password. */
static int
answer_update_failed(struct kenpo_buf *out, int rc)
{
	if (rc == KENPO_RES_NOTFOUND)
		return answer(out, KENPO_RES_AUTH_ERR, default_lang());
	return answer_failed(out, rc);
}

/* One line per request: the outcome and what it cost the directory. */
static void
log_outcome(int result, const char *detail)
{
	struct myldap_counts n = myldap_counts_get();
	const struct kenpo_result_info *r = kenpo_result_find(result);
	const char *name = r != NULL ? r->words : "?";
	unsigned long wait = kenpo_pwpool_wait_take();
	char waited[48] = "";

	/* Time spent queueing for an argon2 region: hash_workers too low. */
	if (wait > 0)
		(void)snprintf(waited, sizeof waited, "; argon2 queue %lu ms", wait);
	log_msg(result == KENPO_RES_INTERNAL ? LOG_ERR : LOG_INFO,
		"%s%s (ldap: %u searches, %u modifies%s)", name, detail, n.searches, n.modifies,
		waited);
}

#define AUDIT_TEXT_MAX 256

/* A string of the request as a C string for an audit line, cut to fit
 * (log_audit escapes and bounds it again). */
static const char *
audit_text(struct str s, char out[AUDIT_TEXT_MAX])
{
	size_t n = s.len < AUDIT_TEXT_MAX - 1 ? s.len : AUDIT_TEXT_MAX - 1;

	if (n > 0)
		memcpy(out, s.p, n);
	out[n] = '\0';
	return out;
}

/*
 * An audit line (log.h) of a login, a failed one, a lock or a password
 * change: the member's DN ("" for a login ID that names nobody), the
 * login ID given, the calling process (PAM's host process or the portal),
 * the service and where the request came from (rhost), and one more pair
 * that says what happened (result, reason, scope or by).  Never a secret.
 */
static void
audit(const struct request *rq, const char *event, const char *member, struct str login,
      struct str service, struct str rhost, const char *key, const char *value)
{
	char uid[24], pid[24], l[AUDIT_TEXT_MAX], s[AUDIT_TEXT_MAX], r[AUDIT_TEXT_MAX];
	struct log_kv kv[7] = {
		{ "member", member },
		{ "login", audit_text(login, l) },
		{ "caller_uid", uid },
		{ "caller_pid", pid },
		{ "service", audit_text(service, s) },
		{ "rhost", audit_text(rhost, r) },
		{ key, value },
	};

	(void)snprintf(uid, sizeof uid, "%lu", (unsigned long)rq->peer_uid);
	(void)snprintf(pid, sizeof pid, "%ld", (long)rq->peer_pid);
	log_audit(event, kv, 7);
}

/* ---- verification ---- */

enum verdict { V_WRONG, V_PASSWORD, V_TEMP, V_TEMP_EXPIRED };

/* What checking a password costs, with an answer known in advance: no
 * password verifies against the fake hash. */
static void
fake_verify(struct str pw)
{
	if (kenpo_pw_verify(A.fake_hash, pw.p, pw.len) == 0)
		log_msg(LOG_ERR, "a password verified against the fake hash");
}

/* A password stored in another scheme than argon2 ({SSHA}, {CRYPT}, clear
 * text: what other LDAP tools may write) is never verified, so that every
 * password kenpod accepts has argon2's cost: say why the login fails.
 * 1 when refused so. */
static int
scheme_refused(const struct member *m, const char *hash)
{
	/* Only a "{SCHEME}" prefix is named: anything else may be the password. */
	size_t n = hash[0] == '{' ? strcspn(hash, "}") + 1 : 0;
	int named = n > 1 && n <= 20 && hash[n - 1] == '}';

	if (strncasecmp(hash, "{ARGON2}", 8) == 0 || strncmp(hash, "$argon2", 7) == 0)
		return 0;
	log_msg(LOG_WARNING,
		"%.100s: userPassword is %.*s, not argon2: refused; set it again "
		"with ldappasswd (slapd's argon2) or kenpo-admin reissue",
		member_get(m, MA_UID), named ? (int)n : 10, named ? hash : "clear text");
	return 1;
}

/*
 * Whether the temporary password has expired at now: at its own expiry
 * (a reset's, after reset_validity; a letter's, set when it was issued),
 * or, for one without, at the end of the society's temp_password_expiry.
 */
static int
temp_expired(const struct member *m, int64_t now)
{
	int64_t end;

	if (member_get(m, MA_TEMP_EXPIRY) != NULL) {
		end = member_time(m, MA_TEMP_EXPIRY);
		return end == 0 || now >= end;
	}
	end = zone_date_end(m->soc, m->soc->temp_password_expiry);
	return end != 0 && now >= end;
}

/* Check one candidate against the password and the temporary password;
 * with neither, against the fake hash, so that it costs the same.  An
 * expired temporary password is still checked, so that its holder can be
 * told it has expired. */
static enum verdict
verify_one(const struct member *m, struct str pw, int64_t now)
{
	const char *hash = member_get(m, MA_PASSWORD), *temp = member_get(m, MA_TEMP_PASSWORD);

	if (hash != NULL) {
		if (kenpo_pw_verify(hash, pw.p, pw.len) == 0)
			return V_PASSWORD;
		if (scheme_refused(m, hash))
			fake_verify(pw); /* as long as an argon2 check */
	}
	if (temp != NULL && kenpo_pw_verify(temp, pw.p, pw.len) == 0)
		return temp_expired(m, now) ? V_TEMP_EXPIRED : V_TEMP;
	if (hash == NULL && temp == NULL)
		fake_verify(pw);
	return V_WRONG;
}

/* Whether the society asks for the key after the password. */
static int
key_required(const struct member *m)
{
	return !m->soc->key_optional;
}

static int
registered(const struct member *m)
{
	return member_has(m, MA_STATE, "registered");
}

/* ---- keys ---- */

static int
keyed(const struct kenpod *kd, const char *domain, struct str v, char out[KENPO_KEYED_HASH_HEX])
{
	return kenpo_keyed_hash_hex(kd->secret, domain, v.p, v.len, out, KENPO_KEYED_HASH_HEX);
}

/* Whether the stored txn hash is that of txn. */
static int
txn_matches(const struct request *rq, const struct member *m, struct str txn)
{
	char h[KENPO_KEYED_HASH_HEX];
	const char *stored = member_get(m, MA_KEY_TXN);
	int ok;

	if (stored == NULL || txn.len == 0 || keyed(rq->kd, "txn", txn, h) != 0)
		return 0;
	ok = kenpo_secret_equal(h, stored);
	kenpo_wipe(h, sizeof h);
	return ok;
}

/* OK when the pending key can still be answered, else KEY_VOID (none, or
 * its tries are used up) or KEY_EXPIRED. */
static int
key_status(const struct member *m, int64_t now)
{
	if (member_get(m, MA_KEY_HASH) == NULL || member_get(m, MA_KEY_TXN) == NULL ||
	    member_count(m, MA_KEY_TRIES) >= m->soc->key_max_tries)
		return KENPO_RES_KEY_VOID;
	if (member_time(m, MA_KEY_EXPIRY) <= now)
		return KENPO_RES_KEY_EXPIRED;
	return KENPO_RES_OK;
}

static int
key_matches(const struct request *rq, const struct member *m, struct str key)
{
	char h[KENPO_KEYED_HASH_HEX];
	size_t i;
	int ok;

	/* A malformed answer is a wrong one; it still costs a try. */
	if (key.len != KENPO_KEY_LEN)
		return 0;
	for (i = 0; i < key.len; i++)
		if (key.p[i] < '0' || key.p[i] > '9')
			return 0;
	if (keyed(rq->kd, "key", key, h) != 0)
		return 0;
	ok = kenpo_secret_equal(h, member_get(m, MA_KEY_HASH));
	kenpo_wipe(h, sizeof h);
	return ok;
}

/* The wrong keys of the member's current window. */
static void
keystate_of(const struct member *m, struct keystate *ks)
{
	ks->failures = member_count(m, MA_KEY_FAILURES);
	ks->window = member_time(m, MA_KEY_FAIL_WINDOW);
}

/* Whether keys wait for the end of the window of wrong keys. */
static int
key_locked(const struct member *m, int64_t now, long *secs)
{
	struct keystate ks;

	keystate_of(m, &ks);
	return lockout_key_check(&ks, m->soc, now, secs) == KENPO_RES_LOCKED;
}

static void
change_clear_key(struct member_change *c, const struct member *m)
{
	member_set(c, m, MA_KEY_HASH, NULL);
	member_set(c, m, MA_KEY_EXPIRY, NULL);
	member_set(c, m, MA_KEY_TRIES, NULL);
	member_set(c, m, MA_KEY_SENT_AT, NULL);
	member_set(c, m, MA_KEY_TXN, NULL);
	member_set(c, m, MA_KEY_SOURCE, NULL);
}

/* Count one key mail in the member's hour, unless key_mails_per_hour were
 * mailed in it: then 0 and *secs until the hour ends. */
static int
change_key_mail_counted(struct member_change *c, const struct member *m, int64_t now, long *secs)
{
	unsigned n = member_count(m, MA_KEY_MAILS);
	int64_t start = member_time(m, MA_KEY_MAIL_WINDOW);

	if (start == 0 || now < start || now >= start + HOUR_MS) {
		member_set_count(c, m, MA_KEY_MAILS, 1);
		member_set_time(c, m, MA_KEY_MAIL_WINDOW, now, 1);
		return 1;
	}
	if (n >= m->soc->key_mails_per_hour) {
		*secs = kenpo_ms_to_secs(start + HOUR_MS - now);
		return 0;
	}
	member_set_count(c, m, MA_KEY_MAILS, n + 1);
	return 1;
}

/* A key about to be stored and mailed. */
struct newkey {
	char key[KENPO_KEY_LEN + 1];
	char txn[KENPO_TOKEN_LEN + 1];
	char key_hash[KENPO_KEYED_HASH_HEX];
	char txn_hash[KENPO_KEYED_HASH_HEX];
	char expiry[KENPO_GENTIME_MAX];
	char sent_at[KENPO_GENTIME_MAX];
};

/* A fresh key; with a txn given (a resend) that txn is kept. */
static int
newkey_make(const struct request *rq, const struct member *m, int64_t now, struct str txn,
	    struct newkey *k)
{
	struct str key = { k->key, KENPO_KEY_LEN }, t = { k->txn, 0 };

	if (kenpo_gen_key(k->key, sizeof k->key) != 0)
		return -1;
	if (txn.len == 0) {
		if (kenpo_gen_token(k->txn, sizeof k->txn) != 0)
			return -1;
	} else {
		if (txn.len >= sizeof k->txn)
			return -1;
		memcpy(k->txn, txn.p, txn.len);
		k->txn[txn.len] = '\0';
	}
	t.len = strlen(k->txn);
	if (keyed(rq->kd, "key", key, k->key_hash) != 0 ||
	    keyed(rq->kd, "txn", t, k->txn_hash) != 0 ||
	    kenpo_gentime_format(now + m->soc->key_validity * 1000, 0, k->expiry,
				 sizeof k->expiry) != 0 ||
	    kenpo_gentime_format(now, 0, k->sent_at, sizeof k->sent_at) != 0)
		return -1;
	return 0;
}

static void
change_new_key(struct member_change *c, const struct member *m, const struct newkey *k)
{
	member_set(c, m, MA_KEY_HASH, k->key_hash);
	member_set(c, m, MA_KEY_EXPIRY, k->expiry);
	member_set(c, m, MA_KEY_TRIES, NULL);
	member_set(c, m, MA_KEY_SENT_AT, k->sent_at);
	member_set(c, m, MA_KEY_TXN, k->txn_hash);
}

/* Take back a key whose mail failed: exactly the values written, so a key
 * that another request stored since stays.  The key mail still counts
 * toward key_mails_per_hour. */
static void
newkey_withdraw(struct request *rq, const struct member *m, const struct newkey *k)
{
	struct member_change c;

	member_change_init(&c);
	member_delete(&c, MA_KEY_TXN, k->txn_hash);
	member_delete(&c, MA_KEY_HASH, k->key_hash);
	member_delete(&c, MA_KEY_EXPIRY, k->expiry);
	member_delete(&c, MA_KEY_SENT_AT, k->sent_at);
	if (member_apply(rq, m, &c) != MYLDAP_OK)
		log_msg(LOG_WARNING, "the key whose mail failed could not be removed; "
				     "it was replaced meanwhile or the directory is away");
}

/* The address the key goes to: the one the member chose (kenpoKeyMail 1
 * to 3), or address 1 when that one is empty or unusable; NULL when
 * there is none. */
static const char *
key_address(const struct member *m)
{
	static const enum member_attr slot[] = { MA_MAIL1, MA_MAIL2, MA_MAIL3 };
	unsigned n = member_count(m, MA_KEY_MAIL);
	const char *a;

	if (n >= 1 && n <= 3) {
		a = member_get(m, slot[n - 1]);
		if (a != NULL && kenpo_mail_address_ok(a))
			return a;
	}
	a = member_get(m, MA_MAIL1);
	return a != NULL && kenpo_mail_address_ok(a) ? a : NULL;
}

/* Mail the key: in single-field mode the mail says to enter the password
 * followed by the key, since the mail is all an IMAP client's user sees. */
static int
newkey_mail(const struct member *m, const struct newkey *k, int single)
{
	char validity[64];
	struct kenpo_var vars[2] = { { "KEY", k->key }, { "VALIDITY", validity } };

	if (kenpo_duration_format(m->soc->lang, m->soc->key_validity, validity,
				  sizeof validity) != 0)
		return -1;
	return mailer_send(m->soc, single ? KENPO_MAIL_KEY_SINGLE : KENPO_MAIL_KEY, vars, 2,
			   key_address(m));
}

/* KEY record. */
static void
put_key_record(struct kenpo_buf *out, const struct member *m, long secs, const char *txn)
{
	char masked[MASK_MAX];

	if (key_address(m) == NULL || kenpo_mail_mask(key_address(m), masked, sizeof masked) != 0)
		memcpy(masked, "****", 5);
	kenpo_put_cstring(out, member_get(m, MA_UID));
	kenpo_put_int32(out, (int32_t)m->uid);
	kenpo_put_int32(out, (int32_t)m->soc->lang);
	kenpo_put_cstring(out, masked);
	kenpo_put_int32(out, (int32_t)secs);
	kenpo_put_cstring(out, txn);
}

/* ---- a login in progress ---- */

struct login {
	struct request *rq;
	struct attempt a; /* the member or the login ID, and the source */
	struct str login, pw, txn, service, rhost;
	int32_t flags;
	int64_t now;
	enum verdict v;
	struct str key; /* typed after the password (single-field) */
	char rehash[KENPO_PWHASH_MAX];
	struct newkey k;
	int outcome; /* decided inside a build */
	unsigned tries_left;
	long secs;
	unsigned key_locked; /* a wrong key filled the window of the day */
	char previous[HISTORY_PREVIOUS_MAX];
};

/* A successful authentication hands out a proof of the completed login
 * and, when asked, a profile ticket (the proof a web portal passes on to
 * change the member's profile) and the previous login.  Failing to make
 * a ticket or a proof does not fail the login: they are then empty. */
static int
answer_auth(struct login *L, struct kenpo_buf *out, const struct member *m, int must_change)
{
	char ticket[KENPO_TOKEN_LEN + 1] = "", proof[PROOF_MAX] = "";

	/* Only on request: it costs a directory write, and sshd has no use for it. */
	if ((L->flags & KENPO_AUTHF_TICKET) &&
	    token_ticket_issue(L->rq, m->e->dn, ticket, sizeof(ticket)) != KENPO_RES_OK) {
		log_msg(LOG_WARNING, "no profile ticket for %.200s", m->e->dn);
		ticket[0] = '\0';
	}
	if (proof_make(L->rq, m, L->now, proof, sizeof proof) != 0)
		log_msg(LOG_WARNING, "no login proof for %.200s", m->e->dn);
	kenpo_put_cstring(out, member_get(m, MA_UID));
	kenpo_put_int32(out, (int32_t)m->uid);
	kenpo_put_int32(out, (int32_t)m->soc->lang);
	kenpo_put_int32(out, must_change ? KENPO_AUTHR_MUST_CHANGE : 0);
	kenpo_put_cstring(out, ticket);
	kenpo_put_cstring(out, proof);
	kenpo_put_cstring(out, (L->flags & KENPO_AUTHF_SESSION) ? L->previous : "");
	audit(L->rq, "login.complete", m->e->dn, L->login, L->service, L->rhost, "must_change",
	      must_change ? "yes" : "no");
	kenpo_wipe(ticket, sizeof(ticket));
	kenpo_wipe(proof, sizeof(proof));
	return KENPO_RES_OK;
}

/* What every completed login writes: its source is familiar from now on
 * (the failure counted before its password, if `counted`, taken back),
 * and with KENPO_AUTHF_SESSION it is recorded as a session would be. */
static void
change_completed(struct member_change *c, const struct member *m, struct login *L,
		 const char *source, int counted)
{
	attempt_change_completed(c, m, source, L->now, counted);
	if (!(L->flags & KENPO_AUTHF_SESSION))
		return;
	history_previous(m, L->previous);
	history_change_record(c, m, L->now, L->service.len > 0 ? L->service.p : "kenpo",
			      L->service.len > 0 ? L->service.len : 5, L->rhost.p, L->rhost.len);
}

/* The source of the login a pending key belongs to ("" when unknown). */
static const char *
key_source(const struct member *m)
{
	const char *s = member_get(m, MA_KEY_SOURCE);

	return s != NULL && strlen(s) == LOCKOUT_SOURCE_ID_LEN ? s : "";
}

/* One more wrong answer to the pending key: KEY_WRONG, or KEY_VOID when
 * it was the last one allowed; it counts as a failure of the key's login
 * source (unless it was counted already: a password with the key in one
 * field), and in the window of wrong keys. */
static void
change_wrong_key(struct member_change *c, const struct member *m, struct login *L, int counted)
{
	unsigned tries = member_count(m, MA_KEY_TRIES) + 1;
	struct keystate ks;
	long secs;

	member_set_count(c, m, MA_KEY_TRIES, tries);
	keystate_of(m, &ks);
	lockout_key_fail(&ks, L->now);
	member_set_count(c, m, MA_KEY_FAILURES, ks.failures);
	member_set_time(c, m, MA_KEY_FAIL_WINDOW, ks.window, 1);
	L->key_locked = lockout_key_check(&ks, m->soc, L->now, &secs) == KENPO_RES_LOCKED;
	if (!counted && key_source(m)[0] != '\0')
		attempt_change_failure(c, m, key_source(m), L->now);
	L->tries_left = tries < m->soc->key_max_tries ? m->soc->key_max_tries - tries : 0;
	L->outcome = L->tries_left > 0 ? KENPO_RES_KEY_WRONG : KENPO_RES_KEY_VOID;
}

/* The answer to a key once its change is stored. */
static int
answer_key_outcome(struct login *L, const struct member *m, struct kenpo_buf *out)
{
	if (L->key_locked)
		audit(L->rq, "login.lock", m->e->dn, L->login, L->service, L->rhost, "scope",
		      "keys");
	if (L->outcome == KENPO_RES_OK)
		return answer_auth(L, out, m, member_flag(m, MA_MUST_CHANGE, 0));
	audit(L->rq, "login.failed", m->e->dn, L->login, L->service, L->rhost, "reason", "key");
	if (L->outcome == KENPO_RES_KEY_WRONG)
		return answer_secs(out, KENPO_RES_KEY_WRONG, m->soc->lang, (long)L->tries_left);
	return answer(out, KENPO_RES_KEY_VOID, m->soc->lang);
}

/* ---- AUTH_PASSWORD ---- */

/* Single-field answers "password" + 10 digits. */
static int
ends_with_key(const struct login *L)
{
	size_t i;

	if (!(L->flags & KENPO_AUTHF_SINGLE) || L->pw.len <= KENPO_KEY_LEN)
		return 0;
	for (i = L->pw.len - KENPO_KEY_LEN; i < L->pw.len; i++)
		if (L->pw.p[i] < '0' || L->pw.p[i] > '9')
			return 0;
	return 1;
}

/*
 * The password check.  A single-field answer that ends with 10 digits is
 * first split into password and key when a key is pending, else first
 * taken whole (a password may end with digits); the other reading is
 * tried only when the first fails, so a right answer costs one argon2
 * verification and a wrong one two, for unknown login IDs too.
 */
static void
verify_answer(struct login *L, const struct member *m)
{
	struct str whole = L->pw, prefix = { L->pw.p, L->pw.len - KENPO_KEY_LEN };
	struct str key = { L->pw.p + prefix.len, KENPO_KEY_LEN }, used = whole;

	if (!ends_with_key(L)) {
		L->v = verify_one(m, whole, L->now);
	} else if (key_status(m, L->now) == KENPO_RES_OK) {
		L->v = verify_one(m, prefix, L->now);
		if (L->v != V_WRONG) {
			L->key = key;
			used = prefix;
		} else {
			L->v = verify_one(m, whole, L->now);
		}
	} else {
		L->v = verify_one(m, whole, L->now);
		if (L->v == V_WRONG) {
			L->v = verify_one(m, prefix, L->now);
			used = prefix;
		}
	}
	/* Upgrade a hash made with another cost while the password is here. */
	if (L->v == V_PASSWORD &&
	    kenpo_pw_needs_rehash(member_get(m, MA_PASSWORD), &A.cost) == 1 &&
	    kenpo_pw_hash(used.p, used.len, &A.cost, L->rehash, sizeof L->rehash) != 0)
		L->rehash[0] = '\0';
}

/* Audit the locks that counting a failure began. */
static void
audit_locks(const struct login *L, const char *member)
{
	if (L->a.locks & ATTEMPT_LOCK_OWN)
		audit(L->rq, "login.lock", member, L->login, L->service, L->rhost, "scope",
		      "source");
	if (L->a.locks & ATTEMPT_LOCK_POOL)
		audit(L->rq, "login.lock", member, L->login, L->service, L->rhost, "scope",
		      "unfamiliar");
}

/* Refuse before any verification, or count the attempt: OK, or the
 * answer already written. */
static int
check_and_count(struct login *L, struct kenpo_buf *out)
{
	long secs = 0;
	int rc = attempt_check(&L->a, &secs);

	if (rc == KENPO_RES_OK)
		rc = attempt_count(&L->a, &secs);
	audit_locks(L, L->a.known ? L->a.m.e->dn : NULL);
	if (rc == KENPO_RES_LOCKED || rc == KENPO_RES_DELAY)
		return answer_secs(out, rc, default_lang(), secs);
	if (rc != KENPO_RES_OK)
		return answer_update_failed(out, rc);
	return KENPO_RES_OK;
}

/* A login ID that names nobody: the delays and the count of a member's,
 * and the time of a wrong password. */
static int
unknown_login(struct login *L, struct kenpo_buf *out)
{
	int rc, i, n = ends_with_key(L) ? 2 : 1;

	/* What cannot be a login ID at all is no guess of one. */
	if (member_login_plausible(L->login.p, L->login.len) &&
	    (rc = check_and_count(L, out)) != KENPO_RES_OK)
		return rc;
	for (i = 0; i < n; i++)
		fake_verify(L->pw);
	audit(L->rq, "login.failed", NULL, L->login, L->service, L->rhost, "reason", "unknown");
	return answer(out, KENPO_RES_AUTH_ERR, default_lang());
}

/* The password was right but ends nothing: its count is taken back. */
static int
build_right_only(const struct member *m, struct member_change *c, void *ctx)
{
	struct login *L = ctx;

	attempt_change_right(c, m, L->a.source, L->now);
	return KENPO_RES_OK;
}

/* An old hash is upgraded while the right password is here. */
static void
change_rehash(struct member_change *c, const struct login *L)
{
	if (L->rehash[0] != '\0')
		member_replace(c, MA_PASSWORD, L->rehash);
}

/* What every right password that does not complete the login does: the
 * failure counted for it is taken back, and an old hash is upgraded. */
static void
change_password_right(struct member_change *c, const struct member *m, const struct login *L)
{
	attempt_change_right(c, m, L->a.source, L->now);
	change_rehash(c, L);
}

/* No key: a temporary password (it came by post or mail already), or the
 * society's key = optional. */
static int
build_plain(const struct member *m, struct member_change *c, void *ctx)
{
	struct login *L = ctx;

	change_rehash(c, L);
	change_completed(c, m, L, L->a.source, 1);
	if (L->v == V_TEMP)
		member_set(c, m, MA_MUST_CHANGE, "TRUE");
	return KENPO_RES_OK;
}

/* Single-field: the key typed after a right password. */
static int
build_single_key(const struct member *m, struct member_change *c, void *ctx)
{
	struct login *L = ctx;
	int st = key_status(m, L->now);

	if (st != KENPO_RES_OK)
		return st;
	if (key_locked(m, L->now, &L->secs)) {
		change_password_right(c, m, L);
		L->outcome = KENPO_RES_LOCKED;
		return KENPO_RES_OK;
	}
	change_rehash(c, L);
	if (key_matches(L->rq, m, L->key)) {
		change_clear_key(c, m);
		change_completed(c, m, L, L->a.source, 1);
		L->outcome = KENPO_RES_OK;
		return KENPO_RES_OK;
	}
	/* The failure counted before the password stands for the wrong key. */
	change_wrong_key(c, m, L, 1);
	return KENPO_RES_OK;
}

/* A new key for this login, unless the window of wrong keys is full or
 * key_mails_per_hour were mailed. */
static void
change_key_or_refusal(struct member_change *c, const struct member *m, struct login *L)
{
	if (key_locked(m, L->now, &L->secs)) {
		L->outcome = KENPO_RES_LOCKED;
	} else if (!change_key_mail_counted(c, m, L->now, &L->secs)) {
		L->outcome = KENPO_RES_KEY_LIMIT;
	} else {
		change_new_key(c, m, &L->k);
		member_set(c, m, MA_KEY_SOURCE, L->a.source);
		L->outcome = KENPO_RES_KEY_SENT;
	}
}

/* Split and single-field: a pending key gets a new txn (only the latest
 * transaction can answer it); if it is gone meanwhile, a new key. */
static int
build_pending(const struct member *m, struct member_change *c, void *ctx)
{
	struct login *L = ctx;

	change_password_right(c, m, L);
	if (key_locked(m, L->now, &L->secs)) {
		L->outcome = KENPO_RES_LOCKED;
	} else if (key_status(m, L->now) == KENPO_RES_OK) {
		member_set(c, m, MA_KEY_TXN, L->k.txn_hash);
		member_set(c, m, MA_KEY_SOURCE, L->a.source);
		L->outcome = KENPO_RES_KEY_PENDING;
	} else {
		change_key_or_refusal(c, m, L);
	}
	return KENPO_RES_OK;
}

static int
build_new_key(const struct member *m, struct member_change *c, void *ctx)
{
	struct login *L = ctx;

	change_password_right(c, m, L);
	change_key_or_refusal(c, m, L);
	return KENPO_RES_OK;
}

/* A key stored: mail it and answer its record, or take it back. */
static int
key_mailed(struct login *L, struct member *m, struct kenpo_buf *out)
{
	if (newkey_mail(m, &L->k, (L->flags & KENPO_AUTHF_SINGLE) != 0) != 0) {
		newkey_withdraw(L->rq, m, &L->k);
		return answer(out, KENPO_RES_MAIL_FAILED, m->soc->lang);
	}
	put_key_record(out, m, m->soc->key_validity, L->k.txn);
	return KENPO_RES_KEY_SENT;
}

/* After a right password: a key is needed.  A kenpo_result with its answer. */
static int
key_step(struct login *L, struct member *m, struct kenpo_buf *out)
{
	int pending = (L->flags & (KENPO_AUTHF_SPLIT | KENPO_AUTHF_SINGLE)) &&
		      key_status(m, L->now) == KENPO_RES_OK;
	int rc;

	if (key_address(m) == NULL) {
		log_msg(LOG_ERR, "%.200s: no usable address for the key", m->e->dn);
		(void)member_update(L->rq, m, build_right_only, L);
		return answer(out, KENPO_RES_MAIL_FAILED, m->soc->lang);
	}
	if (newkey_make(L->rq, m, L->now, L->txn, &L->k) != 0)
		return KENPO_RES_INTERNAL;
	rc = member_update(L->rq, m, pending ? build_pending : build_new_key, L);
	if (rc != KENPO_RES_OK)
		return answer_update_failed(out, rc);
	switch (L->outcome) {
	case KENPO_RES_KEY_PENDING:
		put_key_record(out, m, kenpo_ms_to_secs(member_time(m, MA_KEY_EXPIRY) - L->now),
			       L->k.txn);
		return KENPO_RES_KEY_PENDING;
	case KENPO_RES_LOCKED:
		return answer_secs(out, KENPO_RES_LOCKED, default_lang(), L->secs);
	case KENPO_RES_KEY_LIMIT:
		return answer_secs(out, KENPO_RES_KEY_LIMIT, m->soc->lang, L->secs);
	default:
		return key_mailed(L, m, out);
	}
}

static int
single_key_step(struct login *L, struct member *m, struct kenpo_buf *out)
{
	int rc = member_update(L->rq, m, build_single_key, L);

	if (rc == KENPO_RES_KEY_VOID || rc == KENPO_RES_KEY_EXPIRED)
		return key_step(L, m, out); /* the key went meanwhile */
	if (rc != KENPO_RES_OK)
		return answer_update_failed(out, rc);
	if (L->outcome == KENPO_RES_LOCKED)
		return answer_secs(out, KENPO_RES_LOCKED, default_lang(), L->secs);
	return answer_key_outcome(L, m, out);
}

/* A right password that cannot log in: its count is taken back, and the
 * state is answered. */
static int
right_but(struct login *L, struct member *m, struct kenpo_buf *out, int result)
{
	int rc = member_update(L->rq, m, build_right_only, L);

	if (rc != KENPO_RES_OK)
		return answer_update_failed(out, rc);
	return answer(out, result, m->soc->lang);
}

static int
password_right(struct login *L, struct member *m, struct kenpo_buf *out)
{
	int rc;

	if (!registered(m))
		return right_but(L, m, out, KENPO_RES_NOT_REGISTERED);
	if (member_flag(m, MA_DISABLED, 0))
		return right_but(L, m, out, KENPO_RES_DISABLED);
	if (L->v == V_PASSWORD && key_required(m)) {
		if (L->key.len > 0)
			return single_key_step(L, m, out);
		return key_step(L, m, out);
	}
	rc = member_update(L->rq, m, build_plain, L);
	if (rc != KENPO_RES_OK)
		return answer_update_failed(out, rc);
	return answer_auth(L, out, m, L->v == V_TEMP || member_flag(m, MA_MUST_CHANGE, 0));
}

static int
known_login(struct login *L, struct kenpo_buf *out)
{
	struct member *m = &L->a.m;
	int rc = check_and_count(L, out);

	if (rc != KENPO_RES_OK)
		return rc;
	verify_answer(L, m);
	if (L->v == V_TEMP_EXPIRED) {
		audit(L->rq, "login.failed", m->e->dn, L->login, L->service, L->rhost, "reason",
		      "temporary-password-expired");
		return answer(out, KENPO_RES_TEMP_EXPIRED, m->soc->lang);
	}
	if (L->v != V_WRONG)
		return password_right(L, m, out);
	audit(L->rq, "login.failed", m->e->dn, L->login, L->service, L->rhost, "reason",
	      "password");
	return answer(out, KENPO_RES_AUTH_ERR, default_lang());
}

/* Nothing is answered before the secret is there: keys could not be
 * hashed, and unknown login IDs not be told from known ones. */
static int
auth_ready(const struct request *rq)
{
	return A.ready && rq->kd->have_secret;
}

static void
set_tag(const char *what, struct str login, const char *extra)
{
	char esc[LOG_ESCAPE_MAX];

	log_setrequest("%s login=%.100s%s", what, log_escape(login.p, login.len, esc), extra);
}

static void
set_tag_from(const char *what, struct str login, struct str service, struct str rhost,
	     int32_t flags)
{
	char esc1[LOG_ESCAPE_MAX], esc2[LOG_ESCAPE_MAX], extra[160];

	(void)snprintf(extra, sizeof extra, " service=%.40s rhost=%.60s flags=%ld",
		       log_escape(service.p, service.len, esc1),
		       log_escape(rhost.p, rhost.len, esc2), (long)flags);
	set_tag(what, login, extra);
}

static int
password_login(struct login *L, struct kenpo_buf *out)
{
	int rc;

	if (!auth_ready(L->rq))
		return answer(out, KENPO_RES_UNAVAIL, default_lang());
	rc = attempt_begin(&L->a, L->rq, L->login.p, L->login.len, L->rhost.p, L->rhost.len,
			   L->now);
	if (rc == KENPO_RES_OK)
		rc = L->a.known ? known_login(L, out) : unknown_login(L, out);
	else
		rc = answer_failed(out, rc);
	attempt_end(&L->a);
	return rc;
}

int
auth_password(struct request *rq, struct kenpo_buf *in, struct kenpo_buf *out)
{
	struct login L;
	int rc;

	memset(&L, 0, sizeof L);
	L.rq = rq;
	kenpo_get_string_ref(in, &L.login.p, &L.login.len);
	kenpo_get_string_ref(in, &L.pw.p, &L.pw.len);
	L.flags = kenpo_get_int32(in);
	kenpo_get_string_ref(in, &L.service.p, &L.service.len);
	kenpo_get_string_ref(in, &L.rhost.p, &L.rhost.len);
	if (kenpo_frame_close(in) != 0)
		return KENPO_RES_BADREQ;
	myldap_counts_reset();
	(void)kenpo_pwpool_wait_take();
	set_tag_from("auth password", L.login, L.service, L.rhost, L.flags);
	L.now = kenpo_gentime_now();
	rc = password_login(&L, out);
	log_outcome(rc, L.v == V_TEMP && rc == KENPO_RES_OK ? " (temporary password)" : "");
	kenpo_wipe(&L, sizeof L);
	return rc;
}

/* ---- AUTH_KEY, AUTH_RESEND: a member and a pending key ---- */

typedef int login_step(struct login *L, struct member *m, struct kenpo_buf *out);

/* The member named, then `step`; an unknown login ID is answered AUTH_ERR,
 * as a wrong txn is. */
static int
with_member(struct login *L, struct kenpo_buf *out, login_step *step)
{
	struct member m = { NULL, NULL, NULL, 0 };
	int rc;

	if (!auth_ready(L->rq))
		return answer(out, KENPO_RES_UNAVAIL, default_lang());
	rc = member_load(L->rq, NULL, L->login.p, L->login.len, &m);
	if (rc == KENPO_RES_OK)
		rc = step(L, &m, out);
	else if (rc == KENPO_RES_NOTFOUND)
		rc = answer(out, KENPO_RES_AUTH_ERR, default_lang());
	else
		rc = answer_failed(out, rc);
	member_release(&m);
	return rc;
}

static int
build_key_answer(const struct member *m, struct member_change *c, void *ctx)
{
	struct login *L = ctx;
	int st;

	if (!txn_matches(L->rq, m, L->txn))
		return KENPO_RES_AUTH_ERR;
	if (key_locked(m, L->now, &L->secs))
		return KENPO_RES_LOCKED;
	st = key_status(m, L->now);
	if (st != KENPO_RES_OK)
		return st;
	if (key_matches(L->rq, m, L->key)) {
		/* Deleting the values read makes the key single-use: of two
		 * requests that read it, on the write provider every host
		 * uses, the second delete fails. */
		change_clear_key(c, m);
		change_completed(c, m, L, key_source(m), 0);
		L->outcome = KENPO_RES_OK;
		return KENPO_RES_OK;
	}
	change_wrong_key(c, m, L, 0);
	return KENPO_RES_OK;
}

static int
key_answer(struct login *L, struct member *m, struct kenpo_buf *out)
{
	int rc = member_update(L->rq, m, build_key_answer, L);

	switch (rc) {
	case KENPO_RES_OK:
		return answer_key_outcome(L, m, out);
	case KENPO_RES_AUTH_ERR:
		return answer(out, KENPO_RES_AUTH_ERR, default_lang());
	case KENPO_RES_LOCKED:
		return answer_secs(out, rc, default_lang(), L->secs);
	case KENPO_RES_KEY_VOID:
	case KENPO_RES_KEY_EXPIRED:
		return answer(out, rc, m->soc->lang);
	default:
		return answer_update_failed(out, rc);
	}
}

int
auth_key(struct request *rq, struct kenpo_buf *in, struct kenpo_buf *out)
{
	struct login L;
	int rc;

	memset(&L, 0, sizeof L);
	L.rq = rq;
	kenpo_get_string_ref(in, &L.login.p, &L.login.len);
	kenpo_get_string_ref(in, &L.txn.p, &L.txn.len);
	kenpo_get_string_ref(in, &L.key.p, &L.key.len);
	L.flags = kenpo_get_int32(in);
	kenpo_get_string_ref(in, &L.service.p, &L.service.len);
	kenpo_get_string_ref(in, &L.rhost.p, &L.rhost.len);
	if (kenpo_frame_close(in) != 0)
		return KENPO_RES_BADREQ;
	myldap_counts_reset();
	set_tag_from("auth key", L.login, L.service, L.rhost, L.flags);
	L.now = kenpo_gentime_now();
	rc = with_member(&L, out, key_answer);
	log_outcome(rc, "");
	kenpo_wipe(&L, sizeof L);
	return rc;
}

static int
build_resend(const struct member *m, struct member_change *c, void *ctx)
{
	struct login *L = ctx;
	int64_t sent = member_time(m, MA_KEY_SENT_AT);
	int64_t ready = sent + m->soc->key_resend_cooldown * 1000;

	if (!txn_matches(L->rq, m, L->txn))
		return KENPO_RES_AUTH_ERR;
	if (key_locked(m, L->now, &L->secs))
		return KENPO_RES_LOCKED;
	if (sent != 0 && ready > L->now) {
		L->secs = kenpo_ms_to_secs(ready - L->now);
		return KENPO_RES_COOLDOWN;
	}
	if (!change_key_mail_counted(c, m, L->now, &L->secs))
		return KENPO_RES_KEY_LIMIT;
	change_new_key(c, m, &L->k);
	return KENPO_RES_OK;
}

static int
resend(struct login *L, struct member *m, struct kenpo_buf *out)
{
	int rc;

	if (key_address(m) == NULL)
		return answer(out, KENPO_RES_MAIL_FAILED, m->soc->lang);
	if (newkey_make(L->rq, m, L->now, L->txn, &L->k) != 0)
		return KENPO_RES_INTERNAL;
	rc = member_update(L->rq, m, build_resend, L);
	switch (rc) {
	case KENPO_RES_OK:
		return key_mailed(L, m, out);
	case KENPO_RES_AUTH_ERR:
		return answer(out, rc, default_lang());
	case KENPO_RES_LOCKED:
		return answer_secs(out, rc, default_lang(), L->secs);
	case KENPO_RES_COOLDOWN:
	case KENPO_RES_KEY_LIMIT:
		return answer_secs(out, rc, m->soc->lang, L->secs);
	default:
		return answer_update_failed(out, rc);
	}
}

int
auth_resend(struct request *rq, struct kenpo_buf *in, struct kenpo_buf *out)
{
	struct login L;
	int rc;

	memset(&L, 0, sizeof L);
	L.rq = rq;
	kenpo_get_string_ref(in, &L.login.p, &L.login.len);
	kenpo_get_string_ref(in, &L.txn.p, &L.txn.len);
	if (kenpo_frame_close(in) != 0)
		return KENPO_RES_BADREQ;
	myldap_counts_reset();
	set_tag("auth resend", L.login, "");
	L.now = kenpo_gentime_now();
	/* A txn of another length was never handed out: no search for it. */
	if (auth_ready(rq) && L.txn.len != KENPO_TOKEN_LEN)
		rc = answer(out, KENPO_RES_AUTH_ERR, default_lang());
	else
		rc = with_member(&L, out, resend);
	log_outcome(rc, "");
	kenpo_wipe(&L, sizeof L);
	return rc;
}

/* ---- AUTH_ABORT ---- */

static int
build_abort(const struct member *m, struct member_change *c, void *ctx)
{
	struct login *L = ctx;

	if (!txn_matches(L->rq, m, L->txn))
		return KENPO_RES_AUTH_ERR;
	change_clear_key(c, m);
	return KENPO_RES_OK;
}

int
auth_abort(struct request *rq, struct kenpo_buf *in, struct kenpo_buf *out)
{
	struct login L;
	struct member m = { NULL, NULL, NULL, 0 };
	int rc = KENPO_RES_NOTFOUND;

	(void)out;
	memset(&L, 0, sizeof L);
	L.rq = rq;
	kenpo_get_string_ref(in, &L.login.p, &L.login.len);
	kenpo_get_string_ref(in, &L.txn.p, &L.txn.len);
	if (kenpo_frame_close(in) != 0)
		return KENPO_RES_BADREQ;
	myldap_counts_reset();
	set_tag("auth abort", L.login, "");
	if (auth_ready(rq) &&
	    (rc = member_load(rq, NULL, L.login.p, L.login.len, &m)) == KENPO_RES_OK)
		rc = member_update(rq, &m, build_abort, &L);
	log_outcome(rc, rc == KENPO_RES_OK ? ": key voided" : ": nothing to void");
	member_release(&m);
	kenpo_wipe(&L, sizeof L);
	/* Always OK: the answer must not tell whether there was a key. */
	return KENPO_RES_OK;
}

/* ---- ACCOUNT ---- */

/* A lock that holds for this source (its own, the pool's, the member's
 * when familiar, an administrator's); a delay is no account state. */
static int
account_locked(struct request *rq, const struct member *m, struct str rhost, long *secs)
{
	char source[LOCKOUT_SOURCE_ID_LEN + 1];
	struct attempt a;
	int rc;

	memset(&a, 0, sizeof a);
	if (attempt_source_id(rq, rhost.p, rhost.len, source) != 0)
		return 0;
	a.rq = rq;
	a.now = kenpo_gentime_now();
	a.known = 1;
	a.m = *m;
	memcpy(a.source, source, sizeof source);
	rc = attempt_check(&a, secs);
	return rc == KENPO_RES_LOCKED;
}

static int
account_state(struct request *rq, const struct member *m, struct str rhost, struct kenpo_buf *out)
{
	long secs = 0;
	int rc;

	if (!registered(m))
		return KENPO_RES_NOTFOUND;
	if (member_flag(m, MA_DISABLED, 0))
		return answer(out, KENPO_RES_DISABLED, m->soc->lang);
	if (rq->kd->have_secret && account_locked(rq, m, rhost, &secs))
		return answer_secs(out, KENPO_RES_LOCKED, m->soc->lang, secs);
	/* ppolicy's pwdReset (an administrator's ldappasswd) forces a change too. */
	rc = member_flag(m, MA_MUST_CHANGE, 0) || member_flag(m, MA_PWD_RESET, 0) ?
		     KENPO_RES_MUST_CHANGE :
		     KENPO_RES_OK;
	/* Who the member is, so that the PAM module can check that the host's
	 * account of that name is this member (DESIGN.md, architecture 7). */
	kenpo_put_int32(out, (int32_t)m->soc->lang);
	kenpo_put_cstring(out, member_get(m, MA_UID));
	kenpo_put_int32(out, (int32_t)m->uid);
	return rc;
}

int
auth_account(struct request *rq, struct kenpo_buf *in, struct kenpo_buf *out)
{
	struct member m = { NULL, NULL, NULL, 0 };
	struct str login, rhost;
	int rc;

	kenpo_get_string_ref(in, &login.p, &login.len);
	kenpo_get_string_ref(in, &rhost.p, &rhost.len);
	if (kenpo_frame_close(in) != 0)
		return KENPO_RES_BADREQ;
	myldap_counts_reset();
	set_tag("account", login, "");
	rc = member_load(rq, NULL, login.p, login.len, &m);
	if (rc == KENPO_RES_OK)
		rc = account_state(rq, &m, rhost, out);
	else if (rc != KENPO_RES_NOTFOUND)
		rc = answer_failed(out, rc);
	log_outcome(rc, "");
	member_release(&m);
	return rc;
}

/* ---- SESSION_OPEN ---- */

struct session {
	int64_t now;
	struct str service, rhost;
};

static int
build_session(const struct member *m, struct member_change *c, void *ctx)
{
	const struct session *s = ctx;

	history_change_record(c, m, s->now, s->service.p, s->service.len, s->rhost.p,
			      s->rhost.len);
	return KENPO_RES_OK;
}

static int
session_open(struct request *rq, struct member *m, struct session *s, struct kenpo_buf *out)
{
	char prev[HISTORY_PREVIOUS_MAX];
	int rc;

	if (!registered(m))
		return KENPO_RES_NOTFOUND;
	history_previous(m, prev);
	rc = member_update(rq, m, build_session, s);
	if (rc != KENPO_RES_OK)
		return rc == KENPO_RES_NOTFOUND ? rc : answer_failed(out, rc);
	kenpo_put_int32(out, (int32_t)m->soc->lang);
	kenpo_put_cstring(out, prev);
	return KENPO_RES_OK;
}

int
auth_session_open(struct request *rq, struct kenpo_buf *in, struct kenpo_buf *out)
{
	struct member m = { NULL, NULL, NULL, 0 };
	struct session s;
	struct str login;
	int rc;

	kenpo_get_string_ref(in, &login.p, &login.len);
	kenpo_get_string_ref(in, &s.service.p, &s.service.len);
	kenpo_get_string_ref(in, &s.rhost.p, &s.rhost.len);
	if (kenpo_frame_close(in) != 0)
		return KENPO_RES_BADREQ;
	myldap_counts_reset();
	set_tag_from("session open", login, s.service, s.rhost, 0);
	s.now = kenpo_gentime_now();
	rc = member_load(rq, NULL, login.p, login.len, &m);
	if (rc == KENPO_RES_OK)
		rc = session_open(rq, &m, &s, out);
	else if (rc != KENPO_RES_NOTFOUND)
		rc = answer_failed(out, rc);
	log_outcome(rc, "");
	member_release(&m);
	return rc;
}

/* ---- checking a current password (PASSWORD_CHANGE, step-up) ---- */

/* The current password of the member in L->a, checked as a login checks
 * it: the delays and locks of its source, counted before the
 * verification, taken back when right.  OK (L->v tells how it was right),
 * or the answer already written. */
static int
check_current(struct login *L, struct kenpo_buf *out)
{
	struct member *m = &L->a.m;
	int rc = check_and_count(L, out);

	if (rc != KENPO_RES_OK)
		return rc;
	L->v = verify_one(m, L->pw, L->now);
	if (L->v == V_WRONG) {
		audit(L->rq, "login.failed", m->e->dn, L->login, L->service, L->rhost, "reason",
		      "current-password");
		return answer(out, KENPO_RES_AUTH_ERR, default_lang());
	}
	return KENPO_RES_OK;
}

int
auth_check_password(struct request *rq, struct member *m, const char *pw, size_t len,
		    const char *rhost, struct kenpo_buf *out)
{
	struct login L;
	int rc;

	memset(&L, 0, sizeof L);
	L.rq = rq;
	L.pw = (struct str){ pw, len };
	L.rhost = (struct str){ rhost != NULL ? rhost : "", rhost != NULL ? strlen(rhost) : 0 };
	L.login =
		(struct str){ member_get(m, MA_UID) != NULL ? member_get(m, MA_UID) : "",
			      member_get(m, MA_UID) != NULL ? strlen(member_get(m, MA_UID)) : 0 };
	L.now = kenpo_gentime_now();
	if (!auth_ready(rq)) {
		rc = answer(out, KENPO_RES_UNAVAIL, default_lang());
		goto done;
	}
	L.a.rq = rq;
	L.a.now = L.now;
	L.a.known = 1;
	L.a.m = *m;
	if (attempt_source_id(rq, L.rhost.p, L.rhost.len, L.a.source) != 0) {
		rc = KENPO_RES_INTERNAL;
		goto done;
	}
	rc = check_current(&L, out);
	if (rc == KENPO_RES_OK && L.v == V_TEMP_EXPIRED)
		rc = answer(out, KENPO_RES_AUTH_ERR, default_lang());
	else if (rc == KENPO_RES_OK &&
		 (rc = member_update(rq, &L.a.m, build_right_only, &L)) != KENPO_RES_OK)
		rc = answer_update_failed(out, rc);
	/* The entry may have been read again: the caller's is now this one. */
	*m = L.a.m;
done:
	kenpo_wipe(&L, sizeof L);
	return rc;
}

/* ---- PASSWORD_CHANGE ---- */

struct pwchange {
	struct login L;
	struct str new_pw, proof;
	int admin;
	char hash[KENPO_PWHASH_MAX];
};

static int
build_pwchange(const struct member *m, struct member_change *c, void *ctx)
{
	const struct pwchange *p = ctx;

	member_replace(c, MA_PASSWORD, p->hash);
	member_set(c, m, MA_TEMP_PASSWORD, NULL);
	member_set(c, m, MA_TEMP_EXPIRY, NULL);
	member_set(c, m, MA_TEMP_TRIES, NULL);
	member_set(c, m, MA_MUST_CHANGE, NULL);
	/* Whoever guessed at the old password has nothing to go on now. */
	attempt_change_clear(c, m);
	return KENPO_RES_OK;
}

/* Mail every registered address that the password was changed.  After
 * the answer: a notice is no part of it. */
static void
notify_change(const struct member *m, int64_t now)
{
	static const enum member_attr slot[] = { MA_MAIL1, MA_MAIL2, MA_MAIL3 };
	char when[HISTORY_PREVIOUS_MAX];
	struct kenpo_var var = { "WHEN", when };
	const char *to, *sent[3] = { NULL, NULL, NULL };
	size_t i, j, n = 0;

	if (zone_format_local(m->soc, now, when, sizeof when) != 0)
		return;
	for (i = 0; i < 3; i++) {
		to = member_get(m, slot[i]);
		if (to == NULL || !kenpo_mail_address_ok(to))
			continue;
		for (j = 0; j < n && strcasecmp(sent[j], to) != 0; j++)
			;
		if (j < n)
			continue;
		sent[n++] = to;
		if (mailer_queue(m->soc, KENPO_MAIL_PASSWORD_CHANGED, &var, 1, to) != 0)
			log_msg(LOG_WARNING,
				"%.200s: a password change notice could not be queued", m->e->dn);
	}
}

/* With the current password, where the society requires the key: the
 * proof of a completed login of this member. */
static int
proof_needed(const struct pwchange *p, const struct member *m)
{
	return !p->admin && p->L.v == V_PASSWORD && key_required(m) &&
	       !proof_valid(p->L.rq, m, p->proof.p, p->proof.len, p->L.now);
}

static int
change_password(struct pwchange *p, struct kenpo_buf *out)
{
	struct member *m = &p->L.a.m;
	int rc;

	if (!p->admin && (rc = check_current(&p->L, out)) != KENPO_RES_OK)
		return rc;
	if (!p->admin && p->L.v == V_TEMP_EXPIRED)
		return answer(out, KENPO_RES_TEMP_EXPIRED, m->soc->lang);
	if (proof_needed(p, m)) {
		(void)member_update(p->L.rq, m, build_right_only, &p->L);
		return answer(out, KENPO_RES_LOGIN_REQUIRED, m->soc->lang);
	}
	if (!registered(m))
		return answer(out, p->admin ? KENPO_RES_NOTFOUND : KENPO_RES_NOT_REGISTERED,
			      m->soc->lang);
	if (!p->admin && member_flag(m, MA_DISABLED, 0))
		return answer(out, KENPO_RES_DISABLED, m->soc->lang);
	if (kenpo_pw_hash(p->new_pw.p, p->new_pw.len, &A.cost, p->hash, sizeof p->hash) != 0)
		return KENPO_RES_INTERNAL;
	rc = member_update(p->L.rq, m, build_pwchange, p);
	if (rc == KENPO_RES_NOTFOUND)
		return answer(out, p->admin ? rc : KENPO_RES_AUTH_ERR, default_lang());
	if (rc != KENPO_RES_OK)
		return answer_failed(out, rc);
	audit(p->L.rq, "password.change", m->e->dn, p->L.login, p->L.service, p->L.rhost, "by",
	      p->admin         ? "admin" :
	      p->L.v == V_TEMP ? "temporary-password" :
				 "member");
	notify_change(m, p->L.now);
	return KENPO_RES_OK;
}

/* The rules the new password breaks, and whether it repeats the old. */
static unsigned
new_password_mask(const struct pwchange *p)
{
	unsigned mask = kenpo_policy_check_password(p->new_pw.p, p->new_pw.len);

	if (!p->admin && p->new_pw.len == p->L.pw.len && p->new_pw.len > 0 &&
	    sodium_memcmp(p->new_pw.p, p->L.pw.p, p->new_pw.len) == 0)
		mask |= KENPO_PWC_SAME_AS_OLD;
	return mask;
}

static int
password_change(struct pwchange *p, struct kenpo_buf *out)
{
	unsigned mask = new_password_mask(p);
	int rc;

	if (mask != 0) {
		kenpo_put_int32(out, (int32_t)mask);
		return KENPO_RES_POLICY;
	}
	rc = attempt_begin(&p->L.a, p->L.rq, p->L.login.p, p->L.login.len, p->L.rhost.p,
			   p->L.rhost.len, p->L.now);
	if (rc != KENPO_RES_OK)
		rc = answer_failed(out, rc);
	else if (!p->L.a.known && p->admin)
		rc = answer(out, KENPO_RES_NOTFOUND, default_lang());
	else if (!p->L.a.known)
		rc = unknown_login(&p->L, out);
	else
		rc = change_password(p, out);
	attempt_end(&p->L.a);
	return rc;
}

int
auth_password_change(struct request *rq, struct kenpo_buf *in, struct kenpo_buf *out)
{
	struct pwchange p;
	int rc;

	memset(&p, 0, sizeof p);
	p.L.rq = rq;
	kenpo_get_string_ref(in, &p.L.login.p, &p.L.login.len);
	kenpo_get_string_ref(in, &p.L.pw.p, &p.L.pw.len);
	kenpo_get_string_ref(in, &p.new_pw.p, &p.new_pw.len);
	p.admin = (kenpo_get_int32(in) & KENPO_PWCF_ADMIN) != 0;
	kenpo_get_string_ref(in, &p.proof.p, &p.proof.len);
	kenpo_get_string_ref(in, &p.L.rhost.p, &p.L.rhost.len);
	if (kenpo_frame_close(in) != 0)
		return KENPO_RES_BADREQ;
	myldap_counts_reset();
	(void)kenpo_pwpool_wait_take();
	set_tag("password change", p.L.login, p.admin ? " (administrator)" : "");
	p.L.now = kenpo_gentime_now();
	if (p.admin && rq->peer_uid != 0) {
		log_msg(LOG_NOTICE, "administrator change refused to uid %lu",
			(unsigned long)rq->peer_uid);
		rc = KENPO_RES_DENIED;
	} else if (!auth_ready(rq)) {
		rc = answer(out, KENPO_RES_UNAVAIL, default_lang());
	} else {
		rc = password_change(&p, out);
	}
	log_outcome(rc, "");
	kenpo_wipe(&p, sizeof p);
	return rc;
}

/* ---- setup ---- */

/* The argon2 regions (pwhash.h): hash_workers, or one per processor, and
 * never more than the workers that could use them: those of the
 * authentication lane and of the self-service lane, which hashes the
 * passwords of registrations, resets and changes. */
static int
pool_setup(const struct kenpo_config *cfg, char *errbuf, size_t errsz)
{
	long nproc = sysconf(_SC_NPROCESSORS_ONLN);
	unsigned n = cfg->hash_workers;

	if (n == 0)
		n = nproc > 0 ? (unsigned)nproc : 1;
	if (n > cfg->threads + cfg->selfservice_threads)
		n = cfg->threads + cfg->selfservice_threads;
	if (n > KENPO_PWPOOL_MAX)
		n = KENPO_PWPOOL_MAX;
	if (kenpo_pwpool_setup(n, cfg->argon2_memlimit) != 0) {
		snprintf(errbuf, errsz, "hash_workers: cannot set up %u argon2 regions", n);
		return -1;
	}
	log_msg(LOG_INFO, "argon2: %u at once, each in %zu KiB kept mapped", n,
		cfg->argon2_memlimit / 1024);
	return 0;
}

/* Whether the fake hash, just made, ran in a region; if not, libsodium no
 * longer allocates as pwhash.c expects, and every hash maps fresh memory. */
static void
pool_check(void)
{
	struct kenpo_pwpool_stats st;

	kenpo_pwpool_stats(&st);
	if (st.runs > 0 && st.in_region == 0)
		log_msg(LOG_WARNING, "argon2: libsodium did not use the kept regions; "
				     "every hash maps fresh memory (slower)");
}

/* Unknown login IDs follow the first society's lockout settings: when
 * societies differ, those of another society's members could tell its
 * login IDs from unknown ones by the answers, so say so. */
static void
warn_lockout_settings(const struct kenpo_config *cfg)
{
	const struct kenpo_society *a = &cfg->societies[0], *b;
	size_t i;

	for (i = 1; i < cfg->nsocieties; i++) {
		b = &cfg->societies[i];
		if (a->lockout_failures != b->lockout_failures ||
		    a->lockout_duration != b->lockout_duration ||
		    a->lockout_unfamiliar_failures != b->lockout_unfamiliar_failures)
			log_msg(LOG_WARNING,
				"society %.100s: its lockout settings differ from "
				"%.100s's, which unknown login IDs follow; its members' login IDs "
				"can be told from unknown ones by the delays",
				b->id, a->id);
	}
}

int
auth_setup(const struct kenpo_config *cfg, char *errbuf, size_t errsz)
{
	A.cfg = cfg;
	A.cost.opslimit = cfg->argon2_opslimit;
	A.cost.memlimit = cfg->argon2_memlimit;
	if (pool_setup(cfg, errbuf, errsz) != 0)
		return -1;
	/* Made now, so that the first unknown login ID does not take the
	 * time of a hash as well and stand out. */
	A.fake_hash = kenpo_pw_fake_hash(&A.cost);
	if (A.fake_hash == NULL) {
		snprintf(errbuf, errsz, "argon2_t, argon2_m: libsodium refuses this cost");
		return -1;
	}
	pool_check();
	if (zone_setup(cfg, errbuf, errsz) != 0)
		return -1;
	if (mailer_setup(cfg, errbuf, errsz) != 0) {
		zone_cleanup();
		return -1;
	}
	warn_lockout_settings(cfg);
	A.ready = 1;
	return 0;
}

void
auth_cleanup(void)
{
	if (A.cfg == NULL)
		return;
	mailer_cleanup();
	zone_cleanup();
	kenpo_pwpool_cleanup();
	A.ready = 0;
}
