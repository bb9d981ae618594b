/*
 * test_dlopen_pam.c - load the built pam_kenpo.so, check what it exports
 * and needs, and drive it through the real libpam against a scripted
 * kenpod.
 *
 * The exports and the needed libraries are read from the module's own ELF
 * file, as test_dlopen_nss.c does.  The PAM transactions run through
 * pam_start_confdir() with a service file in a temporary directory, so
 * nothing in /etc is read or touched; the conversation is scripted and
 * records every message, and the scripted kenpod records every request, so
 * each test checks both what the member sees and what kenpod was asked.
 */
#include "autoconfig.h"

#include <arpa/inet.h>
#include <dlfcn.h>
#include <elf.h>
#include <link.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "elfcheck.h"
#include "fakekenpod.h"

#include <security/pam_appl.h>

#include "i18n.h"
#include "kenpo-proto.h"
#include "policy.h"
#include "prototab.h"

#define SERVICE "kenpo-test"
/* A numeric address: libpam's audit record would resolve a name in DNS. */
#define RHOST "192.0.2.1"
#define TICKET "Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4z"
#define PROOF "1999999999999.0123456789abcdef0123456789abcdef"
/* The member "taro" as kenpod knows it, and as this host's passwd has it
 * (main() runs the tests under nss_wrapper with the file below). */
#define TARO_UID 2000000001u
static const char passwd_file[] = "root:x:0:0:root:/root:/bin/sh\n"
				  "taro:x:2000000001:100:taro:/home/taro:/bin/sh\n"
				  "local:x:4000:4000:a local user:/home/local:/bin/sh\n";
static const char group_file[] = "root:x:0:\nusers:x:100:\nlocal:x:4000:\n";

static const char *const pam_functions[] = {
	"pam_sm_authenticate", "pam_sm_setcred",       "pam_sm_acct_mgmt",
	"pam_sm_open_session", "pam_sm_close_session", "pam_sm_chauthtok",
};
#define N_FUNCTIONS (sizeof(pam_functions) / sizeof(pam_functions[0]))

static struct {
	char path[4096];
	void *handle;
	/* pam_wrapper's test modules: items are for modules only, so these
	 * set them from the environment before pam_kenpo and show them to
	 * the test (pam_getenv) after it.  "" when not installed. */
	char set_items[256];
	char get_items[256];
} mod;

static const char *const wrapper_module_dirs[] = {
	"/usr/lib/x86_64-linux-gnu/pam_wrapper",
	"/usr/lib/aarch64-linux-gnu/pam_wrapper",
	"/usr/lib64/pam_wrapper",
	"/usr/lib/pam_wrapper",
};

static void
find_wrapper_module(const char *name, char *out, size_t outsz)
{
	size_t i;

	out[0] = '\0';
	for (i = 0; i < sizeof(wrapper_module_dirs) / sizeof(wrapper_module_dirs[0]); i++) {
		snprintf(out, outsz, "%s/%s", wrapper_module_dirs[i], name);
		if (access(out, R_OK) == 0)
			return;
	}
	out[0] = '\0';
}

/* ---- scripted answers ---- */

static void
ans_auth_ok_uid(struct fake_frame *f, const char *login, uint32_t uid, uint32_t lang,
		uint32_t flags)
{
	fake_answer(f, KENPO_ACTION_AUTH_PASSWORD, KENPO_RES_OK, login, uid, lang, flags, TICKET,
		    PROOF, "");
}

static void
ans_auth_ok(struct fake_frame *f, const char *login, uint32_t lang, uint32_t flags)
{
	ans_auth_ok_uid(f, login, TARO_UID, lang, flags);
}

static void
ans_key(struct fake_frame *f, uint32_t action, uint32_t result, uint32_t lang, uint32_t seconds,
	const char *txn)
{
	fake_answer(f, action, result, "taro", TARO_UID, lang, "****@****.jp", seconds, txn);
}

/* A refusal as the table lays it out: the language, and `value` (seconds,
 * tries left, a rule mask) where the layout has it. */
static void
ans_refusal(struct fake_frame *f, uint32_t action, uint32_t result, uint32_t lang, uint32_t value)
{
	switch (kenpo_answer_layout((int32_t)action, (int32_t)result)) {
	case KENPO_LAYOUT_NONE:
		fake_answer(f, action, result);
		break;
	case KENPO_LAYOUT_LANG:
		fake_answer(f, action, result, lang);
		break;
	case KENPO_LAYOUT_LANG_SECONDS:
	case KENPO_LAYOUT_LANG_TRIES:
		fake_answer(f, action, result, lang, value);
		break;
	case KENPO_LAYOUT_MASK:
		fake_answer(f, action, result, value);
		break;
	default:
		fail_msg("no refusal: %s", kenpo_result_name((int32_t)result));
	}
}

static void
ans_lang(struct fake_frame *f, uint32_t action, uint32_t result, uint32_t lang)
{
	ans_refusal(f, action, result, lang, 0);
}

static void
ans_key_ok(struct fake_frame *f, uint32_t flags)
{
	fake_answer(f, KENPO_ACTION_AUTH_KEY, KENPO_RES_OK, "taro", TARO_UID, 1u, flags, TICKET,
		    PROOF, "");
}

static void
ans_abort_ok(struct fake_frame *f)
{
	fake_answer(f, KENPO_ACTION_AUTH_ABORT, KENPO_RES_OK);
}

/* ---- a scripted conversation ---- */

#define MAX_ANSWERS 10
#define CONV_ERROR ((const char *)-1)

static struct {
	const char *answers[MAX_ANSWERS]; /* CONV_ERROR: the prompt fails */
	int nanswers;
	int next;
	char log[8192]; /* "I: info\n", "E: error\n", "P: prompt\n" */
	int prompts;
} conv;

static void
conv_script(int n, ...)
{
	va_list ap;
	int i;

	memset(&conv, 0, sizeof(conv));
	va_start(ap, n);
	for (i = 0; i < n; i++)
		conv.answers[i] = va_arg(ap, const char *);
	va_end(ap);
	conv.nanswers = n;
}

static void
conv_log(char tag, const char *text)
{
	size_t len = strlen(conv.log);

	snprintf(conv.log + len, sizeof(conv.log) - len, "%c: %s\n", tag, text);
}

static int
conv_answer(const struct pam_message *m, struct pam_response *r)
{
	const char *a;

	conv_log('P', m->msg);
	conv.prompts++;
	if (conv.next >= conv.nanswers || conv.answers[conv.next] == CONV_ERROR) {
		conv.next++;
		return -1;
	}
	a = conv.answers[conv.next++];
	r->resp = strdup(a);
	return r->resp != NULL ? 0 : -1;
}

static int
conv_fn(int n, const struct pam_message **msg, struct pam_response **resp, void *data)
{
	struct pam_response *r = calloc((size_t)n, sizeof(*r));
	int i;

	(void)data;
	if (r == NULL)
		return PAM_BUF_ERR;
	for (i = 0; i < n; i++) {
		if (msg[i]->msg_style == PAM_TEXT_INFO) {
			conv_log('I', msg[i]->msg);
		} else if (msg[i]->msg_style == PAM_ERROR_MSG) {
			conv_log('E', msg[i]->msg);
		} else if (conv_answer(msg[i], &r[i]) != 0) {
			for (; i >= 0; i--)
				free(r[i].resp);
			free(r);
			return PAM_CONV_ERR;
		}
	}
	*resp = r;
	return PAM_SUCCESS;
}

static int
logged(const char *text)
{
	return strstr(conv.log, text) != NULL;
}

static void
assert_logged(const char *text)
{
	if (!logged(text))
		fail_msg("\"%s\" not in the conversation:\n%s", text, conv.log);
}

static void
assert_ascii_log(void)
{
	const char *p;

	for (p = conv.log; *p != '\0'; p++)
		if ((unsigned char)*p >= 0x80)
			fail_msg("not ASCII: %s", conv.log);
}

