/*
 * profile.c - `kenpo-admin set KEY FIELD=VALUE ...`: the administrator
 * changes a member's profile settings, as when a member asks the society
 * by telephone: the nickname, the address the login key goes to
 * (key_mail), and the five 通知メール.  Whether a login needs the key is
 * the society's policy (kenpod.conf's key), not a member's setting, and
 * key_required is refused with a message that says so.  Every value is
 * checked before anything is written; the change is one modify (all or
 * nothing), and each field changed gets an audit line with its old and
 * new value.
 */
#include "autoconfig.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "admin.h"
#include "schema.h"

enum kind { P_TEXT, P_BOOL, P_SLOT };

static const struct field {
	const char *name;
	const char *attr;
	enum kind kind;
	int dflt; /* P_BOOL, P_SLOT: what an absent value means */
} fields[] = {
	{ "nickname", KENPO_AT_NICKNAME, P_TEXT, 0 },
	{ "key_mail", KENPO_AT_KEY_MAIL, P_SLOT, 1 },
	{ "notify_medical", KENPO_AT_NOTIFY_MEDICAL, P_BOOL, 1 },
	{ "notify_generic", KENPO_AT_NOTIFY_GENERIC, P_BOOL, 1 },
	{ "notify_magazine", KENPO_AT_NOTIFY_MAGAZINE, P_BOOL, 1 },
	{ "notify_documents", KENPO_AT_NOTIFY_DOCUMENTS, P_BOOL, 1 },
	{ "notify_applications", KENPO_AT_NOTIFY_APPLICATIONS, P_BOOL, 1 },
};
#define NFIELDS (sizeof fields / sizeof fields[0])

/* One FIELD=VALUE of the command line, checked. */
struct setting {
	const struct field *f;
	char value[ROSTER_NICKNAME_MAX * 4 + 1]; /* as stored: text, TRUE or FALSE, 1 to 3 */
};

static const struct field *
field_named(const char *name, size_t len)
{
	size_t i;

	for (i = 0; i < NFIELDS; i++)
		if (strlen(fields[i].name) == len && strncmp(fields[i].name, name, len) == 0)
			return &fields[i];
	return NULL;
}

/* yes/no and their friends. */
static int
parse_bool(const char *v, int *out)
{
	static const char *const yes[] = { "yes", "true", "on", "1" };
	static const char *const no[] = { "no", "false", "off", "0" };
	size_t i;

	for (i = 0; i < 4; i++) {
		if (strcasecmp(v, yes[i]) == 0)
			return *out = 1, 0;
		if (strcasecmp(v, no[i]) == 0)
			return *out = 0, 0;
	}
	return -1;
}

/* The mail address slot key_mail names: "1", "2" or "3".  0 or -1. */
static int
parse_slot(const char *v)
{
	return strlen(v) == 1 && v[0] >= '1' && v[0] <= '3' ? 0 : -1;
}

/* key_required was a member's setting once; a clear refusal says where
 * the choice is now, rather than an unknown field. */
static int
refuse_key_required(const char *arg)
{
	if (strncmp(arg, "key_required=", 13) != 0)
		return 0;
	admin_error("set: key_required: whether a login needs the mailed key is no member's "
		    "setting: it is the society's key = required | optional in kenpod.conf "
		    "(key_mail=1|2|3 chooses the address the key goes to)");
	return -1;
}

/* Check the value of s->f into s.  0, or -1 (message printed). */
static int
parse_value(const char *v, struct setting *s)
{
	struct roster_msg m;
	int b;

	if (s->f->kind == P_BOOL) {
		if (parse_bool(v, &b) != 0) {
			admin_error("set: %s: not yes or no: %.20s", s->f->name, v);
			return -1;
		}
		snprintf(s->value, sizeof s->value, "%s", b ? KENPO_TRUE : KENPO_FALSE);
		return 0;
	}
	if (s->f->kind == P_SLOT && parse_slot(v) != 0) {
		admin_error("set: %s: not 1, 2 or 3: %.20s", s->f->name, v);
		return -1;
	}
	if (s->f->kind == P_TEXT && roster_text_check(v, ROSTER_NICKNAME_MAX, &m) != 0) {
		admin_error_msg(s->f->name, m.en, m.ja);
		return -1;
	}
	snprintf(s->value, sizeof s->value, "%s", v);
	return 0;
}

/* Check one argument into s.  0, or -1 (message printed). */
static int
parse_setting(const char *arg, struct setting *s)
{
	const char *eq = strchr(arg, '=');

	if (refuse_key_required(arg) != 0)
		return -1;
	s->f = eq != NULL ? field_named(arg, (size_t)(eq - arg)) : NULL;
	if (s->f == NULL) {
		admin_error("set: not FIELD=VALUE with a field of nickname, key_mail, "
			    "notify_medical, notify_generic, notify_magazine, notify_documents, "
			    "notify_applications: %.60s",
			    arg);
		return -1;
	}
	return parse_value(eq + 1, s);
}

int
admin_key_mail(const struct dir_entry *e)
{
	const char *v = dir_get(e, KENPO_AT_KEY_MAIL);

	return v != NULL && parse_slot(v) == 0 ? v[0] - '0' : 1;
}

