/*
 * init.h - what the two halves of `kenpo-admin init` share: init.c plans
 * (and with --apply makes) the cn=config settings, inittree.c the entries
 * of the data tree and the files kenpod needs.  Nothing is changed before
 * everything has been planned, and nothing at all without --apply.
 */
#ifndef KENPO_ADMIN_INIT_H
#define KENPO_ADMIN_INIT_H

#include "admin.h"

/* A change of cn=config, as modifications and as LDIF text. */
struct change {
	char dn[ADMIN_DN_MAX];
	char what[120];
	int add; /* a new entry, else a modify */
	struct dir_mods *m;
	char *ldif;
	size_t len;
	enum dir_op last_op;
	char last_attr[64];
	char dir[ADMIN_DN_MAX]; /* a directory slapd needs first (a new database's) */
	int applied;
};

/* A step of the data tree: an entry to add or to modify, or a file. */
enum step_kind {
	ST_ADD,     /* add the entry dn */
	ST_ADOPT,   /* make the existing entry at the society's base the society's */
	ST_SECRET,  /* write kenpod's server secret at path */
	ST_SERVICE, /* add kenpod's account dn, with the password file path */
};

struct step {
	enum step_kind kind;
	char dn[ADMIN_DN_MAX];   /* the entry, or the file */
	char path[ADMIN_DN_MAX]; /* ST_SERVICE: the password file */
	struct dir_mods *m;      /* ST_ADD, ST_ADOPT, ST_SERVICE (without the password) */
	const char *status;      /* "exists", "missing", "created", "updated", "failed" */
};

struct init {
	struct admin *a;
	char suffix[ADMIN_DN_MAX];
	json_object *entries; /* [{dn, status}] (--json) */
	int errors;
	/* the data tree */
	struct step *steps;
	size_t nsteps;
	/* kenpod, as the access rules name it: its bind DN, or the peercred
	 * identity of its user when it binds with SASL EXTERNAL */
	char kenpod[ADMIN_DN_MAX];
	/* cn=config */
	int readable;
	char db[ADMIN_DN_MAX];     /* the database holding the suffix */
	char db_dir[ADMIN_DN_MAX]; /* its olcDbDirectory */
	char rootdn[ADMIN_DN_MAX];
	char me[ADMIN_DN_MAX]; /* the identity running init (Who am I?, without "dn:") */
	struct change *changes;
	size_t nchanges;
};

/* ---- inittree.c ---- */
/* Plan the entries and files that are missing.  0, or -1 (error printed). */
int tree_plan(struct init *in);
/* Make them (--apply). */
void tree_apply(struct init *in);
/* Say what exists and what is missing (or was made). */
void tree_report(struct init *in);
void tree_free(struct init *in);

#endif
