/*
 * kenpo-proto.h - the protocol between kenpod and its clients.
 *
 * Clients (libnss_kenpo, pam_kenpo, the kenpo tool) connect to kenpod's
 * unix stream socket and send one request frame; kenpod answers with one
 * response frame and the client may send another request on the same
 * connection or close it.  kenpod identifies the caller with SO_PEERCRED.
 *
 * Frame
 *   uint32  length of what follows (network byte order), at most
 *           KENPO_PROTO_MAX_FRAME; a longer or shorter frame closes the
 *           connection.
 *   int32   KENPO_PROTO_VERSION
 *   int32   action (requests) / action being answered (responses)
 *   ...     the fields of that action, in the order listed below
 *
 * Field types
 *   INT32   4 bytes, network byte order
 *   STRING  INT32 length (0 .. KENPO_PROTO_MAX_STRING) then that many bytes,
 *           no terminating NUL, never containing a NUL
 *   A frame whose fields do not exactly fill its length is malformed.
 *
 * Every response starts, after version and action, with
 *   INT32   result: one of enum kenpo_result
 * and only KENPO_RES_OK (and the results named per action) carry fields;
 * a refusal that carries fields carries them after the result, as OK does.
 *
 * Actions are grouped by their high 16 bits like nslcd.h's: 0x0001 passwd
 * lookups, 0x0002 authentication (the PAM module), 0x0003 self-service,
 * 0x0004 control.  Codes never change meaning; new ones are added.
 * The result codes are kenpo's own, not PAM's, so the wire does not depend
 * on PAM headers.
 */
#ifndef KENPO_PROTO_H
#define KENPO_PROTO_H

#define KENPO_PROTO_VERSION 2
#define KENPO_PROTO_MAX_FRAME (64 * 1024)
#define KENPO_PROTO_MAX_STRING 4096
#define KENPO_SOCKET_NAME "kenpod.sock"
#define KENPO_SOCKET_PATH RUNDIR "/kenpo/" KENPO_SOCKET_NAME

enum kenpo_action {
	/* ---- passwd (anyone) ----
	 * PASSWD_BYNAME  req: STRING name
	 * PASSWD_BYUID   req: INT32 uid (as uint32)
	 * both           res OK: PASSWD record
	 * PASSWD_ALL     req: INT32 offset; res OK: INT32 count, then count
	 *                PASSWD records, then INT32 next offset (-1 at the end).
	 *                Refused with KENPO_RES_DENIED unless enumeration is on.
	 * PASSWD record: STRING name, STRING passwd ("x"), INT32 uid, INT32 gid,
	 *                STRING gecos, STRING home, STRING shell
	 */
	KENPO_ACTION_PASSWD_BYNAME = 0x00010001,
	KENPO_ACTION_PASSWD_BYUID = 0x00010002,
	KENPO_ACTION_PASSWD_ALL = 0x00010008,