/* key_mail must name an address the member has, as kenpod requires when
 * the member chooses it.  (Should the member remove that address at the
 * same moment, kenpod mails the key to address 1, as it does for any
 * empty choice.)  0, or -1 (message printed). */
static int
check_slots(const struct dir_entry *e, const struct setting *s, size_t n)
{
	static const char *const mail[] = { KENPO_AT_MAIL1, KENPO_AT_MAIL2, KENPO_AT_MAIL3 };
	const char *addr;
	size_t i;

	for (i = 0; i < n; i++) {
		if (s[i].f->kind != P_SLOT)
			continue;
		addr = dir_get(e, mail[s[i].value[0] - '1']);
		if (addr == NULL || addr[0] == '\0') {
			admin_error("set: %s: the member has no mail address %s: the key goes "
				    "only to an address the member has",
				    s[i].f->name, s[i].value);
			return -1;
		}
	}
	return 0;
}

/* The value as it reads now: booleans as yes/no, absent as their
 * default; key_mail as kenpod shows it. */
static const char *
shown(const struct field *f, const char *v)
{
	static const char *const slots[] = { "1", "2", "3" };

	if (f->kind == P_TEXT)
		return v;
	if (f->kind == P_SLOT)
		return v != NULL && parse_slot(v) == 0 ? slots[v[0] - '1'] : slots[f->dflt - 1];
	if (v == NULL)
		return f->dflt ? "yes" : "no";
	return strcasecmp(v, KENPO_TRUE) == 0 ? "yes" : "no";
}

/* 1 when setting s changes the member's value. */
static int
differs(const struct dir_entry *e, const struct setting *s)
{
	const char *now = shown(s->f, dir_get(e, s->f->attr));

	return now == NULL || strcmp(now, shown(s->f, s->value)) != 0;
}

/* The modifications for the settings that change anything. */
static int
plan(const struct dir_entry *e, const struct setting *s, size_t n, struct dir_mods *m)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (differs(e, &s[i]) &&
		    dir_mods_put(m, DIR_MOD_REPLACE, s[i].f->attr, s[i].value) != 0)
			return -1;
	return 0;
}

static void
report(struct admin *a, const struct dir_entry *e, const struct setting *s, size_t n, int changed)
{
	json_object *o, *arr;
	size_t i;

	for (i = 0; changed && i < n; i++)
		if (differs(e, &s[i]))
			admin_audit(a, "set", e->dn, "number", dir_get(e, KENPO_AT_NUMBER),
				    "login", dir_get(e, KENPO_AT_UID), "field", s[i].f->name,
				    "old", shown(s[i].f, dir_get(e, s[i].f->attr)), "new",
				    shown(s[i].f, s[i].value), NULL);
	if (!a->o.json) {
		printf("%s %s\n", dir_get(e, KENPO_AT_NUMBER),
		       changed ? "changed" : "unchanged: nothing to do");
		return;
	}
	o = json_object_new_object();
	arr = json_object_new_array();
	json_object_object_add(o, "action", json_object_new_string("set"));
	json_object_object_add(o, "member_number", admin_json_str(dir_get(e, KENPO_AT_NUMBER)));
	json_object_object_add(o, "changed", json_object_new_boolean(changed));
	for (i = 0; i < n; i++)
		json_object_array_add(arr, json_object_new_string(s[i].f->name));
	json_object_object_add(o, "fields", arr);
	admin_json_print(o);
}

int
cmd_set(struct admin *a)
{
	const char *attrs[NFIELDS + 6];
	struct setting *s = calloc((size_t)a->o.nargs, sizeof *s);
	struct dir_entry *e = NULL;
	struct dir_mods *m = dir_mods_new();
	char err[ADMIN_ERR_MAX];
	size_t i, n = (size_t)a->o.nargs - 1;
	int rc = ADMIN_USAGE;

	if (s == NULL || m == NULL) {
		admin_error("out of memory");
		rc = ADMIN_ERROR;
		goto done;
	}
	for (i = 0; i < n; i++)
		if (parse_setting(a->o.args[i + 1], &s[i]) != 0)
			goto done;
	for (i = 0; i < NFIELDS; i++)
		attrs[i] = fields[i].attr;
	attrs[NFIELDS] = KENPO_AT_NUMBER;
	attrs[NFIELDS + 1] = KENPO_AT_UID;
	attrs[NFIELDS + 2] = KENPO_AT_MAIL1;
	attrs[NFIELDS + 3] = KENPO_AT_MAIL2;
	attrs[NFIELDS + 4] = KENPO_AT_MAIL3;
	attrs[NFIELDS + 5] = NULL;
	rc = admin_find_member(a, a->o.args[0], attrs, &e);
	if (rc != ADMIN_OK)
		goto done;
	rc = ADMIN_USAGE;
	if (check_slots(e, s, n) != 0)
		goto done;
	rc = ADMIN_ERROR;
	if (plan(e, s, n, m) != 0) {
		admin_error("out of memory");
		goto done;
	}
	if (dir_mods_count(m) > 0 && dir_modify(a->dir, e->dn, m, err, sizeof err) != DIR_OK) {
		admin_error("%s", err);
		goto done;
	}
	a->changed = dir_mods_count(m) > 0;
	report(a, e, s, n, dir_mods_count(m) > 0);
	rc = ADMIN_OK;
done:
	dir_mods_free(m);
	dir_entry_free(e);
	free(s);
	return rc;
}
