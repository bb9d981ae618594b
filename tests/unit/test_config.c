/*
 * test_config.c - the configuration parser, its number parsers and the
 * safe file reader.  Files are written into a private temporary directory.
 */
#include <autoconfig.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>
#include <cmocka.h>

#include "config.h"
#include "readfile.h"

#define TOKYO "/usr/share/zoneinfo/Asia/Tokyo"

/* The six required keys of a society: lines 2 to 7 after its header. */
#define SOC_REQ \
	"name = テスト健康保険組合\n" \
	"base = ou=t1,dc=example,dc=jp\n" \
	"mail_from = no-reply@kenpo.example.jp\n" \
	"login_url = https://portal.example.jp/login\n" \
	"guide_url = https://portal.example.jp/guide?t=%%TOKEN%%\n" \
	"reset_url = https://portal.example.jp/reset?t=%%TOKEN%%\n"
#define MIN "[society t1]\n" SOC_REQ

static char dir[PATH_MAX];
static char errbuf[1024];

static void
path_of(char *buf, size_t sz, const char *name)
{
	int n = snprintf(buf, sz, "%s/%s", dir, name);

	assert_true(n > 0 && (size_t)n < sz);
}

/* Writes a file anew with exactly `mode` (the umask does not apply). */
static void
write_file(const char *name, const char *data, size_t len, mode_t mode, char *path, size_t psz)
{
	int fd;

	path_of(path, psz, name);
	assert_true(unlink(path) == 0 || errno == ENOENT);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	assert_int_equal(close(fd), 0);
	assert_int_equal(chmod(path, mode), 0);
}

static int
load_len(const char *text, size_t len, struct kenpo_config **cfg, char *path, size_t psz)
{
	write_file("kenpod.conf", text, len, 0644, path, psz);
	errbuf[0] = '\0';
	return kenpo_config_load(path, getuid(), cfg, errbuf, sizeof errbuf);
}

static struct kenpo_config *
load_ok(const char *text)
{
	struct kenpo_config *cfg = NULL;
	char path[PATH_MAX];

	if (load_len(text, strlen(text), &cfg, path, sizeof path) != 0)
		fail_msg("unexpected error: %s", errbuf);
	assert_non_null(cfg);
	return cfg;
}

static int
setup_dir(void **state)
{
	char tmpl[] = "/tmp/kenpo-test-config-XXXXXX";
	const char *tmp = getenv("TMPDIR");

	if (tmp != NULL && *tmp == '/' && strlen(tmp) + 32 < sizeof dir)
		snprintf(dir, sizeof dir, "%s/kenpo-test-config-XXXXXX", tmp);
	else
		snprintf(dir, sizeof dir, "%s", tmpl);
	if (mkdtemp(dir) == NULL)
		return -1;
	/* A private directory; the files in it carry their own modes. */
	return chmod(dir, 0700);
}

static int
teardown_dir(void **state)
{
	DIR *d = opendir(dir);
	struct dirent *e;

	if (d == NULL)
		return -1;
	while ((e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		if (unlinkat(dirfd(d), e->d_name, 0) != 0)
			(void)unlinkat(dirfd(d), e->d_name, AT_REMOVEDIR);
	}
	closedir(d);
	return rmdir(dir);
}

/* ---- number parsers ---------------------------------------------------- */

static void
test_parse_duration(void **state)
{
	static const struct {
		const char *s;
		long v;
	} good[] = {
		{ "600", 600 },
		{ "600s", 600 },
		{ "10m", 600 },
		{ "3h", 10800 },
		{ "2d", 172800 },
		{ "0", 0 },
		{ "007", 7 },
		{ "9223372036854775807", LONG_MAX },
		{ "106751991167300d", 106751991167300L * 86400 },
	};
	static const char *const bad[] = {
		"",
		"-1",
		" 5",
		"5 ",
		"+5",
		"10x",
		"10mm",
		"m",
		"1.5h",
		"0x10",
		"10 m",
		"10M",
		"10S",
		"99999999999999999999d",
		"99999999999999999999",
		"9223372036854775808",
		"106751991167301d",
	};
	long v;
	size_t i;

	for (i = 0; i < sizeof good / sizeof good[0]; i++) {
		v = -7;
		if (kenpo_parse_duration(good[i].s, 0, LONG_MAX, &v) != 0)
			fail_msg("refused \"%s\"", good[i].s);
		assert_int_equal(v, good[i].v);
	}
	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		v = -7;
		if (kenpo_parse_duration(bad[i], 0, LONG_MAX, &v) != -1)
			fail_msg("accepted \"%s\"", bad[i]);
		assert_int_equal(v, -7);
	}
	assert_int_equal(kenpo_parse_duration(NULL, 0, 10, &v), -1);
	/* The range, at both ends. */
	assert_int_equal(kenpo_parse_duration("1s", 1, 86400, &v), 0);
	assert_int_equal(v, 1);
	assert_int_equal(kenpo_parse_duration("0", 1, 86400, &v), -1);
	assert_int_equal(kenpo_parse_duration("1d", 1, 86400, &v), 0);
	assert_int_equal(v, 86400);
	assert_int_equal(kenpo_parse_duration("86401", 1, 86400, &v), -1);
	assert_int_equal(kenpo_parse_duration("2d", 1, 86400, &v), -1);
	assert_int_equal(v, 86400);
}

static void
test_parse_ulong(void **state)
{
	unsigned long long v;
	static const char *const bad[] = {
		"",
		"-1",
		" 5",
		"5 ",
		"+5",
		"5x",
		"0x10",
		"1K",
		"18446744073709551616",
		"99999999999999999999",
	};
	size_t i;

	assert_int_equal(kenpo_parse_ulong("0", 0, 10, &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(kenpo_parse_ulong("18446744073709551615", 0, ULLONG_MAX, &v), 0);
	assert_true(v == ULLONG_MAX);
	assert_int_equal(kenpo_parse_ulong("4294967294", 1000, 4294967294ULL, &v), 0);
	assert_true(v == 4294967294ULL);
	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		v = 77;
		if (kenpo_parse_ulong(bad[i], 0, ULLONG_MAX, &v) != -1)
			fail_msg("accepted \"%s\"", bad[i]);
		assert_true(v == 77);
	}
	assert_int_equal(kenpo_parse_ulong("999", 1000, 2000, &v), -1);
	assert_int_equal(kenpo_parse_ulong("2001", 1000, 2000, &v), -1);
	assert_true(v == 77);
	assert_int_equal(kenpo_parse_ulong(NULL, 0, 1, &v), -1);
}

static void
test_parse_size(void **state)
{
	size_t v;
	static const char *const bad[] = {
		"",     "-1",  " 5", "5 ",   "+5",           "10x",
		"64MB", "64k", "K",  "1.5G", "17179869184G", "99999999999999999999",
	};
	size_t i;

	assert_int_equal(kenpo_parse_size("65536", 0, SIZE_MAX, &v), 0);
	assert_int_equal(v, 65536);
	assert_int_equal(kenpo_parse_size("64K", 0, SIZE_MAX, &v), 0);
	assert_int_equal(v, 65536);
	assert_int_equal(kenpo_parse_size("64M", 0, SIZE_MAX, &v), 0);
	assert_int_equal(v, 64u << 20);
	assert_int_equal(kenpo_parse_size("1G", 0, SIZE_MAX, &v), 0);
	assert_int_equal(v, 1u << 30);
	assert_int_equal(kenpo_parse_size("17179869183G", 0, SIZE_MAX, &v), 0);
	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		v = 77;
		if (kenpo_parse_size(bad[i], 0, SIZE_MAX, &v) != -1)
			fail_msg("accepted \"%s\"", bad[i]);
		assert_int_equal(v, 77);
	}
	assert_int_equal(kenpo_parse_size("4K", 8192, 1u << 30, &v), -1);
	assert_int_equal(kenpo_parse_size("8K", 8192, 1u << 30, &v), 0);
	assert_int_equal(v, 8192);
	assert_int_equal(kenpo_parse_size("2G", 8192, 1u << 30, &v), -1);
	assert_int_equal(v, 8192);
}

