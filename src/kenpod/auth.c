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
 * lockout state itself in the member's entry (kenpoAuthFailures,
 * kenpoAuthFailTime, kenpoLockedUntil; shared by every kenpod host), and
 * honours pwdAccountLockedTime that an administrator sets.
 *
 * Every argon2 run takes one of hash_workers regions kept mapped (pwhash.h)
 * for the run alone: the search before it and the modify and mail after
 * it hold none, so other logins hash while this one waits for slapd, and
 * a login beyond hash_workers queues (the log line says how long) instead
 * of mapping more memory.  tests/bench/run-login-bench measures logins
 * through PAM against nslcd's, and what each costs kenpod beside the
 * verification itself.
 *
 * Lockout without a cheap denial of service.  From the third consecutive
 * failure on, further attempts are refused for 2^(n-3) seconds (capped at
 * a minute and at lockout_duration) with DELAY, before any argon2 work;
 * at lockout_failures the account is locked for lockout_duration.  Failures
 * older than lockout_duration no longer count; a right password resets the
 * count.  The arithmetic is lockout.c's.  Unknown login IDs go through the same delays and lock, kept in
 * memory only (a fixed table keyed by a keyed hash of the lower-cased ID),
 * so DELAY and LOCKED do not tell whether a login ID exists; they cost one
 * verification against kenpo_pw_fake_hash, like a wrong password.
 *
 * Keys.  A key goes to kenpoMail1 (メールアドレス1) only: it is the
 * address that receives every mail and the one whose masked form the
 * member is shown; mailing a login factor to more addresses would only
 * widen who can read it.  The entry keeps the keyed hash of the key, its
 * expiry, the wrong answers, the time it was sent and the keyed hash of a
 * random transaction handle (txn), which AUTH_KEY, AUTH_RESEND and
 * AUTH_ABORT must present, so that nobody who has not given the password
 * can burn the key's tries or void it.  The key is stored before it is
 * mailed (a mailed key is always usable) and taken back if the mail fails.
 * A resend keeps the txn.
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

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <sodium.h>

#include "auth.h"
#include "config.h"
#include "gen.h"
#include "gentime.h"
#include "lockout.h"
#include "log.h"
#include "mail.h"
#include "mailer.h"
#include "member.h"
#include "myldap.h"
#include "policy.h"
#include "prototab.h"
#include "pwhash.h"
#include "secret.h"
#include "token.h"
#include "zone.h"

#define PHANTOM_SLOTS 4096
#define PHANTOM_ID_BYTES 16
#define LOGIN_HASH_MAX 256       /* bytes of an unknown login ID hashed */
#define PWDLOCK_FOREVER "000001010000Z"
#define MASK_MAX 300

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

/* A successful authentication also hands out a profile ticket, the proof
 * a web portal passes on to change the member's profile.  Failing to make
 * one does not fail the login: the ticket is then empty. */
