/*
 * main.c - kenpo-admin: the society LDAP administrator's tool.
 *
 * The command line, the society worked on, the bind with the
 * administrator's own credentials, and what the commands share.
 */
#include "autoconfig.h"

#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "admin.h"
#include "client.h"
#include "gentime.h"
#include "i18n.h"
#include "provider.h"
#include "roster.h"
#include "schema.h"

#define KENPOD_TIMEOUT_MS 15000

/* ---- output ----
 * With --json, stdout carries one JSON object a line, as kenpo(1) says
 * under JSON OUTPUT: the command's answer with "ok" (and, on failure,
 * "error", "message" and "exit"), printed when the command ends; for
 * `list`, the members are streamed inside that object as they are read.
 * Errors also go to stderr as text. */

static struct {
	int json;
	enum kenpo_lang lang;        /* of the text on stderr */
	json_object *answer;         /* the command's answer, or NULL */
	char message[ADMIN_ERR_MAX]; /* the first error: the cause */
	char message_ja[2 * ADMIN_ERR_MAX];
	int listing; /* "{"KEY":[" went out */
	size_t items;
} output;

/* Each exit status as an error code, with the message when no error was
 * given. */
static const struct {
	int exit;
	const char *code;
	const char *message;
} outcomes[] = {
	{ ADMIN_ERROR, "error", N_("The command failed.") },
	{ ADMIN_USAGE, "usage", N_("The command line is not valid; see kenpo-admin --help.") },
	{ ADMIN_NOTFOUND, "not-found", N_("No such member.") },
	{ ADMIN_PARTIAL, "partial",
	  N_("Some rows were refused or failed; the others were written.") },
	{ ADMIN_REJECTED, "rejected", N_("The roster has bad rows: nothing was written.") },
};

/* The first error is the cause the JSON answer gives (cut to fit: it is
 * for a person to read). */
static void
set_cause(const char *where, const char *en, const char *ja)
{
	if (output.message[0] != '\0')
		return;
	if (snprintf(output.message, sizeof output.message, "%s%s", where, en) < 0)
		output.message[0] = '\0';
	if (snprintf(output.message_ja, sizeof output.message_ja, "%s%s", where, ja) < 0)
		output.message_ja[0] = '\0';
}

void
admin_error_msg(const char *prefix, const char *en, const char *ja)
{
	char where[ADMIN_ERR_MAX];

	fprintf(stderr, "kenpo-admin: %s%s%s\n", prefix != NULL ? prefix : "",
		prefix != NULL ? ": " : "", output.lang == KENPO_LANG_JA ? ja : en);
	if (snprintf(where, sizeof where, "%.200s%s", prefix != NULL ? prefix : "",
		     prefix != NULL ? ": " : "") < 0)
		where[0] = '\0';
	set_cause(where, en, ja);
}

void
admin_error_at(const char *path, unsigned long line, const char *field,
	       const struct roster_msg *m)
{
	char where[ADMIN_ERR_MAX];

	/* FILE:LINE: COLUMN: problem, as compilers and kenpod.conf's errors read. */
	fprintf(stderr, "%s:%lu: %s%s%s\n", path, line, field != NULL ? field : "",
		field != NULL && field[0] != '\0' ? ": " : "",
		output.lang == KENPO_LANG_JA ? m->ja : m->en);
	if (snprintf(where, sizeof where, "%.300s:%lu: %.24s%s", path, line,
		     field != NULL ? field : "",
		     field != NULL && field[0] != '\0' ? ": " : "") < 0)
		where[0] = '\0';
	set_cause(where, m->en, m->ja);
}

/* fmt and its arguments in both languages. */
static void
format_both(char *en, size_t ensz, char *ja, size_t jasz, const char *fmt, va_list ap)
{
	va_list aq;

	va_copy(aq, ap);
	vsnprintf(en, ensz, fmt, ap);
	/* The catalogue's text has the msgid's conversions (msgfmt --check). */
	vsnprintf(ja, jasz, kenpo_i18n_text(KENPO_LANG_JA, fmt), aq);
	va_end(aq);
}

void
admin_error(const char *fmt, ...)
{
	char en[ADMIN_ERR_MAX], ja[2 * ADMIN_ERR_MAX];
	va_list ap;

	va_start(ap, fmt);
	format_both(en, sizeof en, ja, sizeof ja, fmt, ap);
	va_end(ap);
	admin_error_msg(NULL, en, ja);
}

void
admin_note(const char *fmt, ...)
{
	char en[ADMIN_ERR_MAX], ja[2 * ADMIN_ERR_MAX];
	va_list ap;

	va_start(ap, fmt);
	format_both(en, sizeof en, ja, sizeof ja, fmt, ap);
	va_end(ap);
	fprintf(stderr, "kenpo-admin: %s%s\n", kenpo_i18n_text(output.lang, "note: "),
		output.lang == KENPO_LANG_JA ? ja : en);
}

const char *
admin_text(const char *msgid)
{
	return kenpo_i18n_text(output.lang, msgid);
}

json_object *
admin_json_msg(const struct roster_msg *m)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "en", json_object_new_string(m->en));
	json_object_object_add(o, "ja", json_object_new_string(m->ja));
	return o;
}

int
admin_sub_dn(const struct admin *a, const char *rdn, char *out, size_t outsz)
{
	int n = snprintf(out, outsz, "%s,%s", rdn, a->soc.base);

	return n < 0 || (size_t)n >= outsz ? -1 : 0;
}

int
admin_member_dn(const struct admin *a, const char *number, char *out, size_t outsz)
{
	int n;

	/* Member numbers are letters, digits and '-' (roster_number_ok), so
	 * nothing in them needs escaping in a DN. */
	if (!roster_number_ok(number))
		return -1;
	n = snprintf(out, outsz, KENPO_AT_NUMBER "=%s," KENPO_RDN_MEMBERS ",%s", number,
		     a->soc.base);
	return n < 0 || (size_t)n >= outsz ? -1 : 0;
}

void
admin_gentime(time_t t, char *out, size_t outsz)
{
	if (kenpo_gentime_format((int64_t)t * 1000, 0, out, outsz) != 0)
		snprintf(out, outsz, "19700101000000Z");
}

json_object *
admin_json_str(const char *s)
{
	return s != NULL ? json_object_new_string(s) : NULL;
}

