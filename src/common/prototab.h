/*
 * prototab.h - the tables of kenpo-proto.h, compiled: lookups, the layout
 * checker, the field reader and the request encoder that kenpod and every
 * client share.
 *
 * Like proto.h it depends on nothing but libc and never allocates, so the
 * NSS and PAM modules link it.
 *
 * Layouts are checked against signatures made from the tables: 'i' an
 * INT32, 's' a STRING, '(' ... ')' a LIST (INT32 count, then count times
 * the fields inside).  A frame is accepted only when its fields are exactly
 * those of the layout the table gives its action and result: nothing
 * missing, nothing left over, no result the table does not list.
 */
#ifndef KENPO_PROTOTAB_H
#define KENPO_PROTOTAB_H

#include <stddef.h>
#include <stdint.h>

#include "kenpo-proto.h"
#include "proto.h"

#define KENPO_LAYOUT_ENUM_(name) KENPO_LAYOUT_##name,
enum kenpo_layout { KENPO_LAYOUTS(KENPO_LAYOUT_ENUM_) KENPO_NLAYOUTS };

#define KENPO_FIELD_ENUM_(type, name) KENPO_FIELD_##name,
enum kenpo_field { KENPO_FIELDS(KENPO_FIELD_ENUM_) KENPO_NFIELDS };
/* The bit of a field in kenpo_fields.present. */
#define KENPO_HAS(name) ((uint64_t)1 << KENPO_FIELD_##name)

/* A STRING inside the frame buffer (not NUL-terminated). */
struct kenpo_str {
	const char *p;
	size_t len;
};

/* A LIST inside the frame buffer, walked with kenpo_list_next(). */
struct kenpo_list {
	int32_t count;
	int32_t done; /* items walked so far */
	size_t pos;   /* where the next item starts */
	enum kenpo_layout item;
};

/*
 * The fields of one answer, read by name: one member per entry of
 * KENPO_FIELDS, set when `present` has its bit (KENPO_HAS(name)).  Strings
 * point into the frame buffer, so they live as long as its contents.
 */
#define KENPO_FIELD_TYPE_INT int32_t
#define KENPO_FIELD_TYPE_STR struct kenpo_str
#define KENPO_FIELD_TYPE_LIST struct kenpo_list
#define KENPO_FIELD_MEMBER_(type, name) KENPO_FIELD_TYPE_##type name;
struct kenpo_fields {
	uint64_t present;
	KENPO_FIELDS(KENPO_FIELD_MEMBER_)
};

/* ---- the tables ---- */

struct kenpo_result_info {
	int32_t code;
	const char *name;  /* "AUTH_ERR" */
	const char *text;  /* the stable text code: "auth-failed" */
	const char *words; /* what kenpod logs: "refused" */
};

struct kenpo_answer_rule {
	int32_t result;
	enum kenpo_layout layout;
};

struct kenpo_action_info {
	int32_t code;
	const char *name;     /* "AUTH_PASSWORD" */
	const char *log_name; /* "auth password" */
	enum kenpo_caller who;
	enum kenpo_lane lane;                    /* where kenpod serves it */
	const char *request;                     /* the request's signature */
	const struct kenpo_answer_rule *answers; /* ends with result -1 */
};

extern const struct kenpo_result_info kenpo_results[];
extern const size_t kenpo_nresults;
extern const struct kenpo_action_info kenpo_actions[];
extern const size_t kenpo_nactions;
extern const char *const kenpo_layout_names[KENPO_NLAYOUTS];
extern const char *const kenpo_layout_signatures[KENPO_NLAYOUTS];

/* A result by its number, or NULL for a number the table does not have. */
const struct kenpo_result_info *kenpo_result_find(int32_t result);
/* Its name ("AUTH_ERR"), or "?" for a number the table does not have. */
const char *kenpo_result_name(int32_t result);
/* An action by its number, or NULL. */
const struct kenpo_action_info *kenpo_action_find(int32_t action);
/* The layout of the answer `result` to `action`, or -1 when that action
 * never answers it. */
int kenpo_answer_layout(int32_t action, int32_t result);

/* ---- checking ---- */

/* Whether the fields from b->pos on are exactly those of `sig` (b is not
 * moved).  0 or -1. */
int kenpo_fields_check(const struct kenpo_buf *b, const char *sig);
/*
 * Check a whole request frame: length, version, an action the table
 * knows, and the fields of its request.  0 with *action, or -1 (*action
 * is then the action read, or 0 when the frame could not be opened).
 */
int kenpo_request_check(struct kenpo_buf *b, int32_t *action);
/*
 * Open an answer frame to `action` and check it whole: length, version,
 * the action, a result the table gives that action, and exactly the
 * fields of its layout.  0 with *result and *layout, b->pos at the first
 * field; or -1 and b is marked failed.
 */
int kenpo_answer_open(struct kenpo_buf *b, int32_t action, int32_t *result,
		      enum kenpo_layout *layout);

/* ---- reading (after a check) ---- */

/* Read the fields of `layout` from b (positioned at them) into *f. */
void kenpo_fields_read(struct kenpo_buf *b, enum kenpo_layout layout, struct kenpo_fields *f);
/* The next item of a list of the checked frame in b: 1 with *item, 0 after
 * the last, -1 when b does not hold it. */
int kenpo_list_next(const struct kenpo_buf *b, struct kenpo_list *l, struct kenpo_fields *item);

/* ---- writing a request ---- */

/* One value of a request, of the type its signature needs there. */
struct kenpo_value {
	char type; /* 'i', 's', or '(' for a list of `i` items */
	int32_t i;
	const char *s; /* NULL is "" */
	size_t len;
};

static inline struct kenpo_value
kenpo_vint(int32_t i)
{
	struct kenpo_value v = { 'i', i, NULL, 0 };

	return v;
}

static inline struct kenpo_value
kenpo_vstrn(const char *s, size_t len)
{
	struct kenpo_value v = { 's', 0, s, s != NULL ? len : 0 };

	return v;
}

static inline struct kenpo_value
kenpo_vstr(const char *s)
{
	size_t len = 0;

	while (s != NULL && s[len] != '\0')
		len++;
	return kenpo_vstrn(s, len);
}

/* A list of `count` items; their values follow it, item after item. */
static inline struct kenpo_value
kenpo_vlist(int32_t count)
{
	struct kenpo_value v = { '(', count, NULL, 0 };

	return v;
}

/* Write the n values of the request of `action` into b, after
 * kenpo_frame_begin().  0, or -1 when they do not match its signature (in
 * number or type).  Values too long for b or for a STRING fail
 * kenpo_frame_end(). */
int kenpo_request_put(struct kenpo_buf *b, int32_t action, const struct kenpo_value *v, size_t n);

#endif