/* ---- safe reading ------------------------------------------------------- */

static int
read_safely(const char *path, uid_t owner, size_t max, int secret, char **data, size_t *len)
{
	errbuf[0] = '\0';
	return kenpo_read_file_safely(path, owner, max, secret, data, len, errbuf, sizeof errbuf);
}

static void
expect_read_error(const char *path, uid_t owner, size_t max, int secret, const char *problem)
{
	static char untouched[] = "untouched";
	char want[PATH_MAX + 200];
	char *data = untouched;
	size_t len = 77;

	assert_int_equal(read_safely(path, owner, max, secret, &data, &len), -1);
	snprintf(want, sizeof want, "%s: %s", path, problem);
	assert_string_equal(errbuf, want);
	assert_string_equal(data, "untouched");
	assert_int_equal(len, 77);
}

static void
test_read_good(void **state)
{
	char path[PATH_MAX], *data = NULL;
	size_t len = 0;

	write_file("plain", "0123456789abcdef", 16, 0644, path, sizeof path);
	assert_int_equal(read_safely(path, getuid(), 16, 0, &data, &len), 0);
	assert_int_equal(len, 16);
	assert_string_equal(data, "0123456789abcdef");
	free(data);
	/* An empty file is read as an empty string. */
	write_file("empty", "", 0, 0600, path, sizeof path);
	assert_int_equal(read_safely(path, getuid(), 16, 1, &data, &len), 0);
	assert_int_equal(len, 0);
	assert_string_equal(data, "");
	free(data);
}

static void
test_read_secret(void **state)
{
	unsigned char raw[32];
	char path[PATH_MAX], *data = NULL;
	size_t len = 0, i;

	for (i = 0; i < sizeof raw; i++)
		raw[i] = (unsigned char)(i * 37); /* raw[0] is a NUL byte */
	write_file("secret", (const char *)raw, sizeof raw, 0600, path, sizeof path);
	assert_int_equal(read_safely(path, getuid(), 32, 1, &data, &len), 0);
	assert_int_equal(len, 32);
	assert_memory_equal(data, raw, 32);
	assert_int_equal(data[32], '\0');
	free(data);
	/* 0400 is fine too, 0640 and 0604 are not. */
	assert_int_equal(chmod(path, 0400), 0);
	assert_int_equal(read_safely(path, getuid(), 32, 1, &data, &len), 0);
	free(data);
	assert_int_equal(chmod(path, 0640), 0);
	expect_read_error(path, getuid(), 32, 1,
			  "must not be readable by group or others (mode 0640)");
	assert_int_equal(chmod(path, 0604), 0);
	expect_read_error(path, getuid(), 32, 1,
			  "must not be readable by group or others (mode 0604)");
	/* The same file is fine when it is not a secret. */
	assert_int_equal(read_safely(path, getuid(), 32, 0, &data, &len), 0);
	free(data);
}

static void
test_read_refused(void **state)
{
	char path[PATH_MAX], link[PATH_MAX], sub[PATH_MAX], fifo[PATH_MAX];

	write_file("target", "x = 1\n", 6, 0644, path, sizeof path);
	path_of(link, sizeof link, "link");
	assert_int_equal(symlink(path, link), 0);
	expect_read_error(link, getuid(), 1024, 0, "is a symbolic link");

	assert_int_equal(chmod(path, 0666), 0);
	expect_read_error(path, getuid(), 1024, 0,
			  "must not be writable by group or others (mode 0666)");
	assert_int_equal(chmod(path, 0620), 0);
	expect_read_error(path, getuid(), 1024, 0,
			  "must not be writable by group or others (mode 0620)");
	assert_int_equal(chmod(path, 0602), 0);
	expect_read_error(path, getuid(), 1024, 0,
			  "must not be writable by group or others (mode 0602)");
	assert_int_equal(chmod(path, 0644), 0);

	/* Size: at most maxbytes, not one byte more. */
	expect_read_error(path, getuid(), 5, 0, "larger than 5 bytes");

	path_of(sub, sizeof sub, "adir");
	assert_int_equal(mkdir(sub, 0755), 0);
	expect_read_error(sub, getuid(), 1024, 0, "is not a regular file (a directory)");

	/* A FIFO must neither hang the open nor be read. */
	path_of(fifo, sizeof fifo, "fifo");
	assert_int_equal(mkfifo(fifo, 0600), 0);
	expect_read_error(fifo, getuid(), 1024, 0, "is not a regular file");

	path_of(sub, sizeof sub, "missing");
	expect_read_error(sub, getuid(), 1024, 0, "No such file or directory");
}

static void
test_read_owner(void **state)
{
	char path[PATH_MAX], want[64], *data = NULL;
	size_t len = 0;
	uid_t u = getuid();

	write_file("owned", "x", 1, 0644, path, sizeof path);
	/* Root can hand the file to another uid; anyone else tests with their own. */
	if (u == 0) {
		u = 12345;
		assert_int_equal(chown(path, u, (gid_t)-1), 0);
	}
	snprintf(want, sizeof want, "owned by uid %lu, expected root", (unsigned long)u);
	expect_read_error(path, (uid_t)-1, 1024, 0, want);
	snprintf(want, sizeof want, "owned by uid %lu, expected root or uid %lu",
		 (unsigned long)u, (unsigned long)u + 1);
	expect_read_error(path, u + 1, 1024, 0, want);
	assert_int_equal(read_safely(path, u, 1024, 0, &data, &len), 0);
	assert_string_equal(data, "x");
	free(data);
}