/* ---- PAM transactions ---- */

/* Write the service file: every facility with the module and `args`. */
static void
service(const char *args)
{
	static const char *const facilities[] = { "auth", "account", "password", "session" };
	char path[256];
	FILE *f;
	size_t i;

	snprintf(path, sizeof(path), "%s/%s", fake.dir, SERVICE);
	f = fopen(path, "w");
	assert_non_null(f);
	for (i = 0; i < 4; i++) {
		if (mod.set_items[0] != '\0')
			fprintf(f, "%s optional %s\n", facilities[i], mod.set_items);
		fprintf(f, "%s required %s socket=%s timeout=1000 %s\n", facilities[i], mod.path,
			fake.sock, args);
		if (mod.get_items[0] != '\0')
			fprintf(f, "%s optional %s\n", facilities[i], mod.get_items);
	}
	assert_int_equal(fclose(f), 0);
}

static pam_handle_t *
open_pam(const char *args, const char *user)
{
	static struct pam_conv c = { conv_fn, NULL };
	pam_handle_t *h = NULL;

	service(args);
	assert_int_equal(pam_start_confdir(SERVICE, user, &c, fake.dir, &h), PAM_SUCCESS);
	assert_int_equal(pam_set_item(h, PAM_RHOST, RHOST), PAM_SUCCESS);
	return h;
}

/* One pam_authenticate in its own transaction. */
static int
authenticate(const char *args, const char *user)
{
	pam_handle_t *h = open_pam(args, user);
	int rc = pam_authenticate(h, 0);

	pam_end(h, rc);
	return rc;
}

/* PAM_AUTHTOK after the module, as pam_get_items exported it. */
static void
assert_authtok(pam_handle_t *h, const char *want)
{
	const char *v;

	if (mod.get_items[0] == '\0')
		return;
	v = pam_getenv(h, "PAM_AUTHTOK");
	assert_non_null(v);
	assert_string_equal(v, want);
}

static void
need_set_items(void)
{
	if (mod.set_items[0] == '\0')
		skip();
}

/* The AUTH_PASSWORD request as the module must send it. */
static void
assert_auth_request(int i, const char *login, const char *password, uint32_t flags)
{
	struct fake_rd r = fake_request(&fake.req[i], KENPO_ACTION_AUTH_PASSWORD);

	fake_rdstr_is(&r, login);
	fake_rdstr_is(&r, password);
	assert_int_equal(fake_rd32(&r), flags);
	fake_rdstr_is(&r, SERVICE);
	fake_rdstr_is(&r, RHOST);
	fake_rd_end(&r);
}

static void
assert_txn_request(int i, uint32_t action, const char *txn, const char *key)
{
	struct fake_rd r = fake_request(&fake.req[i], action);

	fake_rdstr_is(&r, "taro");
	fake_rdstr_is(&r, txn);
	if (key != NULL) {
		fake_rdstr_is(&r, key);
		assert_int_equal(fake_rd32(&r), 0); /* flags: no ticket asked */
		fake_rdstr_is(&r, SERVICE);
		fake_rdstr_is(&r, RHOST);
	}
	fake_rd_end(&r);
}

/* ---- nss_wrapper ---- */

static int
find_asan(struct dl_phdr_info *info, size_t size, void *arg)
{
	char *out = arg;

	(void)size;
	if (info->dlpi_name != NULL && strstr(info->dlpi_name, "libasan.so") != NULL) {
		snprintf(out, 4096, "%s", info->dlpi_name);
		return 1;
	}
	return 0;
}

static int
write_text(const char *dir, const char *name, const char *text, char *path, size_t pathsz)
{
	FILE *f;

	snprintf(path, pathsz, "%s/%s", dir, name);
	f = fopen(path, "w");
	if (f == NULL)
		return -1;
	fputs(text, f);
	return fclose(f);
}

/*
 * Run the tests again under nss_wrapper with passwd_file and group_file as
 * the host's accounts: pam_kenpo checks what getpwnam(PAM_USER) names, and
 * no test may depend on /etc/passwd.  A sanitizer runtime must stay first
 * in LD_PRELOAD.  0 when already there, -1 when the re-run failed.
 */
static int
under_nss_wrapper(char **argv)
{
	static char dir[] = "/tmp/kenpo-test-nss-XXXXXX";
	char pw[128], gr[128], asan[4096] = "", preload[4400];

	if (getenv("NSS_WRAPPER_PASSWD") != NULL)
		return 0;
	if (mkdtemp(dir) == NULL || write_text(dir, "passwd", passwd_file, pw, sizeof(pw)) != 0 ||
	    write_text(dir, "group", group_file, gr, sizeof(gr)) != 0)
		return -1;
	dl_iterate_phdr(find_asan, asan);
	snprintf(preload, sizeof(preload), "%s%slibnss_wrapper.so", asan, asan[0] ? " " : "");
	if (setenv("NSS_WRAPPER_PASSWD", pw, 1) != 0 || setenv("NSS_WRAPPER_GROUP", gr, 1) != 0 ||
	    setenv("KENPO_TEST_NSS_DIR", dir, 1) != 0 || setenv("LD_PRELOAD", preload, 1) != 0)
		return -1;
	execv("/proc/self/exe", argv);
	perror("re-running the tests under nss_wrapper");
	return -1;
}

