/*
 * kenpo-proto.h - the protocol between kenpod and its clients, described once.
 *
 * Clients (libnss_kenpo, pam_kenpo, the kenpo and kenpo-admin tools)
 * connect to kenpod's unix stream socket and send one request frame;
 * kenpod answers with one response frame and the client may send another
 * request on the same connection or close it.  kenpod identifies the
 * caller with SO_PEERCRED.
 *
 * Frame
 *   uint32  length of what follows (network byte order), at most
 *           KENPO_PROTO_MAX_FRAME; a longer or shorter frame closes the
 *           connection.
 *   int32   KENPO_PROTO_VERSION
 *   int32   action (requests) / action being answered (responses)
 *   int32   result: one of KENPO_RESULTS (responses only)
 *   ...     the fields of the request, or of the answer to that result
 *
 * Field types
 *   INT     INT32: 4 bytes, network byte order
 *   STR     STRING: INT32 length (0 .. KENPO_PROTO_MAX_STRING) then that
 *           many bytes, no terminating NUL, never containing a NUL
 *   LIST    INT32 count, then count times the fields of its item layout
 *   A frame whose fields do not exactly fill its length is malformed.
 *
 * The tables
 *   This header is the protocol's only description: the tables below are
 *   X-macro lists, expanded by src/common/prototab.c into the lookup
 *   tables, the layout checker and the field reader that kenpod and every
 *   client use, and read by the tests (tests/kenpoproto.py parses them,
 *   and a test compares its reading with the compiler's).  X-macros rather
 *   than a generated source: the compiler itself checks every name a
 *   table uses (a result, a layout, a field of the answer structure), the
 *   build needs no generator, and the lists stay in the one file a reader
 *   opens to learn the protocol.
 *
 *   KENPO_RESULTS   every result code: name, number, the stable text code
 *                   the tools print (`kenpo --json` "error"), and the words
 *                   kenpod logs.
 *   KENPO_ACTIONS   every action: name, number, the name kenpod logs it by,
 *                   who may call it, and the lane kenpod serves it in.
 *   KENPO_REQ_<ACTION>(F, L)  the request's fields, in order.
 *   KENPO_ANS_<ACTION>(R)     every result that action answers, each with
 *                   its answer layout; KENPO_ANS_ANY adds the failures any
 *                   action may answer.  A result not listed for an action
 *                   is a malformed answer to every client.
 *   KENPO_L_<LAYOUT>(F, L)    the fields of one answer layout.
 *   KENPO_FIELDS    every field name an answer layout uses, with its type.
 *   In the field lists F(INT or STR, name) is one field and L(name, ITEM)
 *   a LIST of the item layout KENPO_L_<ITEM>; lists do not nest.
 *
 * Adding an action: a row in KENPO_ACTIONS (its lane included), its
 * KENPO_REQ_ and KENPO_ANS_ lines (UNAVAIL among the answers, and a layout
 * if no existing one fits), the handler in kenpod and its row in
 * src/kenpod/server.c.  Clients call it with kenpo_call()
 * (src/client/client.h), which encodes and checks from these tables.
 *
 * Actions are grouped by their high 16 bits like nslcd.h's: 0x0001 passwd
 * lookups, 0x0002 authentication (the PAM module), 0x0003 self-service,
 * 0x0004 control.  Codes never change meaning; new ones are added.  The
 * result codes are kenpo's own, not PAM's, so the wire does not depend on
 * PAM headers.
 *
 * Version 3: the POLICY answer has one layout, the rule mask, for every
 * action (PASSWORD_CHANGE sent a language before it in version 2).
 * Version 4: ACCOUNT, AUTH_KEY and PASSWORD_CHANGE name where the request
 * comes from (rhost), PASSWORD_CHANGE carries the proof of a completed login, the
 * AUTH record carries that proof and the previous login; LOGIN_HISTORY.
 */
#ifndef KENPO_PROTO_H
#define KENPO_PROTO_H

#define KENPO_PROTO_VERSION 4
#define KENPO_PROTO_MAX_FRAME (64 * 1024)
#define KENPO_PROTO_MAX_STRING 4096
#define KENPO_SOCKET_NAME "kenpod.sock"
#define KENPO_SOCKET_PATH RUNDIR "/kenpo/" KENPO_SOCKET_NAME

/* The most field/value pairs a PROFILE_SET request may carry. */
#define KENPO_PROFILE_PAIRS_MAX 64

/* ---- results ----
 * X(name, number, text code, log words).  0 to 15: outcomes any action may
 * have; 16 and up: authentication; 48 and up: self-service. */
