/*
 * init.c - `kenpo-admin init`: the cn=config settings kenpo needs
 * (schema/README.md): modules, the password hash, overlays (ppolicy,
 * unique, dds, and accesslog with its own database), indexes, limits and
 * the access rules of kenpod, the members and the administrator; the data
 * tree is inittree.c's.  Everything is looked at first; without --apply
 * nothing changes and what would be done is printed (cn=config's part as
 * LDIF), so a second run, or a run of someone who may not change
 * cn=config, is harmless.
 */
#include "autoconfig.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "init.h"
#include "schema.h"

#define LDIF_MAX (64 * 1024)
#define MODULE_PATH "/usr/lib/ldap"
/* How long slapd keeps the access log: two years of who changed what. */
#define ACCESSLOG_PURGE "730+00:00 1+00:00"
#define ACCESSLOG_OLD "(|(objectClass=" KENPO_OC_MEMBER ")(objectClass=" KENPO_OC_HOUSEHOLD "))"

/* ---- cn=config ---- */

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
	static const char *const wanted[] = { "ppolicy", "unique", "argon2", "dds", "accesslog" };
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

/* ---- the access log ---- */

/* "by dn.exact=... <level>" for each administrator: the identity running
 * init and the rootdn (which has no rights outside its own database). */
static void
admins_clause(const struct init *in, const char *level, char *out, size_t outsz)
{
	int n = 0;

	out[0] = '\0';
	if (in->me[0] != '\0')
		n = snprintf(out, outsz, "by dn.exact=\"%s\" %s ", in->me, level);
	if (in->rootdn[0] != '\0' && strcasecmp(in->rootdn, in->me) != 0 && n >= 0 &&
	    (size_t)n < outsz)
		snprintf(out + n, outsz - (size_t)n, "by dn.exact=\"%s\" %s ", in->rootdn, level);
}

/* slapo-accesslog's database cn=accesslog: a directory of its own beside
 * the members' database, readable by the administrators only (it holds
 * what was written, password hashes included). */
static int
plan_accesslog_db(struct init *in)
{
	static const char *const attrs[] = { "olcSuffix", NULL };
	char esc[64], acl[3 * ADMIN_DN_MAX], who[2 * ADMIN_DN_MAX + 64], dir[ADMIN_DN_MAX];
	char err[ADMIN_ERR_MAX];
	struct dir_entry *e = NULL;
	struct change *c;

	if (dir_filter_escape(ADMIN_ACCESSLOG_BASE, esc, sizeof esc) != 0)
		return -1;
	snprintf(acl, sizeof acl, "(olcSuffix=%s)", esc);
	if (in->readable && dir_search(in->a->dir, "cn=config", DIR_ONE, acl, attrs,
				       dir_keep_first, &e, err, sizeof err) != DIR_OK) {
		admin_error("%s", err);
		return -1;
	}
	dir_entry_free(e);
	if (e != NULL)
		return 0;
	admins_clause(in, "read", who, sizeof who);
	if (snprintf(acl, sizeof acl, "{0}to * %sby * none", who) >= (int)sizeof acl)
		return -1;
	if (snprintf(dir, sizeof dir, "%.480s/accesslog",
		     in->db_dir[0] != '\0' ? in->db_dir : "/var/lib/ldap") < 0)
		return -1;
	c = new_change(in, "olcDatabase=mdb,cn=config", 1,
		       "accesslog: the database of who wrote what");
	if (c == NULL)
		return -1;
	snprintf(c->dir, sizeof c->dir, "%s", dir);
	if (put(c, DIR_MOD_ADD, "objectClass", "olcDatabaseConfig") ||
	    put(c, DIR_MOD_ADD, "objectClass", "olcMdbConfig") ||
	    put(c, DIR_MOD_ADD, "olcDatabase", "mdb") ||
	    put(c, DIR_MOD_ADD, "olcSuffix", ADMIN_ACCESSLOG_BASE) ||
	    put(c, DIR_MOD_ADD, "olcDbDirectory", dir) ||
	    put(c, DIR_MOD_ADD, "olcDbMaxSize", "4294967296") ||
	    put(c, DIR_MOD_ADD, "olcDbIndex", "reqStart eq") ||
	    put(c, DIR_MOD_ADD, "olcDbIndex", "reqDN eq") ||
	    put(c, DIR_MOD_ADD, "olcAccess", acl))
		return -1;
	end_change(c);
	return 0;
}

