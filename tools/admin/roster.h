/*
 * roster.h - the society's roster: a CSV file of insured members, read and
 * checked row by row before anything is written to the directory.
 *
 * The columns are named in a header line (any order, names without regard
 * to case; Japanese names are accepted too):
 *   member_number  required  the stable key: 1 to 32 of A-Z a-z 0-9 '-'
 *   name           required  the real name (cn; sn is its first word)
 *   birth_date               YYYY-MM-DD (YYYY/MM/DD, YYYY/M/D, YYYYMMDD accepted)
 *   mail                     the company address (kenpoRosterMail)
 *   household                dependents: "name[:birth date]" separated by ';'
 *   nickname                 shown instead of the name (default ご本人)
 *   key_required             yes/no: the mailed key after the password
 * With the identity-check registration, birth_date and mail are required.
 */
#ifndef KENPO_ADMIN_ROSTER_H
#define KENPO_ADMIN_ROSTER_H

#include <stddef.h>
#include "config.h"

#define ROSTER_NUMBER_MAX 32
#define ROSTER_NAME_MAX 64        /* characters */
#define ROSTER_NICKNAME_MAX 64    /* characters (kenpoNickname is DS{64}) */
#define ROSTER_HOUSEHOLD_MAX 99   /* kenpoHouseholdIndex has two digits */
#define ROSTER_DATE_LEN 10
#define ROSTER_MSG_MAX 200

struct roster_house {
	char *name;
	char *birth;                  /* YYYY-MM-DD or NULL */
};

struct roster_row {
	unsigned long line;
	char *number, *name, *sn;
	char *birth, *mail, *nickname; /* NULL when not given */
	int key_required;              /* -1 not given, 0, 1 */
	size_t nhouse;
	struct roster_house *house;
};

struct roster_error {
	unsigned long line;
	char field[24];               /* column name, or "" for the whole row */
	char msg[ROSTER_MSG_MAX];
	size_t seq;                   /* order of discovery, to sort by line stably */
};

struct roster {
	struct roster_row *rows;       /* the good rows, in file order */
	size_t nrows;
	struct roster_error *errs;
	size_t nerrs;
	size_t nbad;                   /* rows refused */
	int fatal;                     /* nothing could be read (header, encoding) */
	size_t rowcap, errcap;
};

/* Read the roster in data[0..len).  0 (errors, if any, are in r->errs;
 * r->fatal when the header itself is wrong), -1 when out of memory. */
int roster_read(const char *data, size_t len, enum kenpo_regmethod method, struct roster *r);
void roster_free(struct roster *r);
void roster_row_clear(struct roster_row *row);

/* One row from the fields of `kenpo-admin issue`.  0, or -1 with
 * field and msg saying what is wrong. */
int roster_row_make(const char *number, const char *name, const char *birth,
		    const char *mail, const char *household, const char *nickname,
		    const char *key_required, enum kenpo_regmethod method,
		    struct roster_row *row, const char **field, char *msg, size_t msgsz);

/* 1 when s is a valid member number. */
int roster_number_ok(const char *s);

/* The columns, for --help: one line each. */
const char *roster_columns_help(void);

#endif