static void
nss_wrapper_cleanup(void)
{
	const char *dir = getenv("KENPO_TEST_NSS_DIR");
	char path[256];

	if (dir == NULL || strncmp(dir, "/tmp/kenpo-test-nss-", 20) != 0)
		return;
	snprintf(path, sizeof(path), "%s/passwd", dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/group", dir);
	unlink(path);
	rmdir(dir);
}

/* ---- setup ---- */

static int
group_setup(void **state)
{
	(void)state;
	if (elfcheck_module_path("pam_kenpo.so", mod.path, sizeof(mod.path)) != 0 ||
	    fake_setup("pam") != 0)
		return -1;
	find_wrapper_module("pam_set_items.so", mod.set_items, sizeof(mod.set_items));
	find_wrapper_module("pam_get_items.so", mod.get_items, sizeof(mod.get_items));
	unsetenv("PAM_AUTHTOK");
	unsetenv("PAM_OLDAUTHTOK");
	/* Messages come in the language asked for, not the environment's. */
	unsetenv("LANGUAGE");
	return 0;
}

static int
group_teardown(void **state)
{
	char path[256];

	(void)state;
	if (mod.handle != NULL)
		dlclose(mod.handle);
	snprintf(path, sizeof(path), "%s/%s", fake.dir, SERVICE);
	unlink(path);
	fake_teardown();
	nss_wrapper_cleanup();
	return 0;
}

/* ---- loading and the ABI ---- */

static void
test_dlopen_dlsym(void **state)
{
	size_t i;

	(void)state;
	mod.handle = dlopen(mod.path, RTLD_NOW | RTLD_LOCAL);
	if (mod.handle == NULL)
		fail_msg("dlopen %s: %s", mod.path, dlerror());
	for (i = 0; i < N_FUNCTIONS; i++)
		if (dlsym(mod.handle, pam_functions[i]) == NULL)
			fail_msg("%s not found", pam_functions[i]);
	/* The codec, the client stubs and the policy stay inside. */
	assert_null(dlsym(mod.handle, "kenpo_connect"));
	assert_null(dlsym(mod.handle, "kenpo_client_auth_password"));
	assert_null(dlsym(mod.handle, "kenpo_policy_check_password"));
	assert_null(dlsym(mod.handle, "kenpo_i18n_text"));
}

static void
test_exports_only_pam_sm(void **state)
{
	(void)state;
	elfcheck_exports_only(mod.path, "pam_sm_", pam_functions, N_FUNCTIONS);
}

static int
each_object(struct dl_phdr_info *info, size_t size, void *arg)
{
	int *forbidden = arg;

	(void)size;
	if (elfcheck_is_forbidden(info->dlpi_name)) {
		fprintf(stderr, "# loaded: %s\n", info->dlpi_name);
		(*forbidden)++;
	}
	return 0;
}

struct needs {
	int libc, libpam;
};

static void
needed(const char *name, void *arg)
{
	struct needs *n = arg;

	if (elfcheck_is_forbidden(name))
		fail_msg("the module needs %s", name);
	n->libc |= strncmp(name, "libc.so", 7) == 0;
	n->libpam |= strncmp(name, "libpam.so", 9) == 0;
}

static void
test_needs_no_heavy_library(void **state)
{
	struct needs n = { 0, 0 };
	int forbidden = 0;

	(void)state;
	elfcheck_each_needed(mod.path, needed, &n);
	assert_true(n.libc);
	assert_true(n.libpam);
	assert_non_null(mod.handle);
	dl_iterate_phdr(each_object, &forbidden);
	assert_int_equal(forbidden, 0);
}

/* ---- auth: password ---- */

static void
test_auth_password_only(void **state)
{
	pam_handle_t *h;
	int rc;

	(void)state;
	ans_auth_ok(&fake.reply[0], "taro", KENPO_LANG_EN, 0);
	fake_start(1);
	conv_script(1, "Secret1Pass");
	h = open_pam("lang=en", "taro");
	rc = pam_authenticate(h, 0);
	assert_int_equal(rc, PAM_SUCCESS);
	/* The password is there for the modules after this one. */
	assert_authtok(h, "Secret1Pass");
	pam_end(h, rc);
	fake_stop(1);
	assert_auth_request(0, "taro", "Secret1Pass", 0);
	assert_string_equal(conv.log, "P: Password: \n");
}

/* The profile ticket reaches the PAM environment only with `ticket`. */
static void
test_auth_ticket_option(void **state)
{
	pam_handle_t *h;
	int rc;

	(void)state;
	ans_auth_ok(&fake.reply[0], "taro", KENPO_LANG_EN, 0);
	fake_start(1);
	conv_script(1, "Secret1Pass");
	h = open_pam("lang=en", "taro");
	rc = pam_authenticate(h, 0);
	assert_int_equal(rc, PAM_SUCCESS);
	assert_null(pam_getenv(h, "KENPO_TICKET"));
	pam_end(h, rc);
	fake_stop(1);

	ans_auth_ok(&fake.reply[0], "taro", KENPO_LANG_EN, 0);
	fake_start(1);
	conv_script(1, "Secret1Pass");
	h = open_pam("lang=en ticket", "taro");
	rc = pam_authenticate(h, 0);
	assert_int_equal(rc, PAM_SUCCESS);
	assert_non_null(pam_getenv(h, "KENPO_TICKET"));
	assert_string_equal(pam_getenv(h, "KENPO_TICKET"), TICKET);
	pam_end(h, rc);
	fake_stop(1);
}

static void
test_auth_use_first_pass(void **state)
{
	pam_handle_t *h;
	int rc;

	(void)state;
	need_set_items();
	/* No item: use_first_pass fails without asking or calling kenpod. */
	conv_script(0);
	fake_start(0);
	assert_int_equal(authenticate("use_first_pass", "taro"), PAM_AUTHTOK_RECOVERY_ERR);
	fake_stop(0);
	assert_int_equal(conv.prompts, 0);

	/* try_first_pass takes the item an earlier module set. */
	ans_auth_ok(&fake.reply[0], "taro", KENPO_LANG_EN, 0);
	fake_start(1);
	h = open_pam("try_first_pass", "taro");
	setenv("PAM_AUTHTOK", "Earlier1Pass", 1);
	rc = pam_authenticate(h, 0);
	unsetenv("PAM_AUTHTOK");
	assert_int_equal(rc, PAM_SUCCESS);
	pam_end(h, rc);
	fake_stop(1);
	assert_int_equal(conv.prompts, 0);
	assert_auth_request(0, "taro", "Earlier1Pass", 0);
}

static void
test_auth_wrong_password(void **state)
{
	(void)state;
	/* English, and the same words whatever kenpod's reason. */
	ans_lang(&fake.reply[0], KENPO_ACTION_AUTH_PASSWORD, KENPO_RES_AUTH_ERR, KENPO_LANG_EN);
	fake_start(1);
	conv_script(1, "Wrong1Pass");
	assert_int_equal(authenticate("", "nobody"), PAM_AUTH_ERR);
	fake_stop(1);
	assert_string_equal(conv.log,
			    "P: \xe3\x83\x91\xe3\x82\xb9\xe3\x83\xaf\xe3\x83\xbc\xe3\x83\x89: \n"
			    "E: The login ID or password is not correct.\n");

	/* Japanese, the society's language. */
	ans_lang(&fake.reply[0], KENPO_ACTION_AUTH_PASSWORD, KENPO_RES_AUTH_ERR, KENPO_LANG_JA);
	fake_start(1);
	conv_script(1, "Wrong1Pass");
	assert_int_equal(authenticate("", "nobody"), PAM_AUTH_ERR);
	fake_stop(1);
	assert_logged(
		"E: \xe3\x83\xad\xe3\x82\xb0\xe3\x82\xa4\xe3\x83\xb3ID\xe3\x81\xbe\xe3\x81\x9f"
		"\xe3\x81\xaf\xe3\x83\x91\xe3\x82\xb9\xe3\x83\xaf\xe3\x83\xbc\xe3\x83\x89\xe3"
		"\x81\x8c\xe6\xad\xa3\xe3\x81\x97\xe3\x81\x8f\xe3\x81\x82\xe3\x82\x8a\xe3\x81"
		"\xbe\xe3\x81\x9b\xe3\x82\x93\xe3\x80\x82\n");
}

/* Each refusal: its PAM code and a message naming the reason. */
static void
test_auth_refusals(void **state)
{
	static const struct {
		uint32_t result;
		int two_fields;
		uint32_t value;
		int pam;
		const char *text;
	} cases[] = {
		{ KENPO_RES_LOCKED, 1, 1800, PAM_AUTH_ERR, "try again in 30 minutes." },
		{ KENPO_RES_LOCKED, 1, 0, PAM_AUTH_ERR, "contact your health insurance society" },
		{ KENPO_RES_DELAY, 1, 45, PAM_AUTH_ERR, "Please wait 45 seconds" },
		{ KENPO_RES_DELAY, 1, 61, PAM_AUTH_ERR, "Please wait 2 minutes" },
		{ KENPO_RES_DISABLED, 0, 0, PAM_AUTH_ERR, "suspended" },
		{ KENPO_RES_NOT_REGISTERED, 0, 0, PAM_AUTH_ERR, "registration" },
		{ KENPO_RES_MAIL_FAILED, 0, 0, PAM_AUTHINFO_UNAVAIL, "could not be sent" },
		{ KENPO_RES_UNAVAIL, 0, 0, PAM_AUTHINFO_UNAVAIL, "not available" },
		/* INTERNAL carries no language: the module's own (ja) */
		{ KENPO_RES_INTERNAL, 0, 0, PAM_AUTHINFO_UNAVAIL,
		  "\xe3\x81\x94\xe5\x88\xa9\xe7\x94\xa8\xe3\x81\x84\xe3\x81\x9f\xe3\x81\xa0\xe3\x81\x91\xe3\x81\xbe\xe3\x81\x9b\xe3\x82\x93" },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if (cases[i].two_fields)
			ans_refusal(&fake.reply[0], KENPO_ACTION_AUTH_PASSWORD, cases[i].result,
				    KENPO_LANG_EN, cases[i].value);
		else
			ans_lang(&fake.reply[0], KENPO_ACTION_AUTH_PASSWORD, cases[i].result,
				 KENPO_LANG_EN);
		fake_start(1);
		conv_script(1, "Secret1Pass");
		assert_int_equal(authenticate("", "taro"), cases[i].pam);
		fake_stop(1);
		assert_logged(cases[i].text);
	}
}

static void
test_auth_kenpod_absent_or_stalled(void **state)
{
	int64_t t0, dt;
	int lfd;

	(void)state;
	unlink(fake.sock);
	conv_script(1, "Secret1Pass");
	assert_int_equal(authenticate("lang=en", "taro"), PAM_AUTHINFO_UNAVAIL);
	assert_logged("E: The login service is not available at the moment.");

	/* Listening, never answering: the deadline holds. */
	lfd = fake_listen();
	conv_script(1, "Secret1Pass");
	t0 = fake_now_ms();
	assert_int_equal(authenticate("lang=en timeout=300", "taro"), PAM_AUTHINFO_UNAVAIL);
	dt = fake_now_ms() - t0;
	assert_true(dt >= 290 && dt < 2000);
	close(lfd);
	unlink(fake.sock);
}

/* Malformed answers are never a success. */
static void
test_auth_malformed_answers(void **state)
{
	struct fake_frame *f = &fake.reply[0];
	int i;

	(void)state;
	for (i = 0; i < 9; i++) {
		if (i == 0) { /* the answer to another action */
			fake_begin(f, KENPO_ACTION_ACCOUNT, KENPO_RES_OK);
			fake_put32(f, 0);
			fake_end(f);
		} else if (i == 1) { /* trailing bytes */
			ans_auth_ok(f, "taro", 0, 0);
			fake_put32(f, 7);
			fake_end(f);
		} else if (i == 2 || i == 5) { /* a result AUTH_PASSWORD never gives */
			fake_begin(f, KENPO_ACTION_AUTH_PASSWORD,
				   i == 2 ? KENPO_RES_COOLDOWN : 99);
			fake_put32(f, 1);
			fake_put32(f, 3);
			fake_end(f);
		} else if (i == 3) { /* OK without its record */
			fake_begin(f, KENPO_ACTION_AUTH_PASSWORD, KENPO_RES_OK);
			fake_end(f);
		} else if (i == 6) { /* the AUTH record short of its last field */
			ans_auth_ok(f, "taro", 0, 0);
			f->n -= 4;
			fake_end(f);
		} else if (i == 7) { /* a failure with a field it never carries */
			fake_begin(f, KENPO_ACTION_AUTH_PASSWORD, KENPO_RES_INTERNAL);
			fake_put32(f, KENPO_LANG_EN);
			fake_end(f);
		} else if (i == 8) { /* AUTH_ERR short of its language */
			fake_begin(f, KENPO_ACTION_AUTH_PASSWORD, KENPO_RES_AUTH_ERR);
			fake_end(f);
		} else { /* a masked address with an escape */
			ans_key(f, KENPO_ACTION_AUTH_PASSWORD, KENPO_RES_KEY_SENT, 1, 600, "t");
			memcpy(f->d + f->n - 4 - 1 - 4 - 12, "\x1b[2J", 4);
		}
		fake_start(1);
		conv_script(2, "Secret1Pass", "1234567890");
		assert_int_equal(authenticate("lang=en", "taro"), PAM_AUTHINFO_UNAVAIL);
		fake_stop(1);
		assert_int_equal(conv.prompts, 1);
	}
}

/* ---- auth: the key ---- */

static void
test_key_right_first_time(void **state)
{
	pam_handle_t *h;
	int rc;

	(void)state;
	ans_key(&fake.reply[0], KENPO_ACTION_AUTH_PASSWORD, KENPO_RES_KEY_SENT, KENPO_LANG_EN,
		600, "txn-1");
	ans_key_ok(&fake.reply[1], 0);
	fake_start(2);
	conv_script(2, "Secret1Pass", "0123456789");
	h = open_pam("lang=en", "taro");
	rc = pam_authenticate(h, 0);
	assert_int_equal(rc, PAM_SUCCESS);
	assert_authtok(h, "Secret1Pass");
	pam_end(h, rc);
	/* Succeeded: no AUTH_ABORT, neither now nor at pam_end. */
	fake_stop(2);
	assert_auth_request(0, "taro", "Secret1Pass", 0);
	assert_txn_request(1, KENPO_ACTION_AUTH_KEY, "txn-1", "0123456789");
	assert_logged(
		"I: A one-time key was sent to ****@****.jp. It is valid for 10 minutes.\n");
	assert_logged("P: One-time key: \n");
	assert_ascii_log();
}

static void
test_key_japanese_info_line(void **state)
{
	(void)state;
	ans_key(&fake.reply[0], KENPO_ACTION_AUTH_PASSWORD, KENPO_RES_KEY_SENT, KENPO_LANG_JA,
		600, "txn-1");
	ans_key_ok(&fake.reply[1], 0);
	fake_start(2);
	conv_script(2, "Secret1Pass", "0123456789");
	assert_int_equal(authenticate("", "taro"), PAM_SUCCESS);
	fake_stop(2);
	/* 「****@****.jp 宛に暗証キーを送信しました。暗証キーの有効期限は10分です。」 */
	assert_logged(
		"I: ****@****.jp \xe5\xae\x9b\xe3\x81\xab\xe6\x9a\x97\xe8\xa8\xbc\xe3\x82\xad"
		"\xe3\x83\xbc\xe3\x82\x92\xe9\x80\x81\xe4\xbf\xa1\xe3\x81\x97\xe3\x81\xbe\xe3"
		"\x81\x97\xe3\x81\x9f\xe3\x80\x82\xe6\x9a\x97\xe8\xa8\xbc\xe3\x82\xad\xe3\x83"
		"\xbc\xe3\x81\xae\xe6\x9c\x89\xe5\x8a\xb9\xe6\x9c\x9f\xe9\x99\x90\xe3\x81\xaf"
		"10\xe5\x88\x86\xe3\x81\xa7\xe3\x81\x99\xe3\x80\x82\n");
}

static void
test_key_wrong_three_times_aborts(void **state)
{
	(void)state;
	ans_key(&fake.reply[0], KENPO_ACTION_AUTH_PASSWORD, KENPO_RES_KEY_SENT, 1, 600, "txn-1");
	ans_refusal(&fake.reply[1], KENPO_ACTION_AUTH_KEY, KENPO_RES_KEY_WRONG, 1, 4);
	ans_refusal(&fake.reply[2], KENPO_ACTION_AUTH_KEY, KENPO_RES_KEY_WRONG, 1, 3);
	ans_refusal(&fake.reply[3], KENPO_ACTION_AUTH_KEY, KENPO_RES_KEY_WRONG, 1, 2);
	ans_abort_ok(&fake.reply[4]);
	fake_start(5);
	conv_script(5, "Secret1Pass", "1111111111", "2222222222", "3333333333", "4444444444");
	assert_int_equal(authenticate("", "taro"), PAM_AUTH_ERR);
	fake_stop(5);
	/* Tries left: the lower of kenpod's count and this transaction's. */
	assert_logged("E: The one-time key is not correct. You can try 2 more times.\n");
	assert_logged("E: The one-time key is not correct. You can try 1 more time.\n");
	assert_logged("E: The one-time key is not correct. Please log in again.\n");
	assert_int_equal(conv.prompts, 4);
	assert_txn_request(3, KENPO_ACTION_AUTH_KEY, "txn-1", "3333333333");
	/* The conversation ended without success: the key is voided. */
	assert_txn_request(4, KENPO_ACTION_AUTH_ABORT, "txn-1", NULL);
}

static void
test_key_prompts_option(void **state)
{
	(void)state;
	ans_key(&fake.reply[0], KENPO_ACTION_AUTH_PASSWORD, KENPO_RES_KEY_SENT, 1, 600, "t");
	ans_refusal(&fake.reply[1], KENPO_ACTION_AUTH_KEY, KENPO_RES_KEY_WRONG, 1, 4);
	ans_abort_ok(&fake.reply[2]);
	fake_start(3);
	conv_script(3, "Secret1Pass", "1111111111", "2222222222");
	assert_int_equal(authenticate("key_prompts=1", "taro"), PAM_AUTH_ERR);
	fake_stop(3);
	assert_int_equal(conv.prompts, 2);
}

static void
test_key_void_and_expired(void **state)
{
	(void)state;
	ans_key(&fake.reply[0], KENPO_ACTION_AUTH_PASSWORD, KENPO_RES_KEY_PENDING, 1, 100, "t");
	ans_refusal(&fake.reply[1], KENPO_ACTION_AUTH_KEY, KENPO_RES_KEY_WRONG, 1, 0);
	ans_abort_ok(&fake.reply[2]);
	fake_start(3);
	conv_script(2, "Secret1Pass", "1111111111");
	assert_int_equal(authenticate("", "taro"), PAM_AUTH_ERR);
	fake_stop(3);
	assert_logged("I: The one-time key sent to ****@****.jp is valid for 2 minutes more.\n");
	assert_logged("no longer valid because a wrong key was entered too many times");

	ans_key(&fake.reply[0], KENPO_ACTION_AUTH_PASSWORD, KENPO_RES_KEY_SENT, 1, 600, "t");
	ans_lang(&fake.reply[1], KENPO_ACTION_AUTH_KEY, KENPO_RES_KEY_VOID, 1);
	ans_abort_ok(&fake.reply[2]);
	fake_start(3);
	conv_script(2, "Secret1Pass", "1111111111");
	assert_int_equal(authenticate("", "taro"), PAM_AUTH_ERR);
	fake_stop(3);
	assert_logged("no longer valid because a wrong key was entered too many times");

	ans_key(&fake.reply[0], KENPO_ACTION_AUTH_PASSWORD, KENPO_RES_KEY_SENT, 1, 600, "t");
	ans_lang(&fake.reply[1], KENPO_ACTION_AUTH_KEY, KENPO_RES_KEY_EXPIRED, 1);
	ans_abort_ok(&fake.reply[2]);
	fake_start(3);
	conv_script(2, "Secret1Pass", "1111111111");
	assert_int_equal(authenticate("", "taro"), PAM_AUTH_ERR);
	fake_stop(3);
	assert_logged("E: The one-time key has expired.");
}

static void
test_key_not_ten_digits(void **state)
{
	(void)state;
	ans_key(&fake.reply[0], KENPO_ACTION_AUTH_PASSWORD, KENPO_RES_KEY_SENT, 1, 600, "t");
	ans_key_ok(&fake.reply[1], 0);
	fake_start(2);
	conv_script(4, "Secret1Pass", "12345", "12345678901", "0000000000");
	assert_int_equal(authenticate("", "taro"), PAM_SUCCESS);
	/* kenpod heard only the real attempt. */
	fake_stop(2);
	assert_txn_request(1, KENPO_ACTION_AUTH_KEY, "t", "0000000000");
	assert_logged("E: The one-time key is the 10-digit number in the mail.\n");
}

static void
test_key_resend_and_cooldown(void **state)
{
	(void)state;
	ans_key(&fake.reply[0], KENPO_ACTION_AUTH_PASSWORD, KENPO_RES_KEY_SENT, 1, 600, "txn-1");
	ans_refusal(&fake.reply[1], KENPO_ACTION_AUTH_RESEND, KENPO_RES_COOLDOWN, 1, 42);
	ans_key(&fake.reply[2], KENPO_ACTION_AUTH_RESEND, KENPO_RES_KEY_SENT, 1, 600, "txn-2");
	ans_key_ok(&fake.reply[3], 0);
	fake_start(4);
	conv_script(4, "Secret1Pass", "", "", "5555555555");
	assert_int_equal(authenticate("", "taro"), PAM_SUCCESS);
	fake_stop(4);
	assert_txn_request(1, KENPO_ACTION_AUTH_RESEND, "txn-1", NULL);
	assert_txn_request(2, KENPO_ACTION_AUTH_RESEND, "txn-1", NULL);
	/* The new key's handle from then on. */
	assert_txn_request(3, KENPO_ACTION_AUTH_KEY, "txn-2", "5555555555");
	assert_logged("E: A new key can be requested in 42 seconds.");
	assert_logged("I: A new one-time key was sent to ****@****.jp; the previous key is no "
		      "longer valid. The new key is valid for 10 minutes.\n");
}

static void
test_key_conversation_fails(void **state)
{
	(void)state;
	/* Interactive: the key dies with the conversation. */
	ans_key(&fake.reply[0], KENPO_ACTION_AUTH_PASSWORD, KENPO_RES_KEY_SENT, 1, 600, "txn-1");
	ans_abort_ok(&fake.reply[1]);
	fake_start(2);
	conv_script(2, "Secret1Pass", CONV_ERROR);
	assert_int_equal(authenticate("", "taro"), PAM_AUTH_ERR);
	fake_stop(2);
	assert_txn_request(1, KENPO_ACTION_AUTH_ABORT, "txn-1", NULL);

	/* split: the key survives for the next request. */
	ans_key(&fake.reply[0], KENPO_ACTION_AUTH_PASSWORD, KENPO_RES_KEY_SENT, 1, 600, "txn-1");
	fake_start(1);
	conv_script(2, "Secret1Pass", CONV_ERROR);
	assert_int_equal(authenticate("split", "taro"), PAM_AUTH_ERR);
	fake_stop(1);
	assert_auth_request(0, "taro", "Secret1Pass", KENPO_AUTHF_SPLIT);
	assert_logged("I: A one-time key was sent to ****@****.jp.");
	assert_logged("P: One-time key: \n");
}

static void
test_split_second_request(void **state)
{
	(void)state;
	ans_key(&fake.reply[0], KENPO_ACTION_AUTH_PASSWORD, KENPO_RES_KEY_PENDING, 1, 300, "t");
	ans_refusal(&fake.reply[1], KENPO_ACTION_AUTH_KEY, KENPO_RES_KEY_WRONG, 1, 2);
	fake_start(2);
	conv_script(2, "Secret1Pass", "9999999999");
	/* A wrong key in split mode: no abort either. */
	assert_int_equal(authenticate("split key_prompts=1", "taro"), PAM_AUTH_ERR);
	fake_stop(2);

	ans_key(&fake.reply[0], KENPO_ACTION_AUTH_PASSWORD, KENPO_RES_KEY_PENDING, 1, 300, "t");
	ans_key_ok(&fake.reply[1], 0);
	fake_start(2);
	conv_script(2, "Secret1Pass", "8888888888");
	assert_int_equal(authenticate("split", "taro"), PAM_SUCCESS);
	fake_stop(2);
	assert_logged("I: The one-time key sent to ****@****.jp is valid for 5 minutes more.\n");
}

static void
test_single_field(void **state)
{
	(void)state;
	ans_key(&fake.reply[0], KENPO_ACTION_AUTH_PASSWORD, KENPO_RES_KEY_SENT, 1, 600, "t");
	fake_start(1);
	conv_script(2, "Secret1Pass", "1234567890");
	assert_int_equal(authenticate("single", "taro"), PAM_AUTH_ERR);
	/* No key prompt, no abort. */
	fake_stop(1);
	assert_int_equal(conv.prompts, 1);
	assert_auth_request(0, "taro", "Secret1Pass", KENPO_AUTHF_SINGLE);
	assert_logged(
		"I: A one-time key was sent to ****@****.jp. It is valid for 10 minutes.\n");
	assert_logged("I: Please log in again, entering your password immediately followed by "
		      "the 10-digit key.\n");

	ans_auth_ok(&fake.reply[0], "taro", 1, 0);
	fake_start(1);
	conv_script(1, "Secret1Pass0123456789");
	assert_int_equal(authenticate("single split", "taro"), PAM_SUCCESS);
	fake_stop(1);
	assert_auth_request(0, "taro", "Secret1Pass0123456789",
			    KENPO_AUTHF_SINGLE | KENPO_AUTHF_SPLIT);

	/* The right password with a wrong key. */
	ans_refusal(&fake.reply[0], KENPO_ACTION_AUTH_PASSWORD, KENPO_RES_KEY_WRONG, 1, 3);
	fake_start(1);
	conv_script(1, "Secret1Pass0123456780");
	assert_int_equal(authenticate("single", "taro"), PAM_AUTH_ERR);
	fake_stop(1);
	assert_logged("E: The one-time key is not correct. You can try 3 more times.\n"
		      "I: Please log in again, entering your password immediately followed by "
		      "the 10-digit key.\n");
	ans_lang(&fake.reply[0], KENPO_ACTION_AUTH_PASSWORD, KENPO_RES_KEY_VOID, 1);
	fake_start(1);
	conv_script(1, "Secret1Pass0123456780");
	assert_int_equal(authenticate("single", "taro"), PAM_AUTH_ERR);
	fake_stop(1);
	assert_logged("no longer valid because a wrong key was entered too many times");
}

/* ---- account ---- */

static int
account(const char *args)
{
	pam_handle_t *h = open_pam(args, "taro");
	int rc = pam_acct_mgmt(h, 0);

	pam_end(h, rc);
	return rc;
}

static void
test_account(void **state)
{
	static const struct {
		uint32_t result;
		int fields; /* 0, 1 (lang) or 2 (lang, seconds; or lang, login, uid) */
		int pam;
		const char *text;
	} cases[] = {
		{ KENPO_RES_OK, 2, PAM_SUCCESS, NULL },
		{ KENPO_RES_MUST_CHANGE, 2, PAM_NEW_AUTHTOK_REQD, "must be changed" },
		{ KENPO_RES_OK, 1, PAM_AUTHINFO_UNAVAIL, NULL }, /* malformed */
		{ KENPO_RES_DISABLED, 1, PAM_ACCT_EXPIRED, "suspended" },
		{ KENPO_RES_DISABLED, 0, PAM_AUTHINFO_UNAVAIL, NULL }, /* short */
		{ KENPO_RES_LOCKED, 2, PAM_PERM_DENIED, "try again in 5 minutes" },
		{ KENPO_RES_LOCKED, 1, PAM_AUTHINFO_UNAVAIL, NULL }, /* short */
		{ KENPO_RES_NOTFOUND, 0, PAM_USER_UNKNOWN, NULL },
		{ KENPO_RES_NOTFOUND, 1, PAM_AUTHINFO_UNAVAIL, NULL }, /* long */
		{ KENPO_RES_UNAVAIL, 1, PAM_AUTHINFO_UNAVAIL, NULL },
		{ KENPO_RES_UNAVAIL, 0, PAM_AUTHINFO_UNAVAIL, NULL },  /* short */
		{ KENPO_RES_KEY_SENT, 1, PAM_AUTHINFO_UNAVAIL, NULL }, /* unknown here */
	};
	struct fake_rd r;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		fake_begin(&fake.reply[0], KENPO_ACTION_ACCOUNT, cases[i].result);
		if (cases[i].fields > 0)
			fake_put32(&fake.reply[0], KENPO_LANG_EN);
		if (cases[i].fields > 1 && cases[i].result == KENPO_RES_LOCKED)
			fake_put32(&fake.reply[0], 300);
		else if (cases[i].fields > 1) {
			fake_putstr(&fake.reply[0], "taro");
			fake_put32(&fake.reply[0], TARO_UID);
		}
		fake_end(&fake.reply[0]);
		fake_start(1);
		conv_script(0);
		assert_int_equal(account("lang=en"), cases[i].pam);
		fake_stop(1);
		if (cases[i].text != NULL)
			assert_logged(cases[i].text);
		else
			assert_string_equal(conv.log, "");
		r = fake_request(&fake.req[0], KENPO_ACTION_ACCOUNT);
		fake_rdstr_is(&r, "taro");
		fake_rdstr_is(&r, RHOST);
		fake_rd_end(&r);
	}
	/* kenpod away: no message, AUTHINFO_UNAVAIL. */
	conv_script(0);
	assert_int_equal(account(""), PAM_AUTHINFO_UNAVAIL);
	assert_string_equal(conv.log, "");
}

