/*
 * inittree.c - the data tree of `kenpo-admin init` (schema/README.md):
 * the password policies, kenpod's service account and its password file,
 * the society's subtree, and kenpod's server secret.  tree_plan only
 * looks; tree_apply makes what is missing.
 */
#include "autoconfig.h"

#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>
#include <sodium.h>

#include "gen.h"
#include "init.h"
#include "readfile.h"
#include "schema.h"

#define PW_FILE_MAX 4096

/* ---- the steps ---- */

static struct step *
add_step(struct init *in, enum step_kind kind, const char *dn, struct dir_mods *m)
{
	struct step *ns = realloc(in->steps, (in->nsteps + 1) * sizeof *ns), *s;

	if (ns == NULL) {
		dir_mods_free(m);
		admin_error("out of memory");
		in->errors++;
		return NULL;
	}
	in->steps = ns;
	s = &in->steps[in->nsteps++];
	memset(s, 0, sizeof *s);
	s->kind = kind;
	s->m = m;
	s->status = "missing";
	snprintf(s->dn, sizeof s->dn, "%s", dn);
	return s;
}

/* Build a mods list from name/value pairs (NULL-terminated); NULL on error. */
static struct dir_mods *
attrs_of(const char *const *pairs)
{
	struct dir_mods *m = dir_mods_new();

	for (; m != NULL && pairs[0] != NULL; pairs += 2)
		if (dir_mods_put(m, DIR_MOD_ADD, pairs[0], pairs[1]) != 0) {
			dir_mods_free(m);
			return NULL;
		}
	return m;
}

/* "rdn,parent" into out.  0, or -1 (and an error counted) when too long. */
static int
dn_under(struct init *in, char *out, size_t outsz, const char *rdn, const char *parent)
{
	int n = snprintf(out, outsz, "%s,%s", rdn, parent);

	if (n >= 0 && (size_t)n < outsz)
		return 0;
	admin_error("DN too long: %s,%.200s", rdn, parent);
	in->errors++;
	return -1;
}

/* 1 when dn exists, 0 when not, -1 on error (printed). */
static int
entry_exists(struct init *in, const char *dn)
{
	static const char *const none[] = { "1.1", NULL };
	struct dir_entry *e = NULL;
	char err[ADMIN_ERR_MAX];
	int rc = dir_search(in->a->dir, dn, DIR_BASE, "(" KENPO_AT_OBJECTCLASS "=*)", none,
			    dir_keep_first, &e, err, sizeof err);

	dir_entry_free(e);
	if (rc == DIR_OK)
		return e != NULL;
	if (rc == DIR_NOSUCH)
		return 0;
	admin_error("%s", err);
	in->errors++;
	return -1;
}

/* An entry to add unless it exists.  0 or -1. */
static int
plan_entry(struct init *in, const char *dn, const char *const *pairs)
{
	struct dir_mods *m;
	struct step *s;
	int r = entry_exists(in, dn);

	if (r < 0)
		return -1;
	m = r == 0 ? attrs_of(pairs) : NULL;
	if (r == 0 && m == NULL) {
		admin_error("out of memory");
		in->errors++;
		return -1;
	}
	s = add_step(in, ST_ADD, dn, m);
	if (s != NULL && r == 1)
		s->status = "exists";
	return s != NULL ? 0 : -1;
}

static int
plan_ou(struct init *in, const char *ou, const char *parent)
{
	char dn[ADMIN_DN_MAX], rdn[64];
	const char *pairs[] = { KENPO_AT_OBJECTCLASS, KENPO_OC_OU, KENPO_AT_OU, ou, NULL };

	snprintf(rdn, sizeof rdn, "ou=%s", ou);
	if (dn_under(in, dn, sizeof dn, rdn, parent) != 0)
		return -1;
	return plan_entry(in, dn, pairs);
}

/* ---- the password policies ---- */

/* ppolicy's entries: the members' policy follows the society's lockout
 * settings; the service account is never locked out by guessing. */