static const char *
json_text(json_object *o)
{
	return json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
							 JSON_C_TO_STRING_NOSLASHESCAPE);
}

void
admin_json_print(json_object *o)
{
	json_object_put(output.answer);
	output.answer = o;
}

void
admin_json_list_begin(const char *key)
{
	printf("{\"%s\":[", key);
	output.listing = 1;
	output.items = 0;
}

void
admin_json_list_item(json_object *o)
{
	printf("%s%s", output.items++ > 0 ? "," : "", json_text(o));
}

/* The outcome of rc as members of o: "ok", and "error", "message" and
 * "exit" when it failed. */
static void
add_outcome(json_object *o, int rc)
{
	json_object *msg;
	size_t i;

	json_object_object_add(o, "ok", json_object_new_boolean(rc == ADMIN_OK));
	if (rc == ADMIN_OK)
		return;
	for (i = 0; i < sizeof outcomes / sizeof outcomes[0] - 1; i++)
		if (outcomes[i].exit == rc)
			break;
	msg = json_object_new_object();
	json_object_object_add(msg, "en",
			       json_object_new_string(output.message[0] != '\0' ?
							      output.message :
							      outcomes[i].message));
	json_object_object_add(msg, "ja",
			       json_object_new_string(
				       output.message[0] != '\0' ?
					       output.message_ja :
					       kenpo_i18n_text(KENPO_LANG_JA,
							       outcomes[i].message)));
	json_object_object_add(o, "error", json_object_new_string(outcomes[i].code));
	json_object_object_add(o, "message", msg);
	json_object_object_add(o, "exit", json_object_new_int(rc));
}

/* Print the answer of a command that ended with rc (--json only). */
static void
admin_json_finish(int rc)
{
	json_object *o = output.answer != NULL ? output.answer : json_object_new_object();
	const char *text;

	output.answer = NULL;
	add_outcome(o, rc);
	text = json_text(o);
	/* A streamed list ends with the outcome's members in the same object. */
	if (output.listing)
		printf("],%s\n", text + 1);
	else
		puts(text);
	json_object_put(o);
}

int
admin_postal_escape(const char *in, char *out, size_t outsz)
{
	size_t o = 0;

	for (; *in != '\0'; in++) {
		const char *rep = *in == '\\' ? "\\5C" : *in == '$' ? "\\24" : NULL;
		size_t n = rep != NULL ? 3 : 1;

		if (o + n >= outsz)
			return -1;
		memcpy(out + o, rep != NULL ? rep : in, n);
		o += n;
	}
	out[o] = '\0';
	return 0;
}

int
admin_postal_unescape(const char *in, char *out, size_t outsz)
{
	size_t o = 0;

	for (; *in != '\0'; in++) {
		if (o + 1 >= outsz)
			return -1;
		if (strncasecmp(in, "\\5C", 3) == 0 || strncasecmp(in, "\\24", 3) == 0) {
			out[o++] = in[1] == '5' ? '\\' : '$';
			in += 2;
		} else {
			/* A line break of a PostalAddress reads as a space. */
			out[o++] = *in == '$' ? ' ' : *in;
		}
	}
	out[o] = '\0';
	return 0;
}

unsigned
admin_nproc(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	return n < 1 ? 1 : n > ADMIN_JOBS_MAX ? ADMIN_JOBS_MAX : (unsigned)n;
}

/* ---- kenpod's cache ---- */

static const char *
socket_path(const struct admin *a)
{
	if (a->o.socket_path != NULL)
		return a->o.socket_path;
	return a->cfg != NULL ? a->cfg->socket_path : KENPO_SOCKET_PATH;
}

/* Ask kenpod with the string fields of the request, and read its result
 * (an answer that does not match the protocol table is none).  A
 * kenpo_result, or -1 with errno.  The timeout covers a mail kenpod may
 * send before it answers. */
static int
kenpod_call(const char *path, int32_t act, const char *const *fields, size_t n)
{
	const struct kenpo_client c = { path, KENPOD_TIMEOUT_MS };
	struct kenpo_value v[2];
	unsigned char mem[8 * 1024];
	struct kenpo_reply r;
	struct kenpo_buf b;
	size_t i;

	for (i = 0; i < n && i < sizeof v / sizeof v[0]; i++)
		v[i] = kenpo_vstr(fields[i]);
	kenpo_buf_init(&b, mem, sizeof mem);
	if (kenpo_call(&c, act, v, i, &b, &r) != 0)
		return -1;
	kenpo_call_wipe(&b);
	return r.result;
}

int
admin_kenpod_reset(const struct admin *a, const char *address)
{
	const char *fields[] = { a->soc.id != NULL ? a->soc.id : "", address };

	return kenpod_call(socket_path(a), KENPO_ACTION_RESET_REQUEST, fields, 2);
}

int
admin_flush_kenpod(const struct admin *a)
{
	const char *path = socket_path(a);
	const char *later = "lookups may show the old state until kenpod's cache expires "
			    "(cache_positive_ttl, cache_negative_ttl)";
	int r;

	/* kenpod lets only root flush its cache. */
	if (geteuid() != 0) {
		admin_note("not root, kenpod not told: %s", later);
		return -1;
	}
	errno = 0;
	r = kenpod_call(path, KENPO_ACTION_CACHE_FLUSH, NULL, 0);
	if (r == KENPO_RES_OK)
		return 0;
	if (r < 0)
		admin_note("kenpod at %s not reached (%s): %s", path, strerror(errno), later);
	else
		admin_note("kenpod at %s refused to flush its cache (result %d): %s", path, r,
			   later);
	return -1;
}

/* ---- the command line ---- */

enum opt_bit {
	O_LETTERS = 1u << 0,
	O_NO_LETTERS = 1u << 1,
	O_STRICT = 1u << 2,
	O_VALIDITY = 1u << 3,
	O_JOBS = 1u << 4,
	O_WINDOW = 1u << 5,
	O_STATE = 1u << 6,
	O_BY = 1u << 7,
	O_YES = 1u << 8,
	O_APPLY = 1u << 9,
	O_NUMBER = 1u << 10,
	O_NAME = 1u << 11,
	O_BIRTH = 1u << 12,
	O_MAIL = 1u << 13,
	O_HOUSEHOLD = 1u << 14,
	O_NICKNAME = 1u << 15,
	O_KEYREQ = 1u << 16,
	O_LETTERS_PDF = 1u << 17,
	O_DRY_RUN = 1u << 18,
	O_FULL = 1u << 19,
	O_DISABLE_MISSING = 1u << 20,
	O_ENCODING = 1u << 21,
	O_POSTAL = 1u << 22,
	O_ADDRESS = 1u << 23,
	O_EMPLOYER = 1u << 24,
	O_OFFICE = 1u << 25,
	O_NOTIFY = 1u << 26,
	O_ACCESSLOG = 1u << 27,
};
#define O_MEMBER \
	(O_NUMBER | O_NAME | O_BIRTH | O_MAIL | O_HOUSEHOLD | O_NICKNAME | O_KEYREQ | O_POSTAL | \
	 O_ADDRESS | O_EMPLOYER | O_OFFICE)