#define KENPO_RESULTS(X) \
	X(OK, 0, "ok", "ok") \
	X(NOTFOUND, 1, "not-found", "not found")        /* no such user */ \
	X(UNAVAIL, 2, "unavailable", "unavailable")      /* the directory or the mail relay is away */ \
	X(DENIED, 3, "denied", "denied")                 /* the caller may not do this */ \
	X(BADREQ, 4, "protocol", "bad request")          /* malformed request: the connection is closed */ \
	X(UNKNOWN, 5, "protocol", "unknown action") \
	X(INTERNAL, 6, "internal", "internal error")     /* kenpod failed; see its log */ \
	X(AUTH_ERR, 16, "auth-failed", "refused")        /* unknown login or wrong password: one answer */ \
	X(KEY_SENT, 17, "key-sent", "key sent") \
	X(KEY_PENDING, 18, "key-sent", "key pending")    /* the key mailed earlier is still valid */ \
	X(KEY_WRONG, 19, "key-wrong", "wrong key") \
	X(KEY_VOID, 20, "key-void", "key void")          /* too many wrong answers: the key is void */ \
	X(KEY_EXPIRED, 21, "key-expired", "key expired") \
	X(COOLDOWN, 22, "cooldown", "resend too soon")   /* a new key was asked for too soon */ \
	X(LOCKED, 23, "locked", "locked") \
	X(DELAY, 24, "delay", "delayed")                 /* growing delay after failures: try later */ \
	X(DISABLED, 25, "disabled", "disabled") \
	X(NOT_REGISTERED, 26, "not-registered", "not registered") /* pre-issued: register first */ \
	X(MAIL_FAILED, 27, "mail-failed", "mail failed") /* the key mail could not be sent */ \
	X(MUST_CHANGE, 28, "must-change", "must change") /* password change required */ \
	X(POLICY, 29, "policy", "policy")                /* a new value breaks rules */ \
	X(KEY_LIMIT, 30, "key-limit", "key mails limited") /* key_mails_per_hour reached */ \
	X(TEMP_EXPIRED, 31, "temp-expired", "temporary password expired") \
	X(LOGIN_REQUIRED, 32, "login-required", "no completed login") /* password + key first */ \
	X(TOKEN_INVALID, 48, "token-invalid", "token invalid") /* unknown, used, or of another kind */ \
	X(TOKEN_EXPIRED, 49, "token-expired", "token expired") \
	X(MISMATCH, 50, "mismatch", "mismatch")          /* identity check or 認証キー did not match */ \
	X(ID_TAKEN, 51, "id-taken", "id taken")          /* the login ID belongs to someone else */ \
	X(BADVALUE, 52, "bad-input", "bad value")        /* a field's value is malformed */

#define KENPO_RESULT_ENUM_(name, number, code, words) KENPO_RES_##name = number,
enum kenpo_result { KENPO_RESULTS(KENPO_RESULT_ENUM_) };

/* Who may call an action. */
enum kenpo_caller {
	KENPO_CALLER_ANYONE,
	KENPO_CALLER_PORTAL,    /* root and the configured portal group */
	KENPO_CALLER_ROOT,
};

/*
 * The lane kenpod serves an action in.  Each lane has its own bounded
 * queue and its own workers, so that one kind of work never waits behind
 * another: a lookup that every process on the host may be waiting for
 * never queues behind a login whose key mail hangs on the relay.  PING
 * goes with the lookups, so that it tells whether they are answered.  When
 * a lane's queue is full, kenpod answers UNAVAIL at once (every action
 * lists it), without fields or with the default language (LANG).
 */
enum kenpo_lane {
	KENPO_LANE_NSS,         /* passwd lookups and PING */
	KENPO_LANE_AUTH,        /* authentication: argon2, writes, key mails */
	KENPO_LANE_SELFSERVICE, /* the portal's flows */
	KENPO_LANE_CONTROL,     /* the administrator's commands */
};
#define KENPO_NLANES 4

/* ---- actions ----
 * X(name, number, log name, who may call it, lane). */
