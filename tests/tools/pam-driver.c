/*
 * pam-driver - run PAM operations with a conversation held on stdin and
 * stdout, so that a test can answer each prompt while the transaction runs
 * (read the mailed key, then type it).
 *
 *   pam-driver [-c CONFDIR] [-r RHOST] [-u UID] SERVICE USER OP...
 *
 * OP is auth, acct, setcred, open, close, chauthtok or chauthtok-expired
 * (PAM_CHANGE_EXPIRED_AUTHTOK); all run on one PAM handle, in order, and
 * each prints "RESULT OP CODE NAME".  The conversation prints one line per
 * message, "INFO text", "ERROR text", "PROMPT_OFF text" or "PROMPT_ON
 * text" (a backslash, a newline and a carriage return in the text are
 * written \\, \n and \r), and reads the answer to a prompt as one line of
 * stdin; end of input, or the line "!CONV_ERR", fails that prompt as a
 * conversation that cannot answer would.  With -c the service file is
 * read from CONFDIR (pam_start_confdir), else where libpam (or
 * pam_wrapper) looks.  With -u (as root) the real uid becomes UID and the
 * effective one stays root, as in a set-uid passwd(1) run by a member.
 * Exit status: 0 when every operation ran, 2 on a
 * usage error, 1 when the handle could not be started.  Not installed.
 */
#include "autoconfig.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <security/pam_appl.h>

#define ANSWER_MAX 4096

static const struct {
	const char *name;
	int style;
} styles[] = {
	{ "INFO", PAM_TEXT_INFO },
	{ "ERROR", PAM_ERROR_MSG },
	{ "PROMPT_OFF", PAM_PROMPT_ECHO_OFF },
	{ "PROMPT_ON", PAM_PROMPT_ECHO_ON },
};

static void
print_message(int style, const char *text)
{
	const char *name = "UNKNOWN";
	size_t i;

	for (i = 0; i < sizeof(styles) / sizeof(styles[0]); i++)
		if (styles[i].style == style)
			name = styles[i].name;
	printf("%s ", name);
	for (; text != NULL && *text != '\0'; text++) {
		if (*text == '\\')
			fputs("\\\\", stdout);
		else if (*text == '\n')
			fputs("\\n", stdout);
		else if (*text == '\r')
			fputs("\\r", stdout);
		else
			putchar(*text);
	}
	putchar('\n');
	fflush(stdout);
}

/* One line of stdin without its line end; NULL at the end of input or for
 * "!CONV_ERR". */
static char *
read_answer(void)
{
	char buf[ANSWER_MAX];
	size_t len;

	if (fgets(buf, sizeof(buf), stdin) == NULL)
		return NULL;
	len = strcspn(buf, "\r\n");
	buf[len] = '\0';
	if (strcmp(buf, "!CONV_ERR") == 0)
		return NULL;
	return strdup(buf);
}

static void
free_responses(struct pam_response *r, int n)
{
	int i;

	for (i = 0; i < n; i++)
		free(r[i].resp);
	free(r);
}

static int
conversation(int n, const struct pam_message **msg, struct pam_response **resp, void *data)
{
	struct pam_response *r;
	int i, style;

	(void)data;
	if (n <= 0 || (r = calloc((size_t)n, sizeof(*r))) == NULL)
		return PAM_CONV_ERR;
	for (i = 0; i < n; i++) {
		style = msg[i]->msg_style;
		print_message(style, msg[i]->msg);
		if (style != PAM_PROMPT_ECHO_OFF && style != PAM_PROMPT_ECHO_ON)
			continue;
		r[i].resp = read_answer();
		if (r[i].resp == NULL) {
			free_responses(r, n);
			return PAM_CONV_ERR;
		}
	}
	*resp = r;
	return PAM_SUCCESS;
}

static int
run_op(pam_handle_t *h, const char *op, int *rc)
{
	if (strcmp(op, "auth") == 0)
		*rc = pam_authenticate(h, 0);
	else if (strcmp(op, "acct") == 0)
		*rc = pam_acct_mgmt(h, 0);
	else if (strcmp(op, "setcred") == 0)
		*rc = pam_setcred(h, PAM_ESTABLISH_CRED);
	else if (strcmp(op, "open") == 0)
		*rc = pam_open_session(h, 0);
	else if (strcmp(op, "close") == 0)
		*rc = pam_close_session(h, 0);
	else if (strcmp(op, "chauthtok") == 0)
		*rc = pam_chauthtok(h, 0);
	else if (strcmp(op, "chauthtok-expired") == 0)
		*rc = pam_chauthtok(h, PAM_CHANGE_EXPIRED_AUTHTOK);
	else
		return -1;
	return 0;
}

static void
usage(void)
{
	fputs("usage: pam-driver [-c CONFDIR] [-r RHOST] [-u UID] SERVICE USER OP...\n", stderr);
}

int
main(int argc, char **argv)
{
	struct pam_conv conv = { conversation, NULL };
	const char *confdir = NULL, *rhost = NULL, *ruid = NULL;
	pam_handle_t *h = NULL;
	int i = 1, rc = PAM_SUCCESS, last = PAM_SUCCESS;

	for (; i + 1 < argc && argv[i][0] == '-'; i += 2) {
		if (strcmp(argv[i], "-c") == 0)
			confdir = argv[i + 1];
		else if (strcmp(argv[i], "-r") == 0)
			rhost = argv[i + 1];
		else if (strcmp(argv[i], "-u") == 0)
			ruid = argv[i + 1];
		else
			break;
	}
	if (ruid != NULL &&
	    setresuid((uid_t)strtoul(ruid, NULL, 10), geteuid(), geteuid()) != 0) {
		perror("pam-driver: setresuid");
		return 1;
	}
	if (argc - i < 3) {
		usage();
		return 2;
	}
	if (pam_start_confdir(argv[i], argv[i + 1], &conv, confdir, &h) != PAM_SUCCESS) {
		fputs("pam-driver: pam_start failed\n", stderr);
		return 1;
	}
	if (rhost != NULL && pam_set_item(h, PAM_RHOST, rhost) != PAM_SUCCESS) {
		pam_end(h, PAM_SYSTEM_ERR);
		return 1;
	}
	for (i += 2; i < argc; i++) {
		if (run_op(h, argv[i], &rc) != 0) {
			usage();
			pam_end(h, PAM_SYSTEM_ERR);
			return 2;
		}
		printf("RESULT %s %d %s\n", argv[i], rc, pam_strerror(h, rc));
		fflush(stdout);
		last = rc;
	}
	pam_end(h, last);
	return 0;
}