/* ---- session ---- */

static int
session(const char *args, int flags)
{
	pam_handle_t *h = open_pam(args, "taro");
	int rc = pam_open_session(h, flags);

	assert_int_equal(pam_close_session(h, 0), PAM_SUCCESS);
	pam_end(h, rc);
	return rc;
}

static void
ans_session(const char *previous, uint32_t lang)
{
	fake_begin(&fake.reply[0], KENPO_ACTION_SESSION_OPEN, KENPO_RES_OK);
	fake_put32(&fake.reply[0], lang);
	fake_putstr(&fake.reply[0], previous);
	fake_end(&fake.reply[0]);
}

static void
test_session(void **state)
{
	struct fake_rd r;

	(void)state;
	ans_session("2023/03/24 10:33:06", KENPO_LANG_JA);
	fake_start(1);
	conv_script(0);
	assert_int_equal(session("", 0), PAM_SUCCESS);
	fake_stop(1);
	/* 「前回ログイン日時 2023/03/24 10:33:06」 */
	assert_string_equal(conv.log,
			    "I: \xe5\x89\x8d\xe5\x9b\x9e\xe3\x83\xad\xe3\x82\xb0\xe3\x82"
			    "\xa4\xe3\x83\xb3\xe6\x97\xa5\xe6\x99\x82 2023/03/24 10:33:06\n");
	r = fake_request(&fake.req[0], KENPO_ACTION_SESSION_OPEN);
	fake_rdstr_is(&r, "taro");
	fake_rdstr_is(&r, SERVICE);
	fake_rdstr_is(&r, RHOST);
	fake_rd_end(&r);

	ans_session("2023/03/24 10:33:06", KENPO_LANG_JA);
	fake_start(1);
	conv_script(0);
	assert_int_equal(session("lang=en", 0), PAM_SUCCESS);
	fake_stop(1);
	assert_string_equal(conv.log, "I: Last login: 2023/03/24 10:33:06\n");

	/* The first login, a malformed time, PAM_SILENT: no line. */
	ans_session("", KENPO_LANG_EN);
	fake_start(1);
	conv_script(0);
	assert_int_equal(session("", 0), PAM_SUCCESS);
	fake_stop(1);
	ans_session("2023/03/24 10:33:06\x1b", KENPO_LANG_EN);
	fake_start(1);
	assert_int_equal(session("", 0), PAM_SUCCESS);
	fake_stop(1);
	ans_session("2023/03/24 10:33:06", KENPO_LANG_EN);
	fake_start(1);
	assert_int_equal(session("", PAM_SILENT), PAM_SUCCESS);
	fake_stop(1);
	assert_string_equal(conv.log, "");

	/* kenpod away never fails a session. */
	assert_int_equal(session("", 0), PAM_SUCCESS);
}