#define KENPO_ACTIONS(X) \
	X(PASSWD_BYNAME, 0x00010001, "passwd byname", ANYONE, NSS) \
	X(PASSWD_BYUID, 0x00010002, "passwd byuid", ANYONE, NSS) \
	X(PASSWD_ALL, 0x00010008, "passwd all", ANYONE, NSS) \
	X(AUTH_PASSWORD, 0x00020001, "auth password", ANYONE, AUTH) \
	X(AUTH_KEY, 0x00020002, "auth key", ANYONE, AUTH) \
	X(AUTH_RESEND, 0x00020003, "auth resend", ANYONE, AUTH) \
	X(AUTH_ABORT, 0x00020004, "auth abort", ANYONE, AUTH) \
	X(ACCOUNT, 0x00020005, "account", ANYONE, AUTH) \
	X(SESSION_OPEN, 0x00020006, "session open", PORTAL, AUTH) \
	X(PASSWORD_CHANGE, 0x00020007, "password change", ANYONE, AUTH) \
	X(LOGIN_HISTORY, 0x00020008, "login history", PORTAL, AUTH) \
	X(GUIDE_REQUEST, 0x00030001, "guide request", PORTAL, SELFSERVICE) \
	X(TOKEN_CHECK, 0x00030002, "token check", PORTAL, SELFSERVICE) \
	X(REG_LETTER_OPEN, 0x00030003, "reg letter", PORTAL, SELFSERVICE) \
	X(IDENTITY_CHECK, 0x00030004, "identity check", PORTAL, SELFSERVICE) \
	X(IDENTITY_OPEN, 0x00030005, "identity open", PORTAL, SELFSERVICE) \
	X(REG_COMPLETE, 0x00030006, "reg complete", PORTAL, SELFSERVICE) \
	X(RESET_REQUEST, 0x00030007, "reset request", PORTAL, SELFSERVICE) \
	X(PROFILE_GET, 0x00030008, "profile get", PORTAL, SELFSERVICE) \
	X(PROFILE_SET, 0x00030009, "profile set", PORTAL, SELFSERVICE) \
	X(RESET_OPEN, 0x0003000a, "reset open", PORTAL, SELFSERVICE) \
	X(LOGIN_ID_CHECK, 0x0003000b, "login id check", PORTAL, SELFSERVICE) \
	X(PROFILE_END, 0x0003000c, "profile end", PORTAL, SELFSERVICE) \
	X(PING, 0x00040001, "ping", ANYONE, NSS) \
	X(CACHE_FLUSH, 0x00040002, "cache flush", ROOT, CONTROL)

#define KENPO_ACTION_ENUM_(name, number, logname, who, lane) KENPO_ACTION_##name = number,
enum kenpo_action { KENPO_ACTIONS(KENPO_ACTION_ENUM_) };

/* Failures any action may answer, without fields.  kenpod writes them
 * itself: DENIED by the caller check, BADREQ for a malformed request
 * (then it closes the connection), UNKNOWN for an action it does not
 * know, INTERNAL when it failed. */
#define KENPO_ANS_ANY(R) R(DENIED, NONE) R(BADREQ, NONE) R(UNKNOWN, NONE) R(INTERNAL, NONE)

/* ---- answer fields: X(type, name) ----
 * Every field an answer carries has one name and one type everywhere. */
#define KENPO_FIELDS(X) \
	X(INT, lang)       /* enum kenpo_lang of the member's society (0 ja, 1 en) */ \
	X(STR, login)      /* the canonical login ID */ \
	X(INT, uid)        /* uidNumber (as uint32) */ \
	X(INT, gid)        /* gidNumber (as uint32) */ \
	X(INT, flags)      /* KENPO_AUTHR_* */ \
	X(STR, ticket)     /* a profile or registration ticket */ \
	X(STR, masked)     /* a masked mail address, "****@****.jp" */ \
	X(INT, seconds)    /* a validity, or a time to wait */ \
	X(STR, txn)        /* the handle of a pending key */ \
	X(INT, tries)      /* wrong answers left */ \
	X(INT, mask)       /* enum kenpo_rule bits (and KENPO_PWC_SAME_AS_OLD) */ \
	X(STR, field)      /* the name of the field refused, or of a profile field */ \
	X(STR, value)      /* the value of a profile field */ \
	X(STR, previous)   /* the previous login, "YYYY/MM/DD HH:MM:SS", or "" */ \
	X(STR, version)    /* kenpod's version */ \
	X(INT, kind)       /* KENPO_TOKEN_* */ \
	X(STR, mail)       /* a mail address to prefill, or "" */ \
	X(STR, authkey)    /* the on-screen 認証キー */ \
	X(INT, taken)      /* 1 when a member holds the login ID */ \
	X(STR, name)       /* passwd: pw_name */ \
	X(STR, passwd)     /* passwd: pw_passwd, "x" */ \
	X(STR, gecos) \
	X(STR, home) \
	X(STR, shell) \
	X(INT, next)       /* the offset of the next page, -1 at the end */ \
	X(LIST, records)   /* PASSWD records */ \
	X(LIST, pairs)     /* PAIR items */ \
	X(STR, proof)      /* proof of a completed login (password and key) */ \
	X(STR, when)       /* a login's time, "YYYY/MM/DD HH:MM:SS" in the society's zone */ \
	X(STR, service)    /* the PAM service or portal a login came through */ \
	X(STR, source)     /* where it came from (PAM_RHOST, the portal's client), or "" */ \
	X(LIST, visits)    /* VISIT items, the newest first */