static int
plan_policies(struct init *in)
{
	const struct kenpo_config *cfg = in->a->cfg;
	const struct kenpo_society *k = cfg != NULL ? kenpo_config_society(cfg, in->a->soc.id) :
						      NULL;
	unsigned failures = k != NULL ? k->lockout_failures : 10;
	long duration = k != NULL ? k->lockout_duration : 1800;
	char dn[ADMIN_DN_MAX], parent[ADMIN_DN_MAX], max[24], dur[24];

	snprintf(max, sizeof max, "%u", failures);
	snprintf(dur, sizeof dur, "%ld", duration);
	if (dn_under(in, parent, sizeof parent, "ou=policies", in->suffix) != 0)
		return -1;
	const char *members[] = { KENPO_AT_OBJECTCLASS,
				  KENPO_OC_ROLE,
				  KENPO_AT_OBJECTCLASS,
				  KENPO_OC_PWDPOLICY,
				  KENPO_AT_CN,
				  "default",
				  "pwdAttribute",
				  KENPO_AT_PASSWORD,
				  "pwdCheckQuality",
				  "0",
				  "pwdLockout",
				  failures > 0 ? "TRUE" : "FALSE",
				  "pwdMaxFailure",
				  max,
				  "pwdLockoutDuration",
				  dur,
				  "pwdFailureCountInterval",
				  dur,
				  "pwdMustChange",
				  "FALSE",
				  "pwdAllowUserChange",
				  "TRUE",
				  "pwdMaxAge",
				  "0",
				  "pwdInHistory",
				  "0",
				  NULL };
	const char *services[] = { KENPO_AT_OBJECTCLASS,
				   KENPO_OC_ROLE,
				   KENPO_AT_OBJECTCLASS,
				   KENPO_OC_PWDPOLICY,
				   KENPO_AT_CN,
				   "services",
				   "pwdAttribute",
				   KENPO_AT_PASSWORD,
				   "pwdLockout",
				   "FALSE",
				   "pwdMaxAge",
				   "0",
				   NULL };

	if (plan_ou(in, "policies", in->suffix) != 0)
		return -1;
	if (dn_under(in, dn, sizeof dn, "cn=default", parent) != 0 ||
	    plan_entry(in, dn, members) != 0)
		return -1;
	if (dn_under(in, dn, sizeof dn, "cn=services", parent) != 0)
		return -1;
	return plan_entry(in, dn, services);
}

/* ---- kenpod's service account ---- */

/* kenpod as the access rules name it, in in->kenpod: its bind DN, or,
 * binding with SASL EXTERNAL over ldapi as its user, that user's peercred
 * identity.  "" when it cannot be known (no configuration, no such user). */
static void
kenpod_identity(struct init *in)
{
	const struct kenpo_config *cfg = in->a->cfg;
	struct passwd pw, *res = NULL;
	char buf[1024];

	in->kenpod[0] = '\0';
	if (cfg != NULL && cfg->bind_dn != NULL) {
		snprintf(in->kenpod, sizeof in->kenpod, "%s", cfg->bind_dn);
		return;
	}
	if (cfg == NULL || getpwnam_r(cfg->user, &pw, buf, sizeof buf, &res) != 0 ||
	    res == NULL) {
		admin_note("kenpod's identity is not known (no bind_dn, and no user %s on this "
			   "host): its access rules are left out",
			   cfg != NULL ? cfg->user : "");
		return;
	}
	snprintf(in->kenpod, sizeof in->kenpod,
		 "gidNumber=%lu+uidNumber=%lu,cn=peercred,cn=external,cn=auth",
		 (unsigned long)res->pw_gid, (unsigned long)res->pw_uid);
}

/* 1 when dn lies under the suffix (compared without regard to case). */
static int
under_suffix(const struct init *in, const char *dn)
{
	size_t a = strlen(dn), b = strlen(in->suffix);

	return a > b && dn[a - b - 1] == ',' && strcasecmp(dn + a - b, in->suffix) == 0;
}