/* ---- password change ---- */

static void
ans_account_in(struct fake_frame *f, uint32_t result)
{
	if (result != KENPO_RES_OK && result != KENPO_RES_MUST_CHANGE) {
		ans_lang(f, KENPO_ACTION_ACCOUNT, result, KENPO_LANG_EN);
		return;
	}
	fake_begin(f, KENPO_ACTION_ACCOUNT, result);
	fake_put32(f, KENPO_LANG_EN);
	fake_putstr(f, "taro");
	fake_put32(f, TARO_UID);
	fake_end(f);
}

static void
ans_account(uint32_t result)
{
	ans_account_in(&fake.reply[0], result);
}

/* PASSWORD_CHANGE with the proof of the login kept in the handle. */
static void
assert_change_request(int i, const char *old, const char *new_pw, uint32_t flags,
		      const char *proof)
{
	struct fake_rd r = fake_request(&fake.req[i], KENPO_ACTION_PASSWORD_CHANGE);

	fake_rdstr_is(&r, "taro");
	fake_rdstr_is(&r, old);
	fake_rdstr_is(&r, new_pw);
	assert_int_equal(fake_rd32(&r), flags);
	fake_rdstr_is(&r, proof);
	fake_rdstr_is(&r, RHOST);
	fake_rd_end(&r);
}

