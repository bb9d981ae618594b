/*
 * init.c - `kenpo-admin init`: the society's subtree, the password
 * policies, the server secret, and the cn=config settings kenpo needs
 * (schema/README.md).  Everything is checked before it is made, so a
 * second run changes nothing.
 */
#include "autoconfig.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <sodium.h>

#include "admin.h"
#include "schema.h"

#define LDIF_MAX (64 * 1024)
#define MODULE_PATH "/usr/lib/ldap"

/* ---- entries of the data tree ---- */

struct init {
	struct admin *a;
	char suffix[ADMIN_DN_MAX];
	json_object *entries;        /* [{dn, status}] */
	int errors;
	/* cn=config */
	int readable;
	char db[ADMIN_DN_MAX];       /* the database holding the suffix */
	struct change *changes;
	size_t nchanges;
};

static void
entry_status(struct init *in, const char *dn, const char *status)
{
	json_object *o;

	if (!in->a->o.json) {
		printf("%-8s %s\n", status, dn);
		return;
	}
	o = json_object_new_object();
	json_object_object_add(o, "dn", json_object_new_string(dn));
	json_object_object_add(o, "status", json_object_new_string(status));
	json_object_array_add(in->entries, o);
}

/* Add an entry unless it exists.  0, or -1 (error printed). */
static int
ensure(struct init *in, const char *dn, struct dir_mods *m)
{
	char err[ADMIN_ERR_MAX];
	int rc;

	if (m == NULL) {
		admin_error("out of memory");
		in->errors++;
		return -1;
	}
	rc = dir_add(in->a->dir, dn, m, err, sizeof err);
	dir_mods_free(m);
	if (rc == DIR_OK || rc == DIR_EXISTS) {
		entry_status(in, dn, rc == DIR_OK ? "created" : "exists");
		return 0;
	}
	admin_error("%s", err);
	in->errors++;
	return -1;
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

static int
ensure_ou(struct init *in, const char *ou, const char *parent)
{
	char dn[ADMIN_DN_MAX], rdn[64];
	const char *pairs[] = { KENPO_AT_OBJECTCLASS, KENPO_OC_OU, KENPO_AT_OU, ou, NULL };

	snprintf(rdn, sizeof rdn, "ou=%s", ou);
	if (dn_under(in, dn, sizeof dn, rdn, parent) != 0)
		return -1;
	return ensure(in, dn, attrs_of(pairs));
}

/* ppolicy's entries: the members' policy follows the society's lockout
 * settings; the service account is never locked out by guessing. */
static void
ensure_policies(struct init *in)
{
	const struct kenpo_config *cfg = in->a->cfg;
	unsigned failures = 10;
	char dn[ADMIN_DN_MAX], parent[ADMIN_DN_MAX], max[24], dur[24];
	long duration = 1800;

	if (cfg != NULL && cfg->nsocieties > 0) {
		failures = cfg->societies[0].lockout_failures;
		duration = cfg->societies[0].lockout_duration;
	}
	snprintf(max, sizeof max, "%u", failures);
	snprintf(dur, sizeof dur, "%ld", duration);
	if (dn_under(in, parent, sizeof parent, "ou=policies", in->suffix) != 0)
		return;
	const char *members[] = {
		KENPO_AT_OBJECTCLASS, KENPO_OC_ROLE, KENPO_AT_OBJECTCLASS, KENPO_OC_PWDPOLICY,
		KENPO_AT_CN, "default",
		"pwdAttribute", KENPO_AT_PASSWORD, "pwdCheckQuality", "0",
		"pwdLockout", failures > 0 ? "TRUE" : "FALSE", "pwdMaxFailure", max,
		"pwdLockoutDuration", dur, "pwdFailureCountInterval", dur,
		"pwdMustChange", "FALSE", "pwdAllowUserChange", "TRUE", "pwdMaxAge", "0",
		"pwdInHistory", "0", NULL
	};
	const char *services[] = {
		KENPO_AT_OBJECTCLASS, KENPO_OC_ROLE, KENPO_AT_OBJECTCLASS, KENPO_OC_PWDPOLICY,
		KENPO_AT_CN, "services",
		"pwdAttribute", KENPO_AT_PASSWORD, "pwdLockout", "FALSE", "pwdMaxAge", "0", NULL
	};

	if (ensure_ou(in, "policies", in->suffix) != 0)
		return;
	if (dn_under(in, dn, sizeof dn, "cn=default", parent) == 0)
		(void)ensure(in, dn, attrs_of(members));
	if (dn_under(in, dn, sizeof dn, "cn=services", parent) == 0)
		(void)ensure(in, dn, attrs_of(services));
}

/* An existing entry at the society's base: it must be (or become) the
 * society's, with the configured id. */
static void
adopt_society(struct init *in, const struct dir_entry *e)
{
	const struct admin_society *s = &in->a->soc;
	const char *id = dir_get(e, KENPO_AT_SOCIETY_ID);
	struct dir_mods *m;
	char err[ADMIN_ERR_MAX];

	if (id != NULL && strcmp(id, s->id) == 0) {
		entry_status(in, s->base, "exists");
		return;
	}
	if (id != NULL) {
		admin_error("%s belongs to the society %s, not %s", s->base, id, s->id);
		in->errors++;
		return;
	}
	m = dir_mods_new();
	if (m == NULL || dir_mods_put(m, DIR_MOD_ADD, KENPO_AT_OBJECTCLASS, KENPO_OC_SOCIETY) ||
	    dir_mods_put(m, DIR_MOD_ADD, KENPO_AT_SOCIETY_ID, s->id) ||
	    (s->name != NULL && dir_get(e, KENPO_AT_DISPLAY_NAME) == NULL &&
	     dir_mods_put(m, DIR_MOD_ADD, KENPO_AT_DISPLAY_NAME, s->name)) ||
	    dir_modify(in->a->dir, s->base, m, err, sizeof err) != DIR_OK) {
		admin_error("%s: cannot make it a society's entry: %s", s->base, err);
		in->errors++;
	} else {
		entry_status(in, s->base, "updated");
	}
	dir_mods_free(m);
}

/* The society's own entry (organizationalUnit + kenpoSociety). 0 or -1. */
static int
ensure_society(struct init *in)
{
	static const char *const attrs[] = { KENPO_AT_SOCIETY_ID, KENPO_AT_DISPLAY_NAME, NULL };
	const struct admin_society *s = &in->a->soc;
	struct dir_entry *e = NULL;
	char err[ADMIN_ERR_MAX];
	int rc = dir_search(in->a->dir, s->base, DIR_BASE, "(" KENPO_AT_OBJECTCLASS "=*)", attrs,
			    dir_keep_first, &e, err, sizeof err);

	if (rc == DIR_OK && e != NULL) {
		adopt_society(in, e);
		dir_entry_free(e);
		return 0;
	}
	if (rc != DIR_OK && rc != DIR_NOSUCH) {
		admin_error("%s", err);
		in->errors++;
		return -1;
	}
	if (strncasecmp(s->base, "ou=", 3) != 0) {
		admin_error("%s does not exist and is no ou=...: create it yourself", s->base);
		in->errors++;
		return -1;
	}
	const char *pairs[] = {
		KENPO_AT_OBJECTCLASS, KENPO_OC_OU, KENPO_AT_OBJECTCLASS, KENPO_OC_SOCIETY,
		KENPO_AT_OU, s->id, KENPO_AT_SOCIETY_ID, s->id,
		s->name != NULL ? KENPO_AT_DISPLAY_NAME : NULL, s->name, NULL
	};
	return ensure(in, s->base, attrs_of(pairs));
}

static void
ensure_tree(struct init *in)
{
	const struct admin_society *s = &in->a->soc;
	char dn[ADMIN_DN_MAX], next[24];
	const char *counter[] = {
		KENPO_AT_OBJECTCLASS, KENPO_OC_COUNTER, KENPO_AT_CN, KENPO_AT_UIDNUMBER,
		KENPO_AT_NEXT_UID, next,
		KENPO_AT_DESCRIPTION, "next uidNumber of the society's members", NULL
	};

	ensure_policies(in);
	if (ensure_society(in) != 0)
		return;
	(void)ensure_ou(in, "members", s->base);
	(void)ensure_ou(in, "tokens", s->base);
	(void)ensure_ou(in, "rates", s->base);
	snprintf(next, sizeof next, "%lu", s->uid_min);
	if (dn_under(in, dn, sizeof dn, KENPO_RDN_UID_COUNTER, s->base) == 0)
		(void)ensure(in, dn, attrs_of(counter));
}

/* kenpod's server secret: 32 random bytes, made once, readable by root only. */
static void
ensure_secret(struct init *in)
{
	const char *path = in->a->cfg != NULL ? in->a->cfg->secret_file : NULL;
	unsigned char secret[KENPO_SERVER_SECRET_BYTES];
	ssize_t w;
	int fd;

	if (path == NULL)
		return;
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0 && errno == EEXIST) {
		entry_status(in, path, "exists");
		return;
	}
	randombytes_buf(secret, sizeof secret);
	w = fd >= 0 ? write(fd, secret, sizeof secret) : -1;
	sodium_memzero(secret, sizeof secret);
	if (fd < 0 || w != (ssize_t)sizeof secret || fsync(fd) != 0) {
		admin_error("%s: cannot write the server secret: %s", path, strerror(errno));
		in->errors++;
		if (fd >= 0)
			unlink(path);
	} else {
		entry_status(in, path, "created");
	}
	if (fd >= 0)
		close(fd);
}

