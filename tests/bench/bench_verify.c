/*
 * bench_verify.c - where should a member's password be verified?  Times,
 * in one run and alternately, the two ways kenpod could do it with the
 * same {ARGON2} argon2id hash:
 *
 *   verify  kenpo_pw_verify (libsodium) in this process, as kenpod does
 *           after reading userPassword with its service account;
 *   bind    an LDAP simple bind as the member on an open connection, so
 *           that slapd's argon2 module (Debian's libargon2) verifies it.
 *
 *   bench_verify [-n ROUNDS] [-t T] [-m BYTES] -H URI -D ADMIN_DN -y PWFILE -b PARENT
 *
 * It adds a throwaway entry cn=bench-verify-PID,PARENT (inetOrgPerson with
 * userPassword) as ADMIN_DN, measures ROUNDS (default 40) of each after
 * two warm-up rounds, prints the median, mean and 90th percentile in ms
 * and the ratio bind/verify of the medians, and deletes the entry.  The
 * hash uses t=T (default 2) and m=BYTES (default 64 MiB), kenpod's
 * defaults.  tests/bench/run-verify-bench starts a sandbox and runs it.
 * Exit status 0, or 1 when something failed (a bind or a verification
 * that did not succeed is a failure: both must accept the password).
 */
#include "autoconfig.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <ldap.h>

#include "config.h"
#include "gen.h"
#include "secret.h"

#define WARMUP 2
#define ROUNDS_MAX 10000

struct opts {
	long rounds;
	struct kenpo_pwcost cost;
	const char *uri, *admin_dn, *pwfile, *parent;
};

static double
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static void
report(const char *what, double *v, long n, double *median)
{
	double sum = 0;
	long i;

	qsort(v, (size_t)n, sizeof *v, cmp_double);
	for (i = 0; i < n; i++)
		sum += v[i];
	*median = v[n / 2];
	printf("%-7s median %7.1f ms  mean %7.1f ms  p90 %7.1f ms  (%ld rounds)\n", what, *median,
	       sum / (double)n, v[(n * 9) / 10], n);
}

static int
parse(int argc, char **argv, struct opts *o)
{
	unsigned long long v;
	int c;

	kenpo_pwcost_default(&o->cost);
	o->rounds = 40;
	while ((c = getopt(argc, argv, "n:t:m:H:D:y:b:")) != -1) {
		switch (c) {
		case 'n':
			if (kenpo_parse_ulong(optarg, 1, ROUNDS_MAX, &v) != 0)
				return -1;
			o->rounds = (long)v;
			break;
		case 't':
			if (kenpo_parse_ulong(optarg, 1, 10, &v) != 0)
				return -1;
			o->cost.opslimit = v;
			break;
		case 'm':
			if (kenpo_parse_size(optarg, 8192, (size_t)4 << 30, &o->cost.memlimit) !=
			    0)
				return -1;
			break;
		case 'H':
			o->uri = optarg;
			break;
		case 'D':
			o->admin_dn = optarg;
			break;
		case 'y':
			o->pwfile = optarg;
			break;
		case 'b':
			o->parent = optarg;
			break;
		default:
			return -1;
		}
	}
	return o->uri && o->admin_dn && o->pwfile && o->parent && optind == argc ? 0 : -1;
}

/* A simple bind; an LDAP result code. */
static int
bind_as(LDAP *ld, const char *dn, const char *pw)
{
	struct berval cred;

	cred.bv_val = (char *)(uintptr_t)pw;
	cred.bv_len = strlen(pw);
	return ldap_sasl_bind_s(ld, dn, LDAP_SASL_SIMPLE, &cred, NULL, NULL, NULL);
}

static LDAP *
open_ldap(const char *uri)
{
	LDAP *ld = NULL;
	int version = LDAP_VERSION3;

	if (ldap_initialize(&ld, uri) != LDAP_SUCCESS)
		return NULL;
	if (ldap_set_option(ld, LDAP_OPT_PROTOCOL_VERSION, &version) != LDAP_OPT_SUCCESS) {
		ldap_unbind_ext_s(ld, NULL, NULL);
		return NULL;
	}
	return ld;
}

/* The administrator's password: the first line of the file. */
static int
read_password(const char *path, char *out, size_t outsz)
{
	FILE *f = fopen(path, "r");
	int rc = -1;

	if (f == NULL)
		return -1;
	if (fgets(out, (int)outsz, f) != NULL) {
		out[strcspn(out, "\r\n")] = '\0';
		rc = out[0] != '\0' ? 0 : -1;
	}
	fclose(f);
	return rc;
}