	/* ---- authentication (anyone: the answer proves nothing without the secret) ----
	 *
	 * AUTH_PASSWORD  req: STRING login, STRING password, INT32 flags
	 *                     (KENPO_AUTHF_*), STRING service, STRING rhost
	 *     res OK:            AUTH record (no key needed: the member's setting,
	 *                        or a temporary password, then MUST_CHANGE is set)
	 *     res KEY_SENT:      KEY record (a new key was mailed)
	 *     res KEY_PENDING:   KEY record (split/single-field mode: the key mailed
	 *                        earlier is still valid; no new mail)
	 *     res AUTH_ERR, NOT_REGISTERED, DISABLED: INT32 lang
	 *     res LOCKED, DELAY: INT32 lang, INT32 seconds left (LOCKED 0: until an
	 *                        administrator unlocks)
	 *     res MAIL_FAILED, UNAVAIL: INT32 lang
	 *   With KENPO_AUTHF_SINGLE the password may end with the 10-digit key of
	 *   a pending key; then res OK means both were right.  A right password
	 *   with a wrong key answers KEY_WRONG (INT32 lang, INT32 tries left) or,
	 *   at the last try, KEY_VOID (INT32 lang); the password alone then mails
	 *   a new key.
	 * AUTH_KEY       req: STRING login, STRING txn, STRING key, INT32 flags
	 *                     (KENPO_AUTHF_TICKET only)
	 *     res OK: AUTH record; KEY_WRONG: INT32 lang, INT32 tries left;
	 *     KEY_VOID, KEY_EXPIRED, AUTH_ERR: INT32 lang
	 * AUTH_RESEND    req: STRING login, STRING txn
	 *     res KEY_SENT: KEY record (with the same txn); COOLDOWN: INT32 lang,
	 *     INT32 seconds to wait; AUTH_ERR, MAIL_FAILED: INT32 lang
	 * AUTH_ABORT     req: STRING login, STRING txn          res OK (always)
	 * ACCOUNT        req: STRING login
	 *     res OK / MUST_CHANGE / DISABLED / LOCKED (INT32 lang, INT32 secs) /
	 *     NOTFOUND; MUST_CHANGE and OK carry INT32 lang, STRING canonical
	 *     login, INT32 uid; DISABLED carries INT32 lang
	 * SESSION_OPEN   (root and the portal group only: it writes)
	 *                req: STRING login, STRING service, STRING rhost
	 *     res OK: INT32 lang, STRING previous login as "YYYY/MM/DD HH:MM:SS" in
	 *     the society's time zone ("" for the first login); records this one.
	 * PASSWORD_CHANGE req: STRING login, STRING old, STRING new, INT32 flags
	 *     (KENPO_PWCF_ADMIN: no old password; only from uid 0)
	 *     res OK; POLICY: INT32 lang, INT32 mask of broken enum kenpo_rule
	 *     bits; AUTH_ERR (old password wrong), NOTFOUND: INT32 lang
	 *     Also: KENPO_PWC_SAME_AS_OLD in the POLICY mask; LOCKED, DELAY:
	 *     INT32 lang, INT32 seconds (the old password is checked like a
	 *     login: it counts failures); NOT_REGISTERED, DISABLED, UNAVAIL:
	 *     INT32 lang; DENIED for KENPO_PWCF_ADMIN from another uid than 0.
	 *
	 * AUTH record: STRING canonical login, INT32 uid, INT32 lang, INT32 flags
	 *              (KENPO_AUTHR_MUST_CHANGE), STRING profile ticket (proof of
	 *              this login for PROFILE_GET/SET, valid 10 minutes, single
	 *              use; "" unless KENPO_AUTHF_TICKET was asked, or when none
	 *              could be made)
	 * KEY record:  STRING canonical login, INT32 uid, INT32 lang, STRING masked address
	 *              ("****@****.jp"), INT32 seconds the key stays valid,
	 *              STRING txn (a random handle of this pending key; AUTH_KEY,
	 *              AUTH_RESEND and AUTH_ABORT must present it, so nobody who
	 *              has not given the password can burn the key's tries)
	 * uid:         the member's uidNumber (as uint32): the PAM module checks
	 *              that the host's account named like the member is this one
	 * lang:        enum kenpo_lang of the member's society (0 ja, 1 en)
	 */
	KENPO_ACTION_AUTH_PASSWORD = 0x00020001,
	KENPO_ACTION_AUTH_KEY = 0x00020002,
	KENPO_ACTION_AUTH_RESEND = 0x00020003,
	KENPO_ACTION_AUTH_ABORT = 0x00020004,
	KENPO_ACTION_ACCOUNT = 0x00020005,
	KENPO_ACTION_SESSION_OPEN = 0x00020006,
	KENPO_ACTION_PASSWORD_CHANGE = 0x00020007,

