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
	json_object *answer;            /* the command's answer, or NULL */
	char message[ADMIN_ERR_MAX];    /* the first error: the cause */
	int listing;                    /* "{"KEY":[" went out */
	size_t items;
} output;

/* Each exit status as an error code, with the message when no error was
 * given. */
static const struct {
	int exit;
	const char *code;
	const char *message;
} outcomes[] = {
	{ ADMIN_ERROR, "error", "The command failed." },
	{ ADMIN_USAGE, "usage", "The command line is not valid; see kenpo-admin --help." },
	{ ADMIN_NOTFOUND, "not-found", "No such member." },
	{ ADMIN_PARTIAL, "partial", "Some rows were refused or failed; the others were written." },
	{ ADMIN_REJECTED, "rejected", "The roster has bad rows: nothing was written." },
};

void
admin_error(const char *fmt, ...)
{
	va_list ap;

	fputs("kenpo-admin: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	if (output.message[0] == '\0') {
		va_start(ap, fmt);
		(void)vsnprintf(output.message, sizeof output.message, fmt, ap);
		va_end(ap);
	}
}

void
admin_note(const char *fmt, ...)
{
	va_list ap;

	fputs("kenpo-admin: note: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
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
	json_object_object_add(msg, "en", json_object_new_string(
		output.message[0] != '\0' ? output.message : outcomes[i].message));
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
		admin_note("kenpod at %s refused to flush its cache (result %d): %s", path, r, later);
	return -1;
}

/* ---- the command line ---- */

enum opt_bit {
	O_LETTERS = 1u << 0, O_NO_LETTERS = 1u << 1, O_STRICT = 1u << 2,
	O_VALIDITY = 1u << 3, O_JOBS = 1u << 4, O_WINDOW = 1u << 5, O_STATE = 1u << 6,
	O_BY = 1u << 7, O_YES = 1u << 8, O_APPLY = 1u << 9, O_NUMBER = 1u << 10,
	O_NAME = 1u << 11, O_BIRTH = 1u << 12, O_MAIL = 1u << 13, O_HOUSEHOLD = 1u << 14,
	O_NICKNAME = 1u << 15, O_KEYREQ = 1u << 16, O_LETTERS_PDF = 1u << 17,
};
#define O_MEMBER (O_NUMBER | O_NAME | O_BIRTH | O_MAIL | O_HOUSEHOLD | O_NICKNAME | O_KEYREQ)

static const struct command {
	const char *name;
	int (*fn)(struct admin *a);
	unsigned opts;
	int min_args, max_args;
	const char *synopsis;
	const char *help;
} commands[] = {
	{ "init", cmd_init, O_APPLY | O_NAME, 0, 0, "init [--apply] [--name NAME]",
	  "Create the society's subtree (the society entry, ou=members, ou=tokens,\n"
	  "ou=rates, cn=uidNumber) and the password policies under ou=policies, and\n"
	  "the server secret named by kenpod.conf if it is missing.  Then compare\n"
	  "cn=config with what kenpo needs (modules, overlays, indexes) and print\n"
	  "what is missing as LDIF; with --apply, apply it (root over ldapi:///\n"
	  "usually may).  Running it again changes nothing.\n" },
	{ "issue", cmd_issue, O_MEMBER | O_LETTERS | O_LETTERS_PDF | O_VALIDITY, 0, 0,
	  "issue --number N --name NAME [--birth-date D] [--mail ADDR] [--household H]\n"
	  "        [--nickname NICK] [--key-required yes|no] [--validity DUR]\n"
	  "        [--letters-csv FILE [--letters-pdf FILE]]",
	  "Issue one member: a pre-issued login ID and a temporary password (letter\n"
	  "registration), or an entry waiting for the identity check.  The password\n"
	  "is printed, or written to the letters CSV with --letters-csv (and the\n"
	  "printable letter with --letters-pdf).\n" },
	{ "import", cmd_import, O_LETTERS | O_LETTERS_PDF | O_NO_LETTERS | O_STRICT | O_VALIDITY |
	  O_JOBS | O_WINDOW, 1, 1,
	  "import ROSTER.csv (--letters-csv FILE [--letters-pdf FILE] | --no-letters) [--strict]\n"
	  "        [--validity DUR] [--jobs N] [--window N]",
	  "Import a roster (UTF-8 CSV with a header line).  New members are issued;\n"
	  "members already in the directory (same member number) are compared and\n"
	  "updated (name, birth_date, mail, household); nothing is duplicated.  A bad\n"
	  "row is reported as FILE:LINE: COLUMN: problem and the others are imported;\n"
	  "with --strict nothing is written when any row is bad.  The temporary\n"
	  "passwords of new members exist only in the letters CSV (mode 0600): give\n"
	  "--letters-csv, or --no-letters to issue them without letters (reissue\n"
	  "later); --letters-pdf also makes the printable letters, one A4 page per\n"
	  "member.  --jobs: hashing threads (default: one per processor); --window:\n"
	  "directory writes in flight (default 32).  Columns:\n" },
	{ "show", cmd_show, O_BY, 1, 1, "show [--by number|login] KEY",
	  "Show a member, by login ID or member number (--by to say which).\n" },
	{ "list", cmd_list, O_STATE, 0, 0, "list [--state issued|registered|disabled|locked]",
	  "List the society's members, read in pages.\n" },
	{ "lock", cmd_lock, O_BY, 1, 1, "lock [--by number|login] KEY",
	  "Lock the account (ppolicy's administrative lock, pwdAccountLockedTime\n"
	  "000001010000Z) until unlock.\n" },
	{ "unlock", cmd_unlock, O_BY, 1, 1, "unlock [--by number|login] KEY",
	  "Remove the lock and the failure counts of slapd (ppolicy) and kenpod.\n" },
	{ "disable", cmd_disable, O_BY, 1, 1, "disable [--by number|login] KEY",
	  "Disable the account (kenpoDisabled): no login, no passwd entry.\n" },
	{ "enable", cmd_enable, O_BY, 1, 1, "enable [--by number|login] KEY",
	  "Enable a disabled account again.\n" },
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
	L_SOCKET = 256, L_JSON, L_LETTERS, L_NO_LETTERS, L_STRICT, L_VALIDITY, L_WINDOW,
	L_STATE, L_BY, L_YES, L_APPLY, L_NUMBER, L_NAME, L_BIRTH, L_MAIL, L_HOUSEHOLD,
	L_NICKNAME, L_KEYREQ, L_VERSION, L_LETTERS_PDF,
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
	"                  (\"ok\"; on failure \"error\", \"message\", \"exit\"; see kenpo(1))\n"
	"  -v, --verbose   say more\n"
	"\n"
	"Commands:\n";

static const char exit_help[] =
	"\n"
	"Exit status: 0 done; 1 error (directory, file, configuration); 2 usage;\n"
	"3 no such member; 4 import partly done (rows refused or failed, the rest\n"
	"written); 5 import --strict refused the roster (nothing written).\n";

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
};

/* Options with a value to check.  0, or -1 (message printed). */
static int
special_option(int c, const char *arg, struct admin_opts *o, unsigned *seen)
{
	if (c == L_VALIDITY) {
		*seen |= O_VALIDITY;
		if (kenpo_parse_duration(arg, 0, 365L * 86400, &o->validity) != 0) {
			admin_error("--validity: not a duration (0 for none, 600, 10m, 3h, "
				    "30d; at most 365d): %s", arg);
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
			    "no command given%s (see --help)", optind < argc ? argv[optind] : "");
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
		admin_error("-b %s is not the base of [society %s] (%s)", a->o.base, k->id, k->base);
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
			"(" KENPO_AT_OBJECTCLASS "=" KENPO_OC_SOCIETY ")", attrs, dir_keep_first, &e,
			err, sizeof err);
	if (rc != DIR_OK && rc != DIR_NOSUCH) {
		admin_error("%s", err);
		goto done;
	}
	id = e != NULL ? dir_get(e, KENPO_AT_SOCIETY_ID) : NULL;
	if (id == NULL) {
		admin_error("%s is not a society's entry (no such entry, or no kenpoSociety "
			    "class): run kenpo-admin init first", a->soc.base);
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

static int
connect_directory(struct admin *a)
{
	struct dir_bind b = {
		.uri = a->o.uri != NULL ? a->o.uri : a->cfg != NULL ? a->cfg->ldap_uri : "ldapi:///",
		.bind_dn = a->o.bind_dn,
		.pw_file = a->o.pw_file,
		.ca_file = a->cfg != NULL ? a->cfg->ldap_ca_file : NULL,
		.timeout = a->cfg != NULL ? a->cfg->ldap_timeout : 5,
	};
	char err[ADMIN_ERR_MAX];

	if (dir_open(&b, &a->dir, err, sizeof err) != 0) {
		admin_error("%s", err);
		return ADMIN_ERROR;
	}
	return ADMIN_OK;
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
		rc = admin_letters_pdf_ready(a);
	if (rc == ADMIN_OK && cmd->fn != cmd_letters)   /* a file to a file */
		rc = connect_directory(a);
	if (rc == ADMIN_OK && cmd->fn != cmd_init && cmd->fn != cmd_letters)
		rc = check_society_entry(a);
	if (rc == ADMIN_OK)
		rc = admin_letters_pdf(a, cmd->fn(a));
	if (a->changed)
		(void)admin_flush_kenpod(a);
	return rc;
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