/* ---- the loader --------------------------------------------------------- */

static void
test_defaults(void **state)
{
	struct kenpo_config *cfg = load_ok(MIN);
	const struct kenpo_society *s;

	assert_string_equal(cfg->socket_path, RUNDIR "/kenpo/kenpod.sock");
	assert_string_equal(cfg->ldap_uri, "ldapi:///");
	assert_null(cfg->bind_dn);
	assert_null(cfg->bind_password_file);
	assert_null(cfg->ldap_ca_file);
	assert_int_equal(cfg->ldap_timeout, 5);
	assert_string_equal(cfg->secret_file, SYSCONFDIR "/kenpo/secret");
	assert_null(cfg->portal_group);
	assert_string_equal(cfg->user, "_kenpo");
	assert_int_equal(cfg->threads, 4);
	assert_int_equal(cfg->nss_threads, 4);
	assert_int_equal(cfg->selfservice_threads, 2);
	assert_int_equal(cfg->control_threads, 1);
	assert_int_equal(cfg->max_connections, 1024);
	assert_int_equal(cfg->max_connections_per_uid, 64);
	assert_int_equal(cfg->max_connections_portal, 512);
	assert_int_equal(cfg->hash_workers, 0);
	assert_int_equal(cfg->enumerate, 0);
	assert_int_equal(cfg->cache_positive_ttl, 60);
	assert_int_equal(cfg->cache_negative_ttl, 10);
	assert_string_equal(cfg->smtp_url, "smtp://localhost:25");
	assert_int_equal(cfg->smtp_tls, KENPO_TLS_NONE);
	assert_null(cfg->smtp_user);
	assert_null(cfg->smtp_password_file);
	assert_null(cfg->smtp_ca_file);
	assert_int_equal(cfg->smtp_timeout, 10);
	assert_non_null(cfg->mail_helo);
	assert_true(cfg->argon2_opslimit == 2);
	assert_int_equal(cfg->argon2_memlimit, 64u << 20);
	assert_string_equal(cfg->log_level, "info");
	assert_int_equal(cfg->nsocieties, 1);

	s = kenpo_config_society(cfg, "t1");
	assert_ptr_equal(s, &cfg->societies[0]);
	assert_string_equal(s->id, "t1");
	assert_string_equal(s->name, "テスト健康保険組合");
	assert_string_equal(s->base, "ou=t1,dc=example,dc=jp");
	assert_int_equal(s->method, KENPO_REG_LETTER);
	assert_int_equal(s->registration, KENPO_REGF_LETTER);
	assert_int_equal(s->session_idle, 900);
	assert_int_equal(s->session_lifetime, 4 * 3600);
	assert_int_equal(s->guide_total_per_hour, 1000);
	assert_int_equal(s->lang, KENPO_LANG_JA);
	assert_string_equal(s->timezone, "Asia/Tokyo");
	assert_string_equal(s->mail_from, "no-reply@kenpo.example.jp");
	assert_string_equal(s->mail_from_name, s->name);
	assert_ptr_not_equal(s->mail_from_name, s->name);
	assert_null(s->entry_address);
	assert_string_equal(s->login_url, "https://portal.example.jp/login");
	assert_string_equal(s->guide_url, "https://portal.example.jp/guide?t=%%TOKEN%%");
	assert_null(s->identity_url);
	assert_string_equal(s->reset_url, "https://portal.example.jp/reset?t=%%TOKEN%%");
	assert_null(s->template_dir);
	assert_string_equal(s->home_template, "/home/%u");
	assert_string_equal(s->shell, "/bin/bash");
	assert_int_equal(s->uid_min, 2000000000UL);
	assert_int_equal(s->uid_max, 2147352575UL);
	assert_int_equal(s->gid, 100);
	assert_int_equal(s->key_validity, 600);
	assert_int_equal(s->key_resend_cooldown, 60);
	assert_int_equal(s->key_max_tries, 5);
	assert_int_equal(s->guide_validity, 3 * 3600);
	assert_int_equal(s->identity_validity, 30 * 60);
	assert_int_equal(s->reset_validity, 3 * 3600);
	assert_int_equal(s->temp_password_validity, 90L * 86400);
	assert_int_equal(s->guide_per_hour, 5);
	assert_int_equal(s->reset_per_hour, 5);
	assert_int_equal(s->identity_max_tries, 5);
	assert_int_equal(s->lockout_failures, 10);
	assert_int_equal(s->lockout_duration, 30 * 60);
	assert_null(kenpo_config_society(cfg, "t2"));
	assert_null(kenpo_config_society(cfg, "T1"));
	kenpo_config_free(cfg);
	kenpo_config_free(NULL);
}

static const char full_text[] =
	"# A comment\n"
	"; another comment\n"
	"\n"
	"[kenpod]\n"
	"socket = /run/test/k.sock\n"
	"ldap_uri = ldaps://ldap1.example.jp ldap://ldap2.example.jp:389\n"
	"bind_dn = cn=kenpod,ou=services,dc=example,dc=jp\n"
	"bind_password_file = /etc/kenpo/ldap.secret\n"
	"ldap_ca_file = /etc/ssl/ca.pem\n"
	"ldap_timeout = 2m\n"
	"secret_file = /var/lib/kenpo/secret\n"
	"portal_group = www-data\n"
	"user = kenpo\n"
	"threads = 64\n"
	"reserved_login_ids = yamada-*,kenpo.office  staff\n"
	"enumerate = Yes\n"
	"cache_positive_ttl = 1d\n"
	"cache_negative_ttl = 0\n"
	"smtp_url = smtps://relay.example.jp:465\n"
	"smtp_tls = smtps\n"
	"smtp_user = kenpo mailer\n"
	"smtp_password_file = /etc/kenpo/smtp.secret\n"
	"smtp_ca_file = /etc/ssl/relay.pem\n"
	"smtp_timeout = 5m\n"
	"mail_domain = portal.example.jp\n"
	"argon2_t = 10\n"
	"argon2_m = 8K\n"
	"hash_workers = 64\n"
	"log_level = DEBUG\n"
	"\n"
	"[society toyo]\n"
	"\tname\t=\t東洋 健康保険組合 \n"
	"  base=ou=toyo,dc=example,dc=jp\n"
	"registration = identity\n"
	"language = en\n"
	"mail_from = no-reply+toyo@kenpo.example.jp\n"
	"mail_from_name = 東洋健保 (no reply)\n"
	"entry_address = entry@kenpo.example.jp\n"
	"login_url = http://portal.example.jp/login?s=toyo\n"
	"guide_url = https://portal.example.jp/g/%%TOKEN%%/x\n"
	"identity_url = https://portal.example.jp/i?t=%%TOKEN%%\n"
	"reset_url = https://portal.example.jp/r?t=%%TOKEN%%\n"
	"template_dir = /etc/kenpo/templates/toyo\n"
	"home = /srv/home/%n/%u%%\n"
	"shell = /bin/sh\n"
	"uid_min = 65536\n"
	"uid_max = 4294967294\n"
	"gid = 4294967294\n"
	"key_validity = 1s\n"
	"key_resend_cooldown = 0\n"
	"key_max_tries = 100\n"
	"guide_validity = 7d\n"
	"identity_validity = 1d\n"
	"reset_validity = 1\n"
	"temp_password_validity = 365d\n"
	"guide_per_hour = 1000\n"
	"reset_per_hour = 1\n"
	"identity_max_tries = 1\n"
	"lockout_failures = 0\n"
	"lockout_duration = 30d\n";