/* slapo-accesslog on the members' database: every successful write, with
 * who made it and the old values of members and their households. */
static int
plan_accesslog(struct init *in)
{
	char dn[ADMIN_DN_MAX + 32];
	struct change *c;

	snprintf(dn, sizeof dn, "olcOverlay=accesslog,%s", in->db);
	c = new_change(in, dn, 1, "accesslog: who changed what, and when");
	if (c == NULL || put(c, DIR_MOD_ADD, "objectClass", "olcOverlayConfig") ||
	    put(c, DIR_MOD_ADD, "objectClass", "olcAccessLogConfig") ||
	    put(c, DIR_MOD_ADD, "olcOverlay", "accesslog") ||
	    put(c, DIR_MOD_ADD, "olcAccessLogDB", ADMIN_ACCESSLOG_BASE) ||
	    put(c, DIR_MOD_ADD, "olcAccessLogOps", "writes") ||
	    put(c, DIR_MOD_ADD, "olcAccessLogSuccess", "TRUE") ||
	    put(c, DIR_MOD_ADD, "olcAccessLogOld", ACCESSLOG_OLD) ||
	    put(c, DIR_MOD_ADD, "olcAccessLogPurge", ACCESSLOG_PURGE))
		return -1;
	end_change(c);
	return 0;
}

/* ---- access rules ---- */

/* One rule of len bytes (snprintf's answer) into the change.  0 or -1. */
static int
put_rule(struct change *c, const char *rule, int len, size_t max)
{
	return len < 0 || (size_t)len >= max || put(c, DIR_MOD_ADD, "olcAccess", rule) != 0 ? -1 :
											      0;
}

/* The rules of schema/README.md "Access control", in front of the
 * database's own (olcAccess values added with {n} are inserted there):
 * the administrator running init keeps every right; kenpod (k) reads and
 * writes members, tokens and rates but not the society, the policies or
 * the services; members read their own entry, not its hashes, and set
 * their own password; anonymous users only bind. */
static int
put_access_rules(const struct init *in, struct change *c)
{
	const char *k = in->kenpod, *s = in->suffix;
	char r[4 * ADMIN_DN_MAX];
	size_t i = 0;
	int bad = 0;

	if (in->me[0] != '\0' && strcasecmp(in->me, in->rootdn) != 0)
		bad = put_rule(c, r,
			       snprintf(r, sizeof r,
					"{%zu}to * by dn.exact=\"%s\" manage "
					"by * break",
					i++, in->me),
			       sizeof r);
	bad = bad ||
	      put_rule(c, r,
		       snprintf(r, sizeof r,
				"{%zu}to attrs=userPassword "
				"by dn.exact=\"%s\" write by self =w by anonymous auth by * none",
				i++, k),
		       sizeof r);
	bad = bad ||
	      put_rule(c, r,
		       snprintf(r, sizeof r,
				"{%zu}to attrs=kenpoTempPassword,"
				"kenpoKeyHash,kenpoAuthKeyHash,kenpoKeyTxn by dn.exact=\"%s\" write by * none",
				i++, k),
		       sizeof r);
	bad = bad || put_rule(c, r,
			      snprintf(r, sizeof r,
				       "{%zu}to attrs=entryTtl "
				       "by dn.exact=\"%s\" manage by * none",
				       i++, k),
			      sizeof r);
	bad = bad || put_rule(c, r,
			      snprintf(r, sizeof r,
				       "{%zu}to dn.subtree=\"ou=services,%s\" "
				       "by self read by * none",
				       i++, s),
			      sizeof r);
	bad = bad || put_rule(c, r,
			      snprintf(r, sizeof r,
				       "{%zu}to dn.subtree=\"ou=policies,%s\" "
				       "by dn.exact=\"%s\" read by * none",
				       i++, s, k),
			      sizeof r);
	bad = bad || put_rule(c, r,
			      snprintf(r, sizeof r,
				       "{%zu}to dn.base=\"%s\" "
				       "by dn.exact=\"%s\" read by * none",
				       i++, s, k),
			      sizeof r);
	bad = bad || put_rule(c, r,
			      snprintf(r, sizeof r,
				       "{%zu}to dn.onelevel=\"%s\" "
				       "by dn.exact=\"%s\" read by * none",
				       i++, s, k),
			      sizeof r);
	bad = bad || put_rule(c, r,
			      snprintf(r, sizeof r,
				       "{%zu}to dn.subtree=\"%s\" "
				       "by dn.exact=\"%s\" write by self read by * none",
				       i++, s, k),
			      sizeof r);
	return bad ? -1 : 0;
}