static int
answer_auth(struct request *rq, int32_t flags, struct kenpo_buf *out,
	    const struct member *m, int must_change)
{
	char ticket[KENPO_TOKEN_LEN + 1] = "";

	/* Only on request: it costs a directory write, and sshd has no use for it. */
	if ((flags & KENPO_AUTHF_TICKET) &&
	    token_ticket_issue(rq, m->e->dn, ticket, sizeof(ticket)) != KENPO_RES_OK) {
		log_msg(LOG_WARNING, "no profile ticket for %.200s", m->e->dn);
		ticket[0] = '\0';
	}
	kenpo_put_cstring(out, member_get(m, MA_UID));
	kenpo_put_int32(out, (int32_t)m->uid);
	kenpo_put_int32(out, (int32_t)m->soc->lang);
	kenpo_put_int32(out, must_change ? KENPO_AUTHR_MUST_CHANGE : 0);
	kenpo_put_cstring(out, ticket);
	kenpo_wipe(ticket, sizeof(ticket));
	return KENPO_RES_OK;
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

/* ---- failures and lockout (lockout.h) ---- */

static void
failstate_of_member(const struct member *m, struct failstate *fs)
{
	fs->failures = member_count(m, MA_FAILURES);
	fs->last = member_time(m, MA_FAIL_TIME);
	fs->locked_until = member_time(m, MA_LOCKED_UNTIL);
}

/* An administrator's lock through ppolicy: pwdAccountLockedTime
 * 000001010000Z locks until removed (*secs 0); another time locks for
 * lockout_duration from then, as ppolicy would with pwdLockoutDuration. */
static int
admin_locked(const struct member *m, int64_t now, long *secs)
{
	const char *v = member_get(m, MA_PWD_LOCKED);
	int64_t t;

	if (v == NULL)
		return 0;
	if (strcmp(v, PWDLOCK_FOREVER) == 0 || (t = member_time(m, MA_PWD_LOCKED)) == 0) {
		*secs = 0;
		return 1;
	}
	t += m->soc->lockout_duration * 1000;
	if (t <= now)
		return 0;
	*secs = kenpo_ms_to_secs(t - now);
	return 1;
}

static int
member_lock_check(const struct member *m, int64_t now, long *secs)
{
	struct failstate fs;

	if (admin_locked(m, now, secs))
		return KENPO_RES_LOCKED;
	failstate_of_member(m, &fs);
	return lockout_check(&fs, m->soc, now, secs);
}

static void
change_failure(struct member_change *c, const struct member *m, int64_t now)
{
	struct failstate fs;

	failstate_of_member(m, &fs);
	lockout_fail(&fs, m->soc, now);
	member_set_count(c, m, MA_FAILURES, fs.failures);
	member_set_time(c, m, MA_FAIL_TIME, now, 1);
	if (fs.locked_until != 0)
		member_set_time(c, m, MA_LOCKED_UNTIL, fs.locked_until, 1);
	else
		member_set(c, m, MA_LOCKED_UNTIL, NULL);
}

static void
change_reset_failures(struct member_change *c, const struct member *m)
{
	member_set(c, m, MA_FAILURES, NULL);
	member_set(c, m, MA_FAIL_TIME, NULL);
	member_set(c, m, MA_LOCKED_UNTIL, NULL);
}

/* ---- unknown login IDs: the same delays and lock, in memory ---- */

struct phantom {
	unsigned char id[PHANTOM_ID_BYTES];
	struct failstate fs;
};

static struct phantom phantoms[PHANTOM_SLOTS];
static pthread_mutex_t phantom_lock = PTHREAD_MUTEX_INITIALIZER;

/* The slot and id of a login ID: a keyed hash of it in lower case, so the
 * table holds no login ID and nobody can aim collisions at a slot. */
static int
phantom_id(const struct kenpod *kd, struct str login, unsigned char id[PHANTOM_ID_BYTES],
	   size_t *slot)
{
	char lower[LOGIN_HASH_MAX], hex[KENPO_KEYED_HASH_HEX];
	size_t i, n = login.len < sizeof lower ? login.len : sizeof lower;
	unsigned long long v = 0;

	for (i = 0; i < n; i++)
		lower[i] = (login.p[i] >= 'A' && login.p[i] <= 'Z') ? (char)(login.p[i] + 32) : login.p[i];
	if (kenpo_keyed_hash_hex(kd->secret, "login", lower, n, hex, sizeof hex) != 0 ||
	    sodium_hex2bin(id, PHANTOM_ID_BYTES, hex, 2 * PHANTOM_ID_BYTES, NULL, NULL, NULL) != 0)
		return -1;
	for (i = 0; i < 8; i++)
		v = v << 8 | id[i];
	*slot = (size_t)(v % PHANTOM_SLOTS);
	return 0;
}

/* The failure state of an unknown login ID (empty if its slot holds
 * another one), and with `fail`, one failure more. */
static void
phantom_update(const struct kenpod *kd, struct str login, int64_t now, int fail,
	       struct failstate *out)
{
	unsigned char id[PHANTOM_ID_BYTES];
	const struct kenpo_society *soc = &A.cfg->societies[0];
	struct phantom *p;
	size_t slot;

	memset(out, 0, sizeof *out);
	if (phantom_id(kd, login, id, &slot) != 0)
		return;
	pthread_mutex_lock(&phantom_lock);
	p = &phantoms[slot];
	if (sodium_memcmp(p->id, id, sizeof id) == 0)
		*out = p->fs;
	if (fail) {
		lockout_fail(out, soc, now);
		memcpy(p->id, id, sizeof id);
		p->fs = *out;
	}
	pthread_mutex_unlock(&phantom_lock);
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
	int ok;

	size_t i;

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

static void
change_clear_key(struct member_change *c, const struct member *m)
{
	member_set(c, m, MA_KEY_HASH, NULL);
	member_set(c, m, MA_KEY_EXPIRY, NULL);
	member_set(c, m, MA_KEY_TRIES, NULL);
	member_set(c, m, MA_KEY_SENT_AT, NULL);
	member_set(c, m, MA_KEY_TXN, NULL);
}

/* A key about to be stored and mailed. */
struct newkey {
	char key[KENPO_KEY_LEN + 1];
	char txn[KENPO_TOKEN_LEN + 1];
	char key_hash[KENPO_KEYED_HASH_HEX];
	char txn_hash[KENPO_KEYED_HASH_HEX];
	char expiry[32];
	char sent_at[32];
};

/* A fresh key; with a txn given (a resend) that txn is kept. */
static int
newkey_make(const struct request *rq, const struct member *m, int64_t now,
	    struct str txn, struct newkey *k)
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
 * that another request stored since stays. */
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

static int
newkey_mail(const struct member *m, const struct newkey *k)
{
	char validity[64];
	struct kenpo_var vars[2] = { { "KEY", k->key }, { "VALIDITY", validity } };

	if (kenpo_duration_format(m->soc->lang, m->soc->key_validity, validity,
				  sizeof validity) != 0)
		return -1;
	return mailer_send(m->soc, KENPO_MAIL_KEY, vars, 2, member_get(m, MA_MAIL1));
}

static int
mail1_usable(const struct member *m)
{
	const char *a = member_get(m, MA_MAIL1);

	return a != NULL && kenpo_mail_address_ok(a);
}

/* KEY record. */
static void
put_key_record(struct kenpo_buf *out, const struct member *m, long secs, const char *txn)
{
	char masked[MASK_MAX];

	if (kenpo_mail_mask(member_get(m, MA_MAIL1), masked, sizeof masked) != 0)
		memcpy(masked, "****", 5);
	kenpo_put_cstring(out, member_get(m, MA_UID));
	kenpo_put_int32(out, (int32_t)m->uid);
	kenpo_put_int32(out, (int32_t)m->soc->lang);
	kenpo_put_cstring(out, masked);
	kenpo_put_int32(out, (int32_t)secs);
	kenpo_put_cstring(out, txn);
}

/* ---- AUTH_PASSWORD ---- */

enum verdict { V_WRONG, V_PASSWORD, V_TEMP };

struct login {
	struct request *rq;
	struct str login, pw, txn;
	int32_t flags;
	int64_t now;
	enum verdict v;
	struct str key;              /* typed after the password (single-field) */
	char rehash[KENPO_PWHASH_MAX];
	struct newkey k;
	int outcome;                 /* decided inside a build */
	unsigned tries_left;
};

static int
registered(const struct member *m)
{
	return member_has(m, MA_STATE, "registered");
}

static int
temp_valid(const struct member *m, int64_t now)
{
	int64_t exp = member_time(m, MA_TEMP_EXPIRY);

	return member_get(m, MA_TEMP_PASSWORD) != NULL &&
	       (member_get(m, MA_TEMP_EXPIRY) == NULL || (exp != 0 && now < exp));
}

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
	log_msg(LOG_WARNING, "%.100s: userPassword is %.*s, not argon2: refused; set it again "
		"with ldappasswd (slapd's argon2) or kenpo-admin reissue", member_get(m, MA_UID),
		named ? (int)n : 10, named ? hash : "clear text");
	return 1;
}

/* Check one candidate against the password and a valid temporary password;
 * with neither, against the fake hash, so that it costs the same. */
static enum verdict
verify_one(const struct member *m, struct str pw, int64_t now)
{
	const char *hash = member_get(m, MA_PASSWORD);
	int tried = 0;

	if (hash != NULL) {
		tried = 1;
		if (kenpo_pw_verify(hash, pw.p, pw.len) == 0)
			return V_PASSWORD;
		if (scheme_refused(m, hash))
			fake_verify(pw);          /* as long as an argon2 check */
	}
	if (temp_valid(m, now)) {
		tried = 1;
		if (kenpo_pw_verify(member_get(m, MA_TEMP_PASSWORD), pw.p, pw.len) == 0)
			return V_TEMP;
	}
	if (!tried)
		fake_verify(pw);
	return V_WRONG;
}

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
	if (L->v == V_PASSWORD && kenpo_pw_needs_rehash(member_get(m, MA_PASSWORD), &A.cost) == 1 &&
	    kenpo_pw_hash(used.p, used.len, &A.cost, L->rehash, sizeof L->rehash) != 0)
		L->rehash[0] = '\0';
}

