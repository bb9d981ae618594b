/*
 * prototab.c - the tables of kenpo-proto.h, expanded (see prototab.h).
 *
 * Everything here is made from the X-macro lists of the header: a name or
 * a layout that does not exist does not compile.
 */
#include "autoconfig.h"

#include <string.h>

#include "prototab.h"

/* A list holds at most this many items (each takes 4 bytes at least). */
#define LIST_MAX (KENPO_PROTO_MAX_FRAME / 4)

/* ---- signatures ---- */

#define SIG_F(type, name) SIG_##type
#define SIG_INT "i"
#define SIG_STR "s"
#define SIG_L(name, item) "(" KENPO_L_##item(SIG_F, SIG_NESTED) ")"
/* Lists do not nest: a list inside a list item does not compile. */
#define SIG_NESTED(name, item) kenpo_lists_do_not_nest

#define LAYOUT_SIG(layout) "" KENPO_L_##layout(SIG_F, SIG_L),
const char *const kenpo_layout_signatures[KENPO_NLAYOUTS] = { KENPO_LAYOUTS(LAYOUT_SIG) };

#define LAYOUT_NAME(layout) #layout,
const char *const kenpo_layout_names[KENPO_NLAYOUTS] = { KENPO_LAYOUTS(LAYOUT_NAME) };

/* ---- results ---- */

#define RESULT_INFO(name, number, text, words) { KENPO_RES_##name, #name, text, words },
const struct kenpo_result_info kenpo_results[] = { KENPO_RESULTS(RESULT_INFO) };
const size_t kenpo_nresults = sizeof kenpo_results / sizeof kenpo_results[0];

/* ---- actions ---- */

#define RULE(result, layout) { KENPO_RES_##result, KENPO_LAYOUT_##layout },
#define ACTION_RULES(name, number, logname, who, lane) \
	static const struct kenpo_answer_rule answers_##name[] = { KENPO_ANS_##name( \
		RULE) KENPO_ANS_ANY(RULE){ -1, KENPO_LAYOUT_NONE } };
KENPO_ACTIONS(ACTION_RULES)