/* ---- cn=config ---- */

/* A change of cn=config, as modifications and as LDIF text. */
struct change {
	char dn[ADMIN_DN_MAX];
	char what[120];
	int add;                 /* a new entry, else a modify */
	struct dir_mods *m;
	char *ldif;
	size_t len;
	enum dir_op last_op;
	char last_attr[64];
	int applied;
};

static void
ldif_append(struct change *c, const char *text)
{
	size_t n = strlen(text);
	char *nl;

	if (c->len + n + 1 > LDIF_MAX)
		return;
	nl = realloc(c->ldif, c->len + n + 1);
	if (nl == NULL)
		return;
	memcpy(nl + c->len, text, n + 1);
	c->ldif = nl;
	c->len += n;
}

static struct change *
new_change(struct init *in, const char *dn, int add, const char *what)
{
	struct change *nc = realloc(in->changes, (in->nchanges + 1) * sizeof *nc), *c;
	char line[ADMIN_DN_MAX + 40];

	if (nc == NULL)
		return NULL;
	in->changes = nc;
	c = &in->changes[in->nchanges];
	memset(c, 0, sizeof *c);
	if ((c->m = dir_mods_new()) == NULL)
		return NULL;
	in->nchanges++;
	snprintf(c->dn, sizeof c->dn, "%s", dn);
	snprintf(c->what, sizeof c->what, "%s", what);
	c->add = add;
	snprintf(line, sizeof line, "# %s\ndn: %s\nchangetype: %s\n", what, dn,
		 add ? "add" : "modify");
	ldif_append(c, line);
	return c;
}