static void
test_full(void **state)
{
	struct kenpo_config *cfg = load_ok(full_text);
	const struct kenpo_society *s;

	assert_string_equal(cfg->socket_path, "/run/test/k.sock");
	assert_string_equal(cfg->ldap_uri,
			    "ldaps://ldap1.example.jp ldap://ldap2.example.jp:389");
	assert_string_equal(cfg->bind_dn, "cn=kenpod,ou=services,dc=example,dc=jp");
	assert_string_equal(cfg->bind_password_file, "/etc/kenpo/ldap.secret");
	assert_string_equal(cfg->ldap_ca_file, "/etc/ssl/ca.pem");
	assert_int_equal(cfg->ldap_timeout, 120);
	assert_string_equal(cfg->secret_file, "/var/lib/kenpo/secret");
	assert_string_equal(cfg->portal_group, "www-data");
	assert_string_equal(cfg->user, "kenpo");
	assert_int_equal(cfg->threads, 64);
	assert_int_equal(cfg->hash_workers, 64);
	assert_string_equal(cfg->reserved_login_ids, "yamada-*,kenpo.office  staff");
	assert_int_equal(cfg->enumerate, 1);
	assert_int_equal(cfg->cache_positive_ttl, 86400);
	assert_int_equal(cfg->cache_negative_ttl, 0);
	assert_string_equal(cfg->smtp_url, "smtps://relay.example.jp:465");
	assert_int_equal(cfg->smtp_tls, KENPO_TLS_SMTPS);
	assert_string_equal(cfg->smtp_user, "kenpo mailer");
	assert_string_equal(cfg->smtp_password_file, "/etc/kenpo/smtp.secret");
	assert_string_equal(cfg->smtp_ca_file, "/etc/ssl/relay.pem");
	assert_int_equal(cfg->smtp_timeout, 300);
	assert_string_equal(cfg->mail_helo, "portal.example.jp");
	assert_true(cfg->argon2_opslimit == 10);
	assert_int_equal(cfg->argon2_memlimit, 8192);
	assert_string_equal(cfg->log_level, "debug");
	assert_int_equal(cfg->nsocieties, 1);

	s = kenpo_config_society(cfg, "toyo");
	assert_non_null(s);
	assert_string_equal(s->name, "東洋 健康保険組合");
	assert_string_equal(s->base, "ou=toyo,dc=example,dc=jp");
	assert_int_equal(s->method, KENPO_REG_IDENTITY);
	assert_int_equal(s->registration, KENPO_REGF_IDENTITY);
	assert_int_equal(s->lang, KENPO_LANG_EN);
	assert_string_equal(s->mail_from, "no-reply+toyo@kenpo.example.jp");
	assert_string_equal(s->mail_from_name, "東洋健保 (no reply)");
	assert_string_equal(s->entry_address, "entry@kenpo.example.jp");
	assert_string_equal(s->login_url, "http://portal.example.jp/login?s=toyo");
	assert_string_equal(s->guide_url, "https://portal.example.jp/g/%%TOKEN%%/x");
	assert_string_equal(s->identity_url, "https://portal.example.jp/i?t=%%TOKEN%%");
	assert_string_equal(s->reset_url, "https://portal.example.jp/r?t=%%TOKEN%%");
	assert_string_equal(s->template_dir, "/etc/kenpo/templates/toyo");
	assert_string_equal(s->home_template, "/srv/home/%n/%u%%");
	assert_string_equal(s->shell, "/bin/sh");
	assert_int_equal(s->uid_min, 65536);
	assert_int_equal(s->uid_max, 4294967294UL);
	assert_int_equal(s->gid, 4294967294UL);
	assert_int_equal(s->key_validity, 1);
	assert_int_equal(s->key_resend_cooldown, 0);
	assert_int_equal(s->key_max_tries, 100);
	assert_int_equal(s->guide_validity, 7 * 86400);
	assert_int_equal(s->identity_validity, 86400);
	assert_int_equal(s->reset_validity, 1);
	assert_int_equal(s->temp_password_validity, 365L * 86400);
	assert_int_equal(s->guide_per_hour, 1000);
	assert_int_equal(s->reset_per_hour, 1);
	assert_int_equal(s->identity_max_tries, 1);
	assert_int_equal(s->lockout_failures, 0);
	assert_int_equal(s->lockout_duration, 30 * 86400);
	assert_string_equal(cfg->path + strlen(cfg->path) - 12, "/kenpod.conf");
	kenpo_config_free(cfg);
}

static void
test_two_societies(void **state)
{
	struct kenpo_config *cfg = load_ok(MIN
					   "[society t-2_b]\n"
					   "name = Second Society\n"
					   "language = en\n"
					   "registration = identity letter\n"
					   "base = ou=t2,dc=example,dc=jp\n"
					   "mail_from = t2@example.jp\n"
					   "login_url = https://t2.example.jp/\n"
					   "guide_url = https://t2.example.jp/g?%%TOKEN%%\n"
					   "identity_url = https://t2.example.jp/i?%%TOKEN%%\n"
					   "reset_url = https://t2.example.jp/r?%%TOKEN%%\n"
					   "[kenpod]\n"
					   "smtp_url = smtps://relay.example.jp\n");
	const struct kenpo_society *a, *b;

	assert_int_equal(cfg->nsocieties, 2);
	a = kenpo_config_society(cfg, "t1");
	b = kenpo_config_society(cfg, "t-2_b");
	assert_non_null(a);
	assert_non_null(b);
	assert_int_equal(a->lang, KENPO_LANG_JA);
	assert_int_equal(b->lang, KENPO_LANG_EN);
	assert_string_equal(b->name, "Second Society");
	/* Both ways of registering; letters are issued. */
	assert_int_equal(b->registration, KENPO_REGF_LETTER | KENPO_REGF_IDENTITY);
	assert_int_equal(b->method, KENPO_REG_LETTER);
	assert_string_equal(b->mail_from_name, "Second Society");
	assert_string_equal(b->guide_url, "https://t2.example.jp/g?%%TOKEN%%");
	/* smtp_tls follows the scheme when not given. */
	assert_int_equal(cfg->smtp_tls, KENPO_TLS_SMTPS);
	assert_null(kenpo_config_society(cfg, "t"));
	assert_null(kenpo_config_society(cfg, NULL));
	kenpo_config_free(cfg);
}