	/* ---- self-service (root, or the configured portal group) ----
	 * Every answer that depends on whether an address is known is the same
	 * either way.  Tokens travel in URLs; kenpod stores only keyed hashes.
	 * "society" is the [society ID] of the configuration ("" when there is
	 * only one).  GUIDE_REQUEST, RESET_REQUEST and IDENTITY_CHECK answer
	 * BADVALUE: STRING field ("address", "society", "date_of_birth",
	 * "registration" when the society does not register by identity check)
	 * before anything is looked up, so that the answer still tells nothing
	 * about addresses.
	 *
	 * GUIDE_REQUEST   req: STRING society, STRING address
	 *     res OK (always, also when rate-limited or not mailed); mails
	 *     利用登録手続きのご案内 with a single-use token (guide_validity).
	 * TOKEN_CHECK     req: STRING token
	 *     res OK: INT32 kind (KENPO_TOKEN_*), INT32 seconds left, STRING
	 *     masked address; TOKEN_EXPIRED; TOKEN_INVALID (unknown or used)
	 * REG_LETTER_OPEN req: STRING token (guide), STRING pre-issued login ID,
	 *                      STRING temporary password
	 *     res OK: REG record; AUTH_ERR; TOKEN_EXPIRED; TOKEN_INVALID; LOCKED
	 * IDENTITY_CHECK  req: STRING token (guide), STRING address, STRING date
	 *                      of birth "YYYY-MM-DD"
	 *     res OK: STRING the 8-character on-screen 認証キー (never mailed);
	 *     kenpod mails 本人確認完了のご案内 with a new token (identity_validity);
	 *     MISMATCH: INT32 tries left; TOKEN_EXPIRED; TOKEN_INVALID
	 * IDENTITY_OPEN   req: STRING token (identity), STRING 認証キー
	 *     res OK: REG record; MISMATCH: INT32 tries left; TOKEN_*
	 * REG_COMPLETE    req: STRING registration ticket, STRING new login ID,
	 *                      STRING new password, STRING mail address,
	 *                      STRING nickname ("" = ご本人)
	 *     res OK: STRING login ID; mails 利用登録完了のご案内.
	 *     POLICY: INT32 rule mask (login ID and password rules together);
	 *     ID_TAKEN; BADVALUE: STRING field name; TOKEN_EXPIRED; TOKEN_INVALID
	 * RESET_REQUEST   req: STRING society ("" looks for the address in every
	 *                      society), STRING address
	 *     res OK (always); a registered address gets パスワード再発行のご案内
	 *     with URL, login ID and a temporary password (reset_validity).
	 * RESET_OPEN      req: STRING token (reset)
	 *     res OK: STRING login ID, INT32 seconds the temporary password stays
	 *     valid (prefill of the 仮ログイン form); the link is consumed.
	 *     TOKEN_EXPIRED; TOKEN_INVALID
	 * LOGIN_ID_CHECK  req: STRING login ID
	 *     res OK: INT32 1 when a member holds it (in any case), else 0;
	 *     BADVALUE: STRING "login_id" when it cannot be a login ID at all;
	 *     POLICY: INT32 mask (KENPO_RULE_ID_RESERVED) when it is reserved or
	 *     names an account of the host
	 * PROFILE_GET     req: STRING login, STRING ticket ("" only for root)
	 *     res OK: PROFILE record, STRING next ticket; DENIED; NOTFOUND
	 * PROFILE_SET     req: STRING login, STRING ticket, INT32 count, then
	 *                      count pairs STRING field, STRING value
	 *     res OK: STRING next ticket; POLICY: INT32 mask; ID_TAKEN;
	 *     BADVALUE: STRING field; DENIED
	 *     Fields: login_id, nickname, mail1, mail2, mail3, key_required,
	 *     notify_medical, notify_generic, notify_magazine, notify_documents,
	 *     notify_applications, disclose_medical, disclose_generic ("yes"/"no"),
	 *     household.NN.nickname, household.NN.disclose_medical,
	 *     household.NN.disclose_generic.
	 *     Every field is checked before anything is written; the member's own
	 *     fields change in one modify, then each household entry in its own
	 *     (LDAP has no transaction across entries here): a directory failure
	 *     between them answers UNAVAIL with the member's own fields already
	 *     changed, and PROFILE_GET shows what holds.
	 *     Changing mail1 mails a notice to the old address.
	 *
	 * Profile tickets (PROFILE_GET, PROFILE_SET) are single-use: a call that
	 * presents one consumes it and answers with the next, valid until the
	 * first one's expiry; root, who may present none, gets a fresh one.  A
	 * wrong or another member's ticket is TOKEN_INVALID, an old one
	 * TOKEN_EXPIRED; no ticket from a caller other than root is DENIED.
	 *
	 * REG record:     STRING registration ticket, INT32 seconds left,
	 *                 STRING mail address to prefill ("" if none)
	 * PROFILE record: INT32 count, then count pairs STRING field, STRING value
	 *                 (the fields above, plus last_login, state)
	 */
	KENPO_ACTION_GUIDE_REQUEST = 0x00030001,
	KENPO_ACTION_TOKEN_CHECK = 0x00030002,
	KENPO_ACTION_REG_LETTER_OPEN = 0x00030003,
	KENPO_ACTION_IDENTITY_CHECK = 0x00030004,
	KENPO_ACTION_IDENTITY_OPEN = 0x00030005,
	KENPO_ACTION_REG_COMPLETE = 0x00030006,
	KENPO_ACTION_RESET_REQUEST = 0x00030007,
	KENPO_ACTION_PROFILE_GET = 0x00030008,
	KENPO_ACTION_PROFILE_SET = 0x00030009,
	KENPO_ACTION_RESET_OPEN = 0x0003000a,
	KENPO_ACTION_LOGIN_ID_CHECK = 0x0003000b,