/* Whether the database's rules name kenpod already: then they are the
 * administrator's, and left as they are. */
static int
access_configured(const struct init *in, const struct dir_entry *db)
{
	size_t i;

	for (i = 0; i < dir_nvals(db, "olcAccess"); i++)
		if (strcasestr(dir_val(db, "olcAccess", i), in->kenpod) != NULL)
			return 1;
	return 0;
}

/* kenpod's access rules and its limits (it enumerates members in pages),
 * unless the database names kenpod already. */
static int
plan_kenpod_access(struct init *in, const struct dir_entry *db)
{
	char value[ADMIN_DN_MAX + 64];
	struct change *c;
	size_t i;
	int limited = 0;

	if (in->kenpod[0] == '\0')
		return 0;
	if (!access_configured(in, db)) {
		c = new_change(in, in->db, 0,
			       "access rules of kenpod, the members and the "
			       "administrator");
		if (c == NULL || put_access_rules(in, c) != 0)
			return -1;
		end_change(c);
	}
	for (i = 0; i < dir_nvals(db, "olcLimits"); i++)
		limited |= strcasestr(dir_val(db, "olcLimits", i), in->kenpod) != NULL;
	if (limited)
		return 0;
	snprintf(value, sizeof value, "dn.exact=\"%s\" size=unlimited time=unlimited",
		 in->kenpod);
	c = new_change(in, in->db, 0, "no size limit for kenpod (it reads members in pages)");
	if (c == NULL || put(c, DIR_MOD_ADD, "olcLimits", value) != 0)
		return -1;
	end_change(c);
	return 0;
}