static void
test_timezone(void **state)
{
	struct kenpo_config *cfg;

	if (access(TOKYO, F_OK) != 0)
		skip(); /* tzdata is not installed */
	cfg = load_ok(MIN "timezone = Asia/Tokyo\n");
	assert_string_equal(cfg->societies[0].timezone, "Asia/Tokyo");
	kenpo_config_free(cfg);
}

struct bad_case {
	const char *text;
	size_t len; /* 0: strlen(text) */
	unsigned line;
	const char *key;
	const char *problem; /* a part of the problem */
};

static const char long_name[] =
	"[society t1]\nname = "
	"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\n";

static const char nul_text[] = "[kenpod]\nthreads = 4\0\n" MIN;

static const struct bad_case bad_cases[] = {
	/* Lines and sections. */
	{ "threads = 4\n[kenpod]\n" MIN, 0, 1, "threads", "outside of any section" },
	{ "[kenpod]\nnosuch = 1\n" MIN, 0, 2, "nosuch", "unknown key in [kenpod]" },
	{ MIN "bogus = 1\n", 0, 8, "bogus", "unknown key in [society t1]" },
	{ MIN "uid_min=70000\nuid_min = 80000\n", 0, 9, "uid_min",
	  "given twice in [society t1] (first on line 8)" },
	{ "[kenpod]\nthreads = 4\nthreads = 5\n" MIN, 0, 3, "threads",
	  "given twice in [kenpod] (first on line 2)" },
	{ "[foo]\n" MIN, 0, 1, "[foo]", "unknown section" },
	{ "[kenpod\n" MIN, 0, 1, "[kenpod", "must end with ']'" },
	{ "[kenpod]\nthreads 4\n" MIN, 0, 2, "threads 4", "missing '='" },
	{ "[kenpod]\n = 4\n" MIN, 0, 2, "=", "missing key" },
	{ "[kenpod]\nuser =\n" MIN, 0, 2, "user", "empty value" },
	{ "[kenpod]\nthreads = 4 # four\n" MIN, 0, 2, "threads", "not an unsigned decimal" },
	{ "[kenpod]\n[kenpod]\n" MIN, 0, 2, "[kenpod]", "section given twice (first on line 1)" },
	{ "[kenpod]\nthreads = 4\n", 0, 2, "[society ID]", "at least one society" },
	{ "", 0, 1, "[society ID]", "at least one society" },
	/* Bytes. */
	{ nul_text, sizeof nul_text - 1, 2, "threads", "contains a NUL byte" },
	{ "[society t1]\nname = a\xff\n", 0, 2, "name", "not valid UTF-8" },
	{ "[society t1]\nname = a\xc0\xaf\n", 0, 2, "name", "not valid UTF-8" },
	{ "[society t1]\nname = a\xed\xa0\x80\n", 0, 2, "name", "not valid UTF-8" },
	{ "[society t1]\nname = a\tb\n", 0, 2, "name", "control character (U+0009)" },
	{ "[society t1]\nname = a\x1b[0mb\n", 0, 2, "name", "control character (U+001B)" },
	{ "[society t1]\nname = a\xc2\x85z\n", 0, 2, "name", "control character (U+0085)" },
	{ "[kenpod]\r\n" MIN, 0, 1, "[kenpod]?", "control character (U+000D)" },
	{ long_name, 0, 2, "name", "longer than 256 bytes" },
	/* Societies. */
	{ "[society Bad!]\n" SOC_REQ, 0, 1, "[society Bad!]", "a society ID is 1 to 32" },
	{ "[society]\n" SOC_REQ, 0, 1, "[society]", "a society ID is 1 to 32" },
	{ "[society 0123456789012345678901234567890123]\n" SOC_REQ, 0, 1,
	  "[society 0123456789012345678901234567890123]", "a society ID is 1 to 32" },
	{ MIN "[society t1]\n" SOC_REQ, 0, 8, "[society t1]",
	  "society given twice (first on line 1)" },
	{ "[society t1]\nname = x\n", 0, 1, "base", "required in [society t1]" },
	{ "[society t1]\n"
	  "name = x\n"
	  "base = ou=t1,dc=example,dc=jp\n"
	  "login_url = https://portal.example.jp/login\n"
	  "guide_url = https://portal.example.jp/guide?t=%%TOKEN%%\n"
	  "reset_url = https://portal.example.jp/reset?t=%%TOKEN%%\n"
	  "[kenpod]\n",
	  0, 1, "mail_from", "required in [society t1]" },
	{ MIN "registration = identity\n", 0, 1, "identity_url",
	  "required in [society t1] when registration includes identity" },
	{ MIN "registration = letter, letter\n", 0, 8, "registration", "letter given twice" },
	{ MIN "registration = ,\n", 0, 8, "registration", "must be one of letter, identity" },
	{ MIN "session_idle = 2d\n", 0, 8, "session_idle", "must be between 1s and 1d" },
	{ MIN "guide_total_per_hour = 0\n", 0, 8, "guide_total_per_hour",
	  "must be between 1 and 1000000" },
	{ MIN "uid_min = 70000\nuid_max = 70000\n", 0, 9, "uid_max",
	  "must be greater than uid_min (70000)" },
	{ MIN "uid_max = 70000\nuid_min = 80000\n", 0, 9, "uid_min",
	  "must be less than uid_max (70000)" },
	{ MIN "uid_min = 65535\n", 0, 8, "uid_min", "must be between 65536 and 4294967294" },
	{ MIN "uid_min = 0\n", 0, 8, "uid_min", "must be between 65536 and 4294967294" },
	{ MIN "uid_max = 4294967295\n", 0, 8, "uid_max", "must be between 65536 and 4294967294" },
	{ "[kenpod]\nreserved_login_ids = ok.name, bad name!\n" MIN, 0, 2, "reserved_login_ids",
	  "\"name!\" is no login ID" },
	{ "[kenpod]\nreserved_login_ids = a*b\n" MIN, 0, 2, "reserved_login_ids",
	  "\"a*b\" is no login ID" },
	{ "[kenpod]\nreserved_login_ids = *\n" MIN, 0, 2, "reserved_login_ids",
	  "\"*\" is no login ID" },
	{ MIN "gid = 0\n", 0, 8, "gid", "must be between 1 and 4294967294" },
	/* Types. */
	{ "[kenpod]\nthreads = 0\n" MIN, 0, 2, "threads", "must be between 1 and 64" },
	{ "[kenpod]\nthreads = -1\n" MIN, 0, 2, "threads", "not an unsigned decimal" },
	{ "[kenpod]\nldap_timeout = 10x\n" MIN, 0, 2, "ldap_timeout", "not a duration" },
	{ "[kenpod]\nldap_timeout = 0\n" MIN, 0, 2, "ldap_timeout", "must be between 1s and 5m" },
	{ "[kenpod]\nldap_timeout = 99999999999999999999d\n" MIN, 0, 2, "ldap_timeout",
	  "must be between 1s and 5m" },
	{ MIN "key_validity = 2d\n", 0, 8, "key_validity", "must be between 1s and 1d" },
	{ MIN "key_validity = 0\n", 0, 8, "key_validity", "must be between 1s and 1d" },
	{ MIN "key_resend_cooldown = 61m\n", 0, 8, "key_resend_cooldown",
	  "must be between 0 and 1h" },
	{ MIN "guide_validity = 8d\n", 0, 8, "guide_validity", "must be between 1s and 7d" },
	{ MIN "lockout_duration = 31d\n", 0, 8, "lockout_duration",
	  "must be between 1s and 30d" },
	{ "[kenpod]\nargon2_m = 4K\n" MIN, 0, 2, "argon2_m", "must be between 8K and 4G" },
	{ "[kenpod]\nargon2_m = 64MB\n" MIN, 0, 2, "argon2_m", "not a size" },
	{ "[kenpod]\nenumerate = maybe\n" MIN, 0, 2, "enumerate",
	  "must be one of yes, no, true, false, on, off, 1, 0" },
	{ MIN "registration = phone\n", 0, 8, "registration", "must be one of letter, identity" },
	{ MIN "language = fr\n", 0, 8, "language", "must be one of ja, en" },
	{ "[kenpod]\nsmtp_tls = ssl\n" MIN, 0, 2, "smtp_tls",
	  "must be one of none, starttls, smtps" },
	{ "[kenpod]\nlog_level = verbose\n" MIN, 0, 2, "log_level",
	  "must be one of info, debug" },
	{ "[kenpod]\nsecret_file = etc/secret\n" MIN, 0, 2, "secret_file",
	  "must be an absolute path" },
	{ MIN "home = /home/%x\n", 0, 8, "home", "unknown placeholder" },
	{ MIN "home = home/%u\n", 0, 8, "home", "must be an absolute path" },
	{ "[kenpod]\nuser = 1000\n" MIN, 0, 2, "user", "not a user or group name" },
	{ "[kenpod]\nportal_group = -x\n" MIN, 0, 2, "portal_group", "not a user or group name" },
	{ "[society t1]\nbase = toyo\n", 0, 2, "base", "not an LDAP DN" },
	{ "[society t1]\nlogin_url = ftp://portal.example.jp/\n", 0, 2, "login_url",
	  "not a URL starting with https:// or http://" },
	{ "[society t1]\nlogin_url = https:///login\n", 0, 2, "login_url", "not a URL" },
	{ "[society t1]\nlogin_url = https://a b/\n", 0, 2, "login_url", "not a URL" },
	{ "[society t1]\nlogin_url = https://ポータル.jp/\n", 0, 2, "login_url", "not a URL" },
	{ "[society t1]\nguide_url = https://x.jp/g\n", 0, 2, "guide_url",
	  "must contain %%TOKEN%% exactly once" },
	{ "[society t1]\nguide_url = https://x.jp/%%TOKEN%%/%%TOKEN%%\n", 0, 2, "guide_url",
	  "must contain %%TOKEN%% exactly once" },
	{ "[society t1]\nreset_url = https://x.jp/%TOKEN%\n", 0, 2, "reset_url",
	  "must contain %%TOKEN%% exactly once" },
	{ "[society t1]\nidentity_url = mailto:%%TOKEN%%\n", 0, 2, "identity_url", "not a URL" },
	{ "[kenpod]\nsmtp_url = http://relay\n" MIN, 0, 2, "smtp_url",
	  "not a URL starting with smtp:// or smtps://" },
	{ "[kenpod]\nldap_uri = ldap://a http://b\n" MIN, 0, 2, "ldap_uri",
	  "not a list of ldap://" },
	{ "[kenpod]\nwrite_uri = ldap://a ldapi\n" MIN, 0, 2, "write_uri",
	  "not a list of ldap://" },
	{ "[kenpod]\nwrite_uri = ldap://1 ldap://2 ldap://3 ldap://4 ldap://5 ldap://6 ldap://7 "
	  "ldap://8 ldap://9 ldap://10 ldap://11 ldap://12 ldap://13 ldap://14 ldap://15 "
	  "ldap://16 ldap://17\n" MIN,
	  0, 2, "write_uri", "more than 16 URIs" },
	{ "[kenpod]\nwrite_failback_interval = 0\n" MIN, 0, 2, "write_failback_interval", "" },
	{ "[kenpod]\nwrite_failover = maybe\n" MIN, 0, 2, "write_failover", "" },
	{ "[society t1]\nmail_from = no-at-sign\n", 0, 2, "mail_from", "not a mail address" },
	{ "[society t1]\nmail_from = a b@example.jp\n", 0, 2, "mail_from", "not a mail address" },
	{ "[society t1]\nmail_from = a@b@example.jp\n", 0, 2, "mail_from", "not a mail address" },
	{ "[society t1]\nmail_from = a..b@example.jp\n", 0, 2, "mail_from",
	  "not a mail address" },
	{ "[society t1]\nmail_from = <a@example.jp>\n", 0, 2, "mail_from", "not a mail address" },
	{ "[society t1]\nmail_from = a@-example.jp\n", 0, 2, "mail_from", "not a mail address" },
	{ "[society t1]\nmail_from = a@example..jp\n", 0, 2, "mail_from", "not a mail address" },
	{ "[society t1]\nentry_address = 健保@example.jp\n", 0, 2, "entry_address",
	  "not a mail address" },
	{ "[kenpod]\nmail_domain = -bad.example.jp\n" MIN, 0, 2, "mail_domain",
	  "not a domain name" },
	{ "[society t1]\ntimezone = Asia/Nowhere\n", 0, 2, "timezone",
	  "unknown time zone (no file /usr/share/zoneinfo/Asia/Nowhere)" },
	{ "[society t1]\ntimezone = ../../etc/passwd\n", 0, 2, "timezone",
	  "not a time zone name" },
	{ "[society t1]\ntimezone = /etc/passwd\n", 0, 2, "timezone", "not a time zone name" },
	{ "[society t1]\ntimezone = Asia//Tokyo\n", 0, 2, "timezone", "not a time zone name" },
	/* Keys that go together. */
	{ "[kenpod]\nbind_dn = cn=a,dc=b\n" MIN, 0, 1, "bind_password_file",
	  "required in [kenpod] when bind_dn is set" },
	{ "[kenpod]\nsmtp_password_file = /etc/kenpo/smtp\n" MIN, 0, 1, "smtp_user",
	  "required in [kenpod] when smtp_password_file is set" },
	{ "[kenpod]\nsmtp_tls = smtps\n" MIN, 0, 2, "smtp_tls",
	  "smtps needs an smtps:// smtp_url" },
	{ "[kenpod]\nsmtp_url = smtps://relay.example.jp\nsmtp_tls = starttls\n" MIN, 0, 3,
	  "smtp_tls", "none or starttls needs an smtp:// smtp_url" },
};