	/* ---- control (root) ----
	 * PING        req: nothing; res OK: STRING version
	 * CACHE_FLUSH req: nothing; res OK: nothing
	 * PING is the exception: anyone may ask it, since it tells nothing
	 * but the version (clients use it to see whether kenpod answers).
	 */
	KENPO_ACTION_PING = 0x00040001,
	KENPO_ACTION_CACHE_FLUSH = 0x00040002,
};

enum kenpo_result {
	KENPO_RES_OK = 0,
	KENPO_RES_NOTFOUND = 1,     /* no such user (lookups) */
	KENPO_RES_UNAVAIL = 2,      /* the directory or the mail relay cannot be reached */
	KENPO_RES_DENIED = 3,       /* the caller may not do this */
	KENPO_RES_BADREQ = 4,       /* malformed request: the connection is closed */
	KENPO_RES_UNKNOWN = 5,      /* unknown action */
	KENPO_RES_INTERNAL = 6,     /* kenpod failed; see its log */
	/* 16 and up: authentication outcomes. */
	KENPO_RES_AUTH_ERR = 16,       /* unknown login or wrong password: one answer */
	KENPO_RES_KEY_SENT = 17,
	KENPO_RES_KEY_PENDING = 18,
	KENPO_RES_KEY_WRONG = 19,
	KENPO_RES_KEY_VOID = 20,       /* too many wrong answers: the key is void */
	KENPO_RES_KEY_EXPIRED = 21,
	KENPO_RES_COOLDOWN = 22,       /* a new key was asked for too soon */
	KENPO_RES_LOCKED = 23,
	KENPO_RES_DELAY = 24,          /* growing delay after failures: try later */
	KENPO_RES_DISABLED = 25,
	KENPO_RES_NOT_REGISTERED = 26, /* pre-issued member: register first */
	KENPO_RES_MAIL_FAILED = 27,    /* the key mail could not be sent */
	KENPO_RES_MUST_CHANGE = 28,    /* password change required */
	KENPO_RES_POLICY = 29,         /* the new password breaks rules */
	/* 48 and up: self-service outcomes. */
	KENPO_RES_TOKEN_INVALID = 48,  /* unknown, used, or of another kind */
	KENPO_RES_TOKEN_EXPIRED = 49,
	KENPO_RES_MISMATCH = 50,       /* identity check or 認証キー did not match */
	KENPO_RES_ID_TAKEN = 51,       /* the login ID belongs to someone else */
	KENPO_RES_BADVALUE = 52,       /* a field's value is malformed */
};

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
/* flags of the AUTH record */
#define KENPO_AUTHR_MUST_CHANGE 0x1
/* flags of PASSWORD_CHANGE */
#define KENPO_PWCF_ADMIN 0x1
/* a bit of the POLICY mask of PASSWORD_CHANGE beside the enum kenpo_rule
 * bits: the new password is the old one (or the temporary one) again */
#define KENPO_PWC_SAME_AS_OLD (1u << 24)

#endif