static const struct command {
	const char *name;
	int (*fn)(struct admin *a);
	unsigned opts;
	int min_args, max_args;
	const char *synopsis;
	const char *help;
} commands[] = {
	{ "init", cmd_init, O_APPLY | O_NAME, 0, 0, "init [--apply] [--name NAME]",
	  "Say what a kenpo directory still lacks, and with --apply make it: the\n"
	  "society's subtree (the society entry, ou=members, ou=tokens, ou=rates,\n"
	  "cn=uidNumber), the password policies under ou=policies, kenpod's service\n"
	  "account (and its password file) under ou=services, the server secret\n"
	  "named by kenpod.conf; and in cn=config the modules, overlays (ppolicy,\n"
	  "unique, dds, accesslog with its database cn=accesslog), indexes and the\n"
	  "access rules of kenpod, the members and the administrator.  Without\n"
	  "--apply nothing is changed: what would be done is printed, cn=config's\n"
	  "part as LDIF.  Running it again changes nothing.\n" },
	{ "issue", cmd_issue, O_MEMBER | O_LETTERS | O_LETTERS_PDF | O_VALIDITY, 0, 0,
	  "issue --number N --name NAME [--birth-date D] [--mail ADDR] [--household H]\n"
	  "        [--nickname NICK] [--postal-code NNN-NNNN] [--address ADDR]\n"
	  "        [--employer NAME] [--office-code CODE] [--validity DUR]\n"
	  "        [--letters-csv FILE [--letters-pdf FILE]]",
	  "Issue one member: a pre-issued login ID and a temporary password (letter\n"
	  "registration), or an entry waiting for the identity check.  The password\n"
	  "is printed, or written to the letters CSV with --letters-csv (and the\n"
	  "printable letter with --letters-pdf).\n" },
	{ "import", cmd_import,
	  O_LETTERS | O_LETTERS_PDF | O_NO_LETTERS | O_STRICT | O_VALIDITY | O_JOBS | O_WINDOW |
		  O_DRY_RUN | O_FULL | O_DISABLE_MISSING | O_ENCODING,
	  1, 1,
	  "import ROSTER.csv [--letters-csv FILE [--letters-pdf FILE] | --no-letters]\n"
	  "        [--dry-run] [--full [--disable-missing]] [--encoding utf-8|cp932]\n"
	  "        [--strict] [--validity DUR] [--jobs N] [--window N]",
	  "Import a roster (CSV with a header line; UTF-8 with or without a byte\n"
	  "order mark, or CP932/Shift_JIS as Excel writes it, found by itself).\n"
	  "New members are issued; members already in the directory (same member\n"
	  "number) are compared and updated (name, birth_date, mail, household,\n"
	  "postal_code, address, employer, office_code); nothing is duplicated.\n"
	  "Dependents are known by name and birth date, never by their place in\n"
	  "the list: one who is no longer listed is removed and reported, a new one\n"
	  "gets a new index, and no setting passes from one to another.  A member\n"
	  "whose 'left' date (資格喪失日) has come is disabled.  --dry-run prints what\n"
	  "would change (new, changed with old and new values, unchanged with -v,\n"
	  "missing) and writes nothing.  --full says the roster lists every member:\n"
	  "those it does not list are reported as missing, and with\n"
	  "--disable-missing disabled (never deleted).  A bad row is reported as\n"
	  "FILE:LINE: COLUMN: problem and the others are imported; with --strict\n"
	  "nothing is written when any row is bad.  The temporary passwords of new\n"
	  "members exist only in the letters CSV (mode 0600): when there are new\n"
	  "members to issue by letter, give --letters-csv, or --no-letters to issue\n"
	  "them without letters (reissue later); --letters-pdf also makes the\n"
	  "printable letters.  --jobs: hashing threads (default: one per processor);\n"
	  "--window: directory writes in flight (default 32).  Columns:\n" },
	{ "show", cmd_show, O_BY, 1, 1, "show [--by number|login] KEY",
	  "Show a member, by login ID or member number (--by to say which).\n" },
	{ "list", cmd_list, O_STATE | O_NOTIFY, 0, 0,
	  "list [--state issued|registered|disabled|locked] | --notify CATEGORY",
	  "List the society's members, read in pages.  With --notify, the members\n"
	  "who want the notice mails of CATEGORY (medical 医療費通知, generic\n"
	  "ジェネリック通知, magazine 健保組合メールマガジン, documents\n"
	  "通知書・証明書配布, applications 申請書公開), registered and not disabled,\n"
	  "with the addresses the mails go to: CSV on stdout (member_number,\n"
	  "login_id, mail1, mail2, mail3), or JSON with --json.\n" },
	{ "history", cmd_history, O_BY | O_ACCESSLOG, 1, 1,
	  "history [--by number|login] KEY [--accesslog DN]",
	  "A member's changes and logins, oldest first, from slapd's access log\n"
	  "(slapo-accesslog, the database cn=accesslog that kenpo-admin init sets\n"
	  "up; --accesslog for another): when (in the society's time zone), who\n"
	  "(kenpod, an administrator), what (login, failed login, locked, profile,\n"
	  "password, ...) and, for fields that are no secret, the old and new\n"
	  "values.  Needs read access to the access log (the administrator).\n" },
	{ "lock", cmd_lock, O_BY, 1, 1, "lock [--by number|login] KEY",
	  "Lock the account (ppolicy's administrative lock, pwdAccountLockedTime\n"
	  "000001010000Z) until unlock.\n" },
	{ "unlock", cmd_unlock, O_BY, 1, 1, "unlock [--by number|login] KEY",
	  "Remove the lock and the failure counts of slapd (ppolicy) and kenpod.\n" },
	{ "disable", cmd_disable, O_BY, 1, 1, "disable [--by number|login] KEY",
	  "Disable the account (kenpoDisabled): no login, no passwd entry.\n" },
	{ "enable", cmd_enable, O_BY, 1, 1, "enable [--by number|login] KEY",
	  "Enable a disabled account again.\n" },
	{ "set", cmd_set, O_BY, 2, 64, "set [--by number|login] KEY FIELD=VALUE ...",
	  "Change a member's profile settings: nickname=TEXT, key_mail=1|2|3 (the\n"
	  "address the login key goes to; it must hold an address), notify_medical,\n"
	  "notify_generic, notify_magazine, notify_documents, notify_applications=\n"
	  "yes|no (the five 通知メール).  Whether a login needs the key at all is the\n"
	  "society's key in kenpod.conf, not a member's setting.  All are checked\n"
	  "before one change writes them; each field changed is an audit line with\n"
	  "its old and new value.\n" },
	{ "reissue", cmd_reissue, O_BY | O_LETTERS | O_LETTERS_PDF | O_VALIDITY, 1, 1,
	  "reissue [--by number|login] KEY [--letters-csv FILE [--letters-pdf FILE]]\n"
	  "        [--validity DUR]",
	  "A new temporary password: for a member not registered yet, the letter's\n"
	  "password is replaced; for a registered member, the password must be\n"
	  "changed at the next login (kenpoMustChange).\n" },
	{ "delete", cmd_delete, O_BY | O_YES, 1, 1, "delete [--by number|login] KEY [--yes]",
	  "Delete a member with its household entries and tokens.  Asks on a\n"
	  "terminal; --yes is required otherwise.\n" },
	{ "reset", cmd_reset, O_BY, 1, 1, "reset [--by number|login] KEY",
	  "Send the member the password reset mail (パスワード再発行のご案内) through\n"
	  "kenpod, which alone holds the mail relay: a temporary password valid\n"
	  "reset_validity, the current password working until it is used.  Needs\n"
	  "root (kenpod's self-service rules) and a registered member with a mail\n"
	  "address.\n" },
	{ "purge", cmd_purge, 0, 0, 0, "purge",
	  "Delete expired tokens, and pending keys past kenpoKeyExpiry.\n" },
	{ "check", cmd_check, 0, 0, 0, "check",
	  "Look through the whole directory (every society) for what replication\n"
	  "can leave behind: a login ID held by several members (compared without\n"
	  "regard to case), a uidNumber held twice, a uidNumber counter behind the\n"
	  "numbers in use, and household entries whose member is gone.  Each\n"
	  "finding names the entries and says how to repair it; nothing is changed.\n"
	  "Run it against each provider (-H).  Exit 6 when something was found.\n" },
	{ "letters", cmd_letters, 0, 2, 2, "letters LETTERS.csv OUT.pdf",
	  "Make the printable registration letters from a letters CSV (written by\n"
	  "--letters-csv): one A4 page per member with the login ID and temporary\n"
	  "password spelled out, the registration steps with the society's\n"
	  "login_url, and a QR code of its entry_address.  OUT.pdf is created with\n"
	  "mode 0600 and never over an existing file.  Needs the configuration, not\n"
	  "the directory.\n" },
};
#define NCOMMANDS (sizeof commands / sizeof commands[0])

