/*
 * import.h - what the parts of `issue` and `import` share: import.c reads
 * the directory, plans and writes; importreport.c says what was (or, with
 * --dry-run, would be) done, and writes the audit lines.
 */
#ifndef KENPO_ADMIN_IMPORT_H
#define KENPO_ADMIN_IMPORT_H

#include <pthread.h>
#include <search.h>
#include <stdint.h>

#include "admin.h"
#include "gen.h"
#include "household.h"
#include "letters.h"
#include "roster.h"
#include "secret.h"

/* What may change for a member already in the directory, in the order of
 * import_fields. */
enum field_bit {
	F_NAME = 1u << 0,
	F_BIRTH = 1u << 1,
	F_MAIL = 1u << 2,
	F_HOUSEHOLD = 1u << 3,
	F_POSTAL = 1u << 4,
	F_ADDRESS = 1u << 5,
	F_EMPLOYER = 1u << 6,
	F_OFFICE = 1u << 7,
	F_LEFT = 1u << 8,
};
#define IMPORT_NFIELDS 9

/* A field: its roster column, and the attribute (NULL: household, left). */
struct import_field {
	const char *name;
	const char *attr;
};
extern const struct import_field import_fields[IMPORT_NFIELDS];

enum item_kind {
	K_NEW,     /* not in the directory: issued */
	K_UPDATE,  /* in the directory, something differs */
	K_SAME,    /* in the directory as the roster says */
	K_MISSING, /* in the directory, not on a full roster (--full) */
	K_LEFT,    /* not in the directory, and left already: not issued */
};
enum item_state { S_WAIT, S_DONE, S_FAILED, S_SKIPPED };

/* A member of the directory, as read before the import. */
struct existing {
	char *key; /* lower-case member number */
	struct dir_entry *e;
	struct dir_entry **house; /* its household entries */
	size_t nhouse, housecap;
	int seen; /* a roster row names it */
};

/* One roster row (or missing member) on its way into the directory. */
struct item {
	struct roster_row *row;
	enum item_kind kind;
	enum item_state state;
	struct existing *ex; /* K_UPDATE, K_SAME, K_MISSING */
	unsigned fields;     /* K_UPDATE: enum field_bit */
	int disable;         /* K_MISSING: to be disabled (--disable-missing) */
	struct hh_plan *hp;  /* F_HOUSEHOLD: what changes in the household */
	int pending;         /* operations in flight or queued */
	char *msg;           /* why it failed */
	/* K_NEW */
	char dn[ADMIN_DN_MAX];
	unsigned long uid;
	char login[KENPO_PREISSUED_ID_LEN + 1];
	char pw[KENPO_TEMP_PASSWORD_LEN + 1];
	char hash[KENPO_PWHASH_MAX];
	int hashed; /* 0 waiting, 1 made, -1 failed (under ctx->lock) */
	int tries;
};

struct op;

struct import {
	struct admin *a;
	const char *path; /* roster file, for messages */
	struct roster roster;
	enum roster_encoding encoding;
	int issue; /* `issue`: one member, never an update */
	char today[ROSTER_DATE_LEN + 1];
	/* the directory's members */
	struct existing *ex;
	size_t nex, excap;
	struct hsearch_data table;
	int table_made;
	/* the work */
	struct item *items;
	size_t nitems;
	struct roster_row *missing_rows; /* the rows of K_MISSING items */
	struct item **news;              /* K_NEW items in roster order */
	size_t nnew, next_send, next_letter;
	struct op *queue, *queue_tail;
	struct op **flight; /* the window */
	size_t nflight, window;
	int broken; /* the connection failed: stop sending */
	unsigned long long uid_first;
	char suffix[ADMIN_DN_MAX];
	struct letters *letters;
	char expiry_gt[20], expiry_text[40];
	/* hashing threads */
	pthread_mutex_t lock;
	pthread_cond_t hashed;
	pthread_t *threads;
	size_t nthreads, next_hash;
	int stop;
	/* progress */
	int progress;
	size_t finished, total;
	int64_t started_ms, shown_ms;
	/* counts */
	size_t n_new, n_updated, n_same, n_failed, n_skipped, n_missing, n_left;
};

/* ---- importreport.c ---- */
/* The current value of a field of a member in the directory (NULL: none);
 * the postal address unescaped into buf. */
const char *import_old_value(const struct existing *x, unsigned bit, char *buf, size_t bufsz);
/* The roster's value of a field (NULL: none). */
const char *import_new_value(const struct roster_row *row, unsigned bit);
/* Print the roster's errors (text) on stderr. */
void import_print_errors(const struct import *im);
/* The report of an import (text or JSON), and of `issue`. */
void import_report(struct import *im);
void import_report_issue(struct import *im);
/* The audit lines of what was written. */
void import_audit(struct import *im);

#endif