/* A member (not root) changing the password logs in first (password and
 * key where kenpod asks for it): here kenpod answers the password alone
 * with OK and a proof, at reply i.  The next reply's index. */
static int
member_logs_in(int i)
{
	if (getuid() == 0)
		return i;
	ans_auth_ok(&fake.reply[i], "taro", KENPO_LANG_EN, 0);
	return i + 1;
}

/* A temporary password: auth keeps it, account asks for the change, and
 * the forced change sends it as the old password without asking. */
static void
test_temporary_password_change(void **state)
{
	pam_handle_t *h;
	int rc;

	(void)state;
	ans_auth_ok(&fake.reply[0], "taro", KENPO_LANG_EN, KENPO_AUTHR_MUST_CHANGE);
	ans_account_in(&fake.reply[1], KENPO_RES_MUST_CHANGE);
	ans_account_in(&fake.reply[2], KENPO_RES_MUST_CHANGE);
	fake_begin(&fake.reply[3], KENPO_ACTION_PASSWORD_CHANGE, KENPO_RES_OK);
	fake_end(&fake.reply[3]);
	fake_start(4);
	conv_script(3, "P0a40aca", "NewPass123", "NewPass123");
	h = open_pam("", "taro");
	assert_int_equal(pam_authenticate(h, 0), PAM_SUCCESS);
	assert_int_equal(pam_acct_mgmt(h, 0), PAM_NEW_AUTHTOK_REQD);
	rc = pam_chauthtok(h, PAM_CHANGE_EXPIRED_AUTHTOK);
	assert_int_equal(rc, PAM_SUCCESS);
	assert_authtok(h, "NewPass123");
	pam_end(h, rc);
	fake_stop(4);
	assert_change_request(3, "P0a40aca", "NewPass123", 0, PROOF);
	assert_int_equal(conv.prompts, 3);
	assert_logged("P: New password: \nP: Retype new password: \n");
	assert_logged("I: Your password has been changed.\n");
}