enum {
	L_SOCKET = 256,
	L_JSON,
	L_LETTERS,
	L_NO_LETTERS,
	L_STRICT,
	L_VALIDITY,
	L_WINDOW,
	L_STATE,
	L_BY,
	L_YES,
	L_APPLY,
	L_NUMBER,
	L_NAME,
	L_BIRTH,
	L_MAIL,
	L_HOUSEHOLD,
	L_NICKNAME,
	L_KEYREQ,
	L_VERSION,
	L_LETTERS_PDF,
	L_DRY_RUN,
	L_FULL,
	L_DISABLE_MISSING,
	L_ENCODING,
	L_POSTAL,
	L_ADDRESS,
	L_EMPLOYER,
	L_OFFICE,
	L_NOTIFY,
	L_ACCESSLOG,
	L_LANG,
};

static const struct option long_options[] = {
	{ "uri", required_argument, NULL, 'H' },
	{ "bind-dn", required_argument, NULL, 'D' },
	{ "password-file", required_argument, NULL, 'y' },
	{ "mech", required_argument, NULL, 'Y' },
	{ "base", required_argument, NULL, 'b' },
	{ "society", required_argument, NULL, 's' },
	{ "config", required_argument, NULL, 'c' },
	{ "socket", required_argument, NULL, L_SOCKET },
	{ "json", no_argument, NULL, L_JSON },
	{ "verbose", no_argument, NULL, 'v' },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, L_VERSION },
	{ "letters-csv", required_argument, NULL, L_LETTERS },
	{ "letters-pdf", required_argument, NULL, L_LETTERS_PDF },
	{ "no-letters", no_argument, NULL, L_NO_LETTERS },
	{ "strict", no_argument, NULL, L_STRICT },
	{ "validity", required_argument, NULL, L_VALIDITY },
	{ "jobs", required_argument, NULL, 'j' },
	{ "window", required_argument, NULL, L_WINDOW },
	{ "state", required_argument, NULL, L_STATE },
	{ "by", required_argument, NULL, L_BY },
	{ "yes", no_argument, NULL, L_YES },
	{ "apply", no_argument, NULL, L_APPLY },
	{ "number", required_argument, NULL, L_NUMBER },
	{ "name", required_argument, NULL, L_NAME },
	{ "birth-date", required_argument, NULL, L_BIRTH },
	{ "mail", required_argument, NULL, L_MAIL },
	{ "household", required_argument, NULL, L_HOUSEHOLD },
	{ "nickname", required_argument, NULL, L_NICKNAME },
	{ "key-required", required_argument, NULL, L_KEYREQ },
	{ "dry-run", no_argument, NULL, L_DRY_RUN },
	{ "full", no_argument, NULL, L_FULL },
	{ "disable-missing", no_argument, NULL, L_DISABLE_MISSING },
	{ "encoding", required_argument, NULL, L_ENCODING },
	{ "postal-code", required_argument, NULL, L_POSTAL },
	{ "address", required_argument, NULL, L_ADDRESS },
	{ "employer", required_argument, NULL, L_EMPLOYER },
	{ "office-code", required_argument, NULL, L_OFFICE },
	{ "notify", required_argument, NULL, L_NOTIFY },
	{ "accesslog", required_argument, NULL, L_ACCESSLOG },
	{ "lang", required_argument, NULL, L_LANG },
	{ NULL, 0, NULL, 0 },
};

