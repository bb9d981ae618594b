/*
 * kenpo-testtool - drive the kenpo library from the integration tests.
 *
 *   kenpo-testtool hash-password [--t N] [--m BYTES]   password on stdin
 *   kenpo-testtool verify-password STORED              password on stdin
 *   kenpo-testtool send-mail --smtp URL --from ADDR --to ADDR
 *                  --template KIND --lang ja|en --society NAME
 *                  [--var NAME=VALUE]... [--timeout SECONDS]
 *
 * hash-password prints the {ARGON2} string; verify-password exits 0 on a
 * match and 1 otherwise; send-mail renders a template, composes the message
 * and sends it, printing the library's error and exiting 1 on failure.
 * Usage errors exit 2.  Not installed: it exists so that the tests exercise
 * the same code kenpod runs.
 */
#include <autoconfig.h>

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "i18n.h"
#include "mail.h"
#include "secret.h"
#include "template.h"

#define EXIT_USAGE 2
#define PW_BUF 256 /* passwords are at most 39 characters; room to spare */
#define MAX_VARS 32
#define ERRBUF 512

static const char *progname = "kenpo-testtool";

static void
usage(void)
{
	fprintf(stderr,
		"usage: %s hash-password [--t N] [--m BYTES] < password\n"
		"       %s verify-password STORED < password\n"
		"       %s send-mail --smtp URL --from ADDR --to ADDR --template KIND\n"
		"              --lang ja|en --society NAME [--var NAME=VALUE]... [--timeout S]\n",
		progname, progname, progname);
}

/*
 * Read a password from stdin into buf: everything up to EOF, less one
 * trailing newline (and a CR before it).  Refuses NUL bytes and input that
 * does not fit.  0 with *len set, or -1.
 */
static int
read_password(char *buf, size_t bufsz, size_t *len)
{
	size_t n = 0;
	int rc = -1;

	while (n < bufsz - 1) {
		ssize_t r = read(STDIN_FILENO, buf + n, bufsz - 1 - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			fprintf(stderr, "%s: reading the password: %s\n", progname,
				strerror(errno));
			goto done;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	if (n == bufsz - 1) {
		fprintf(stderr, "%s: password too long\n", progname);
		goto done;
	}
	if (n > 0 && buf[n - 1] == '\n')
		n--;
	if (n > 0 && buf[n - 1] == '\r')
		n--;
	buf[n] = '\0';
	if (memchr(buf, '\0', n) != NULL) {
		fprintf(stderr, "%s: password contains a NUL byte\n", progname);
		goto done;
	}
	*len = n;
	rc = 0;
done:
	return rc;
}

static int
cmd_hash_password(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "t", required_argument, NULL, 't' },
		{ "m", required_argument, NULL, 'm' },
		{ NULL, 0, NULL, 0 },
	};
	struct kenpo_pwcost cost;
	char pw[PW_BUF];
	char out[KENPO_PWHASH_MAX];
	size_t len = 0;
	unsigned long long t;
	int c, rc = EXIT_USAGE;

	kenpo_pwcost_default(&cost);
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		int bad = 1;

		if (c == 't' && kenpo_parse_ulong(optarg, 1, 100, &t) == 0) {
			cost.opslimit = t;
			bad = 0;
		} else if (c == 'm') {
			bad = kenpo_parse_size(optarg, 8192, (size_t)4 << 30, &cost.memlimit) !=
			      0;
		}
		if (bad) {
			fprintf(stderr, "%s: hash-password: bad option or value\n", progname);
			usage();
			goto done;
		}
	}
	if (optind != argc) {
		usage();
		goto done;
	}
	rc = EXIT_FAILURE;
	if (read_password(pw, sizeof pw, &len) != 0)
		goto done;
	if (kenpo_pw_hash(pw, len, &cost, out, sizeof out) != 0) {
		fprintf(stderr, "%s: hashing failed\n", progname);
		goto done;
	}
	if (printf("%s\n", out) < 0 || fflush(stdout) != 0)
		goto done;
	rc = EXIT_SUCCESS;
done:
	kenpo_wipe(pw, sizeof pw);
	return rc;
}

static int
cmd_verify_password(int argc, char **argv)
{
	char pw[PW_BUF];
	size_t len = 0;
	int rc = EXIT_USAGE;

	if (argc != 2) {
		usage();
		goto done;
	}
	rc = EXIT_FAILURE;
	if (read_password(pw, sizeof pw, &len) != 0)
		goto done;
	if (kenpo_pw_verify(argv[1], pw, len) == 0)
		rc = EXIT_SUCCESS;
done:
	kenpo_wipe(pw, sizeof pw);
	return rc;
}

/* The template kind whose file stem is `name`, from the library's own table. */
static int
mail_kind_parse(const char *name, enum kenpo_mail_kind *out)
{
	int k;

	for (k = 0; k < KENPO_MAIL_KIND_COUNT; k++) {
		const char *stem = kenpo_mail_kind_name((enum kenpo_mail_kind)k);
		if (stem != NULL && strcmp(stem, name) == 0) {
			*out = (enum kenpo_mail_kind)k;
			return 0;
		}
	}
	return -1;
}

struct send_args {
	const char *smtp, *from, *to, *template, *lang, *society;
	long timeout;
	struct kenpo_var vars[MAX_VARS];
	size_t nvars;
};