#define ACTION_INFO(name, number, logname, who, lane) \
	{ KENPO_ACTION_##name, \
	  #name, \
	  logname, \
	  KENPO_CALLER_##who, \
	  KENPO_LANE_##lane, \
	  "" KENPO_REQ_##name(SIG_F, SIG_L), \
	  answers_##name },
const struct kenpo_action_info kenpo_actions[] = { KENPO_ACTIONS(ACTION_INFO) };
const size_t kenpo_nactions = sizeof kenpo_actions / sizeof kenpo_actions[0];

const struct kenpo_result_info *
kenpo_result_find(int32_t result)
{
	size_t i;

	for (i = 0; i < kenpo_nresults; i++)
		if (kenpo_results[i].code == result)
			return &kenpo_results[i];
	return NULL;
}

const char *
kenpo_result_name(int32_t result)
{
	const struct kenpo_result_info *r = kenpo_result_find(result);

	return r != NULL ? r->name : "?";
}

const struct kenpo_action_info *
kenpo_action_find(int32_t action)
{
	size_t i;

	for (i = 0; i < kenpo_nactions; i++)
		if (kenpo_actions[i].code == action)
			return &kenpo_actions[i];
	return NULL;
}

int
kenpo_answer_layout(int32_t action, int32_t result)
{
	const struct kenpo_action_info *a = kenpo_action_find(action);
	const struct kenpo_answer_rule *r;

	if (a == NULL)
		return -1;
	for (r = a->answers; r->result >= 0; r++)
		if (r->result == result)
			return (int)r->layout;
	return -1;
}

/* ---- checking ---- */

/* The signature after the group that starts at sig (just inside its '('). */
static const char *
group_end(const char *sig)
{
	while (*sig != '\0' && *sig != ')')
		sig++;
	return *sig == ')' ? sig + 1 : sig;
}

/*
 * Walk the fields of sig, up to its end or the ')' that closes the group
 * it is inside, over b.  Errors are sticky in b->err.
 */
static void
walk(struct kenpo_buf *b, const char *sig)
{
	const char *s;
	size_t len;
	int32_t n, i;

	while (*sig != '\0' && *sig != ')' && !b->err) {
		if (*sig == 'i') {
			(void)kenpo_get_int32(b);
		} else if (*sig == 's') {
			kenpo_get_string_ref(b, &s, &len);
		} else if (*sig == '(') {
			n = kenpo_get_int32(b);
			if (n < 0 || n > LIST_MAX)
				b->err = 1;
			for (i = 0; i < n && !b->err; i++)
				walk(b, sig + 1);
			sig = group_end(sig + 1);
			continue;
		} else {
			b->err = 1;
		}
		sig++;
	}
}

int
kenpo_fields_check(const struct kenpo_buf *b, const char *sig)
{
	struct kenpo_buf tmp = *b;

	walk(&tmp, sig);
	return kenpo_frame_close(&tmp);
}

int
kenpo_request_check(struct kenpo_buf *b, int32_t *action)
{
	const struct kenpo_action_info *a;
	int32_t code = 0;

	*action = 0;
	if (kenpo_frame_open(b, &code) != 0)
		return -1;
	*action = code;
	a = kenpo_action_find(code);
	if (a == NULL || kenpo_fields_check(b, a->request) != 0)
		return -1;
	return 0;
}

int
kenpo_answer_open(struct kenpo_buf *b, int32_t action, int32_t *result, enum kenpo_layout *layout)
{
	int32_t act = 0, res;
	int lay;

	if (kenpo_frame_open(b, &act) != 0 || act != action)
		goto bad;
	res = kenpo_get_int32(b);
	if (b->err)
		goto bad;
	lay = kenpo_answer_layout(action, res);
	if (lay < 0 || kenpo_fields_check(b, kenpo_layout_signatures[lay]) != 0)
		goto bad;
	*result = res;
	*layout = (enum kenpo_layout)lay;
	return 0;
bad:
	b->err = 1;
	return -1;
}

/* ---- reading ---- */

static void
read_list(struct kenpo_buf *b, struct kenpo_list *l, enum kenpo_layout item)
{
	int32_t i;

	l->count = kenpo_get_int32(b);
	l->done = 0;
	l->pos = b->pos;
	l->item = item;
	if (l->count < 0 || l->count > LIST_MAX)
		b->err = 1;
	for (i = 0; i < l->count && !b->err; i++)
		walk(b, kenpo_layout_signatures[item]);
}

#define READ_F(type, name) READ_##type(name)
#define READ_INT(name) \
	f->name = kenpo_get_int32(b); \
	f->present |= KENPO_HAS(name);
#define READ_STR(name) \
	kenpo_get_string_ref(b, &f->name.p, &f->name.len); \
	f->present |= KENPO_HAS(name);
#define READ_L(name, item) \
	read_list(b, &f->name, KENPO_LAYOUT_##item); \
	f->present |= KENPO_HAS(name);
#define READER(layout) \
	static void read_##layout(struct kenpo_buf *b, struct kenpo_fields *f) \
	{ \
		KENPO_L_##layout(READ_F, READ_L) \
	}
KENPO_LAYOUTS(READER)

#define READER_ENTRY(layout) read_##layout,
static void (*const readers[KENPO_NLAYOUTS])(struct kenpo_buf *, struct kenpo_fields *) = {
	KENPO_LAYOUTS(READER_ENTRY)
};

void
kenpo_fields_read(struct kenpo_buf *b, enum kenpo_layout layout, struct kenpo_fields *f)
{
	memset(f, 0, sizeof(*f));
	if ((unsigned)layout >= KENPO_NLAYOUTS) {
		b->err = 1;
		return;
	}
	readers[layout](b, f);
}

int
kenpo_list_next(const struct kenpo_buf *b, struct kenpo_list *l, struct kenpo_fields *item)
{
	struct kenpo_buf tmp = *b;

	if (l->done >= l->count)
		return 0;
	tmp.pos = l->pos;
	tmp.err = 0;
	kenpo_fields_read(&tmp, l->item, item);
	if (tmp.err)
		return -1;
	l->pos = tmp.pos;
	l->done++;
	return 1;
}

/* ---- writing ---- */

/* Write the values for the fields of sig (up to its end or the ')' of its
 * group) from v[*k] on.  -1 when a value is missing or of another type; a
 * value too long for b sets b->err. */
static int
put_group(struct kenpo_buf *b, const char *sig, const struct kenpo_value *v, size_t n, size_t *k)
{
	int32_t i, count;

	while (*sig != '\0' && *sig != ')') {
		if (*k >= n || v[*k].type != *sig)
			return -1;
		if (*sig == 'i') {
			kenpo_put_int32(b, v[*k].i);
		} else if (*sig == 's') {
			kenpo_put_string(b, v[*k].s != NULL ? v[*k].s : "", v[*k].len);
		} else {
			count = v[(*k)++].i;
			if (count < 0 || count > LIST_MAX)
				return -1;
			kenpo_put_int32(b, count);
			for (i = 0; i < count; i++)
				if (put_group(b, sig + 1, v, n, k) != 0)
					return -1;
			sig = group_end(sig + 1);
			continue;
		}
		(*k)++;
		sig++;
	}
	return 0;
}

int
kenpo_request_put(struct kenpo_buf *b, int32_t action, const struct kenpo_value *v, size_t n)
{
	const struct kenpo_action_info *a = kenpo_action_find(action);
	size_t k = 0;

	if (a == NULL || put_group(b, a->request, v, n, &k) != 0 || k != n) {
		b->err = 1;
		return -1;
	}
	return 0;
}
