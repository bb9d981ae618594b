/*
 * localname.c - login IDs that would name an account of the host, and
 * member uid ranges that would overlap the host's own (see localname.h).
 */
#include "autoconfig.h"

#include <errno.h>
#include <grp.h>
#include <pthread.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "localname.h"
#include "policy.h"

/*
 * Names a member must never hold, whatever this host's files say today: the
 * users and groups of Debian's base-passwd and of common services (another
 * host served by the same kenpod may have them), the names mail and web
 * servers give special meaning, and the prefixes under which Debian and
 * systemd create system accounts.
 */
const char *const kenpo_reserved_login_ids[] = {
	/* base-passwd users and groups */
	"root",
	"daemon",
	"bin",
	"sys",
	"sync",
	"games",
	"man",
	"lp",
	"mail",
	"news",
	"uucp",
	"proxy",
	"www-data",
	"backup",
	"list",
	"irc",
	"gnats",
	"nobody",
	"adm",
	"tty",
	"disk",
	"kmem",
	"dialout",
	"fax",
	"voice",
	"cdrom",
	"floppy",
	"tape",
	"sudo",
	"audio",
	"dip",
	"operator",
	"src",
	"shadow",
	"utmp",
	"video",
	"sasl",
	"plugdev",
	"staff",
	"users",
	"nogroup",
	"input",
	"sgx",
	"kvm",
	"render",
	"netdev",
	"lpadmin",
	"scanner",
	"crontab",
	"messagebus",
	/* administrators by convention, and role mailboxes (RFC 2142) */
	"admin",
	"administrator",
	"wheel",
	"toor",
	"superuser",
	"sysadmin",
	"postmaster",
	"hostmaster",
	"webmaster",
	"abuse",
	"security",
	"noc",
	"mailer-daemon",
	"ftp",
	"uucp",
	"usenet",
	"news",
	"www",
	"info",
	"support",
	/* services kenpo runs beside */
	"sshd",
	"ssh",
	"openldap",
	"ldap",
	"slapd",
	"kenpo",
	"kenpod",
	"nslcd",
	"sssd",
	"dovecot",
	"dovenull",
	"postfix",
	"exim",
	"nginx",
	"apache",
	"httpd",
	"cockpit-ws",
	"cockpit-wsinstance",
	"polkitd",
	"avahi",
	"ntp",
	"chrony",
	"tss",
	"uuidd",
	"dnsmasq",
	"syslog",
	"statd",
	"tcpdump",
	"guest",
	"nfsnobody",
	"halt",
	"shutdown",
	"lightdm",
	"gdm",
	"colord",
	/* system account prefixes: Debian's "_apt", systemd's dynamic users */
	"_*",
	"systemd-*",
	"cockpit-*",
	NULL,
};

#define NAME_MAX_BYTES 64 /* longer names are never login IDs */
#define SNAPSHOT_TTL_SECONDS 60
#define SNAPSHOT_MAX_NAMES 200000

/* ---- reserved names ---- */

static char
lower(char c)
{
	return (c >= 'A' && c <= 'Z') ? (char)(c + ('a' - 'A')) : c;
}

/* Whether id matches the entry pattern[0..plen) without regard to case. */
static int
entry_matches(const char *pattern, size_t plen, const char *id, size_t len)
{
	size_t i;
	int prefix = plen > 0 && pattern[plen - 1] == '*';

	if (prefix)
		plen--;
	if (prefix ? len < plen : len != plen)
		return 0;
	for (i = 0; i < plen; i++)
		if (lower(pattern[i]) != lower(id[i]))
			return 0;
	return 1;
}

static int
is_separator(char c)
{
	return c == ' ' || c == '\t' || c == ',';
}

/* Whether id matches an entry of a separated list. */
static int
list_matches(const char *list, const char *id, size_t len)
{
	const char *p = list, *start;

	while (*p != '\0') {
		while (is_separator(*p))
			p++;
		start = p;
		while (*p != '\0' && !is_separator(*p))
			p++;
		if (p > start && entry_matches(start, (size_t)(p - start), id, len))
			return 1;
	}
	return 0;
}