static int
add_entry(LDAP *ld, const char *dn, const char *hash)
{
	/* libldap takes char *: writable copies of the names and values. */
	char t_oc[] = "objectClass", t_cn[] = "cn", t_sn[] = "sn", t_pw[] = "userPassword";
	char v_oc[] = "inetOrgPerson", v_cn[] = "bench-verify", v_sn[] = "bench";
	char v_pw[KENPO_PWHASH_MAX];
	char *oc[] = { v_oc, NULL }, *cn[] = { v_cn, NULL }, *sn[] = { v_sn, NULL };
	char *pw[] = { v_pw, NULL };
	LDAPMod m_oc = { LDAP_MOD_ADD, t_oc, { oc } }, m_cn = { LDAP_MOD_ADD, t_cn, { cn } };
	LDAPMod m_sn = { LDAP_MOD_ADD, t_sn, { sn } }, m_pw = { LDAP_MOD_ADD, t_pw, { pw } };
	LDAPMod *mods[] = { &m_oc, &m_cn, &m_sn, &m_pw, NULL };

	snprintf(v_pw, sizeof v_pw, "%s", hash);
	return ldap_add_ext_s(ld, dn, mods, NULL, NULL);
}

/* Alternate the two ways, ROUNDS times after the warm-up. */
static int
measure(const struct opts *o, LDAP *ld, const char *dn, const char *hash, const char *pw,
	double *tv, double *tb)
{
	long i;
	double t0;
	int rc;

	for (i = -WARMUP; i < o->rounds; i++) {
		t0 = now_ms();
		rc = kenpo_pw_verify(hash, pw, strlen(pw));
		if (i >= 0)
			tv[i] = now_ms() - t0;
		if (rc != 0) {
			fprintf(stderr, "bench_verify: libsodium refused the password\n");
			return -1;
		}
		t0 = now_ms();
		rc = bind_as(ld, dn, pw);
		if (i >= 0)
			tb[i] = now_ms() - t0;
		if (rc != LDAP_SUCCESS) {
			fprintf(stderr, "bench_verify: bind as %s: %s\n", dn,
				ldap_err2string(rc));
			return -1;
		}
	}
	return 0;
}

static int
run(const struct opts *o, LDAP *admin, LDAP *member)
{
	char pw[KENPO_TEMP_PASSWORD_LEN + 1], hash[KENPO_PWHASH_MAX], dn[1024];
	double *tv = calloc((size_t)o->rounds, sizeof(double));
	double *tb = calloc((size_t)o->rounds, sizeof(double));
	double mv, mb;
	int rc = -1, added = 0;

	snprintf(dn, sizeof dn, "cn=bench-verify-%ld,%s", (long)getpid(), o->parent);
	if (tv == NULL || tb == NULL || kenpo_gen_temp_password(pw, sizeof pw) != 0 ||
	    kenpo_pw_hash(pw, strlen(pw), &o->cost, hash, sizeof hash) != 0) {
		fprintf(stderr, "bench_verify: cannot make the password hash\n");
		goto done;
	}
	if ((rc = add_entry(admin, dn, hash)) != LDAP_SUCCESS) {
		fprintf(stderr, "bench_verify: add %s: %s\n", dn, ldap_err2string(rc));
		rc = -1;
		goto done;
	}
	added = 1;
	printf("hash    argon2id t=%llu m=%zu KiB p=1, entry %s\n", o->cost.opslimit,
	       o->cost.memlimit / 1024, dn);
	rc = measure(o, member, dn, hash, pw, tv, tb);
	if (rc == 0) {
		report("verify", tv, o->rounds, &mv);
		report("bind", tb, o->rounds, &mb);
		printf("ratio   bind/verify %.2f (medians): kenpod-side verification allows "
		       "%.2f times the logins per core\n",
		       mb / mv, mb / mv);
	}
done:
	if (added && ldap_delete_ext_s(admin, dn, NULL, NULL) != LDAP_SUCCESS)
		fprintf(stderr, "bench_verify: could not delete %s\n", dn);
	kenpo_wipe(pw, sizeof pw);
	free(tv);
	free(tb);
	return rc;
}

int
main(int argc, char **argv)
{
	struct opts o;
	char adminpw[512];
	LDAP *admin = NULL, *member = NULL;
	int rc = 1;

	memset(&o, 0, sizeof o);
	if (parse(argc, argv, &o) != 0) {
		fprintf(stderr, "usage: bench_verify [-n ROUNDS] [-t T] [-m BYTES] "
				"-H URI -D ADMIN_DN -y PWFILE -b PARENT_DN\n");
		return 2;
	}
	if (kenpo_secret_init() != 0 || read_password(o.pwfile, adminpw, sizeof adminpw) != 0) {
		fprintf(stderr, "bench_verify: libsodium or %s: %s\n", o.pwfile, strerror(errno));
		return 1;
	}
	admin = open_ldap(o.uri);
	member = open_ldap(o.uri);
	if (admin == NULL || member == NULL ||
	    bind_as(admin, o.admin_dn, adminpw) != LDAP_SUCCESS) {
		fprintf(stderr, "bench_verify: cannot bind to %s as %s\n", o.uri, o.admin_dn);
		goto done;
	}
	rc = run(&o, admin, member) == 0 ? 0 : 1;
done:
	kenpo_wipe(adminpw, sizeof adminpw);
	if (admin != NULL)
		ldap_unbind_ext_s(admin, NULL, NULL);
	if (member != NULL)
		ldap_unbind_ext_s(member, NULL, NULL);
	return rc;
}
