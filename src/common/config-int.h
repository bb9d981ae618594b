/*
 * config-int.h - what the parts of the configuration reader share: the
 * keyword tables' types (config.c holds the tables and the parser) and the
 * checks of one value by its type (config-check.c).
 */
#ifndef KENPO_CONFIG_INT_H
#define KENPO_CONFIG_INT_H

#include <stddef.h>

enum kw_type {
	KW_STRING,    /* any text without control characters */
	KW_NAME,      /* a user or group name */
	KW_DN,        /* an LDAP distinguished name */
	KW_PATH,      /* an absolute path */
	KW_HOME,      /* an absolute path with %u, %n and %% */
	KW_URL,       /* a URL with one of the schemes in `schemes` */
	KW_URL_TOKEN, /* the same, containing %%TOKEN%% exactly once */
	KW_LDAP_URIS, /* LDAP URIs separated by spaces (libldap tries each) */
	KW_NAMELIST,  /* login IDs, '*' at the end for a prefix, separated by spaces or commas */
	KW_MAIL,      /* a mail address */
	KW_DOMAIN,    /* a domain name */
	KW_TZ,        /* a time zone name under /usr/share/zoneinfo */
	KW_WORD,      /* one of `words`, stored as its canonical text */
	KW_ENUM,      /* one of `words`, stored as its number (bool too) */
	KW_FLAGS,     /* some of `words`, separated by commas or spaces, each at most
			* once, stored as the OR of their numbers */
	KW_DURATION,  /* seconds, see kenpo_parse_duration */
	KW_UINT,      /* an unsigned decimal */
	KW_SIZE,      /* bytes, see kenpo_parse_size */
	KW_DATE,      /* a calendar date YYYY-MM-DD, kept as text */
};

struct kw_word {
	const char *word;
	unsigned value;
};

struct keyword {
	const char *name;
	enum kw_type type;
	size_t offset;               /* of the field in its structure */
	size_t size;                 /* of the field */
	unsigned long long min, max; /* numbers: range; text: max is a length */
	const char *def;             /* default as written in the file, or NULL */
	int required;
	const struct kw_word *words; /* KW_WORD, KW_ENUM */
	const char *const *schemes;  /* KW_URL, KW_URL_TOKEN, KW_LDAP_URIS */
};

/* Check `v` for `kw`: 0, with a number in *num (for KW_WORD and KW_ENUM
 * the index of the word); or -1 with the problem in `why`.  `builtin` is
 * set for the table's own defaults. */
int kenpo_config_check(const struct keyword *kw, const char *v, int builtin,
		       unsigned long long *num, char *why, size_t whysz);

/* Whether a field of this type is a malloc'd char * (else a number). */
int kenpo_config_is_string(enum kw_type type);

#endif