/* ---- answer layouts ---- */
#define KENPO_LAYOUTS(X) \
	X(NONE) X(LANG) X(LANG_SECONDS) X(LANG_TRIES) X(MASK) X(TRIES) X(FIELD) \
	X(AUTH) X(KEY) X(ACCOUNT) X(SESSION) X(VERSION) X(PASSWD) X(PASSWD_PAGE) \
	X(TOKEN) X(REG) X(AUTHKEY) X(LOGIN) X(RESET) X(TAKEN) X(PAIR) X(PROFILE) X(TICKET) \
	X(VISIT) X(HISTORY)

#define KENPO_L_NONE(F, L)
#define KENPO_L_LANG(F, L) F(INT, lang)
#define KENPO_L_LANG_SECONDS(F, L) F(INT, lang) F(INT, seconds)
#define KENPO_L_LANG_TRIES(F, L) F(INT, lang) F(INT, tries)
#define KENPO_L_MASK(F, L) F(INT, mask)
#define KENPO_L_TRIES(F, L) F(INT, tries)
#define KENPO_L_FIELD(F, L) F(STR, field)
/* AUTH record: the profile ticket is proof of this login for PROFILE_GET
 * and PROFILE_SET, the profile session described there; "" unless
 * KENPO_AUTHF_TICKET was asked, or when none could be made.  uid: the PAM
 * module checks that the host's account named like the member is this one.
 * proof: that this login is complete (the key given, where the society
 * requires it), for PASSWORD_CHANGE and LOGIN_HISTORY; valid
 * login_proof_validity and until the password changes; a bearer secret.
 * previous: with KENPO_AUTHF_SESSION, the login before this one
 * ("YYYY/MM/DD HH:MM:SS", "" for the first), else "". */
#define KENPO_L_AUTH(F, L) \
	F(STR, login) F(INT, uid) F(INT, lang) F(INT, flags) F(STR, ticket) F(STR, proof) \
	F(STR, previous)
/* KEY record: a key was mailed to `masked`, valid `seconds`; AUTH_KEY,
 * AUTH_RESEND and AUTH_ABORT must present `txn`, so nobody who has not
 * given the password can burn the key's tries. */
#define KENPO_L_KEY(F, L) \
	F(STR, login) F(INT, uid) F(INT, lang) F(STR, masked) F(INT, seconds) F(STR, txn)
#define KENPO_L_ACCOUNT(F, L) F(INT, lang) F(STR, login) F(INT, uid)
#define KENPO_L_SESSION(F, L) F(INT, lang) F(STR, previous)
#define KENPO_L_VERSION(F, L) F(STR, version)
#define KENPO_L_PASSWD(F, L) \
	F(STR, name) F(STR, passwd) F(INT, uid) F(INT, gid) F(STR, gecos) F(STR, home) \
	F(STR, shell)
#define KENPO_L_PASSWD_PAGE(F, L) L(records, PASSWD) F(INT, next)
#define KENPO_L_TOKEN(F, L) F(INT, kind) F(INT, seconds) F(STR, masked)
/* REG record: the registration ticket, its seconds, a mail address to prefill. */
#define KENPO_L_REG(F, L) F(STR, ticket) F(INT, seconds) F(STR, mail)
#define KENPO_L_AUTHKEY(F, L) F(STR, authkey)
#define KENPO_L_LOGIN(F, L) F(STR, login)
#define KENPO_L_RESET(F, L) F(STR, login) F(INT, seconds)
#define KENPO_L_TAKEN(F, L) F(INT, taken)
#define KENPO_L_PAIR(F, L) F(STR, field) F(STR, value)
#define KENPO_L_PROFILE(F, L) L(pairs, PAIR) F(STR, ticket)
#define KENPO_L_TICKET(F, L) F(STR, ticket)
#define KENPO_L_VISIT(F, L) F(STR, when) F(STR, service) F(STR, source)
#define KENPO_L_HISTORY(F, L) L(visits, VISIT)

