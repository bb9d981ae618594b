/*
 * dir.h - kenpo-admin's access to the directory.  This is the only part of
 * the tool that calls libldap (the shape of nss-pam-ldapd's myldap.c):
 * the rest speaks of entries, modifications and results.
 *
 * The administrator binds with their own credentials: SASL EXTERNAL (over
 * ldapi:// as the user running the tool) or a bind DN with a password
 * file, as ldap-utils' -Y EXTERNAL and -D/-y do.  kenpod's service
 * account is never used.
 */
#ifndef KENPO_ADMIN_DIR_H
#define KENPO_ADMIN_DIR_H

#include <stddef.h>

/* Results of the operations. */
enum dir_rc {
	DIR_ERR = -1, /* anything else: the message says what */
	DIR_OK = 0,
	DIR_NOSUCH = 1,     /* noSuchObject */
	DIR_EXISTS = 2,     /* entryAlreadyExists */
	DIR_CONSTRAINT = 3, /* constraintViolation: slapo-unique refused a value */
	DIR_DENIED = 4,     /* insufficientAccessRights, unwillingToPerform */
	DIR_ATTREXISTS = 5, /* attributeOrValueExists */
};

struct dir_bind {
	const char *uri;     /* e.g. ldapi:/// */
	const char *bind_dn; /* NULL: SASL EXTERNAL */
	const char *pw_file; /* with bind_dn: the password, owner-only file */
	const char *ca_file; /* NULL: the system's CAs */
	long timeout;        /* seconds for connecting and each operation */
};

struct dir;

/* Connect and bind.  0, or -1 with err filled. */
int dir_open(const struct dir_bind *b, struct dir **out, char *err, size_t errsz);
void dir_close(struct dir *d);

/* ---- entries read ---- */
struct dir_attr {
	char *name;
	size_t nvals;
	char **vals; /* NUL-terminated copies */
};
struct dir_entry {
	char *dn;
	size_t nattrs;
	struct dir_attr *attrs;
};
/* First value of attr (case-insensitive name), NULL if absent. */
const char *dir_get(const struct dir_entry *e, const char *attr);
/* Number of values of attr, and value i. */
size_t dir_nvals(const struct dir_entry *e, const char *attr);
const char *dir_val(const struct dir_entry *e, const char *attr, size_t i);
/* 1 when attr holds value (ASCII case-insensitive), else 0. */
int dir_has_value(const struct dir_entry *e, const char *attr, const char *value);
void dir_entry_free(struct dir_entry *e);

enum dir_scope { DIR_BASE, DIR_ONE, DIR_SUB };

/* What a search callback returns. */
enum dir_cb {
	DIR_CB_NEXT = 0,  /* go on; the entry is freed */
	DIR_CB_KEEP = 1,  /* go on; the callback owns the entry now */
	DIR_CB_STOP = 2,  /* stop the search (dir_search returns DIR_OK) */
	DIR_CB_FAIL = -1, /* stop; dir_search returns DIR_ERR */
};
typedef int dir_entry_fn(struct dir_entry *e, void *arg);
/* A callback that keeps the first entry in *(struct dir_entry **)arg,
 * which must start NULL; the caller frees it. */
dir_entry_fn dir_keep_first;

/* Search with the paged results control (RFC 2696), so that a directory
 * of any size is read in pages.  attrs is NULL-terminated (NULL: all user
 * attributes).  DIR_OK (also when nothing matched), DIR_NOSUCH for a
 * missing base, or another dir_rc with err filled. */
int dir_search(struct dir *d, const char *base, enum dir_scope scope, const char *filter,
	       const char *const *attrs, dir_entry_fn *fn, void *arg, char *err, size_t errsz);

/* ---- modifications ---- */
enum dir_op { DIR_MOD_ADD, DIR_MOD_DELETE, DIR_MOD_REPLACE, DIR_MOD_INCREMENT };
struct dir_mods;
struct dir_mods *dir_mods_new(void);
/* Add a value to the list; consecutive calls with the same op and
 * attribute gather into one modification.  value NULL: the modification
 * without values (DELETE or REPLACE of the whole attribute).  0 or -1. */
int dir_mods_put(struct dir_mods *m, enum dir_op op, const char *attr, const char *value);
size_t dir_mods_count(const struct dir_mods *m);
void dir_mods_free(struct dir_mods *m);

/* Synchronous writes: a dir_rc; err holds the server's message. */
int dir_add(struct dir *d, const char *dn, const struct dir_mods *m, char *err, size_t errsz);
int dir_modify(struct dir *d, const char *dn, const struct dir_mods *m, char *err, size_t errsz);
int dir_delete(struct dir *d, const char *dn, char *err, size_t errsz);

/* Asynchronous writes: send the request and return its message id in
 * *msgid, so that many can be outstanding; dir_collect() reads results. */
int dir_add_start(struct dir *d, const char *dn, const struct dir_mods *m, int *msgid, char *err,
		  size_t errsz);
int dir_modify_start(struct dir *d, const char *dn, const struct dir_mods *m, int *msgid,
		     char *err, size_t errsz);
int dir_delete_start(struct dir *d, const char *dn, int *msgid, char *err, size_t errsz);
/* Wait up to timeout_ms for the result of any outstanding request.
 * 1 with *msgid and *rc (a dir_rc; msg the server's text), 0 on timeout,
 * -1 when the connection failed (msg says why). */
int dir_collect(struct dir *d, int timeout_ms, int *msgid, int *rc, char *msg, size_t msgsz);

/* Add `by` to the integer attr of dn atomically (RFC 4525 modify-increment)
 * and read the value before the increment with the pre-read control
 * (RFC 4527), in one operation: two tools doing it at once never see the
 * same value.  A dir_rc. */
int dir_increment(struct dir *d, const char *dn, const char *attr, unsigned long by,
		  unsigned long long *before, char *err, size_t errsz);

/* The naming context (suffix) of the directory that holds dn, from the
 * root DSE.  A dir_rc (DIR_NOSUCH if none holds it). */
int dir_suffix_of(struct dir *d, const char *dn, char *out, size_t outsz, char *err,
		  size_t errsz);

/* 1 when the server's schema defines the object class `name`, 0 if not,
 * -1 on error. */
int dir_schema_has_class(struct dir *d, const char *name, char *err, size_t errsz);

/* Escape a value for a search filter (RFC 4515).  0 or -1 (too long). */
int dir_filter_escape(const char *in, char *out, size_t outsz);

/* The identity bound, from the Who am I? operation (RFC 4532):
 * "dn:cn=admin,dc=example,dc=jp", or "" when anonymous.  0 or -1. */
int dir_whoami(struct dir *d, char *out, size_t outsz);

#endif