struct overlays {
	int ppolicy, unique, dds, accesslog, syncprov;
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
	if (dir_has_value(e, "objectClass", "olcAccessLogConfig"))
		ov->accesslog = 1;
	if (dir_has_value(e, "objectClass", "olcSyncProvConfig"))
		ov->syncprov = 1;
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
		if (ov->unique_entry != NULL &&
		    dir_has_value(ov->unique_entry, "olcUniqueURI", uri[i]))
			continue;
		if (c == NULL && ov->unique_entry == NULL) {
			c = new_change(in, dn, 1,
				       "unique: one login ID and one uidNumber per entry");
			if (c == NULL || put(c, DIR_MOD_ADD, "objectClass", "olcOverlayConfig") ||
			    put(c, DIR_MOD_ADD, "objectClass", "olcUniqueConfig") ||
			    put(c, DIR_MOD_ADD, "olcOverlay", "unique"))
				return -1;
		} else if (c == NULL) {
			c = new_change(in, ov->unique_entry->dn, 0,
				       "unique: the URIs kenpo needs");
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
	/* A replicating provider (syncprov) must not run dds: slapo-dds(5),
	 * schema/README.md "Several providers". */
	if ((!ov.ppolicy && plan_ppolicy(in) != 0) || plan_unique(in, &ov) != 0 ||
	    (!ov.dds && !ov.syncprov && plan_dds(in) != 0) ||
	    (!ov.accesslog && plan_accesslog(in) != 0))
		goto done;
	ret = 0;
done:
	dir_entry_free(ov.unique_entry);
	return ret;
}

/* The equality indexes of schema/README.md. */
static const char *const indexes[] = {
	KENPO_AT_OBJECTCLASS, KENPO_AT_UID,         KENPO_AT_UIDNUMBER,     KENPO_AT_GIDNUMBER,
	KENPO_AT_NUMBER,      KENPO_AT_STATE,       KENPO_AT_MAIL1,         KENPO_AT_MAIL2,
	KENPO_AT_MAIL3,       KENPO_AT_ROSTER_MAIL, KENPO_AT_BIRTH,         KENPO_AT_TOKEN_HASH,
	KENPO_AT_TOKEN_KIND,  KENPO_AT_TOKEN_MAIL,  KENPO_AT_TOKEN_MEMBER,  KENPO_AT_RATE_KEY,
	"entryCSN",           "entryUUID",          "entryExpireTimestamp",
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
		if (c == NULL && (c = new_change(in, in->db, 0,
						 "equality indexes of every "
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
	static const char *const attrs[] = { "olcDbIndex", "olcSuffix", "olcRootDN",
					     "olcLimits",  "olcAccess", "olcDbDirectory",
					     NULL };
	char esc[ADMIN_DN_MAX * 3], filter[sizeof esc + 20], err[ADMIN_ERR_MAX];
	int rc;

	if (dir_filter_escape(in->suffix, esc, sizeof esc) != 0)
		return 0;
	snprintf(filter, sizeof filter, "(olcSuffix=%s)", esc);
	rc = dir_search(in->a->dir, "cn=config", DIR_ONE, filter, attrs, dir_keep_first, db, err,
			sizeof err);
	if (rc != DIR_OK || *db == NULL)
		return 0;
	snprintf(in->db, sizeof in->db, "%s", (*db)->dn);
	snprintf(in->rootdn, sizeof in->rootdn, "%s",
		 dir_get(*db, "olcRootDN") != NULL ? dir_get(*db, "olcRootDN") : "");
	snprintf(in->db_dir, sizeof in->db_dir, "%s",
		 dir_get(*db, "olcDbDirectory") != NULL ? dir_get(*db, "olcDbDirectory") : "");
	return 1;
}

/* Without access to cn=config: all that kenpo needs, for its administrator. */
static int
plan_everything(struct init *in)
{
	static const char *const wanted[] = { "ppolicy", "unique", "argon2", "dds", "accesslog" };
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
	return plan_accesslog_db(in) || plan_ppolicy(in) || plan_unique(in, &none) ||
			       plan_dds(in) || plan_accesslog(in) || plan_indexes(in, &empty) ||
			       plan_kenpod_access(in, &empty) ?
		       -1 :
		       0;
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
	ret = plan_modules(in) || plan_frontend(in) || plan_accesslog_db(in) ||
			      plan_overlays(in) || plan_indexes(in, db) || plan_limits(in, db) ||
			      plan_kenpod_access(in, db) ?
		      -1 :
		      0;
	dir_entry_free(db);
	return ret;
}

/* The directory of a new database, made like the members' database's
 * (owner, group) when that one is on this host: slapd runs as its own user
 * and creates no directory.  0, or -1 (message printed). */
static int
make_db_dir(const struct init *in, const char *dir)
{
	struct stat st;

	if (dir[0] == '\0' || lstat(dir, &st) == 0)
		return 0;
	if (in->db_dir[0] == '\0' || stat(in->db_dir, &st) != 0) {
		admin_note("%s must exist, owned by slapd's user, before slapd can open the "
			   "access log (the members' database is not on this host)",
			   dir);
		return 0;
	}
	if (mkdir(dir, 0700) != 0 || chown(dir, st.st_uid, st.st_gid) != 0) {
		admin_error("%s: %s", dir, strerror(errno));
		return -1;
	}
	return 0;
}

static void
apply_changes(struct init *in)
{
	char err[ADMIN_ERR_MAX];
	size_t i;
	int rc;

	for (i = 0; i < in->nchanges; i++) {
		struct change *c = &in->changes[i];

		if (make_db_dir(in, c->dir) != 0) {
			in->errors++;
			return;
		}
		rc = c->add ? dir_add(in->a->dir, c->dn, c->m, err, sizeof err) :
			      dir_modify(in->a->dir, c->dn, c->m, err, sizeof err);
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
	int print = !in->a->o.apply || !in->readable;
	size_t i;

	if (!in->a->o.json) {
		if (in->nchanges == 0)
			printf("cn=config: nothing to change (modules, overlays, indexes and access "
			       "rules in place)\n");
		else if (print)
			printf("# cn=config: %s; %s, e.g.\n"
			       "#   ldapmodify -Y EXTERNAL -H ldapi:/// -f FILE\n\n",
			       in->readable ?
				       "what is missing" :
				       "not readable with these "
				       "credentials, so all of it (adjust the database DN and directory)",
			       in->readable ? "kenpo-admin init --apply makes it, or its "
					      "administrator" :
					      "apply it as its administrator");
		for (i = 0; i < in->nchanges && print; i++)
			fputs(in->changes[i].ldif != NULL ? in->changes[i].ldif : "", stdout);
		return;
	}
	json_object_object_add(o, "config_readable", json_object_new_boolean(in->readable));
	arr = json_object_new_array();
	for (i = 0; i < in->nchanges; i++) {
		x = json_object_new_object();
		json_object_object_add(x, "dn", json_object_new_string(in->changes[i].dn));
		json_object_object_add(x, "what", json_object_new_string(in->changes[i].what));
		json_object_object_add(x, "applied",
				       json_object_new_boolean(in->changes[i].applied));
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

/* Whether anything is left to do after this run. */
static int
something_missing(const struct init *in)
{
	size_t i;

	for (i = 0; i < in->nsteps; i++)
		if (strcmp(in->steps[i].status, "missing") == 0)
			return 1;
	for (i = 0; i < in->nchanges; i++)
		if (!in->changes[i].applied)
			return 1;
	return 0;
}

/* Look at everything; with --apply make cn=config's part first (the
 * policies' class comes with the ppolicy module), then the data tree. */
static void
plan_and_apply(struct init *in)
{
	const struct admin *a = in->a;
	char id[ADMIN_DN_MAX + 8];

	if (dir_whoami(a->dir, id, sizeof id) == 0 && strncasecmp(id, "dn:", 3) == 0 &&
	    strlen(id + 3) < sizeof in->me)
		memcpy(in->me, id + 3, strlen(id + 3) + 1);
	if (tree_plan(in) != 0 || plan_config(in) != 0) {
		in->errors++;
		return;
	}
	if (!a->o.apply)
		return;
	if (in->readable)
		apply_changes(in);
	else if (in->nchanges > 0)
		admin_note("cn=config is not readable with these credentials: its part is "
			   "printed (root over ldapi:///, -Y EXTERNAL, usually may)");
	if (in->errors == 0)
		tree_apply(in);
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
	if (dir_suffix_of(a->dir, a->soc.base, in.suffix, sizeof in.suffix, err, sizeof err) !=
	    DIR_OK) {
		admin_error("%s", err);
		return ADMIN_ERROR;
	}
	if (a->o.json) {
		o = json_object_new_object();
		in.entries = json_object_new_array();
	}
	plan_and_apply(&in);
	tree_report(&in);
	report_config(&in, o);
	if (!a->o.apply && !a->o.json && something_missing(&in))
		printf("init: nothing was changed; kenpo-admin init --apply makes what is "
		       "missing\n");
	if (o != NULL) {
		json_object_object_add(o, "society", json_object_new_string(a->soc.id));
		json_object_object_add(o, "base", json_object_new_string(a->soc.base));
		json_object_object_add(o, "applied", json_object_new_boolean(a->o.apply));
		json_object_object_add(o, "entries", in.entries);
		admin_json_print(o);
	}
	tree_free(&in);
	free_changes(&in);
	return in.errors > 0 ? ADMIN_ERROR : ADMIN_OK;
}