static const char general_help[] =
	"usage: kenpo-admin [OPTIONS] COMMAND [ARGS]\n"
	"       kenpo-admin --help [COMMAND]\n"
	"\n"
	"The administrator's tool of a kenpo directory.  It binds with your own\n"
	"credentials, never with kenpod's, and tells kenpod (as root) to forget\n"
	"its cache after a change, so logins and passwd lookups see it at once.\n"
	"\n"
	"Connection (as ldap-utils):\n"
	"  -H URI          the directory (default: ldap_uri of the configuration, else ldapi:///)\n"
	"  -D DN -y FILE   simple bind as DN with the password in FILE (mode 0600)\n"
	"  -Y EXTERNAL     SASL EXTERNAL, the default without -D (root over ldapi:///)\n"
	"Society:\n"
	"  -c FILE         kenpod.conf to read (default " KENPO_CONFIG_PATH ")\n"
	"  -s, --society ID   the [society ID] of the configuration\n"
	"  -b BASE         the society's base DN (without a configuration: the defaults)\n"
	"  --socket PATH   kenpod's socket (default: from the configuration)\n"
	"Output:\n"
	"  --json          for scripts: one JSON object on stdout, errors included\n"
	"                  (\"ok\"; on failure \"error\", \"message\" {en, ja}, \"exit\";\n"
	"                  see kenpo(1))\n"
	"  --lang ja|en    language of the messages (default: from LC_ALL, LC_MESSAGES, LANG)\n"
	"  -v, --verbose   say more\n"
	"\n"
	"Commands:\n";

static const char exit_help[] =
	"\n"
	"Exit status: 0 done; 1 error (directory, file, configuration); 2 usage;\n"
	"3 no such member; 4 import partly done (rows refused or failed, the rest\n"
	"written); 5 import --strict refused the roster (nothing written); 6 check\n"
	"found something to repair.\n";

static const struct command *
find_command(const char *name)
{
	size_t i;

	for (i = 0; name != NULL && i < NCOMMANDS; i++)
		if (strcmp(commands[i].name, name) == 0)
			return &commands[i];
	return NULL;
}

static void
print_help(const struct command *c)
{
	size_t i;

	if (c == NULL) {
		fputs(general_help, stdout);
		for (i = 0; i < NCOMMANDS; i++)
			printf("  %s\n", commands[i].synopsis);
		fputs(exit_help, stdout);
		return;
	}
	printf("usage: kenpo-admin [OPTIONS] %s\n\n%s", c->synopsis, c->help);
	if (c->fn == cmd_import || c->fn == cmd_issue)
		fputs(roster_columns_help(), stdout);
	fputs(exit_help, stdout);
}

static int
parse_number_opt(const char *s, const char *name, unsigned long max, unsigned *out)
{
	unsigned long long v;

	if (kenpo_parse_ulong(s, 1, max, &v) != 0) {
		admin_error("%s: not a number from 1 to %lu: %s", name, max, s);
		return -1;
	}
	*out = (unsigned)v;
	return 0;
}

/* A string option: stored, and its bit recorded. */
static const struct {
	int code;
	unsigned bit;
	size_t offset;
} string_options[] = {
	{ L_LETTERS, O_LETTERS, offsetof(struct admin_opts, letters_csv) },
	{ L_LETTERS_PDF, O_LETTERS_PDF, offsetof(struct admin_opts, letters_pdf) },
	{ L_STATE, O_STATE, offsetof(struct admin_opts, state) },
	{ L_BY, O_BY, offsetof(struct admin_opts, by) },
	{ L_NUMBER, O_NUMBER, offsetof(struct admin_opts, number) },
	{ L_NAME, O_NAME, offsetof(struct admin_opts, name) },
	{ L_BIRTH, O_BIRTH, offsetof(struct admin_opts, birth) },
	{ L_MAIL, O_MAIL, offsetof(struct admin_opts, mail) },
	{ L_HOUSEHOLD, O_HOUSEHOLD, offsetof(struct admin_opts, household) },
	{ L_NICKNAME, O_NICKNAME, offsetof(struct admin_opts, nickname) },
	{ L_KEYREQ, O_KEYREQ, offsetof(struct admin_opts, key_required) },
	{ L_POSTAL, O_POSTAL, offsetof(struct admin_opts, postal_code) },
	{ L_ADDRESS, O_ADDRESS, offsetof(struct admin_opts, address) },
	{ L_EMPLOYER, O_EMPLOYER, offsetof(struct admin_opts, employer) },
	{ L_OFFICE, O_OFFICE, offsetof(struct admin_opts, office_code) },
	{ L_NOTIFY, O_NOTIFY, offsetof(struct admin_opts, notify) },
	{ L_ACCESSLOG, O_ACCESSLOG, offsetof(struct admin_opts, accesslog) },
	{ 'H', 0, offsetof(struct admin_opts, uri) },
	{ 'D', 0, offsetof(struct admin_opts, bind_dn) },
	{ 'y', 0, offsetof(struct admin_opts, pw_file) },
	{ 'Y', 0, offsetof(struct admin_opts, mech) },
	{ 'b', 0, offsetof(struct admin_opts, base) },
	{ 's', 0, offsetof(struct admin_opts, society) },
	{ 'c', 0, offsetof(struct admin_opts, config_path) },
	{ L_SOCKET, 0, offsetof(struct admin_opts, socket_path) },
};

/* A flag option: set to 1, and its bit recorded. */
static const struct {
	int code;
	unsigned bit;
	size_t offset;
} flag_options[] = {
	{ L_JSON, 0, offsetof(struct admin_opts, json) },
	{ 'v', 0, offsetof(struct admin_opts, verbose) },
	{ L_NO_LETTERS, O_NO_LETTERS, offsetof(struct admin_opts, no_letters) },
	{ L_STRICT, O_STRICT, offsetof(struct admin_opts, strict) },
	{ L_YES, O_YES, offsetof(struct admin_opts, yes) },
	{ L_APPLY, O_APPLY, offsetof(struct admin_opts, apply) },
	{ L_DRY_RUN, O_DRY_RUN, offsetof(struct admin_opts, dry_run) },
	{ L_FULL, O_FULL, offsetof(struct admin_opts, full) },
	{ L_DISABLE_MISSING, O_DISABLE_MISSING, offsetof(struct admin_opts, disable_missing) },
};