/* One value of a change, in both forms.  0 or -1. */
static int
put(struct change *c, enum dir_op op, const char *attr, const char *value)
{
	static const char *const opnames[] = { "add", "delete", "replace", "increment" };
	char line[1024];

	if (!c->add && (c->last_attr[0] == '\0' || c->last_op != op ||
			strcasecmp(c->last_attr, attr) != 0)) {
		snprintf(line, sizeof line, "%s%s: %s\n", c->last_attr[0] ? "-\n" : "",
			 opnames[op], attr);
		ldif_append(c, line);
		c->last_op = op;
		snprintf(c->last_attr, sizeof c->last_attr, "%s", attr);
	}
	if (value != NULL) {
		snprintf(line, sizeof line, "%s: %s\n", attr, value);
		ldif_append(c, line);
	}
	return dir_mods_put(c->m, c->add ? DIR_MOD_ADD : op, attr, value);
}

static void
end_change(struct change *c)
{
	ldif_append(c, c->add || c->last_attr[0] == '\0' ? "\n" : "-\n\n");
}

/* "{0}ppolicy.la" or "/usr/lib/ldap/ppolicy.so" -> "ppolicy". */
static void
module_name(const char *v, char *out, size_t outsz)
{
	const char *p = v, *slash;
	size_t n;

	if (*p == '{')
		p += strcspn(p, "}") + (p[strcspn(p, "}")] != '\0');
	if ((slash = strrchr(p, '/')) != NULL)
		p = slash + 1;
	n = strcspn(p, ".");
	snprintf(out, outsz, "%.*s", (int)n, p);
}