/* ==== passwd lookups (anyone) ==== */

/* PASSWD_BYNAME, PASSWD_BYUID: one member as a passwd record. */
#define KENPO_REQ_PASSWD_BYNAME(F, L) F(STR, name)
#define KENPO_ANS_PASSWD_BYNAME(R) R(OK, PASSWD) R(NOTFOUND, NONE) R(UNAVAIL, NONE)
#define KENPO_REQ_PASSWD_BYUID(F, L) F(INT, uid)
#define KENPO_ANS_PASSWD_BYUID(R) R(OK, PASSWD) R(NOTFOUND, NONE) R(UNAVAIL, NONE)
/* PASSWD_ALL: a page of records from `offset`; DENIED unless enumeration
 * is on. */
#define KENPO_REQ_PASSWD_ALL(F, L) F(INT, offset)
#define KENPO_ANS_PASSWD_ALL(R) R(OK, PASSWD_PAGE) R(UNAVAIL, NONE)

/* ==== authentication (anyone: the answer proves nothing without the secret) ====
 * Answers that could also come for an unknown login ID carry the default
 * language, so that their language cannot tell which society a login ID
 * belongs to, or whether it exists. */

/* AUTH_PASSWORD: flags KENPO_AUTHF_*.  OK: no key needed (the society's
 * key = optional, or a temporary password: then KENPO_AUTHR_MUST_CHANGE).
 * KEY_SENT: a new key was mailed; KEY_PENDING (split or single-field
 * mode): the key mailed earlier is still valid, no new mail.  LOCKED
 * seconds 0: until an administrator unlocks.  With KENPO_AUTHF_SINGLE the
 * password may end with the 10-digit key of a pending key; then OK means
 * both were right, and a right password with a wrong key answers
 * KEY_WRONG or, at the last try, KEY_VOID (the password alone then mails a
 * new key). */
#define KENPO_REQ_AUTH_PASSWORD(F, L) \
	F(STR, login) F(STR, password) F(INT, flags) F(STR, service) F(STR, rhost)
#define KENPO_ANS_AUTH_PASSWORD(R) \
	R(OK, AUTH) R(KEY_SENT, KEY) R(KEY_PENDING, KEY) R(AUTH_ERR, LANG) \
	R(NOT_REGISTERED, LANG) R(DISABLED, LANG) R(LOCKED, LANG_SECONDS) \
	R(DELAY, LANG_SECONDS) R(MAIL_FAILED, LANG) R(KEY_WRONG, LANG_TRIES) R(KEY_VOID, LANG) \
	R(UNAVAIL, LANG) R(KEY_LIMIT, LANG_SECONDS) R(TEMP_EXPIRED, LANG)
/* KEY_LIMIT: key_mails_per_hour keys were mailed in the last hour; the
 * seconds until the next may be.  TEMP_EXPIRED: the temporary password
 * given was right but has expired (only its holder learns that).  LOCKED
 * also comes after a right password when key_failures_per_day wrong keys
 * were given in the last day: the seconds until keys are taken again. */
/* AUTH_KEY: the key typed for the pending key `txn`; flags
 * KENPO_AUTHF_TICKET and KENPO_AUTHF_SESSION; service and rhost as for
 * AUTH_PASSWORD (for the record of the login: a wrong key counts on the
 * source of the password that asked for the key).  KEY_EXPIRED: the txn stays
 * good for AUTH_RESEND, which mails a new key. */
#define KENPO_REQ_AUTH_KEY(F, L) \
	F(STR, login) F(STR, txn) F(STR, key) F(INT, flags) F(STR, service) F(STR, rhost)
#define KENPO_ANS_AUTH_KEY(R) \
	R(OK, AUTH) R(KEY_WRONG, LANG_TRIES) R(KEY_VOID, LANG) R(KEY_EXPIRED, LANG) \
	R(AUTH_ERR, LANG) R(UNAVAIL, LANG) R(LOCKED, LANG_SECONDS)
/* AUTH_RESEND: mail a new key for `txn` (KEY_SENT with the same txn); the
 * old one becomes void.  COOLDOWN: the seconds to wait. */
#define KENPO_REQ_AUTH_RESEND(F, L) F(STR, login) F(STR, txn)
#define KENPO_ANS_AUTH_RESEND(R) \
	R(KEY_SENT, KEY) R(COOLDOWN, LANG_SECONDS) R(AUTH_ERR, LANG) R(MAIL_FAILED, LANG) \
	R(UNAVAIL, LANG) R(KEY_LIMIT, LANG_SECONDS) R(LOCKED, LANG_SECONDS)