/* Options with a value to check.  0, or -1 (message printed). */
static int
special_option(int c, const char *arg, struct admin_opts *o, unsigned *seen)
{
	if (c == L_VALIDITY) {
		*seen |= O_VALIDITY;
		if (kenpo_parse_duration(arg, 0, 365L * 86400, &o->validity) != 0) {
			admin_error("--validity: not a duration (0 for none, 600, 10m, 3h, "
				    "30d; at most 365d): %s",
				    arg);
			return -1;
		}
		return 0;
	}
	if (c == 'j') {
		*seen |= O_JOBS;
		return parse_number_opt(arg, "--jobs", ADMIN_JOBS_MAX, &o->jobs);
	}
	if (c == L_WINDOW) {
		*seen |= O_WINDOW;
		return parse_number_opt(arg, "--window", ADMIN_WINDOW_MAX, &o->window);
	}
	if (c == L_ENCODING) {
		*seen |= O_ENCODING;
		if (roster_encoding_parse(arg, &o->encoding) == 0)
			return 0;
		admin_error("--encoding: utf-8, utf-16 or cp932 (shift_jis), not %s", arg);
		return -1;
	}
	if (c == L_LANG) {
		if (kenpo_lang_parse(arg, &output.lang) == 0)
			return 0;
		admin_error("--lang: ja or en, not %s", arg);
		return -1;
	}
	return -1;
}

/* One option of getopt_long.  0, 1 for --help, -1 on error. */
static int
take_option(int c, const char *arg, struct admin_opts *o, unsigned *seen)
{
	size_t i;

	if (c == 'h')
		return 1;
	for (i = 0; i < sizeof string_options / sizeof string_options[0]; i++)
		if (string_options[i].code == c) {
			*(const char **)(void *)((char *)o + string_options[i].offset) = arg;
			*seen |= string_options[i].bit;
			return 0;
		}
	for (i = 0; i < sizeof flag_options / sizeof flag_options[0]; i++)
		if (flag_options[i].code == c) {
			*(int *)(void *)((char *)o + flag_options[i].offset) = 1;
			*seen |= flag_options[i].bit;
			return 0;
		}
	return special_option(c, arg, o, seen);
}

/* Options that go together or exclude each other.  0 or -1. */
static int
check_options(const struct admin_opts *o)
{
	if (o->mech != NULL && strcasecmp(o->mech, "EXTERNAL") != 0) {
		admin_error("-Y: only EXTERNAL is supported (or -D and -y for a simple bind)");
		return -1;
	}
	if ((o->bind_dn != NULL) != (o->pw_file != NULL) || (o->bind_dn != NULL && o->mech)) {
		admin_error("-D and -y go together, and not with -Y");
		return -1;
	}
	if (o->letters_csv != NULL && o->no_letters) {
		admin_error("--letters-csv and --no-letters exclude each other");
		return -1;
	}
	if (o->letters_pdf != NULL && o->letters_csv == NULL) {
		admin_error("--letters-pdf is made from the letters CSV: give --letters-csv too");
		return -1;
	}
	if (o->by != NULL && strcmp(o->by, "number") != 0 && strcmp(o->by, "login") != 0) {
		admin_error("--by: number or login, not %s", o->by);
		return -1;
	}
	if (o->disable_missing && !o->full) {
		admin_error(
			"--disable-missing needs --full: only a roster that lists every member "
			"says who is missing");
		return -1;
	}
	if (o->notify != NULL && o->state != NULL) {
		admin_error("--notify and --state exclude each other");
		return -1;
	}
	return 0;
}

/* Parse argv into a->o and find the command.  ADMIN_OK, ADMIN_USAGE, or
 * -1 when help was printed (exit 0). */
static int
parse_args(int argc, char **argv, struct admin *a, const struct command **cmd)
{
	unsigned seen = 0;
	int c, r, help = 0;

	a->o.validity = -1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":H:D:y:Y:b:s:c:j:vh", long_options, NULL)) != -1) {
		if (c == L_VERSION) {
			printf("kenpo-admin %s\n", PACKAGE_VERSION);
			return -1;
		}
		if (c == '?' || c == ':') {
			admin_error("%s option: %s", c == '?' ? "unknown" : "value missing for",
				    argv[optind - 1]);
			return ADMIN_USAGE;
		}
		r = take_option(c, optarg, &a->o, &seen);
		if (r < 0)
			return ADMIN_USAGE;
		help |= r;
	}
	*cmd = optind < argc ? find_command(argv[optind]) : NULL;
	if (help) {
		if (*cmd == NULL && optind < argc && strcmp(argv[optind], "help") == 0)
			*cmd = optind + 1 < argc ? find_command(argv[optind + 1]) : NULL;
		print_help(*cmd);
		return -1;
	}
	if (*cmd == NULL) {
		if (optind < argc && strcmp(argv[optind], "help") == 0) {
			print_help(optind + 1 < argc ? find_command(argv[optind + 1]) : NULL);
			return -1;
		}
		admin_error(optind < argc ? "unknown command: %s (see --help)" :
					    "no command given%s (see --help)",
			    optind < argc ? argv[optind] : "");
		return ADMIN_USAGE;
	}
	a->o.args = argv + optind + 1;
	a->o.nargs = argc - optind - 1;
	if ((seen & ~(*cmd)->opts) != 0) {
		admin_error("an option given does not apply to %s; usage: kenpo-admin %s",
			    (*cmd)->name, (*cmd)->synopsis);
		return ADMIN_USAGE;
	}
	if (a->o.nargs < (*cmd)->min_args || a->o.nargs > (*cmd)->max_args) {
		admin_error("usage: kenpo-admin %s", (*cmd)->synopsis);
		return ADMIN_USAGE;
	}
	return check_options(&a->o) == 0 ? ADMIN_OK : ADMIN_USAGE;
}

/* ---- the society ---- */