struct modules {
	char first_dn[ADMIN_DN_MAX];
	char loaded[32][40];
	size_t n;
};

static int
note_modules(struct dir_entry *e, void *arg)
{
	struct modules *mods = arg;
	size_t i;

	if (mods->first_dn[0] == '\0')
		snprintf(mods->first_dn, sizeof mods->first_dn, "%s", e->dn);
	for (i = 0; i < dir_nvals(e, "olcModuleLoad") && mods->n < 32; i++)
		module_name(dir_val(e, "olcModuleLoad", i), mods->loaded[mods->n++], 40);
	return DIR_CB_NEXT;
}

static int
module_loaded(const struct modules *mods, const char *name)
{
	size_t i;

	for (i = 0; i < mods->n; i++)
		if (strcmp(mods->loaded[i], name) == 0)
			return 1;
	return 0;
}

/* The modules of schema/README.md. 0 or -1. */
static int
plan_modules(struct init *in)
{
	static const char *const wanted[] = { "ppolicy", "unique", "argon2", "dds" };
	static const char *const attrs[] = { "olcModuleLoad", NULL };
	struct modules mods;
	struct change *c = NULL;
	char err[ADMIN_ERR_MAX];
	size_t i;

	memset(&mods, 0, sizeof mods);
	if (dir_search(in->a->dir, "cn=config", DIR_ONE, "(objectClass=olcModuleList)", attrs,
		       note_modules, &mods, err, sizeof err) != DIR_OK) {
		admin_error("%s", err);
		return -1;
	}
	for (i = 0; i < sizeof wanted / sizeof wanted[0]; i++) {
		if (module_loaded(&mods, wanted[i]))
			continue;
		if (c == NULL && mods.first_dn[0] == '\0') {
			c = new_change(in, "cn=module,cn=config", 1, "load kenpo's modules");
			if (c == NULL || put(c, DIR_MOD_ADD, "objectClass", "olcModuleList") ||
			    put(c, DIR_MOD_ADD, "cn", "module") ||
			    put(c, DIR_MOD_ADD, "olcModulePath", MODULE_PATH))
				return -1;
		} else if (c == NULL) {
			c = new_change(in, mods.first_dn, 0, "load kenpo's modules");
			if (c == NULL)
				return -1;
		}
		if (put(c, DIR_MOD_ADD, "olcModuleLoad", wanted[i]) != 0)
			return -1;
	}
	if (c != NULL)
		end_change(c);
	return 0;
}

/* slapd hashes with argon2 too (password modify), like kenpo. */
static int
plan_frontend(struct init *in)
{
	static const char *const attrs[] = { "olcPasswordHash", NULL };
	static const char dn[] = "olcDatabase={-1}frontend,cn=config";
	struct dir_entry *e = NULL;
	struct change *c;
	char err[ADMIN_ERR_MAX];
	int has;

	if (dir_search(in->a->dir, dn, DIR_BASE, "(objectClass=*)", attrs, dir_keep_first, &e,
		       err, sizeof err) != DIR_OK) {
		admin_error("%s", err);
		return -1;
	}
	has = e != NULL && dir_has_value(e, "olcPasswordHash", "{ARGON2}");
	dir_entry_free(e);
	if (has)
		return 0;
	c = new_change(in, dn, 0, "slapd hashes passwords with argon2");
	if (c == NULL || put(c, DIR_MOD_REPLACE, "olcPasswordHash", "{ARGON2}") != 0)
		return -1;
	end_change(c);
	return 0;
}