/* AUTH_ABORT: void the pending key `txn`.  Always OK (or UNAVAIL when
 * kenpod is too busy to take it): the answer must not tell whether there
 * was a key. */
#define KENPO_REQ_AUTH_ABORT(F, L) F(STR, login) F(STR, txn)
#define KENPO_ANS_AUTH_ABORT(R) R(OK, NONE) R(UNAVAIL, NONE)
/* ACCOUNT: the member's state, from where the request comes (rhost: a
 * lock of another source is not this one's); OK and MUST_CHANGE say who
 * the member is, so that the PAM module can check the host's account of
 * that name. */
#define KENPO_REQ_ACCOUNT(F, L) F(STR, login) F(STR, rhost)
#define KENPO_ANS_ACCOUNT(R) \
	R(OK, ACCOUNT) R(MUST_CHANGE, ACCOUNT) R(DISABLED, LANG) R(LOCKED, LANG_SECONDS) \
	R(NOTFOUND, NONE) R(UNAVAIL, LANG)
/* SESSION_OPEN (root and the portal group: it writes): records this login
 * and answers the previous one in the society's time zone. */
#define KENPO_REQ_SESSION_OPEN(F, L) F(STR, login) F(STR, service) F(STR, rhost)
#define KENPO_ANS_SESSION_OPEN(R) R(OK, SESSION) R(NOTFOUND, NONE) R(UNAVAIL, LANG)
/* PASSWORD_CHANGE: flags KENPO_PWCF_ADMIN (no old password; only from uid
 * 0, else DENIED).  POLICY: the broken rules, KENPO_PWC_SAME_AS_OLD among
 * them.  AUTH_ERR: the old password is wrong; it is checked like a login
 * from rhost and counts failures (LOCKED, DELAY).  With the current
 * password, where the society requires the key, the proof of a completed
 * login is needed too (LOGIN_REQUIRED without it, said only once the
 * password proved right); a temporary password needs none.  A change
 * mails a notice to every registered address. */
#define KENPO_REQ_PASSWORD_CHANGE(F, L) \
	F(STR, login) F(STR, old) F(STR, new) F(INT, flags) F(STR, proof) F(STR, rhost)
#define KENPO_ANS_PASSWORD_CHANGE(R) \
	R(OK, NONE) R(POLICY, MASK) R(AUTH_ERR, LANG) R(NOTFOUND, LANG) \
	R(LOCKED, LANG_SECONDS) R(DELAY, LANG_SECONDS) R(NOT_REGISTERED, LANG) \
	R(DISABLED, LANG) R(UNAVAIL, LANG) R(LOGIN_REQUIRED, LANG) R(TEMP_EXPIRED, LANG)
/* LOGIN_HISTORY (root and the portal group): the member's recent logins
 * (login_history of them), the newest first.  proof: of a completed
 * login of that member; root may give "".  LOGIN_REQUIRED: no such
 * proof, or no such member. */
#define KENPO_REQ_LOGIN_HISTORY(F, L) F(STR, login) F(STR, proof)
#define KENPO_ANS_LOGIN_HISTORY(R) \
	R(OK, HISTORY) R(NOTFOUND, NONE) R(LOGIN_REQUIRED, LANG) R(UNAVAIL, LANG)

/* ==== self-service (root, or the configured portal group) ====
 * Every answer that depends on whether an address is known is the same
 * either way.  Tokens travel in URLs; kenpod stores only keyed hashes.
 * "society" is the [society ID] of the configuration ("" when there is
 * only one).  BADVALUE names the field refused ("address", "society",
 * "date_of_birth", "registration" when the society does not register by
 * identity check, "login_id", "mail", "nickname", "form", or a profile
 * field), and comes before anything is looked up, so that it still tells
 * nothing about addresses. */

/* GUIDE_REQUEST: mails 利用登録手続きのご案内 with a single-use token
 * (guide_validity); OK always, also when rate-limited or not mailed. */
#define KENPO_REQ_GUIDE_REQUEST(F, L) F(STR, society) F(STR, address)
#define KENPO_ANS_GUIDE_REQUEST(R) R(OK, NONE) R(BADVALUE, FIELD) R(UNAVAIL, NONE)
/* TOKEN_CHECK: the kind of a token, its seconds left and the masked
 * address it went to.  TOKEN_INVALID: unknown or used. */
#define KENPO_REQ_TOKEN_CHECK(F, L) F(STR, token)
#define KENPO_ANS_TOKEN_CHECK(R) \
	R(OK, TOKEN) R(TOKEN_INVALID, NONE) R(TOKEN_EXPIRED, NONE) R(UNAVAIL, NONE)