static void
test_errors(void **state)
{
	char path[PATH_MAX], want[PATH_MAX + 256];
	struct kenpo_config *cfg;
	size_t i, len, wl;

	for (i = 0; i < sizeof bad_cases / sizeof bad_cases[0]; i++) {
		const struct bad_case *c = &bad_cases[i];

		len = c->len != 0 ? c->len : strlen(c->text);
		cfg = (struct kenpo_config *)&cfg;
		if (load_len(c->text, len, &cfg, path, sizeof path) != -1)
			fail_msg("case %zu (line %u, %s) was accepted", i, c->line, c->key);
		assert_ptr_equal(cfg, (struct kenpo_config *)&cfg);
		wl = (size_t)snprintf(want, sizeof want, "%s:%u: %s: ", path, c->line, c->key);
		if (strncmp(errbuf, want, wl) != 0 || strstr(errbuf + wl, c->problem) == NULL)
			fail_msg("case %zu: got \"%s\", want \"%s...%s...\"", i, errbuf, want,
				 c->problem);
	}
}

static void
test_blank_and_comments(void **state)
{
	struct kenpo_config *cfg =
		load_ok("[kenpod]\n\n   \n\t\n  # indented comment\n;x = 1\n#threads = oops\n"
			"threads = 8\n" MIN);

	assert_int_equal(cfg->threads, 8);
	kenpo_config_free(cfg);
	/* No final newline. */
	cfg = load_ok("[society t1]\n"
		      "name = n\n"
		      "base = o=x\n"
		      "mail_from = a@b\n"
		      "login_url = https://x/\n"
		      "guide_url = https://x/%%TOKEN%%\n"
		      "reset_url = https://x/?%%TOKEN%%");
	assert_string_equal(cfg->societies[0].reset_url, "https://x/?%%TOKEN%%");
	kenpo_config_free(cfg);
}