struct overlays {
	int ppolicy, unique, dds;
	char unique_dn[ADMIN_DN_MAX];
	struct dir_entry *unique_entry;
};

static int
note_overlay(struct dir_entry *e, void *arg)
{
	struct overlays *ov = arg;

	if (dir_has_value(e, "objectClass", "olcPPolicyConfig"))
		ov->ppolicy = 1;
	if (dir_has_value(e, "objectClass", "olcDDSConfig"))
		ov->dds = 1;
	if (dir_has_value(e, "objectClass", "olcUniqueConfig") && ov->unique_entry == NULL) {
		ov->unique = 1;
		ov->unique_entry = e;
		return DIR_CB_KEEP;
	}
	return DIR_CB_NEXT;
}

static int
plan_ppolicy(struct init *in)
{
	char dn[ADMIN_DN_MAX + 32], def[ADMIN_DN_MAX + 32];
	struct change *c;

	snprintf(dn, sizeof dn, "olcOverlay=ppolicy,%s", in->db);
	snprintf(def, sizeof def, "cn=default,ou=policies,%s", in->suffix);
	c = new_change(in, dn, 1, "ppolicy: lockout after failed binds");
	if (c == NULL || put(c, DIR_MOD_ADD, "objectClass", "olcOverlayConfig") ||
	    put(c, DIR_MOD_ADD, "objectClass", "olcPPolicyConfig") ||
	    put(c, DIR_MOD_ADD, "olcOverlay", "ppolicy") ||
	    put(c, DIR_MOD_ADD, "olcPPolicyDefault", def) ||
	    put(c, DIR_MOD_ADD, "olcPPolicyUseLockout", "FALSE"))
		return -1;
	end_change(c);
	return 0;
}

/* slapo-unique: a login ID and a uidNumber each belong to one entry. */
static int
plan_unique(struct init *in, const struct overlays *ov)
{
	char uri[2][ADMIN_DN_MAX + 32], dn[ADMIN_DN_MAX + 32];
	struct change *c = NULL;
	size_t i;

	snprintf(uri[0], sizeof uri[0], "ldap:///%s?uid?sub", in->suffix);
	snprintf(uri[1], sizeof uri[1], "ldap:///%s?uidNumber?sub", in->suffix);
	snprintf(dn, sizeof dn, "olcOverlay=unique,%s", in->db);
	for (i = 0; i < 2; i++) {
		if (ov->unique_entry != NULL && dir_has_value(ov->unique_entry, "olcUniqueURI", uri[i]))
			continue;
		if (c == NULL && ov->unique_entry == NULL) {
			c = new_change(in, dn, 1, "unique: one login ID and one uidNumber per entry");
			if (c == NULL || put(c, DIR_MOD_ADD, "objectClass", "olcOverlayConfig") ||
			    put(c, DIR_MOD_ADD, "objectClass", "olcUniqueConfig") ||
			    put(c, DIR_MOD_ADD, "olcOverlay", "unique"))
				return -1;
		} else if (c == NULL) {
			c = new_change(in, ov->unique_entry->dn, 0, "unique: the URIs kenpo needs");
			if (c == NULL)
				return -1;
		}
		if (put(c, DIR_MOD_ADD, "olcUniqueURI", uri[i]) != 0)
			return -1;
	}
	if (c != NULL)
		end_change(c);
	return 0;
}

/* slapo-dds: tokens and rate counters may expire by themselves. */
static int
plan_dds(struct init *in)
{
	char dn[ADMIN_DN_MAX + 32];
	struct change *c;

	snprintf(dn, sizeof dn, "olcOverlay=dds,%s", in->db);
	c = new_change(in, dn, 1, "dds: expired tokens are removed by slapd");
	if (c == NULL || put(c, DIR_MOD_ADD, "objectClass", "olcOverlayConfig") ||
	    put(c, DIR_MOD_ADD, "objectClass", "olcDDSConfig") ||
	    put(c, DIR_MOD_ADD, "olcOverlay", "dds") ||
	    put(c, DIR_MOD_ADD, "olcDDSstate", "TRUE") ||
	    put(c, DIR_MOD_ADD, "olcDDSmaxTtl", "1d") ||
	    put(c, DIR_MOD_ADD, "olcDDSminTtl", "1s") ||
	    put(c, DIR_MOD_ADD, "olcDDSdefaultTtl", "3h") ||
	    put(c, DIR_MOD_ADD, "olcDDSinterval", "1h"))
		return -1;
	end_change(c);
	return 0;
}