/* REG_LETTER_OPEN: the guide token, the pre-issued login ID and the
 * letter's temporary password. */
#define KENPO_REQ_REG_LETTER_OPEN(F, L) F(STR, token) F(STR, login) F(STR, password)
#define KENPO_ANS_REG_LETTER_OPEN(R) \
	R(OK, REG) R(AUTH_ERR, NONE) R(TOKEN_INVALID, NONE) R(TOKEN_EXPIRED, NONE) \
	R(UNAVAIL, NONE)
/* IDENTITY_CHECK: the guide token, an address and a date of birth
 * "YYYY-MM-DD".  OK: the 8-character on-screen 認証キー (never mailed);
 * kenpod mails 本人確認完了のご案内 with a new token (identity_validity). */
#define KENPO_REQ_IDENTITY_CHECK(F, L) F(STR, token) F(STR, address) F(STR, date_of_birth)
#define KENPO_ANS_IDENTITY_CHECK(R) \
	R(OK, AUTHKEY) R(MISMATCH, TRIES) R(BADVALUE, FIELD) R(TOKEN_INVALID, NONE) \
	R(TOKEN_EXPIRED, NONE) R(UNAVAIL, NONE)
/* IDENTITY_OPEN: the identity token and the 認証キー. */
#define KENPO_REQ_IDENTITY_OPEN(F, L) F(STR, token) F(STR, authkey)
#define KENPO_ANS_IDENTITY_OPEN(R) \
	R(OK, REG) R(MISMATCH, TRIES) R(TOKEN_INVALID, NONE) R(TOKEN_EXPIRED, NONE) \
	R(UNAVAIL, NONE)
/* REG_COMPLETE: the registration ticket, the new login ID and password, a
 * mail address and a nickname ("" = ご本人).  OK: the login ID; mails
 * 利用登録完了のご案内.  POLICY: login ID and password rules together. */
#define KENPO_REQ_REG_COMPLETE(F, L) \
	F(STR, ticket) F(STR, login) F(STR, password) F(STR, mail) F(STR, nickname)
#define KENPO_ANS_REG_COMPLETE(R) \
	R(OK, LOGIN) R(POLICY, MASK) R(ID_TAKEN, NONE) R(BADVALUE, FIELD) \
	R(TOKEN_INVALID, NONE) R(TOKEN_EXPIRED, NONE) R(UNAVAIL, NONE)
/* RESET_REQUEST: society "" looks for the address in every society.  OK
 * always; a registered address gets パスワード再発行のご案内 with URL,
 * login ID and a temporary password (reset_validity). */
#define KENPO_REQ_RESET_REQUEST(F, L) F(STR, society) F(STR, address)
#define KENPO_ANS_RESET_REQUEST(R) R(OK, NONE) R(BADVALUE, FIELD) R(UNAVAIL, NONE)
/* RESET_OPEN: the reset token; OK: the login ID and the seconds the
 * temporary password stays valid (the 仮ログイン form's prefill); the link
 * is consumed. */
#define KENPO_REQ_RESET_OPEN(F, L) F(STR, token)
#define KENPO_ANS_RESET_OPEN(R) \
	R(OK, RESET) R(TOKEN_INVALID, NONE) R(TOKEN_EXPIRED, NONE) R(UNAVAIL, NONE)
/* LOGIN_ID_CHECK: OK taken 1 when a member holds the ID (in any case).
 * BADVALUE "login_id": it cannot be a login ID at all; POLICY
 * (KENPO_RULE_ID_RESERVED): reserved, or an account of the host. */
#define KENPO_REQ_LOGIN_ID_CHECK(F, L) F(STR, login)
#define KENPO_ANS_LOGIN_ID_CHECK(R) \
	R(OK, TAKEN) R(BADVALUE, FIELD) R(POLICY, MASK) R(UNAVAIL, NONE)