static void
test_load_file_checks(void **state)
{
	char path[PATH_MAX], want[PATH_MAX + 128];
	struct kenpo_config *cfg = NULL;
	size_t big = KENPO_CONFIG_MAX_BYTES + 1;
	char *text;

	write_file("kenpod.conf", MIN, strlen(MIN), 0666, path, sizeof path);
	assert_int_equal(kenpo_config_load(path, getuid(), &cfg, errbuf, sizeof errbuf), -1);
	snprintf(want, sizeof want, "%s: must not be writable by group or others (mode 0666)",
		 path);
	assert_string_equal(errbuf, want);
	assert_null(cfg);

	text = malloc(big);
	assert_non_null(text);
	memset(text, '#', big);
	write_file("kenpod.conf", text, big, 0644, path, sizeof path);
	free(text);
	assert_int_equal(kenpo_config_load(path, getuid(), &cfg, errbuf, sizeof errbuf), -1);
	snprintf(want, sizeof want, "%s: larger than %d bytes", path, KENPO_CONFIG_MAX_BYTES);
	assert_string_equal(errbuf, want);
	assert_null(cfg);

	/* A small error buffer is cut, not overrun. */
	write_file("kenpod.conf", "[nope]\n", 7, 0644, path, sizeof path);
	memset(errbuf, 'Z', sizeof errbuf);
	assert_int_equal(kenpo_config_load(path, getuid(), &cfg, errbuf, 8), -1);
	assert_int_equal(strlen(errbuf), 7);
	assert_int_equal(errbuf[8], 'Z');
	assert_int_equal(kenpo_config_load(path, getuid(), &cfg, NULL, 0), -1);
	assert_null(cfg);
}

/* ---- the shipped example ------------------------------------------------ */