/* The account kenpod binds with (bind_dn), when it is in this directory:
 * a simpleSecurityObject with the services' password policy; its password
 * is made when the account is added, into bind_password_file.  0 or -1. */
static int
plan_service(struct init *in)
{
	const struct kenpo_config *cfg = in->a->cfg;
	char policy[ADMIN_DN_MAX], cn[ADMIN_DN_MAX];
	struct step *s;
	size_t n;
	int r;

	if (cfg == NULL || cfg->bind_dn == NULL || !under_suffix(in, cfg->bind_dn))
		return 0;
	n = strcspn(cfg->bind_dn, ",");
	if (strncasecmp(cfg->bind_dn, "cn=", 3) != 0 || n - 3 >= sizeof cn) {
		admin_note("bind_dn %s is no cn=...: create kenpod's account yourself",
			   cfg->bind_dn);
		return 0;
	}
	snprintf(cn, sizeof cn, "%.*s", (int)(n - 3), cfg->bind_dn + 3);
	if (dn_under(in, policy, sizeof policy, "cn=services,ou=policies", in->suffix) != 0)
		return -1;
	if (plan_ou(in, "services", in->suffix) != 0 || (r = entry_exists(in, cfg->bind_dn)) < 0)
		return -1;
	const char *pairs[] = { KENPO_AT_OBJECTCLASS,
				"applicationProcess",
				KENPO_AT_OBJECTCLASS,
				"simpleSecurityObject",
				KENPO_AT_CN,
				cn,
				"pwdPolicySubentry",
				policy,
				NULL };
	s = add_step(in, ST_SERVICE, cfg->bind_dn, r == 0 ? attrs_of(pairs) : NULL);
	if (s == NULL)
		return -1;
	snprintf(s->path, sizeof s->path, "%s",
		 cfg->bind_password_file != NULL ? cfg->bind_password_file : "");
	if (r == 1)
		s->status = "exists";
	else if (s->m == NULL)
		return -1;
	return 0;
}

/* ---- the society ---- */

static int
exists_step(struct init *in, const char *dn)
{
	struct step *s = add_step(in, ST_ADD, dn, NULL);

	if (s == NULL)
		return -1;
	s->status = "exists";
	return 0;
}

/* The society's own entry (organizationalUnit + kenpoSociety): added, or
 * an existing entry made the society's.  0 or -1. */
static int
plan_society(struct init *in)
{
	static const char *const attrs[] = { KENPO_AT_SOCIETY_ID, KENPO_AT_DISPLAY_NAME, NULL };
	const struct admin_society *s = &in->a->soc;
	struct dir_entry *e = NULL;
	struct dir_mods *m;
	char err[ADMIN_ERR_MAX];
	const char *id;
	int rc = dir_search(in->a->dir, s->base, DIR_BASE, "(" KENPO_AT_OBJECTCLASS "=*)", attrs,
			    dir_keep_first, &e, err, sizeof err);

	if (rc != DIR_OK && rc != DIR_NOSUCH) {
		admin_error("%s", err);
		in->errors++;
		return -1;
	}
	if (e != NULL) {
		id = dir_get(e, KENPO_AT_SOCIETY_ID);
		if (id != NULL && strcmp(id, s->id) != 0) {
			admin_error("%s belongs to the society %s, not %s", s->base, id, s->id);
			in->errors++;
			dir_entry_free(e);
			return -1;
		}
		m = id != NULL ? NULL : dir_mods_new();
		if (m != NULL &&
		    (dir_mods_put(m, DIR_MOD_ADD, KENPO_AT_OBJECTCLASS, KENPO_OC_SOCIETY) ||
		     dir_mods_put(m, DIR_MOD_ADD, KENPO_AT_SOCIETY_ID, s->id) ||
		     (s->name != NULL && dir_get(e, KENPO_AT_DISPLAY_NAME) == NULL &&
		      dir_mods_put(m, DIR_MOD_ADD, KENPO_AT_DISPLAY_NAME, s->name)))) {
			dir_mods_free(m);
			m = NULL;
		}
		dir_entry_free(e);
		if (id != NULL)
			return exists_step(in, s->base);
		return m != NULL && add_step(in, ST_ADOPT, s->base, m) != NULL ? 0 : -1;
	}
	if (strncasecmp(s->base, "ou=", 3) != 0) {
		admin_error("%s does not exist and is no ou=...: create it yourself", s->base);
		in->errors++;
		return -1;
	}
	const char *pairs[] = { KENPO_AT_OBJECTCLASS,
				KENPO_OC_OU,
				KENPO_AT_OBJECTCLASS,
				KENPO_OC_SOCIETY,
				KENPO_AT_OU,
				s->id,
				KENPO_AT_SOCIETY_ID,
				s->id,
				s->name != NULL ? KENPO_AT_DISPLAY_NAME : NULL,
				s->name,
				NULL };
	return plan_entry(in, s->base, pairs);
}