/*
 * PROFILE_GET: the profile's field/value pairs (the PROFILE_SET fields,
 * plus last_login and state) and the session's ticket.
 * PROFILE_SET: at most KENPO_PROFILE_PAIRS_MAX pairs; OK: the ticket.
 *   Fields: login_id, nickname, mail1, mail2, mail3, key_mail ("1", "2" or
 *   "3": which address receives the key; it must hold an address),
 *   notify_medical, notify_generic, notify_magazine, notify_documents,
 *   notify_applications, disclose_medical, disclose_generic ("yes"/"no"),
 *   household.NN.nickname, household.NN.disclose_medical,
 *   household.NN.disclose_generic; and current_password, which is no
 *   field but the member's current password: a change of mail1, mail2,
 *   mail3 or key_mail made with a ticket needs it (BADVALUE
 *   "current_password" without it; a wrong one is checked and counted as
 *   a failed login: AUTH_ERR, or LOCKED and DELAY before it is checked).
 *   Every field is checked before anything is written; the member's own
 *   fields change in one modify, then each household entry in its own
 *   (LDAP has no transaction across entries here): a directory failure
 *   between them answers UNAVAIL with the member's own fields already
 *   changed, and PROFILE_GET shows what holds.  A change of an address,
 *   of the login ID or of key_mail mails a notice to every address the
 *   member had before it, and a new address a confirmation; removing the
 *   address key_mail names moves it back to 1.
 * The profile session: the ticket of a login (KENPO_AUTHF_TICKET) is valid
 * for the member it was made for, as often as it is presented, until it
 * has been idle for the society's session_idle or session_lifetime has
 * passed since the login, whichever comes first; PROFILE_END ends it.
 * Answers carry the ticket presented; root, who may present none (""),
 * gets a new one.  A wrong, ended or another member's ticket is
 * TOKEN_INVALID, an idle or old one TOKEN_EXPIRED; no ticket from a caller
 * other than root is DENIED.
 */
#define KENPO_REQ_PROFILE_GET(F, L) F(STR, login) F(STR, ticket)
#define KENPO_ANS_PROFILE_GET(R) \
	R(OK, PROFILE) R(NOTFOUND, NONE) R(TOKEN_INVALID, NONE) R(TOKEN_EXPIRED, NONE) \
	R(UNAVAIL, NONE)
#define KENPO_REQ_PROFILE_SET(F, L) F(STR, login) F(STR, ticket) L(pairs, PAIR)
#define KENPO_ANS_PROFILE_SET(R) \
	R(OK, TICKET) R(POLICY, MASK) R(ID_TAKEN, NONE) R(BADVALUE, FIELD) R(NOTFOUND, NONE) \
	R(TOKEN_INVALID, NONE) R(TOKEN_EXPIRED, NONE) R(UNAVAIL, NONE) R(AUTH_ERR, LANG) \
	R(LOCKED, LANG_SECONDS) R(DELAY, LANG_SECONDS)
/* PROFILE_END: the member logs out; the ticket is void from now on.
 * Always OK (or UNAVAIL when kenpod is too busy to take it): the answer
 * does not tell whether there was a session. */
#define KENPO_REQ_PROFILE_END(F, L) F(STR, login) F(STR, ticket)
#define KENPO_ANS_PROFILE_END(R) R(OK, NONE) R(UNAVAIL, NONE)

/* ==== control ====
 * PING: anyone may ask it, since it tells nothing but the version
 * (clients use it to see whether kenpod answers).  CACHE_FLUSH: root. */
#define KENPO_REQ_PING(F, L)
#define KENPO_ANS_PING(R) R(OK, VERSION) R(UNAVAIL, NONE)
#define KENPO_REQ_CACHE_FLUSH(F, L)
#define KENPO_ANS_CACHE_FLUSH(R) R(OK, NONE) R(UNAVAIL, NONE)

/* kinds of token (TOKEN_CHECK) */
#define KENPO_TOKEN_GUIDE 1
#define KENPO_TOKEN_IDENTITY 2
#define KENPO_TOKEN_RESET 3
#define KENPO_TOKEN_REGISTRATION 4
#define KENPO_TOKEN_TICKET 5

/* flags of AUTH_PASSWORD */
#define KENPO_AUTHF_SPLIT 0x1   /* a pending key outlives this transaction */
#define KENPO_AUTHF_SINGLE 0x2  /* the answer may be password + 10-digit key */
#define KENPO_AUTHF_TICKET 0x4  /* hand out a profile ticket on success */
#define KENPO_AUTHF_SESSION 0x8 /* a login with no PAM session (a web portal):
				 * record it on success and answer the previous */
/* flags of the AUTH record */
#define KENPO_AUTHR_MUST_CHANGE 0x1
/* flags of PASSWORD_CHANGE */
#define KENPO_PWCF_ADMIN 0x1
/* a bit of the POLICY mask of PASSWORD_CHANGE beside the enum kenpo_rule
 * bits: the new password is the old one (or the temporary one) again */
#define KENPO_PWC_SAME_AS_OLD (1u << 24)

#endif