static void
test_change_rules_checked_first(void **state)
{
	pam_handle_t *h;
	int rc;

	(void)state;
	/* Every broken rule in one message, and kenpod is not asked to change.
	 * root is asked for no old password. */
	ans_account(KENPO_RES_OK);
	fake_start(member_logs_in(1));
	if (getuid() == 0)
		conv_script(1, "abc!");
	else
		conv_script(2, "Old1Passw", "abc!");
	h = open_pam("", "taro");
	rc = pam_chauthtok(h, 0);
	assert_int_equal(rc, PAM_AUTHTOK_ERR);
	pam_end(h, rc);
	fake_stop(1);
	assert_logged("E: The new password cannot be used for these reasons:\n"
		      "The password must be at least 8 characters long.\n"
		      "The password may contain only upper-case letters");
	assert_logged("\nThe password must contain at least one upper-case letter (A-Z).\n"
		      "The password must contain at least one digit (0-9).\n");

	/* Two different typings. */
	ans_account(KENPO_RES_OK);
	fake_start(member_logs_in(1));
	if (getuid() == 0)
		conv_script(2, "NewPass123", "NewPass124");
	else
		conv_script(3, "Old1Passw", "NewPass123", "NewPass124");
	h = open_pam("", "taro");
	rc = pam_chauthtok(h, 0);
	assert_int_equal(rc, PAM_AUTHTOK_ERR);
	pam_end(h, rc);
	fake_stop(1);
	assert_logged("E: The two new passwords do not match.\n");
}

static void
test_change_by_member_or_root(void **state)
{
	pam_handle_t *h;
	int rc, root = getuid() == 0, n;

	(void)state;
	ans_account(KENPO_RES_OK);
	n = member_logs_in(1);
	fake_answer(&fake.reply[n], KENPO_ACTION_PASSWORD_CHANGE, KENPO_RES_POLICY,
		    (uint32_t)KENPO_RULE_PW_NO_DIGIT);
	fake_start(n + 1);
	if (root)
		conv_script(2, "NewPass123", "NewPass123");
	else
		conv_script(3, "Old1Passw", "NewPass123", "NewPass123");
	h = open_pam("", "taro");
	rc = pam_chauthtok(h, 0);
	assert_int_equal(rc, PAM_AUTHTOK_ERR);
	pam_end(h, rc);
	fake_stop(n + 1);
	/* root changes without the old password, a member with it and the
	 * proof of the login made for it. */
	assert_change_request(n, root ? "" : "Old1Passw", "NewPass123",
			      root ? KENPO_PWCF_ADMIN : 0, root ? "" : PROOF);
	assert_int_equal(conv.prompts, root ? 2 : 3);
	assert_logged("The password must contain at least one digit (0-9).\n");

	/* Not a member: nothing asked, and the stack decides. */
	ans_account(KENPO_RES_NOTFOUND);
	fake_start(1);
	conv_script(0);
	h = open_pam("", "taro");
	rc = pam_chauthtok(h, 0);
	assert_int_equal(rc, PAM_USER_UNKNOWN);
	pam_end(h, rc);
	fake_stop(1);
	assert_int_equal(conv.prompts, 0);
}

/* The refusals of PASSWORD_CHANGE that a local check cannot foresee. */
static void
test_change_refusals(void **state)
{
	static const struct {
		uint32_t result;
		uint32_t value; /* the POLICY mask or the seconds */
		int pam;
		const char *text;
	} cases[] = {
		{ KENPO_RES_POLICY, KENPO_PWC_SAME_AS_OLD, PAM_AUTHTOK_ERR,
		  "reasons:\nThe new password must differ from the current one.\n" },
		{ KENPO_RES_LOCKED, 600, PAM_PERM_DENIED, "try again in 10 minutes." },
		{ KENPO_RES_DELAY, 3, PAM_PERM_DENIED, "wait 3 seconds" },
		/* POLICY as protocol version 2 had it, a language before the
		 * mask: one field too many. */
		{ KENPO_RES_POLICY, 0, PAM_AUTHINFO_UNAVAIL, "not available" },
	};
	pam_handle_t *h;
	size_t i;
	int rc, n;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		ans_account(KENPO_RES_OK);
		n = member_logs_in(1);
		ans_refusal(&fake.reply[n], KENPO_ACTION_PASSWORD_CHANGE, cases[i].result,
			    KENPO_LANG_EN, cases[i].value);
		if (cases[i].pam == PAM_AUTHINFO_UNAVAIL) {
			fake_begin(&fake.reply[n], KENPO_ACTION_PASSWORD_CHANGE, cases[i].result);
			fake_put32(&fake.reply[n], KENPO_LANG_EN);
			fake_put32(&fake.reply[n], KENPO_PWC_SAME_AS_OLD);
			fake_end(&fake.reply[n]);
		}
		fake_start(n + 1);
		if (getuid() == 0)
			conv_script(2, "NewPass123", "NewPass123");
		else
			conv_script(3, "Old1Passw", "NewPass123", "NewPass123");
		h = open_pam("", "taro");
		rc = pam_chauthtok(h, 0);
		assert_int_equal(rc, cases[i].pam);
		pam_end(h, rc);
		fake_stop(n + 1);
		assert_logged(cases[i].text);
	}
}