static int
plan_overlays(struct init *in)
{
	static const char *const attrs[] = { "objectClass", "olcUniqueURI", NULL };
	struct overlays ov;
	char err[ADMIN_ERR_MAX];
	int ret = -1;

	memset(&ov, 0, sizeof ov);
	if (dir_search(in->a->dir, in->db, DIR_ONE, "(objectClass=olcOverlayConfig)", attrs,
		       note_overlay, &ov, err, sizeof err) != DIR_OK) {
		admin_error("%s", err);
		goto done;
	}
	if ((!ov.ppolicy && plan_ppolicy(in) != 0) || plan_unique(in, &ov) != 0 ||
	    (!ov.dds && plan_dds(in) != 0))
		goto done;
	ret = 0;
done:
	dir_entry_free(ov.unique_entry);
	return ret;
}

/* The equality indexes of schema/README.md. */
static const char *const indexes[] = {
	KENPO_AT_OBJECTCLASS, KENPO_AT_UID, KENPO_AT_UIDNUMBER, KENPO_AT_GIDNUMBER,
	KENPO_AT_NUMBER, KENPO_AT_STATE, KENPO_AT_MAIL1, KENPO_AT_MAIL2, KENPO_AT_MAIL3,
	KENPO_AT_ROSTER_MAIL, KENPO_AT_BIRTH, KENPO_AT_TOKEN_HASH, KENPO_AT_TOKEN_KIND,
	KENPO_AT_TOKEN_MAIL, KENPO_AT_TOKEN_MEMBER, KENPO_AT_RATE_KEY,
	"entryCSN", "entryUUID", "entryExpireTimestamp",
};

/* 1 when an olcDbIndex value ("attr1,attr2 eq,pres") indexes attr for
 * equality ("default" and a missing type list are taken as enough). */
static int
index_covers(const char *value, const char *attr)
{
	char buf[512], *attrs, *types, *tok, *save = NULL;
	int named = 0;

	snprintf(buf, sizeof buf, "%s", value);
	attrs = buf;
	types = attrs + strcspn(attrs, " \t");
	if (*types != '\0')
		*types++ = '\0';
	for (tok = strtok_r(attrs, ",", &save); tok != NULL && !named;
	     tok = strtok_r(NULL, ",", &save))
		named = strcasecmp(tok, attr) == 0 || strcasecmp(tok, "default") == 0;
	types += strspn(types, " \t");
	return named && (types[0] == '\0' || strstr(types, "eq") != NULL);
}

static int
plan_indexes(struct init *in, const struct dir_entry *db)
{
	struct change *c = NULL;
	char value[80];
	size_t i, j;
	int covered;

	for (i = 0; i < sizeof indexes / sizeof indexes[0]; i++) {
		for (j = 0, covered = 0; j < dir_nvals(db, "olcDbIndex") && !covered; j++)
			covered = index_covers(dir_val(db, "olcDbIndex", j), indexes[i]);
		if (covered)
			continue;
		if (c == NULL && (c = new_change(in, in->db, 0, "equality indexes of every "
						 "attribute searched")) == NULL)
			return -1;
		snprintf(value, sizeof value, "%s eq", indexes[i]);
		if (put(c, DIR_MOD_ADD, "olcDbIndex", value) != 0)
			return -1;
	}
	if (c != NULL)
		end_change(c);
	return 0;
}

/* The identity running kenpo-admin reads whole societies (import, list)
 * in pages, which count against the size limit (500 by default) unless
 * it is the rootdn or has its own olcLimits. */