static int
plan_subtree(struct init *in)
{
	const struct admin_society *s = &in->a->soc;
	char dn[ADMIN_DN_MAX], next[24];
	const char *counter[] = { KENPO_AT_OBJECTCLASS,
				  KENPO_OC_COUNTER,
				  KENPO_AT_CN,
				  KENPO_AT_UIDNUMBER,
				  KENPO_AT_NEXT_UID,
				  next,
				  KENPO_AT_DESCRIPTION,
				  "next uidNumber of the society's members",
				  NULL };

	if (plan_society(in) != 0 || plan_ou(in, "members", s->base) != 0 ||
	    plan_ou(in, "tokens", s->base) != 0 || plan_ou(in, "rates", s->base) != 0)
		return -1;
	snprintf(next, sizeof next, "%lu", s->uid_min);
	if (dn_under(in, dn, sizeof dn, KENPO_RDN_UID_COUNTER, s->base) != 0)
		return -1;
	return plan_entry(in, dn, counter);
}

/* kenpod's server secret: made once, never replaced. */
static int
plan_secret(struct init *in)
{
	const char *path = in->a->cfg != NULL ? in->a->cfg->secret_file : NULL;
	struct step *s;
	struct stat st;

	if (path == NULL)
		return 0;
	s = add_step(in, ST_SECRET, path, NULL);
	if (s != NULL && lstat(path, &st) == 0)
		s->status = "exists";
	return s != NULL ? 0 : -1;
}

int
tree_plan(struct init *in)
{
	kenpod_identity(in);
	if (plan_policies(in) != 0 || plan_service(in) != 0 || plan_subtree(in) != 0 ||
	    plan_secret(in) != 0)
		return -1;
	return 0;
}

/* ---- making it ---- */

/* Create path (never over a file) with len bytes of data, mode 0600.
 * 0, or -1 with errno. */
static int
write_new_file(const char *path, const void *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	ssize_t w;
	int e;

	if (fd < 0)
		return -1;
	w = write(fd, data, len);
	if (w != (ssize_t)len || fsync(fd) != 0) {
		e = w < 0 || w == (ssize_t)len ? errno : EIO;
		close(fd);
		unlink(path);
		errno = e;
		return -1;
	}
	return close(fd);
}

static int
apply_secret(struct step *s)
{
	unsigned char secret[KENPO_SERVER_SECRET_BYTES];
	int r;

	randombytes_buf(secret, sizeof secret);
	r = write_new_file(s->dn, secret, sizeof secret);
	sodium_memzero(secret, sizeof secret);
	if (r != 0)
		admin_error("%s: cannot write the server secret: %s", s->dn, strerror(errno));
	return r;
}

/* kenpod's password: the one of bind_password_file when it exists (kenpod
 * has it already), else a new one written there.  In pw (wiped by the
 * caller); *made when the file is new.  0 or -1. */