static void
test_change_use_authtok(void **state)
{
	pam_handle_t *h;
	int rc;

	(void)state;
	need_set_items();
	ans_account(KENPO_RES_MUST_CHANGE);
	/* No login in this handle: one is made with the old password. */
	ans_auth_ok(&fake.reply[1], "taro", KENPO_LANG_EN, 0);
	fake_begin(&fake.reply[2], KENPO_ACTION_PASSWORD_CHANGE, KENPO_RES_AUTH_ERR);
	fake_put32(&fake.reply[2], KENPO_LANG_EN);
	fake_end(&fake.reply[2]);
	fake_start(3);
	conv_script(0);
	h = open_pam("use_authtok try_first_pass", "taro");
	setenv("PAM_OLDAUTHTOK", "Old1Passw", 1);
	setenv("PAM_AUTHTOK", "Given1Pass", 1);
	rc = pam_chauthtok(h, PAM_CHANGE_EXPIRED_AUTHTOK);
	unsetenv("PAM_OLDAUTHTOK");
	unsetenv("PAM_AUTHTOK");
	assert_int_equal(rc, PAM_AUTH_ERR);
	pam_end(h, rc);
	fake_stop(3);
	assert_int_equal(conv.prompts, 0);
	assert_auth_request(1, "taro", "Old1Passw", 0);
	assert_change_request(2, "Old1Passw", "Given1Pass", 0, PROOF);
	assert_logged("E: The current password is not correct.\n");
}

/* ---- options ---- */

static void
test_unknown_options_ignored(void **state)
{
	(void)state;
	ans_auth_ok(&fake.reply[0], "taro", KENPO_LANG_JA, 0);
	fake_start(1);
	conv_script(1, "Secret1Pass");
	assert_int_equal(authenticate("frobnicate timeout=abc key_prompts=0 lang=fr debug",
				      "taro"),
			 PAM_SUCCESS);
	fake_stop(1);
}

/* lang=en: every line ASCII, even for a Japanese society (Cockpit). */
static void
test_lang_en_is_ascii(void **state)
{
	(void)state;
	ans_key(&fake.reply[0], KENPO_ACTION_AUTH_PASSWORD, KENPO_RES_KEY_SENT, KENPO_LANG_JA,
		600, "t");
	ans_refusal(&fake.reply[1], KENPO_ACTION_AUTH_KEY, KENPO_RES_KEY_WRONG, KENPO_LANG_JA, 4);
	ans_refusal(&fake.reply[2], KENPO_ACTION_AUTH_RESEND, KENPO_RES_COOLDOWN, KENPO_LANG_JA,
		    30);
	ans_lang(&fake.reply[3], KENPO_ACTION_AUTH_KEY, KENPO_RES_KEY_EXPIRED, KENPO_LANG_JA);
	ans_abort_ok(&fake.reply[4]);
	fake_start(5);
	conv_script(5, "Secret1Pass", "1111111111", "", "x", "2222222222");
	assert_int_equal(authenticate("lang=en", "taro"), PAM_AUTH_ERR);
	fake_stop(5);
	assert_logged("P: Password: \n");
	assert_logged("E: The one-time key has expired.");
	assert_ascii_log();
}

/* ---- a member is never a local account ---- */

/* kenpod vouches for a member, but the host's account of that name is
 * another: a uid that differs, a name in another case, a local user, a
 * uid of the host's own. */
static void
test_not_this_member(void **state)
{
	static const struct {
		const char *user, *login;
		uint32_t uid;
	} cases[] = {
		{ "taro", "taro", TARO_UID + 1 },
		{ "taro", "Taro", TARO_UID },
		{ "local", "local", TARO_UID },
		{ "root", "root", 0 },
		{ "nobody.here", "nobody.here", TARO_UID },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		ans_auth_ok_uid(&fake.reply[0], cases[i].login, cases[i].uid, KENPO_LANG_EN, 0);
		fake_start(1);
		conv_script(1, "Secret1Pass");
		if (authenticate("lang=en", cases[i].user) != PAM_AUTH_ERR)
			fail_msg("case %zu (%s) got in", i, cases[i].user);
		fake_stop(1);
		assert_string_equal(conv.log, "P: Password: \n"
					      "E: The login ID or password is not correct.\n");
	}
	/* The same answer for the member whose account this is. */
	ans_auth_ok_uid(&fake.reply[0], "taro", TARO_UID, KENPO_LANG_EN, 0);
	fake_start(1);
	conv_script(1, "Secret1Pass");
	assert_int_equal(authenticate("lang=en", "taro"), PAM_SUCCESS);
	fake_stop(1);
}

/* A key mailed for such a member is voided at once, without a prompt. */
static void
test_not_this_member_key_voided(void **state)
{
	(void)state;
	ans_key(&fake.reply[0], KENPO_ACTION_AUTH_PASSWORD, KENPO_RES_KEY_SENT, 1, 600, "txn1");
	ans_abort_ok(&fake.reply[1]);
	fake_start(2);
	conv_script(2, "Secret1Pass", "1234567890");
	assert_int_equal(authenticate("lang=en", "local"), PAM_AUTH_ERR);
	fake_stop(2);
	assert_int_equal(conv.prompts, 1);
	assert_txn_request(1, KENPO_ACTION_AUTH_ABORT, "txn1", NULL);
}

static void
test_account_not_this_member(void **state)
{
	struct fake_frame *f = &fake.reply[0];

	(void)state;
	fake_begin(f, KENPO_ACTION_ACCOUNT, KENPO_RES_OK);
	fake_put32(f, KENPO_LANG_EN);
	fake_putstr(f, "taro");
	fake_put32(f, TARO_UID + 7);
	fake_end(f);
	fake_start(1);
	conv_script(0);
	assert_int_equal(account("lang=en"), PAM_PERM_DENIED);
	fake_stop(1);
}

/* no_host_account: a member without a passwd entry may authenticate; a
 * passwd entry of that name must still be the member. */
static void
test_no_host_account(void **state)
{
	(void)state;
	ans_auth_ok_uid(&fake.reply[0], "web.member", TARO_UID + 5, KENPO_LANG_EN, 0);
	fake_start(1);
	conv_script(1, "Secret1Pass");
	assert_int_equal(authenticate("lang=en no_host_account", "web.member"), PAM_SUCCESS);
	fake_stop(1);
	ans_auth_ok_uid(&fake.reply[0], "local", TARO_UID + 5, KENPO_LANG_EN, 0);
	fake_start(1);
	conv_script(1, "Secret1Pass");
	assert_int_equal(authenticate("lang=en no_host_account", "local"), PAM_AUTH_ERR);
	fake_stop(1);
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dlopen_dlsym),
		cmocka_unit_test(test_exports_only_pam_sm),
		cmocka_unit_test(test_needs_no_heavy_library),
		cmocka_unit_test(test_auth_password_only),
		cmocka_unit_test(test_auth_ticket_option),
		cmocka_unit_test(test_auth_use_first_pass),
		cmocka_unit_test(test_auth_wrong_password),
		cmocka_unit_test(test_auth_refusals),
		cmocka_unit_test(test_auth_kenpod_absent_or_stalled),
		cmocka_unit_test(test_auth_malformed_answers),
		cmocka_unit_test(test_key_right_first_time),
		cmocka_unit_test(test_key_japanese_info_line),
		cmocka_unit_test(test_key_wrong_three_times_aborts),
		cmocka_unit_test(test_key_prompts_option),
		cmocka_unit_test(test_key_void_and_expired),
		cmocka_unit_test(test_key_not_ten_digits),
		cmocka_unit_test(test_key_resend_and_cooldown),
		cmocka_unit_test(test_key_conversation_fails),
		cmocka_unit_test(test_split_second_request),
		cmocka_unit_test(test_single_field),
		cmocka_unit_test(test_account),
		cmocka_unit_test(test_session),
		cmocka_unit_test(test_temporary_password_change),
		cmocka_unit_test(test_change_rules_checked_first),
		cmocka_unit_test(test_change_by_member_or_root),
		cmocka_unit_test(test_change_refusals),
		cmocka_unit_test(test_change_use_authtok),
		cmocka_unit_test(test_unknown_options_ignored),
		cmocka_unit_test(test_lang_en_is_ascii),
		cmocka_unit_test(test_not_this_member),
		cmocka_unit_test(test_not_this_member_key_voided),
		cmocka_unit_test(test_account_not_this_member),
		cmocka_unit_test(test_no_host_account),
	};

	if (under_nss_wrapper(argv) != 0)
		return 1;
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