static char *
read_example(size_t *len)
{
	const char *src = getenv("KENPO_SRCDIR");
	char path[PATH_MAX], *buf;
	FILE *f;
	long n;

	if (src == NULL)
		fail_msg("KENPO_SRCDIR is not set");
	snprintf(path, sizeof path, "%s/etc/kenpod.conf.example", src);
	f = fopen(path, "rb");
	if (f == NULL)
		fail_msg("%s: %s", path, strerror(errno));
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	assert_true(n > 0);
	rewind(f);
	buf = malloc((size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	buf[n] = '\0';
	fclose(f);
	*len = (size_t)n;
	return buf;
}

/* Removes the '#' of each "#key = value" line: the documented defaults and
 * examples. */
static size_t
uncomment_settings(char *text)
{
	char *line = text, *w;
	size_t n = 0, k;

	while (*line != '\0') {
		k = strspn(line + 1, "abcdefghijklmnopqrstuvwxyz0123456789_");
		if (line[0] == '#' && k > 0 && strncmp(line + 1 + k, " = ", 3) == 0) {
			memmove(line, line + 1, strlen(line + 1) + 1);
			n++;
		}
		w = strchr(line, '\n');
		if (w == NULL)
			break;
		line = w + 1;
	}
	return n;
}

/* One key compared, and kept from another configuration, as kenpod does
 * for the settings a reload cannot change. */
static void
test_same_and_keep(void **state)
{
	struct kenpo_config *a = load_ok("[kenpod]\nthreads = 3\nsocket = /run/a.sock\n" MIN),
			    *b = load_ok("[kenpod]\nthreads = 5\n" MIN "shell = /bin/sh\n"
					 "language = en\n");

	(void)state;
	assert_int_equal(kenpo_config_same(a, b, "threads"), 0);
	assert_int_equal(kenpo_config_same(a, b, "socket"), 0);
	assert_int_equal(kenpo_config_same(a, b, "ldap_uri"), 1);
	assert_int_equal(kenpo_config_same(a, b, "bind_dn"), 1); /* both unset */
	assert_int_equal(kenpo_config_same(a, b, "no_such_key"), -1);
	assert_int_equal(kenpo_config_keep(b, a, "threads"), 0);
	assert_int_equal(kenpo_config_keep(b, a, "socket"), 0);
	assert_int_equal(kenpo_config_keep(b, a, "no_such_key"), -1);
	assert_int_equal(b->threads, 3);
	assert_string_equal(b->socket_path, "/run/a.sock");
	assert_ptr_not_equal(b->socket_path, a->socket_path);
	assert_int_equal(kenpo_config_same(a, b, "socket"), 1);
	/* A society's keys. */
	assert_int_equal(kenpo_society_same(&a->societies[0], &b->societies[0], "shell"), 0);
	assert_int_equal(kenpo_society_same(&a->societies[0], &b->societies[0], "name"), 1);
	assert_int_equal(kenpo_society_same(&a->societies[0], &b->societies[0], "threads"), -1);
	assert_int_equal(kenpo_society_same(&a->societies[0], &b->societies[0], "language"), 0);
	assert_int_equal(kenpo_society_keep(&b->societies[0], &a->societies[0], "language"), 0);
	assert_int_equal(b->societies[0].lang, KENPO_LANG_JA);
	assert_string_equal(b->societies[0].shell, "/bin/sh");
	/* An unset value kept is unset. */
	assert_int_equal(kenpo_config_keep(a, b, "bind_dn"), 0);
	assert_null(a->bind_dn);
	kenpo_config_free(a);
	kenpo_config_free(b);
}

static void
test_example(void **state)
{
	struct kenpo_config *a, *b;
	const struct kenpo_society *sa, *sb;
	char *text;
	size_t len;

	text = read_example(&len);
	a = load_ok(text);
	sa = kenpo_config_society(a, "sample");
	assert_non_null(sa);
	assert_int_equal(a->nsocieties, 1);
	assert_string_equal(sa->name, "サンプル健康保険組合");
	assert_non_null(strstr(sa->mail_from, "example.jp"));

	/* With every documented value switched on, the file still loads and
	 * each documented default is the real one. */
	/* All 81 keys are there: 6 set and 75 documented. */
	assert_int_equal(uncomment_settings(text), 75);
	if (access(TOKYO, F_OK) != 0) {
		free(text);
		kenpo_config_free(a);
		skip(); /* the uncommented timezone needs tzdata */
	}
	b = load_ok(text);
	free(text);
	sb = kenpo_config_society(b, "sample");
	assert_non_null(sb);
	assert_non_null(b->bind_dn);
	assert_non_null(sb->identity_url);
	assert_string_equal(a->socket_path, b->socket_path);
	assert_string_equal(a->ldap_uri, b->ldap_uri);
	assert_int_equal(a->ldap_timeout, b->ldap_timeout);
	/* write_uri has no default: one server needs none. */
	assert_null(a->write_uri);
	assert_non_null(b->write_uri);
	assert_int_equal(a->write_failback_interval, 30);
	assert_int_equal(a->write_failback_interval, b->write_failback_interval);
	assert_int_equal(a->write_failover, 1);
	assert_int_equal(a->write_failover, b->write_failover);
	/* The example shows the packaged path; the default follows --sysconfdir. */
	assert_string_equal(a->secret_file, SYSCONFDIR "/kenpo/secret");
	assert_string_equal(b->secret_file, "/etc/kenpo/secret");
	assert_string_equal(a->user, b->user);
	assert_int_equal(a->threads, b->threads);
	assert_int_equal(a->nss_threads, b->nss_threads);
	assert_int_equal(a->selfservice_threads, b->selfservice_threads);
	assert_int_equal(a->control_threads, b->control_threads);
	assert_int_equal(a->max_connections, b->max_connections);
	assert_int_equal(a->max_connections_per_uid, b->max_connections_per_uid);
	assert_int_equal(a->max_connections_portal, b->max_connections_portal);
	assert_int_equal(a->enumerate, b->enumerate);
	assert_int_equal(a->cache_positive_ttl, b->cache_positive_ttl);
	assert_int_equal(a->cache_negative_ttl, b->cache_negative_ttl);
	assert_string_equal(b->passwd_map, "/run/kenpo/passwd.mc");
	assert_int_equal(a->cache_size, 200000);
	assert_int_equal(a->cache_size, b->cache_size);
	assert_string_equal(a->smtp_url, b->smtp_url);
	assert_int_equal(a->smtp_tls, b->smtp_tls);
	assert_int_equal(a->smtp_timeout, b->smtp_timeout);
	assert_true(a->argon2_opslimit == b->argon2_opslimit);
	assert_int_equal(a->argon2_memlimit, b->argon2_memlimit);
	assert_int_equal(a->hash_workers, b->hash_workers);
	assert_string_equal(a->log_level, b->log_level);
	assert_int_equal(sa->method, sb->method);
	assert_int_equal(sa->registration, sb->registration);
	assert_int_equal(sa->guide_total_per_hour, sb->guide_total_per_hour);
	assert_int_equal(sa->reset_total_per_hour, sb->reset_total_per_hour);
	assert_int_equal(sa->session_idle, sb->session_idle);
	assert_int_equal(sa->session_lifetime, sb->session_lifetime);
	assert_int_equal(sa->lang, sb->lang);
	assert_string_equal(sa->timezone, sb->timezone);
	assert_string_equal(sa->mail_from_name, sb->mail_from_name);
	assert_string_equal(sa->home_template, sb->home_template);
	assert_string_equal(sa->shell, sb->shell);
	assert_int_equal(sa->uid_min, sb->uid_min);
	assert_int_equal(sa->uid_max, sb->uid_max);
	assert_int_equal(sa->gid, sb->gid);
	assert_int_equal(sa->key_validity, sb->key_validity);
	assert_int_equal(sa->key_resend_cooldown, sb->key_resend_cooldown);
	assert_int_equal(sa->key_max_tries, sb->key_max_tries);
	assert_int_equal(sa->guide_validity, sb->guide_validity);
	assert_int_equal(sa->identity_validity, sb->identity_validity);
	assert_int_equal(sa->reset_validity, sb->reset_validity);
	assert_int_equal(sa->temp_password_validity, sb->temp_password_validity);
	assert_int_equal(sa->guide_per_hour, sb->guide_per_hour);
	assert_int_equal(sa->reset_per_hour, sb->reset_per_hour);
	assert_int_equal(sa->identity_max_tries, sb->identity_max_tries);
	assert_int_equal(sa->lockout_failures, sb->lockout_failures);
	assert_int_equal(sa->lockout_duration, sb->lockout_duration);
	kenpo_config_free(a);
	kenpo_config_free(b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_duration),
		cmocka_unit_test(test_parse_ulong),
		cmocka_unit_test(test_parse_size),
		cmocka_unit_test(test_read_good),
		cmocka_unit_test(test_read_secret),
		cmocka_unit_test(test_read_refused),
		cmocka_unit_test(test_read_owner),
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_full),
		cmocka_unit_test(test_two_societies),
		cmocka_unit_test(test_timezone),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_blank_and_comments),
		cmocka_unit_test(test_load_file_checks),
		cmocka_unit_test(test_same_and_keep),
		cmocka_unit_test(test_example),
	};

	return cmocka_run_group_tests(tests, setup_dir, teardown_dir);
}