static int
unknown_login(struct login *L, struct kenpo_buf *out)
{
	struct failstate fs;
	long secs = 0;
	int rc, i, n = ends_with_key(L) ? 2 : 1;

	phantom_update(L->rq->kd, L->login, L->now, 0, &fs);
	rc = lockout_check(&fs, &A.cfg->societies[0], L->now, &secs);
	if (rc != KENPO_RES_OK)
		return answer_secs(out, rc, default_lang(), secs);
	for (i = 0; i < n; i++)
		fake_verify(L->pw);
	phantom_update(L->rq->kd, L->login, L->now, 1, &fs);
	return answer(out, KENPO_RES_AUTH_ERR, default_lang());
}

static int
build_failure(const struct member *m, struct member_change *c, void *ctx)
{
	const struct login *L = ctx;

	change_failure(c, m, L->now);
	return KENPO_RES_OK;
}

/* What every right password does: the count starts afresh, and an old
 * hash is upgraded. */
static void
change_password_right(struct member_change *c, const struct member *m, const struct login *L)
{
	change_reset_failures(c, m);
	if (L->rehash[0] != '\0')
		member_replace(c, MA_PASSWORD, L->rehash);
}

static int
build_plain(const struct member *m, struct member_change *c, void *ctx)
{
	const struct login *L = ctx;

	change_password_right(c, m, L);
	if (L->v == V_TEMP)
		member_set(c, m, MA_MUST_CHANGE, "TRUE");
	return KENPO_RES_OK;
}