static int
service_password(const struct step *s, char *pw, size_t pwsz, int *made)
{
	char err[ADMIN_ERR_MAX], *old = NULL;
	size_t len = 0;

	*made = 0;
	if (s->path[0] == '\0') {
		admin_error("%s: kenpod.conf names no bind_password_file", s->dn);
		return -1;
	}
	if (access(s->path, F_OK) == 0) {
		if (kenpo_read_secret_line(s->path, getuid(), PW_FILE_MAX, &old, &len, err,
					   sizeof err) != 0 ||
		    len >= pwsz) {
			admin_error("%s", len >= pwsz ? "bind_password_file: too long" : err);
			kenpo_secret_free(old);
			return -1;
		}
		memcpy(pw, old, len + 1);
		kenpo_secret_free(old);
		return 0;
	}
	if (kenpo_gen_token(pw, pwsz) != 0)
		return -1;
	/* No line end: ldap-utils' -y takes the whole file as the password. */
	if (write_new_file(s->path, pw, strlen(pw)) != 0) {
		admin_error("%s: cannot write kenpod's password: %s", s->path, strerror(errno));
		return -1;
	}
	*made = 1;
	return 0;
}

/* The account with the {ARGON2} hash of its password, which slapd's
 * argon2 module verifies on kenpod's bind. */
static int
apply_service(struct init *in, struct step *s)
{
	char pw[KENPO_TOKEN_LEN + 1], hash[KENPO_PWHASH_MAX], err[ADMIN_ERR_MAX];
	int made = 0, rc = -1;

	if (service_password(s, pw, sizeof pw, &made) != 0)
		goto done;
	if (kenpo_pw_hash(pw, strlen(pw), &in->a->cost, hash, sizeof hash) != 0 ||
	    dir_mods_put(s->m, DIR_MOD_ADD, KENPO_AT_PASSWORD, hash) != 0) {
		admin_error("cannot hash kenpod's password");
		goto done;
	}
	if (dir_add(in->a->dir, s->dn, s->m, err, sizeof err) != DIR_OK) {
		admin_error("%s", err);
		goto done;
	}
	rc = 0;
done:
	if (rc != 0 && made)
		unlink(s->path);
	sodium_memzero(pw, sizeof pw);
	return rc;
}

void
tree_apply(struct init *in)
{
	char err[ADMIN_ERR_MAX];
	struct step *s;
	size_t i;
	int rc;

	for (i = 0; i < in->nsteps; i++) {
		s = &in->steps[i];
		if (strcmp(s->status, "missing") != 0)
			continue;
		if (s->kind == ST_SECRET)
			rc = apply_secret(s) == 0 ? DIR_OK : DIR_ERR;
		else if (s->kind == ST_SERVICE)
			rc = apply_service(in, s) == 0 ? DIR_OK : DIR_ERR;
		else if (s->kind == ST_ADOPT)
			rc = dir_modify(in->a->dir, s->dn, s->m, err, sizeof err);
		else
			rc = dir_add(in->a->dir, s->dn, s->m, err, sizeof err);
		if (rc == DIR_EXISTS) {
			s->status = "exists";
			continue;
		}
		if (rc != DIR_OK && s->kind != ST_SECRET && s->kind != ST_SERVICE)
			admin_error("%s", err);
		if (rc != DIR_OK)
			in->errors++;
		s->status = rc != DIR_OK ? "failed" : s->kind == ST_ADOPT ? "updated" : "created";
	}
}

void
tree_report(struct init *in)
{
	const struct step *s;
	json_object *o;
	size_t i;

	for (i = 0; i < in->nsteps; i++) {
		s = &in->steps[i];
		if (!in->a->o.json) {
			printf("%-8s %s%s\n", s->status, s->dn,
			       s->kind == ST_SERVICE && strcmp(s->status, "created") == 0 ?
				       " (password in bind_password_file)" :
				       "");
			continue;
		}
		o = json_object_new_object();
		json_object_object_add(o, "dn", json_object_new_string(s->dn));
		json_object_object_add(o, "status", json_object_new_string(s->status));
		json_object_array_add(in->entries, o);
	}
}

void
tree_free(struct init *in)
{
	size_t i;

	for (i = 0; i < in->nsteps; i++)
		dir_mods_free(in->steps[i].m);
	free(in->steps);
}