/* Add NAME=VALUE (pointing into argv) to the variables.  0 or -1. */
static int
add_var(struct send_args *a, char *arg)
{
	char *eq = strchr(arg, '=');

	if (eq == NULL || eq == arg || a->nvars >= MAX_VARS)
		return -1;
	*eq = '\0';
	a->vars[a->nvars].name = arg;
	a->vars[a->nvars].value = eq + 1;
	a->nvars++;
	return 0;
}

static int
parse_send_args(int argc, char **argv, struct send_args *a)
{
	static const struct option opts[] = {
		{ "smtp", required_argument, NULL, 's' },
		{ "from", required_argument, NULL, 'f' },
		{ "to", required_argument, NULL, 't' },
		{ "template", required_argument, NULL, 'k' },
		{ "lang", required_argument, NULL, 'l' },
		{ "society", required_argument, NULL, 'n' },
		{ "var", required_argument, NULL, 'v' },
		{ "timeout", required_argument, NULL, 'T' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	memset(a, 0, sizeof *a);
	a->timeout = 10;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			a->smtp = optarg;
			break;
		case 'f':
			a->from = optarg;
			break;
		case 't':
			a->to = optarg;
			break;
		case 'k':
			a->template = optarg;
			break;
		case 'l':
			a->lang = optarg;
			break;
		case 'n':
			a->society = optarg;
			break;
		case 'v':
			if (add_var(a, optarg) != 0)
				return -1;
			break;
		case 'T':
			if (kenpo_parse_duration(optarg, 1, 600, &a->timeout) != 0)
				return -1;
			break;
		default:
			return -1;
		}
	}
	if (optind != argc || !a->smtp || !a->from || !a->to || !a->template || !a->lang ||
	    !a->society || a->nvars >= MAX_VARS)
		return -1;
	/* Every template may name the society. */
	a->vars[a->nvars].name = "SOCIETY";
	a->vars[a->nvars].value = a->society;
	a->nvars++;
	return 0;
}

static int
cmd_send_mail(int argc, char **argv)
{
	struct send_args a;
	struct kenpo_mail m;
	struct kenpo_smtp s;
	enum kenpo_mail_kind kind;
	enum kenpo_lang lang;
	char errbuf[ERRBUF] = "";
	char *subject = NULL, *body = NULL, *msg = NULL;
	size_t msglen = 0;
	const char *at;
	int rc = EXIT_USAGE;

	if (parse_send_args(argc, argv, &a) != 0) {
		usage();
		goto done;
	}
	if (mail_kind_parse(a.template, &kind) != 0) {
		fprintf(stderr, "%s: unknown template kind: %s\n", progname, a.template);
		goto done;
	}
	if (kenpo_lang_parse(a.lang, &lang) != 0) {
		fprintf(stderr, "%s: unknown language: %s\n", progname, a.lang);
		goto done;
	}
	rc = EXIT_FAILURE;
	if (kenpo_template_render(kind, lang, NULL, a.vars, a.nvars, &subject, &body, errbuf,
				  sizeof errbuf) != 0) {
		fprintf(stderr, "%s: template: %s\n", progname, errbuf);
		goto done;
	}
	at = strrchr(a.from, '@');
	memset(&m, 0, sizeof m);
	m.from_addr = a.from;
	m.from_name = a.society;
	m.to_addr = a.to;
	m.subject = subject;
	m.body = body;
	m.msgid_domain = at != NULL ? at + 1 : "localhost";
	m.date = 0;
	if (kenpo_mail_compose(&m, &msg, &msglen, errbuf, sizeof errbuf) != 0) {
		fprintf(stderr, "%s: compose: %s\n", progname, errbuf);
		goto done;
	}
	memset(&s, 0, sizeof s);
	s.url = a.smtp;
	s.tls = strncmp(a.smtp, "smtps://", 8) == 0 ? KENPO_TLS_SMTPS : KENPO_TLS_NONE;
	s.timeout = a.timeout;
	if (kenpo_mail_send(&s, a.from, a.to, msg, msglen, errbuf, sizeof errbuf) != 0) {
		fprintf(stderr, "%s: send: %s\n", progname, errbuf);
		goto done;
	}
	rc = EXIT_SUCCESS;
done:
	/* A rendered mail may carry a temporary password or a key. */
	if (msg != NULL)
		kenpo_wipe(msg, msglen);
	free(msg);
	if (body != NULL)
		kenpo_secret_free(body);
	free(subject);
	return rc;
}

struct command {
	const char *name;
	int (*run)(int argc, char **argv);
};

static const struct command commands[] = {
	{ "hash-password", cmd_hash_password },
	{ "verify-password", cmd_verify_password },
	{ "send-mail", cmd_send_mail },
};

int
main(int argc, char **argv)
{
	size_t i;

	if (argc < 2) {
		usage();
		return EXIT_USAGE;
	}
	if (kenpo_secret_init() != 0) {
		fprintf(stderr, "%s: libsodium could not be initialised\n", progname);
		return EXIT_FAILURE;
	}
	for (i = 0; i < sizeof commands / sizeof commands[0]; i++) {
		if (strcmp(argv[1], commands[i].name) == 0)
			return commands[i].run(argc - 1, argv + 1);
	}
	fprintf(stderr, "%s: unknown command: %s\n", progname, argv[1]);
	usage();
	return EXIT_USAGE;
}