static int
plan_limits(struct init *in, const struct dir_entry *db)
{
	char id[ADMIN_DN_MAX + 8], value[ADMIN_DN_MAX + 64];
	const char *dn = id + 3, *root = dir_get(db, "olcRootDN");
	struct change *c;
	size_t i;

	if (dir_whoami(in->a->dir, id, sizeof id) != 0 || strncasecmp(id, "dn:", 3) != 0 ||
	    (root != NULL && strcasecmp(root, dn) == 0))
		return 0;
	for (i = 0; i < dir_nvals(db, "olcLimits"); i++)
		if (strcasestr(dir_val(db, "olcLimits", i), dn) != NULL)
			return 0;
	snprintf(value, sizeof value, "dn.exact=\"%s\" size=unlimited time=unlimited", dn);
	c = new_change(in, in->db, 0, "no size limit for the administrator using kenpo-admin");
	if (c == NULL || put(c, DIR_MOD_ADD, "olcLimits", value) != 0)
		return -1;
	end_change(c);
	return 0;
}

/* Find the database of the suffix; 1 found, 0 cn=config not readable. */
static int
find_database(struct init *in, struct dir_entry **db)
{
	static const char *const attrs[] = {
		"olcDbIndex", "olcSuffix", "olcRootDN", "olcLimits", NULL
	};
	char esc[ADMIN_DN_MAX * 3], filter[sizeof esc + 20], err[ADMIN_ERR_MAX];
	int rc;

	if (dir_filter_escape(in->suffix, esc, sizeof esc) != 0)
		return 0;
	snprintf(filter, sizeof filter, "(olcSuffix=%s)", esc);
	rc = dir_search(in->a->dir, "cn=config", DIR_ONE, filter, attrs, dir_keep_first, db,
			err, sizeof err);
	if (rc != DIR_OK || *db == NULL)
		return 0;
	snprintf(in->db, sizeof in->db, "%s", (*db)->dn);
	return 1;
}

/* Without access to cn=config: all that kenpo needs, for its administrator. */
static int
plan_everything(struct init *in)
{
	static const char *const wanted[] = { "ppolicy", "unique", "argon2", "dds" };
	struct overlays none;
	struct dir_entry empty;
	struct change *c;
	size_t i;

	memset(&none, 0, sizeof none);
	memset(&empty, 0, sizeof empty);
	snprintf(in->db, sizeof in->db, "olcDatabase={1}mdb,cn=config");
	c = new_change(in, "cn=module{0},cn=config", 0, "load kenpo's modules");
	for (i = 0; c != NULL && i < sizeof wanted / sizeof wanted[0]; i++)
		if (put(c, DIR_MOD_ADD, "olcModuleLoad", wanted[i]) != 0)
			return -1;
	if (c == NULL)
		return -1;
	end_change(c);
	c = new_change(in, "olcDatabase={-1}frontend,cn=config", 0,
		       "slapd hashes passwords with argon2");
	if (c == NULL || put(c, DIR_MOD_REPLACE, "olcPasswordHash", "{ARGON2}") != 0)
		return -1;
	end_change(c);
	return plan_ppolicy(in) || plan_unique(in, &none) || plan_dds(in) ||
	       plan_indexes(in, &empty) ? -1 : 0;
}

/* Compare cn=config with what kenpo needs. 0 or -1. */
static int
plan_config(struct init *in)
{
	struct dir_entry *db = NULL;
	int ret;

	in->readable = find_database(in, &db);
	if (!in->readable)
		return plan_everything(in);
	ret = plan_modules(in) || plan_frontend(in) || plan_overlays(in) ||
	      plan_indexes(in, db) || plan_limits(in, db) ? -1 : 0;
	dir_entry_free(db);
	return ret;
}

static void
apply_changes(struct init *in)
{
	char err[ADMIN_ERR_MAX];
	size_t i;
	int rc;

	for (i = 0; i < in->nchanges; i++) {
		struct change *c = &in->changes[i];

		rc = c->add ? dir_add(in->a->dir, c->dn, c->m, err, sizeof err)
			    : dir_modify(in->a->dir, c->dn, c->m, err, sizeof err);
		if (rc != DIR_OK) {
			admin_error("cn=config: %s: %s", c->what, err);
			in->errors++;
			return;
		}
		c->applied = 1;
		if (!in->a->o.json)
			printf("applied  %s (%s)\n", c->dn, c->what);
	}
}