static int
copy_society(struct admin_society *s, const struct kenpo_society *k)
{
	s->id = strdup(k->id);
	s->name = strdup(k->name);
	s->base = strdup(k->base);
	s->home_template = strdup(k->home_template);
	s->shell = strdup(k->shell);
	s->method = k->method;
	s->uid_min = k->uid_min;
	s->uid_max = k->uid_max;
	s->gid = k->gid;
	s->temp_validity = k->temp_password_validity;
	s->key_optional = k->key_optional;
	return s->id && s->name && s->base && s->home_template && s->shell ? 0 : -1;
}

/* Without a configuration: -b and kenpod.conf's defaults.  The id is the
 * value of the base's first RDN until the directory says otherwise. */
static int
default_society(struct admin_society *s, const char *base)
{
	const char *eq = strchr(base, '='), *comma = strchr(base, ',');

	if (eq == NULL || (comma != NULL && comma < eq)) {
		admin_error("-b: not a DN: %s", base);
		return -1;
	}
	s->id = strndup(eq + 1, comma != NULL ? (size_t)(comma - eq - 1) : strlen(eq + 1));
	s->base = strdup(base);
	s->home_template = strdup("/home/%u");
	s->shell = strdup("/bin/bash");
	s->method = KENPO_REG_LETTER;
	s->uid_min = 100000;
	s->uid_max = 4000000000UL;
	s->gid = 100;
	s->temp_validity = 0;
	s->key_optional = -1;
	if (s->id == NULL || s->base == NULL || s->home_template == NULL || s->shell == NULL) {
		admin_error("out of memory");
		return -1;
	}
	return 0;
}

/* The configured society that -s or -b names (or the only one). */
static const struct kenpo_society *
pick_society(const struct admin *a)
{
	const struct kenpo_config *cfg = a->cfg;
	size_t i;

	if (a->o.society != NULL) {
		if (kenpo_config_society(cfg, a->o.society) == NULL)
			admin_error("%s: no [society %s]", cfg->path, a->o.society);
		return kenpo_config_society(cfg, a->o.society);
	}
	for (i = 0; a->o.base != NULL && i < cfg->nsocieties; i++)
		if (strcasecmp(cfg->societies[i].base, a->o.base) == 0)
			return &cfg->societies[i];
	if (a->o.base == NULL && cfg->nsocieties == 1)
		return &cfg->societies[0];
	if (a->o.base == NULL)
		admin_error("%s has several societies: say which with --society", cfg->path);
	return NULL;
}

static int
resolve_society(struct admin *a)
{
	const struct kenpo_society *k;
	char err[ADMIN_ERR_MAX];
	int use_cfg = a->o.config_path != NULL || a->o.society != NULL ||
		      (a->o.base == NULL && access(KENPO_CONFIG_PATH, F_OK) == 0);

	kenpo_pwcost_default(&a->cost);
	if (!use_cfg && a->o.base == NULL) {
		admin_error("say which society: --society ID (with -c FILE) or -b BASE");
		return ADMIN_USAGE;
	}
	if (!use_cfg)
		return default_society(&a->soc, a->o.base) == 0 ? ADMIN_OK : ADMIN_ERROR;
	if (kenpo_config_load(a->o.config_path, getuid(), &a->cfg, err, sizeof err) != 0) {
		admin_error("%s", err);
		return ADMIN_ERROR;
	}
	a->cost.opslimit = a->cfg->argon2_opslimit;
	a->cost.memlimit = a->cfg->argon2_memlimit;
	k = pick_society(a);
	if (k == NULL && a->o.base != NULL && a->o.society == NULL)
		return default_society(&a->soc, a->o.base) == 0 ? ADMIN_OK : ADMIN_ERROR;
	if (k == NULL)
		return ADMIN_ERROR;
	if (a->o.base != NULL && strcasecmp(a->o.base, k->base) != 0) {
		admin_error("-b %s is not the base of [society %s] (%s)", a->o.base, k->id,
			    k->base);
		return ADMIN_USAGE;
	}
	if (copy_society(&a->soc, k) != 0) {
		admin_error("out of memory");
		return ADMIN_ERROR;
	}
	return ADMIN_OK;
}

static void
free_society(struct admin_society *s)
{
	free(s->id);
	free(s->name);
	free(s->base);
	free(s->home_template);
	free(s->shell);
}

/* The society's entry must exist and carry its id (schema/README.md). */
static int
check_society_entry(struct admin *a)
{
	static const char *const attrs[] = { KENPO_AT_SOCIETY_ID, KENPO_AT_DISPLAY_NAME, NULL };
	struct dir_entry *e = NULL;
	char err[ADMIN_ERR_MAX];
	const char *id;
	int rc, ret = ADMIN_ERROR;

	rc = dir_search(a->dir, a->soc.base, DIR_BASE,
			"(" KENPO_AT_OBJECTCLASS "=" KENPO_OC_SOCIETY ")", attrs, dir_keep_first,
			&e, err, sizeof err);
	if (rc != DIR_OK && rc != DIR_NOSUCH) {
		admin_error("%s", err);
		goto done;
	}
	id = e != NULL ? dir_get(e, KENPO_AT_SOCIETY_ID) : NULL;
	if (id == NULL) {
		admin_error("%s is not a society's entry (no such entry, or no kenpoSociety "
			    "class): run kenpo-admin init first",
			    a->soc.base);
		goto done;
	}
	if (a->cfg != NULL && strcmp(id, a->soc.id) != 0) {
		admin_error("%s has kenpoSocietyId %s, but the configuration calls it %s",
			    a->soc.base, id, a->soc.id);
		goto done;
	}
	if (a->cfg == NULL) {
		free(a->soc.id);
		a->soc.id = strdup(id);
		if (dir_get(e, KENPO_AT_DISPLAY_NAME) != NULL)
			a->soc.name = strdup(dir_get(e, KENPO_AT_DISPLAY_NAME));
	}
	ret = a->soc.id != NULL ? ADMIN_OK : ADMIN_ERROR;
done:
	dir_entry_free(e);
	return ret;
}

/*
 * With several providers (write_uri), the tool works where kenpod writes:
 * on the first provider of write_uri that answers (the first only, with
 * write_failover = no), so that the uidNumbers it takes and the members it
 * adds never meet those of a kenpod or of another kenpo-admin on a second
 * provider (provider.h).  -H names one server and bypasses the rule, to
 * look at one provider (check) or to repair it.
 */