/* One more wrong answer to the pending key: KEY_WRONG, or KEY_VOID when
 * it was the last one allowed. */
static void
change_wrong_key(struct member_change *c, const struct member *m, struct login *L)
{
	unsigned tries = member_count(m, MA_KEY_TRIES) + 1;

	member_set_count(c, m, MA_KEY_TRIES, tries);
	L->tries_left = tries < m->soc->key_max_tries ? m->soc->key_max_tries - tries : 0;
	L->outcome = L->tries_left > 0 ? KENPO_RES_KEY_WRONG : KENPO_RES_KEY_VOID;
}

/* The answer to a key once its change is stored. */
static int
answer_key_outcome(struct login *L, const struct member *m, struct kenpo_buf *out)
{
	if (L->outcome == KENPO_RES_OK)
		return answer_auth(L->rq, L->flags, out, m, member_flag(m, MA_MUST_CHANGE, 0));
	if (L->outcome == KENPO_RES_KEY_WRONG)
		return answer_secs(out, KENPO_RES_KEY_WRONG, m->soc->lang, (long)L->tries_left);
	return answer(out, KENPO_RES_KEY_VOID, m->soc->lang);
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

/* Single-field: the key typed after a right password. */
static int
build_single_key(const struct member *m, struct member_change *c, void *ctx)
{
	struct login *L = ctx;
	int st = key_status(m, L->now);

	if (st != KENPO_RES_OK)
		return st;
	change_password_right(c, m, L);
	if (key_matches(L->rq, m, L->key)) {
		change_clear_key(c, m);
		L->outcome = KENPO_RES_OK;
		return KENPO_RES_OK;
	}
	change_wrong_key(c, m, L);
	return KENPO_RES_OK;
}

/* Split and single-field: a pending key gets a new txn (only the latest
 * transaction can answer it); if it is gone meanwhile, a new key. */
static int
build_pending(const struct member *m, struct member_change *c, void *ctx)
{
	struct login *L = ctx;

	change_password_right(c, m, L);
	if (key_status(m, L->now) == KENPO_RES_OK) {
		member_set(c, m, MA_KEY_TXN, L->k.txn_hash);
		L->outcome = KENPO_RES_KEY_PENDING;
	} else {
		change_new_key(c, m, &L->k);
		L->outcome = KENPO_RES_KEY_SENT;
	}
	return KENPO_RES_OK;
}

static int
build_new_key(const struct member *m, struct member_change *c, void *ctx)
{
	struct login *L = ctx;

	change_password_right(c, m, L);
	change_new_key(c, m, &L->k);
	L->outcome = KENPO_RES_KEY_SENT;
	return KENPO_RES_OK;
}

/* After a right password: a key is needed.  A kenpo_result with its answer. */
static int
key_step(struct login *L, struct member *m, struct kenpo_buf *out)
{
	int pending = (L->flags & (KENPO_AUTHF_SPLIT | KENPO_AUTHF_SINGLE)) &&
		      key_status(m, L->now) == KENPO_RES_OK;
	long secs;
	int rc;

	if (!mail1_usable(m)) {
		log_msg(LOG_ERR, "%.200s: no usable kenpoMail1 for the key", m->e->dn);
		return answer(out, KENPO_RES_MAIL_FAILED, m->soc->lang);
	}
	if (newkey_make(L->rq, m, L->now, L->txn, &L->k) != 0)
		return KENPO_RES_INTERNAL;
	rc = member_update(L->rq, m, pending ? build_pending : build_new_key, L);
	if (rc != KENPO_RES_OK)
		return answer_update_failed(out, rc);
	if (L->outcome == KENPO_RES_KEY_PENDING) {
		secs = kenpo_ms_to_secs(member_time(m, MA_KEY_EXPIRY) - L->now);
		put_key_record(out, m, secs, L->k.txn);
		return KENPO_RES_KEY_PENDING;
	}
	if (newkey_mail(m, &L->k) != 0) {
		newkey_withdraw(L->rq, m, &L->k);
		return answer(out, KENPO_RES_MAIL_FAILED, m->soc->lang);
	}
	put_key_record(out, m, m->soc->key_validity, L->k.txn);
	return KENPO_RES_KEY_SENT;
}

static int
single_key_step(struct login *L, struct member *m, struct kenpo_buf *out)
{
	int rc = member_update(L->rq, m, build_single_key, L);

	if (rc == KENPO_RES_KEY_VOID || rc == KENPO_RES_KEY_EXPIRED)
		return key_step(L, m, out);      /* the key went meanwhile */
	if (rc != KENPO_RES_OK)
		return answer_update_failed(out, rc);
	return answer_key_outcome(L, m, out);
}

static int
password_right(struct login *L, struct member *m, struct kenpo_buf *out)
{
	int rc;

	if (!registered(m))
		return answer(out, KENPO_RES_NOT_REGISTERED, m->soc->lang);
	if (member_flag(m, MA_DISABLED, 0))
		return answer(out, KENPO_RES_DISABLED, m->soc->lang);
	if (L->v == V_PASSWORD && member_flag(m, MA_KEY_REQUIRED, 1)) {
		if (L->key.len > 0)
			return single_key_step(L, m, out);
		return key_step(L, m, out);
	}
	/* A temporary password came by mail already: no key; a change is due. */
	rc = member_update(L->rq, m, build_plain, L);
	if (rc != KENPO_RES_OK)
		return answer_update_failed(out, rc);
	return answer_auth(L->rq, L->flags, out, m, L->v == V_TEMP || member_flag(m, MA_MUST_CHANGE, 0));
}

/* A wrong password: counted on the member, answered as for an unknown
 * login ID. */
static int
password_wrong(struct login *L, struct member *m, struct kenpo_buf *out)
{
	int rc = member_update(L->rq, m, build_failure, L);

	if (rc != KENPO_RES_OK && rc != KENPO_RES_NOTFOUND)
		return answer_failed(out, rc);
	return answer(out, KENPO_RES_AUTH_ERR, default_lang());
}

static int
known_login(struct login *L, struct member *m, struct kenpo_buf *out)
{
	long secs = 0;
	int rc = member_lock_check(m, L->now, &secs);

	if (rc != KENPO_RES_OK)
		return answer_secs(out, rc, default_lang(), secs);
	verify_answer(L, m);
	if (L->v != V_WRONG)
		return password_right(L, m, out);
	return password_wrong(L, m, out);
}

/* Nothing is answered before the secret is there: keys could not be
 * hashed, and unknown login IDs not be told from known ones. */
static int
auth_ready(const struct request *rq)
{
	return A.ready && rq->kd->have_secret;
}

typedef int login_step(struct login *L, struct member *m, struct kenpo_buf *out);

/* The course of AUTH_PASSWORD, AUTH_KEY and AUTH_RESEND: the member named,
 * then `step`.  An unknown login ID is answered AUTH_ERR, as a wrong
 * password is; with `count_unknown` it also takes a password's time and
 * counts as a failure (unknown_login). */
static int
with_member(struct login *L, struct kenpo_buf *out, login_step *step, int count_unknown)
{
	struct member m = { NULL, NULL, NULL, 0 };
	int rc;

	if (!auth_ready(L->rq))
		return answer(out, KENPO_RES_UNAVAIL, default_lang());
	rc = member_load(L->rq, NULL, L->login.p, L->login.len, &m);
	if (rc == KENPO_RES_OK)
		rc = step(L, &m, out);
	else if (rc == KENPO_RES_NOTFOUND && count_unknown)
		rc = unknown_login(L, out);
	else if (rc == KENPO_RES_NOTFOUND)
		rc = answer(out, KENPO_RES_AUTH_ERR, default_lang());
	else
		rc = answer_failed(out, rc);
	member_release(&m);
	return rc;
}

static void
set_tag(const char *what, struct str login, const char *extra)
{
	char esc[LOG_ESCAPE_MAX];

	log_setrequest("%s login=%.100s%s", what, log_escape(login.p, login.len, esc), extra);
}

int
auth_password(struct request *rq, struct kenpo_buf *in, struct kenpo_buf *out)
{
	struct login L;
	struct str service, rhost;
	char esc1[LOG_ESCAPE_MAX], esc2[LOG_ESCAPE_MAX], extra[160];
	int rc;

	memset(&L, 0, sizeof L);
	L.rq = rq;
	kenpo_get_string_ref(in, &L.login.p, &L.login.len);
	kenpo_get_string_ref(in, &L.pw.p, &L.pw.len);
	L.flags = kenpo_get_int32(in);
	kenpo_get_string_ref(in, &service.p, &service.len);
	kenpo_get_string_ref(in, &rhost.p, &rhost.len);
	if (kenpo_frame_close(in) != 0)
		return KENPO_RES_BADREQ;
	myldap_counts_reset();
	(void)kenpo_pwpool_wait_take();
	(void)snprintf(extra, sizeof extra, " service=%.40s rhost=%.60s flags=%ld",
		       log_escape(service.p, service.len, esc1),
		       log_escape(rhost.p, rhost.len, esc2), (long)L.flags);
	set_tag("auth password", L.login, extra);
	L.now = kenpo_gentime_now();
	rc = with_member(&L, out, known_login, 1);
	log_outcome(rc, L.v == V_TEMP && rc == KENPO_RES_OK ? " (temporary password)" : "");
	kenpo_wipe(&L, sizeof L);
	return rc;
}

/* ---- AUTH_KEY ---- */

static int
build_key_answer(const struct member *m, struct member_change *c, void *ctx)
{
	struct login *L = ctx;
	int st;

	if (!txn_matches(L->rq, m, L->txn))
		return KENPO_RES_AUTH_ERR;
	st = key_status(m, L->now);
	if (st != KENPO_RES_OK)
		return st;
	if (key_matches(L->rq, m, L->key)) {
		/* Deleting the values read makes the key single-use: of two
		 * requests that read it, on the write provider every host
		 * uses, the second delete fails. */
		change_clear_key(c, m);
		change_reset_failures(c, m);
		L->outcome = KENPO_RES_OK;
		return KENPO_RES_OK;
	}
	change_wrong_key(c, m, L);
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
	if (kenpo_frame_close(in) != 0)
		return KENPO_RES_BADREQ;
	myldap_counts_reset();
	set_tag("auth key", L.login, "");
	L.now = kenpo_gentime_now();
	rc = with_member(&L, out, key_answer, 0);
	log_outcome(rc, "");
	kenpo_wipe(&L, sizeof L);
	return rc;
}

/* ---- AUTH_RESEND ---- */

static int
build_resend(const struct member *m, struct member_change *c, void *ctx)
{
	struct login *L = ctx;
	int64_t sent = member_time(m, MA_KEY_SENT_AT);
	int64_t ready = sent + m->soc->key_resend_cooldown * 1000;

	if (!txn_matches(L->rq, m, L->txn))
		return KENPO_RES_AUTH_ERR;
	if (sent != 0 && ready > L->now) {
		L->tries_left = (unsigned)kenpo_ms_to_secs(ready - L->now);
		return KENPO_RES_COOLDOWN;
	}
	change_new_key(c, m, &L->k);
	return KENPO_RES_OK;
}

static int
resend(struct login *L, struct member *m, struct kenpo_buf *out)
{
	int rc;

	if (!mail1_usable(m))
		return answer(out, KENPO_RES_MAIL_FAILED, m->soc->lang);
	if (newkey_make(L->rq, m, L->now, L->txn, &L->k) != 0)
		return KENPO_RES_INTERNAL;
	rc = member_update(L->rq, m, build_resend, L);
	if (rc == KENPO_RES_AUTH_ERR)
		return answer(out, KENPO_RES_AUTH_ERR, default_lang());
	if (rc == KENPO_RES_COOLDOWN)
		return answer_secs(out, rc, m->soc->lang, (long)L->tries_left);
	if (rc != KENPO_RES_OK)
		return answer_update_failed(out, rc);
	if (newkey_mail(m, &L->k) != 0) {
		newkey_withdraw(L->rq, m, &L->k);
		return answer(out, KENPO_RES_MAIL_FAILED, m->soc->lang);
	}
	put_key_record(out, m, m->soc->key_validity, L->k.txn);
	return KENPO_RES_KEY_SENT;
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
		rc = with_member(&L, out, resend, 0);
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

static int
account_state(const struct member *m, struct kenpo_buf *out)
{
	long secs = 0;
	int rc;

	if (!registered(m))
		return KENPO_RES_NOTFOUND;
	if (member_flag(m, MA_DISABLED, 0))
		return answer(out, KENPO_RES_DISABLED, m->soc->lang);
	rc = member_lock_check(m, kenpo_gentime_now(), &secs);
	if (rc == KENPO_RES_LOCKED)
		return answer_secs(out, rc, m->soc->lang, secs);
	/* ppolicy's pwdReset (an administrator's ldappasswd) forces a change too. */
	rc = member_flag(m, MA_MUST_CHANGE, 0) || member_flag(m, MA_PWD_RESET, 0) ?
	     KENPO_RES_MUST_CHANGE : KENPO_RES_OK;
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
	struct str login;
	int rc;

	kenpo_get_string_ref(in, &login.p, &login.len);
	if (kenpo_frame_close(in) != 0)
		return KENPO_RES_BADREQ;
	myldap_counts_reset();
	set_tag("account", login, "");
	rc = member_load(rq, NULL, login.p, login.len, &m);
	if (rc == KENPO_RES_OK)
		rc = account_state(&m, out);
	else if (rc != KENPO_RES_NOTFOUND)
		rc = answer_failed(out, rc);
	log_outcome(rc, "");
	member_release(&m);
	return rc;
}

/* ---- SESSION_OPEN ---- */

static int
build_session(const struct member *m, struct member_change *c, void *ctx)
{
	const char *now = ctx;

	/* Last writer wins: two sessions opening at once both record a
	 * login, and either time is right. */
	member_replace(c, MA_LAST_LOGIN, now);
	return KENPO_RES_OK;
}

static int
session_open(struct request *rq, struct member *m, struct kenpo_buf *out)
{
	char prev[32] = "", now[32];
	int64_t last = member_time(m, MA_LAST_LOGIN);
	int rc;

	if (!registered(m))
		return KENPO_RES_NOTFOUND;
	if (last != 0 && zone_format_local(m->soc, last, prev, sizeof prev) != 0)
		prev[0] = '\0';
	if (kenpo_gentime_format(kenpo_gentime_now(), 0, now, sizeof now) != 0)
		return KENPO_RES_INTERNAL;
	rc = member_update(rq, m, build_session, now);
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
	struct str login, service, rhost;
	char esc1[LOG_ESCAPE_MAX], esc2[LOG_ESCAPE_MAX], extra[160];
	int rc;

	kenpo_get_string_ref(in, &login.p, &login.len);
	kenpo_get_string_ref(in, &service.p, &service.len);
	kenpo_get_string_ref(in, &rhost.p, &rhost.len);
	if (kenpo_frame_close(in) != 0)
		return KENPO_RES_BADREQ;
	myldap_counts_reset();
	(void)snprintf(extra, sizeof extra, " service=%.40s rhost=%.60s",
		       log_escape(service.p, service.len, esc1),
		       log_escape(rhost.p, rhost.len, esc2));
	set_tag("session open", login, extra);
	rc = member_load(rq, NULL, login.p, login.len, &m);
	if (rc == KENPO_RES_OK)
		rc = session_open(rq, &m, out);
	else if (rc != KENPO_RES_NOTFOUND)
		rc = answer_failed(out, rc);
	log_outcome(rc, "");
	member_release(&m);
	return rc;
}

/* ---- PASSWORD_CHANGE ---- */

struct pwchange {
	struct login L;
	struct str new_pw;
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
	change_reset_failures(c, m);
	return KENPO_RES_OK;
}

/* The old password of a member, checked as a login checks it (delays,
 * lock, failure counting).  OK or the answer already written. */
static int
check_old(struct pwchange *p, struct member *m, struct kenpo_buf *out)
{
	long secs = 0;
	int rc = member_lock_check(m, p->L.now, &secs);

	if (rc != KENPO_RES_OK)
		return answer_secs(out, rc, default_lang(), secs);
	p->L.v = verify_one(m, p->L.pw, p->L.now);
	if (p->L.v != V_WRONG)
		return KENPO_RES_OK;
	return password_wrong(&p->L, m, out);
}

static int
change_password(struct pwchange *p, struct member *m, struct kenpo_buf *out)
{
	int rc;

	if (!p->admin && (rc = check_old(p, m, out)) != KENPO_RES_OK)
		return rc;
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
	struct member m = { NULL, NULL, NULL, 0 };
	unsigned mask = new_password_mask(p);
	int rc;

	if (mask != 0) {
		kenpo_put_int32(out, (int32_t)mask);
		return KENPO_RES_POLICY;
	}
	rc = member_load(p->L.rq, NULL, p->L.login.p, p->L.login.len, &m);
	if (rc == KENPO_RES_NOTFOUND && p->admin)
		rc = answer(out, KENPO_RES_NOTFOUND, default_lang());
	else if (rc == KENPO_RES_NOTFOUND)
		rc = unknown_login(&p->L, out);
	else if (rc != KENPO_RES_OK)
		rc = answer_failed(out, rc);
	else
		rc = change_password(p, &m, out);
	member_release(&m);
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

/* ---- the current password of a logged-in member ---- */

/* stand-in until the mailer queue lands: authsec's version replaces it. */
int
auth_check_password(struct request *rq, struct member *m, const char *pw, size_t len,
		    const char *rhost, struct kenpo_buf *out)
{
	struct login L;
	long secs = 0;
	int rc;

	(void)rhost;
	if (!auth_ready(rq))
		return answer(out, KENPO_RES_UNAVAIL, default_lang());
	memset(&L, 0, sizeof L);
	L.rq = rq;
	L.pw.p = pw;
	L.pw.len = len;
	L.now = kenpo_gentime_now();
	rc = member_lock_check(m, L.now, &secs);
	if (rc != KENPO_RES_OK)
		rc = answer_secs(out, rc, default_lang(), secs);
	else if ((L.v = verify_one(m, L.pw, L.now)) == V_WRONG)
		rc = password_wrong(&L, m, out);
	kenpo_wipe(&L, sizeof L);
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