static void
report_config(struct init *in, json_object *o)
{
	json_object *arr, *x;
	size_t i;

	if (!in->a->o.json) {
		if (in->nchanges == 0)
			printf("cn=config: nothing to change (modules, overlays, indexes in place)\n");
		else if (!in->a->o.apply || !in->readable)
			printf("# cn=config: %s; apply as its administrator, e.g.\n"
			       "#   ldapmodify -Y EXTERNAL -H ldapi:/// -f FILE\n"
			       "# (access control is not checked: see schema/README.md)\n\n",
			       in->readable ? "what is missing" : "not readable with these "
			       "credentials, so all of it (adjust the database DN)");
		for (i = 0; i < in->nchanges && (!in->a->o.apply || !in->readable); i++)
			fputs(in->changes[i].ldif != NULL ? in->changes[i].ldif : "", stdout);
		return;
	}
	json_object_object_add(o, "config_readable", json_object_new_boolean(in->readable));
	arr = json_object_new_array();
	for (i = 0; i < in->nchanges; i++) {
		x = json_object_new_object();
		json_object_object_add(x, "dn", json_object_new_string(in->changes[i].dn));
		json_object_object_add(x, "what", json_object_new_string(in->changes[i].what));
		json_object_object_add(x, "applied", json_object_new_boolean(in->changes[i].applied));
		json_object_object_add(x, "ldif", admin_json_str(in->changes[i].ldif));
		json_object_array_add(arr, x);
	}
	json_object_object_add(o, "config_changes", arr);
}

static void
free_changes(struct init *in)
{
	size_t i;

	for (i = 0; i < in->nchanges; i++) {
		dir_mods_free(in->changes[i].m);
		free(in->changes[i].ldif);
	}
	free(in->changes);
}

/* The schema must be loaded before anything else can be made. 0 or -1. */
static int
check_schema(struct init *in)
{
	char err[ADMIN_ERR_MAX];
	int r = dir_schema_has_class(in->a->dir, KENPO_OC_SOCIETY, err, sizeof err);

	if (r < 0)
		admin_error("%s", err);
	else if (r == 0)
		admin_error("the directory has no kenpo schema: load schema/kenpo.ldif first "
			    "(ldapadd -Y EXTERNAL -H ldapi:/// -f kenpo.ldif)");
	return r == 1 ? 0 : -1;
}

int
cmd_init(struct admin *a)
{
	struct init in;
	char err[ADMIN_ERR_MAX];
	json_object *o = NULL;

	memset(&in, 0, sizeof in);
	in.a = a;
	if (a->o.name != NULL) {
		free(a->soc.name);
		a->soc.name = strdup(a->o.name);
	}
	if (check_schema(&in) != 0)
		return ADMIN_ERROR;
	if (dir_suffix_of(a->dir, a->soc.base, in.suffix, sizeof in.suffix, err,
			  sizeof err) != DIR_OK) {
		admin_error("%s", err);
		return ADMIN_ERROR;
	}
	if (a->o.json) {
		o = json_object_new_object();
		in.entries = json_object_new_array();
	}
	ensure_tree(&in);
	ensure_secret(&in);
	if (plan_config(&in) != 0)
		in.errors++;
	else if (a->o.apply && in.readable)
		apply_changes(&in);
	else if (a->o.apply)
		admin_note("cn=config is not readable with these credentials: nothing applied "
			   "(root over ldapi:///, -Y EXTERNAL, usually may)");
	report_config(&in, o);
	if (o != NULL) {
		json_object_object_add(o, "society", json_object_new_string(a->soc.id));
		json_object_object_add(o, "base", json_object_new_string(a->soc.base));
		json_object_object_add(o, "entries", in.entries);
		admin_json_print(o);
	}
	free_changes(&in);
	return in.errors > 0 ? ADMIN_ERROR : ADMIN_OK;
}