int
kenpo_localname_reserved(const char *id, size_t len, const char *extra)
{
	size_t i;

	for (i = 0; kenpo_reserved_login_ids[i] != NULL; i++)
		if (entry_matches(kenpo_reserved_login_ids[i],
				  strlen(kenpo_reserved_login_ids[i]), id, len))
			return 1;
	return extra != NULL && list_matches(extra, id, len);
}

int
kenpo_localname_list_ok(const char *list, char *why, size_t whysz)
{
	const char *p = list, *start;
	size_t n, i;

	while (*p != '\0') {
		while (is_separator(*p))
			p++;
		start = p;
		while (*p != '\0' && !is_separator(*p))
			p++;
		n = (size_t)(p - start);
		if (n == 0)
			continue;
		for (i = 0; i < n; i++) {
			char c = start[i];
			int ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
				 (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-' ||
				 (c == '*' && i == n - 1 && n > 1);

			if (!ok || n > NAME_MAX_BYTES) {
				snprintf(why, whysz,
					 "\"%.*s\" is no login ID (letters, digits, "
					 "'.', '_', '-', and '*' only at the end)",
					 (int)(n > NAME_MAX_BYTES ? NAME_MAX_BYTES : n), start);
				return -1;
			}
		}
	}
	return 0;
}

/* ---- the host's names ---- */

/* Every user and group name the sources enumerate, lower-cased and sorted,
 * and the uids of the users, sorted. */
static struct {
	pthread_mutex_t lock;
	char **names;
	size_t n;
	unsigned long *uids;
	size_t nuids;
	time_t taken;
} snap = { .lock = PTHREAD_MUTEX_INITIALIZER };

static int
cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int
names_push(char ***names, size_t *n, size_t *cap, const char *name)
{
	char *copy, **grown;
	size_t i, len = strlen(name);

	if (len == 0 || len > NAME_MAX_BYTES || *n >= SNAPSHOT_MAX_NAMES)
		return 0;
	if (*n == *cap) {
		*cap = *cap ? 2 * *cap : 256;
		grown = realloc(*names, *cap * sizeof(*grown));
		if (grown == NULL)
			return -1;
		*names = grown;
	}
	copy = malloc(len + 1);
	if (copy == NULL)
		return -1;
	for (i = 0; i <= len; i++)
		copy[i] = lower(name[i]);
	(*names)[(*n)++] = copy;
	return 0;
}

static int
cmp_uids(const void *a, const void *b)
{
	unsigned long x = *(const unsigned long *)a, y = *(const unsigned long *)b;

	return (x > y) - (x < y);
}

static int
uids_push(unsigned long **uids, size_t *n, size_t *cap, unsigned long uid)
{
	unsigned long *grown;

	if (*n >= SNAPSHOT_MAX_NAMES)
		return 0;
	if (*n == *cap) {
		*cap = *cap ? 2 * *cap : 256;
		grown = realloc(*uids, *cap * sizeof(*grown));
		if (grown == NULL)
			return -1;
		*uids = grown;
	}
	(*uids)[(*n)++] = uid;
	return 0;
}

static void
names_free(char **names, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

/* Read the names again.  Called with snap.lock held; getpwent and getgrent
 * keep one position per process, and this is their only user in kenpo. */
static void
snapshot_take(void)
{
	char **names = NULL;
	unsigned long *uids = NULL;
	size_t n = 0, cap = 0, nuids = 0, ucap = 0;
	struct passwd *pw;
	struct group *gr;
	int failed = 0;

	setpwent();
	while (!failed && (pw = getpwent()) != NULL)
		failed = names_push(&names, &n, &cap, pw->pw_name) != 0 ||
			 uids_push(&uids, &nuids, &ucap, pw->pw_uid) != 0;
	endpwent();
	setgrent();
	while (!failed && (gr = getgrent()) != NULL)
		failed = names_push(&names, &n, &cap, gr->gr_name) != 0;
	endgrent();
	if (failed) {
		/* Keep the old list rather than none. */
		names_free(names, n);
		free(uids);
		return;
	}
	qsort(names, n, sizeof(*names), cmp_names);
	qsort(uids, nuids, sizeof(*uids), cmp_uids);
	names_free(snap.names, snap.n);
	free(snap.uids);
	snap.names = names;
	snap.n = n;
	snap.uids = uids;
	snap.nuids = nuids;
	snap.taken = time(NULL);
}

/* Take the snapshot again when it is older than SNAPSHOT_TTL_SECONDS
 * (snap.lock held). */
static void
snapshot_fresh(void)
{
	time_t now = time(NULL);

	if (snap.names == NULL || now - snap.taken >= SNAPSHOT_TTL_SECONDS || now < snap.taken)
		snapshot_take();
}

static int
snapshot_has(const char *lowered)
{
	const char *key = lowered;
	int found;

	pthread_mutex_lock(&snap.lock);
	snapshot_fresh();
	found = snap.n > 0 &&
		bsearch(&key, snap.names, snap.n, sizeof(*snap.names), cmp_names) != NULL;
	pthread_mutex_unlock(&snap.lock);
	return found;
}

int
kenpo_localname_listed(const char *id, size_t len)
{
	char lowered[NAME_MAX_BYTES + 1];
	size_t i;

	if (len == 0 || len > NAME_MAX_BYTES || memchr(id, '\0', len) != NULL)
		return 0;
	for (i = 0; i < len; i++)
		lowered[i] = lower(id[i]);
	lowered[len] = '\0';
	return snapshot_has(lowered);
}

int
kenpo_localuid_listed(unsigned long uid)
{
	int found;

	pthread_mutex_lock(&snap.lock);
	snapshot_fresh();
	found = snap.nuids > 0 &&
		bsearch(&uid, snap.uids, snap.nuids, sizeof(*snap.uids), cmp_uids) != NULL;
	pthread_mutex_unlock(&snap.lock);
	return found;
}

/* A lookup that could not say "no such name": ERANGE (an entry too large
 * for the buffer, a group with many members) or a source in trouble.  It
 * counts as known: better to refuse a login ID than to let one through
 * that the host may hold. */
static int
lookup_failed(int rc)
{
	return rc != 0 && rc != ENOENT && rc != ESRCH && rc != EBADF && rc != EPERM;
}

/* Whether the sources know name exactly, as a user or a group. */
static int
exact_known(const char *name)
{
	char buf[4096];
	struct passwd pw, *pwp = NULL;
	struct group gr, *grp = NULL;
	int rc;

	rc = getpwnam_r(name, &pw, buf, sizeof buf, &pwp);
	if (pwp != NULL || lookup_failed(rc))
		return 1;
	rc = getgrnam_r(name, &gr, buf, sizeof buf, &grp);
	return grp != NULL || lookup_failed(rc);
}

int
kenpo_localname_on_host(const char *id, size_t len)
{
	char name[NAME_MAX_BYTES + 1], lowered[NAME_MAX_BYTES + 1];
	size_t i;

	if (len == 0 || len > NAME_MAX_BYTES || memchr(id, '\0', len) != NULL)
		return 0;
	memcpy(name, id, len);
	name[len] = '\0';
	for (i = 0; i <= len; i++)
		lowered[i] = lower(name[i]);
	/* Sources that do not enumerate (sssd, most LDAP setups) still answer
	 * the exact name and the lower-cased one. */
	if (exact_known(name) || (strcmp(name, lowered) != 0 && exact_known(lowered)))
		return 1;
	return snapshot_has(lowered);
}

unsigned
kenpo_localname_check(const char *id, size_t len, const char *extra)
{
	if (kenpo_localname_reserved(id, len, extra) || kenpo_localname_on_host(id, len))
		return KENPO_RULE_ID_RESERVED;
	return 0;
}

/* ---- uid ranges ---- */

static int
overlaps(unsigned long a_min, unsigned long a_max, unsigned long b_min, unsigned long b_max)
{
	return a_min <= b_max && b_min <= a_max;
}

/* The value of `key` in login.defs (a line "KEY  number"), or -1. */
static long long
login_defs_value(const char *text, const char *key)
{
	size_t klen = strlen(key);
	const char *p = text;
	char *end;
	long long v;

	while (p != NULL && *p != '\0') {
		while (*p == ' ' || *p == '\t')
			p++;
		if (strncmp(p, key, klen) == 0 && (p[klen] == ' ' || p[klen] == '\t')) {
			errno = 0;
			v = strtoll(p + klen, &end, 10);
			if (errno == 0 && end != p + klen && v >= 0)
				return v;
		}
		p = strchr(p, '\n');
		if (p != NULL)
			p++;
	}
	return -1;
}

/* A small text file whole, or NULL (absent or unreadable: nothing to add). */
static char *
slurp(const char *path)
{
	FILE *f = fopen(path, "re");
	char *buf;
	size_t n;

	if (f == NULL)
		return NULL;
	buf = malloc(1024 * 1024 + 1);
	if (buf != NULL) {
		n = fread(buf, 1, 1024 * 1024, f);
		buf[n] = '\0';
	}
	fclose(f);
	return buf;
}

static int
check_login_defs(unsigned long lo, unsigned long hi, const char *path, char *why, size_t whysz)
{
	static const char *const pairs[][2] = {
		{ "UID_MIN", "UID_MAX" },
		{ "SYS_UID_MIN", "SYS_UID_MAX" },
	};
	char *text = slurp(path);
	long long a, b;
	size_t i;
	int rc = 0;

	if (text == NULL)
		return 0;
	for (i = 0; i < sizeof pairs / sizeof pairs[0] && rc == 0; i++) {
		a = login_defs_value(text, pairs[i][0]);
		b = login_defs_value(text, pairs[i][1]);
		if (b < 0)
			continue;
		if (a < 0)
			a = 0;
		if (overlaps(lo, hi, (unsigned long)a, (unsigned long)b)) {
			snprintf(why, whysz, "overlaps %s..%s %lld..%lld of %s", pairs[i][0],
				 pairs[i][1], a, b, path);
			rc = -1;
		}
	}
	free(text);
	return rc;
}

/* /etc/subuid: "owner:first:count" per line. */
static int
check_subuid(unsigned long lo, unsigned long hi, const char *path, char *why, size_t whysz)
{
	char *text = slurp(path), *line, *save = NULL, *c1, *c2, *end;
	unsigned long long first, count;
	int rc = 0, n = 0;

	if (text == NULL)
		return 0;
	for (line = strtok_r(text, "\n", &save); line != NULL && rc == 0;
	     line = strtok_r(NULL, "\n", &save)) {
		n++;
		if ((c1 = strchr(line, ':')) == NULL || (c2 = strchr(c1 + 1, ':')) == NULL)
			continue;
		errno = 0;
		first = strtoull(c1 + 1, &end, 10);
		if (errno != 0 || end != c2)
			continue;
		count = strtoull(c2 + 1, &end, 10);
		if (errno != 0 || end == c2 + 1 || count == 0 || first + count - 1 < first)
			continue;
		if (overlaps(lo, hi, (unsigned long)first, (unsigned long)(first + count - 1))) {
			snprintf(why, whysz,
				 "overlaps the subordinate ids %llu..%llu of %s line %d", first,
				 first + count - 1, path, n);
			rc = -1;
		}
	}
	free(text);
	return rc;
}

int
kenpo_host_range_clear(unsigned long uid_min, unsigned long uid_max, const char *login_defs,
		       const char *subuid, char *why, size_t whysz)
{
	if (uid_min < KENPO_HOST_UID_LIMIT) {
		snprintf(why, whysz, "overlaps the host's own ids 0..%lu",
			 KENPO_HOST_UID_LIMIT - 1);
		return -1;
	}
	if (check_login_defs(uid_min, uid_max, login_defs ? login_defs : "/etc/login.defs", why,
			     whysz) != 0)
		return -1;
	return check_subuid(uid_min, uid_max, subuid ? subuid : "/etc/subuid", why, whysz);
}