static int
connect_write_provider(struct admin *a, struct dir_bind *b)
{
	struct kenpo_uris u;
	char err[ADMIN_ERR_MAX];
	size_t i, n;
	int rc = ADMIN_ERROR;

	if (kenpo_uris_parse(a->cfg->write_uri, &u) != 0) {
		admin_error("%s: write_uri: no URI, or more than %d", a->cfg->path,
			    KENPO_PROVIDERS_MAX);
		return ADMIN_ERROR;
	}
	n = a->cfg->write_failover ? u.n : 1;
	for (i = 0; i < n && rc != ADMIN_OK; i++) {
		b->uri = u.uri[i];
		if (dir_open(b, &a->dir, err, sizeof err) == 0)
			rc = ADMIN_OK;
		else
			admin_note("write provider %s: %s", u.uri[i], err);
	}
	if (rc == ADMIN_OK && (i > 1 || a->o.verbose))
		admin_note("writing to %s (%zu of %zu in write_uri)", u.uri[i - 1], i, u.n);
	if (rc != ADMIN_OK)
		admin_error("no provider of write_uri answers%s",
			    n < u.n ? " (write_failover = no: only the first is used)" : "");
	kenpo_uris_free(&u);
	return rc;
}

static int
connect_directory(struct admin *a)
{
	struct dir_bind b = {
		.uri = a->o.uri != NULL ? a->o.uri :
		       a->cfg != NULL   ? a->cfg->ldap_uri :
					  "ldapi:///",
		.bind_dn = a->o.bind_dn,
		.pw_file = a->o.pw_file,
		.ca_file = a->cfg != NULL ? a->cfg->ldap_ca_file : NULL,
		.timeout = a->cfg != NULL ? a->cfg->ldap_timeout : 5,
	};
	char err[ADMIN_ERR_MAX];

	if (a->o.uri == NULL && a->cfg != NULL && a->cfg->write_uri != NULL)
		return connect_write_provider(a, &b);
	if (dir_open(&b, &a->dir, err, sizeof err) != 0) {
		admin_error("%s", err);
		return ADMIN_ERROR;
	}
	return ADMIN_OK;
}

/* kenpo-admin works for one society at a time, in its time zone: dates
 * of the roster (資格喪失日, "today"), the letters' expiry and the history
 * are in local time there.  One thread sets TZ before any other starts. */
static int
society_zone(const struct admin *a)
{
	const struct kenpo_society *k = a->cfg != NULL ? kenpo_config_society(a->cfg, a->soc.id) :
							 NULL;
	char tz[300];

	snprintf(tz, sizeof tz, ":%.290s", k != NULL ? k->timezone : KENPO_DEFAULT_TIMEZONE);
	if (setenv("TZ", tz, 1) != 0) {
		admin_error("cannot set the time zone %s", tz + 1);
		return ADMIN_ERROR;
	}
	tzset();
	return ADMIN_OK;
}

/* Who is changing the directory, for the audit lines: the identity bound
 * (Who am I?, RFC 4532). */
static void
note_identity(struct admin *a)
{
	if (dir_whoami(a->dir, a->who, sizeof a->who) != 0 || a->who[0] == '\0')
		snprintf(a->who, sizeof a->who, "%s",
			 a->o.bind_dn != NULL ? a->o.bind_dn : "anonymous");
}

static int
run(struct admin *a, const struct command *cmd)
{
	int rc;

	if (kenpo_secret_init() != 0) {
		admin_error("libsodium cannot be initialised");
		return ADMIN_ERROR;
	}
	rc = resolve_society(a);
	if (rc == ADMIN_OK)
		rc = society_zone(a);
	if (rc == ADMIN_OK)
		rc = admin_letters_pdf_ready(a);
	if (rc == ADMIN_OK && cmd->fn != cmd_letters) { /* a file to a file */
		rc = connect_directory(a);
		if (rc == ADMIN_OK)
			note_identity(a);
	}
	if (rc == ADMIN_OK && cmd->fn != cmd_init && cmd->fn != cmd_letters)
		rc = check_society_entry(a);
	if (rc == ADMIN_OK)
		admin_audit_open(a);
	if (rc == ADMIN_OK)
		rc = admin_letters_pdf(a, cmd->fn(a));
	admin_audit_close(a);
	if (a->changed)
		(void)admin_flush_kenpod(a);
	return rc;
}

/* The language of the messages, as kenpo(1) chooses it: Japanese when the
 * first of LC_ALL, LC_MESSAGES and LANG that is set names Japanese. */
static enum kenpo_lang
lang_from_environment(void)
{
	static const char *const vars[] = { "LC_ALL", "LC_MESSAGES", "LANG" };
	enum kenpo_lang lang = KENPO_LANG_EN;
	const char *v;
	size_t i;

	for (i = 0; i < sizeof vars / sizeof vars[0]; i++) {
		v = getenv(vars[i]);
		if (v != NULL && v[0] != '\0')
			return kenpo_lang_parse(v, &lang) == 0 ? lang : KENPO_LANG_EN;
	}
	return lang;
}

/* Whether --json is among the options, known before they are parsed so
 * that an error in them is answered in JSON too. */
static int
json_asked(int argc, char **argv)
{
	int i;

	for (i = 1; i < argc && strcmp(argv[i], "--") != 0; i++)
		if (strcmp(argv[i], "--json") == 0)
			return 1;
	return 0;
}

int
main(int argc, char **argv)
{
	struct admin a;
	const struct command *cmd = NULL;
	int rc;

	memset(&a, 0, sizeof a);
	/* Members must not count as the host's own accounts when login IDs
	 * are chosen (localname.h): libnss_kenpo answers "unavailable" here. */
	if (setenv("_KENPO_NSS_LOOPS", "NO", 1) != 0)
		return ADMIN_ERROR;
	output.json = json_asked(argc, argv);
	output.lang = lang_from_environment();
	rc = parse_args(argc, argv, &a, &cmd);
	if (rc < 0)
		return ADMIN_OK;
	if (rc == ADMIN_OK)
		rc = run(&a, cmd);
	if (output.json)
		admin_json_finish(rc);
	dir_close(a.dir);
	free_society(&a.soc);
	kenpo_config_free(a.cfg);
	if (fflush(stdout) != 0 && rc == ADMIN_OK) {
		admin_error("cannot write the output: %s", strerror(errno));
		rc = ADMIN_ERROR;
	}
	return rc;
}
