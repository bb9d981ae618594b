/*
 * lifecycle.c - looking after one member at a time: show, list, lock,
 * unlock, disable, enable, reissue, delete; and purge.
 */
#include "autoconfig.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "admin.h"
#include "gen.h"
#include "kenpo-proto.h"
#include "letters.h"
#include "mail.h"
#include "schema.h"
#include "secret.h"

#define FILTER_MAX 600
/* ppolicy's "locked until an administrator unlocks" (draft-behera). */
#define ADMIN_LOCK_TIME "000001010000Z"

/* ---- finding members ---- */

struct found {
	struct dir_entry *e[2];
	size_t n;
};

static int
keep_two(struct dir_entry *e, void *arg)
{
	struct found *f = arg;

	if (f->n == 2)
		return DIR_CB_STOP;
	f->e[f->n++] = e;
	return DIR_CB_KEEP;
}

/* The filter that finds the member named by key. 0 or -1. */
static int
member_filter(const char *by, const char *key, char *out, size_t outsz)
{
	char esc[300];
	int n;

	if (dir_filter_escape(key, esc, sizeof esc) != 0)
		return -1;
	if (by != NULL && strcmp(by, "number") == 0)
		n = snprintf(out, outsz, "(&" KENPO_FILTER_MEMBER "(" KENPO_AT_NUMBER "=%s))",
			     esc);
	else if (by != NULL)
		n = snprintf(out, outsz, "(&" KENPO_FILTER_MEMBER "(" KENPO_AT_UID "=%s))", esc);
	else
		n = snprintf(out, outsz,
			     "(&" KENPO_FILTER_MEMBER "(|(" KENPO_AT_UID "=%s)"
			     "(" KENPO_AT_NUMBER "=%s)))",
			     esc, esc);
	return n < 0 || (size_t)n >= outsz ? -1 : 0;
}

int
admin_find_member(struct admin *a, const char *key, const char *const *attrs,
		  struct dir_entry **out)
{
	char filter[FILTER_MAX], base[ADMIN_DN_MAX], err[ADMIN_ERR_MAX];
	struct found f = { { NULL, NULL }, 0 };
	int rc;

	if (strlen(key) > 100 || member_filter(a->o.by, key, filter, sizeof filter) != 0 ||
	    admin_sub_dn(a, KENPO_RDN_MEMBERS, base, sizeof base) != 0) {
		admin_error("no member %.100s", key);
		return ADMIN_NOTFOUND;
	}
	rc = dir_search(a->dir, base, DIR_ONE, filter, attrs, keep_two, &f, err, sizeof err);
	if (rc != DIR_OK && rc != DIR_NOSUCH) {
		admin_error("%s", err);
		rc = ADMIN_ERROR;
	} else if (f.n == 0) {
		admin_error("no member %s in %s", key, a->soc.base);
		rc = ADMIN_NOTFOUND;
	} else if (f.n == 2) {
		admin_error("%s names two members (a login ID and a member number): "
			    "say which with --by number or --by login",
			    key);
		rc = ADMIN_ERROR;
	} else {
		*out = f.e[0];
		f.e[0] = NULL;
		rc = ADMIN_OK;
	}
	dir_entry_free(f.e[0]);
	dir_entry_free(f.e[1]);
	return rc;
}

/* ---- show ---- */

static const char *const member_attrs[] = { KENPO_AT_NUMBER,
					    KENPO_AT_STATE,
					    KENPO_AT_UID,
					    KENPO_AT_UIDNUMBER,
					    KENPO_AT_GIDNUMBER,
					    KENPO_AT_CN,
					    KENPO_AT_NICKNAME,
					    KENPO_AT_BIRTH,
					    KENPO_AT_ROSTER_MAIL,
					    KENPO_AT_MAIL1,
					    KENPO_AT_MAIL2,
					    KENPO_AT_MAIL3,
					    KENPO_AT_DISABLED,
					    KENPO_AT_KEY_MAIL,
					    KENPO_AT_TEMP_PASSWORD,
					    KENPO_AT_TEMP_EXPIRY,
					    KENPO_AT_MUST_CHANGE,
					    KENPO_AT_FAILURES,
					    KENPO_AT_LOCKED_UNTIL,
					    KENPO_AT_LAST_LOGIN,
					    KENPO_AT_PWD_LOCKED,
					    KENPO_AT_PWD_FAILURES,
					    KENPO_AT_KEY_EXPIRY,
					    KENPO_AT_HOME,
					    KENPO_AT_SHELL,
					    KENPO_AT_PWD_RESET,
					    KENPO_AT_POSTAL_CODE,
					    KENPO_AT_POSTAL_ADDRESS,
					    KENPO_AT_EMPLOYER,
					    KENPO_AT_OFFICE,
					    KENPO_AT_AUTH_SOURCE,
					    KENPO_AT_UNFAMILIAR_FAILURES,
					    KENPO_AT_UNFAMILIAR_FAIL_TIME,
					    KENPO_AT_UNFAMILIAR_LOCKED_UNTIL,
					    KENPO_AT_KEY_FAILURES,
					    KENPO_AT_KEY_FAIL_WINDOW,
					    NULL };

static int
is_true(const char *v)
{
	return v != NULL && strcasecmp(v, KENPO_TRUE) == 0;
}

/* How the account is locked: "" when it is not. */
static void
lock_state(const struct dir_entry *e, char *out, size_t outsz)
{
	const char *pw = dir_get(e, KENPO_AT_PWD_LOCKED);
	const char *until = dir_get(e, KENPO_AT_LOCKED_UNTIL);
	const char *pool = dir_get(e, KENPO_AT_UNFAMILIAR_LOCKED_UNTIL);
	char now[20];

	admin_gentime(time(NULL), now, sizeof now);
	if (pw != NULL && strcmp(pw, ADMIN_LOCK_TIME) == 0)
		snprintf(out, outsz, "locked by an administrator");
	else if (pw != NULL)
		snprintf(out, outsz, "locked by slapd (ppolicy) since %s", pw);
	else if (until != NULL && strcmp(until, now) > 0)
		snprintf(out, outsz, "locked by kenpod until %s", until);
	else if (pool != NULL && strcmp(pool, now) > 0)
		snprintf(out, outsz, "locked by kenpod for unfamiliar sources until %s", pool);
	else
		out[0] = '\0';
}

/* The temporary password's state: "" for none. */
static void
temp_state(const struct dir_entry *e, char *out, size_t outsz)
{
	const char *exp = dir_get(e, KENPO_AT_TEMP_EXPIRY);

	if (dir_get(e, KENPO_AT_TEMP_PASSWORD) == NULL)
		out[0] = '\0';
	else if (exp != NULL)
		snprintf(out, outsz, "set, valid until %s", exp);
	else
		snprintf(out, outsz, "set, no expiry");
}

static int
add_house(struct dir_entry *e, void *arg)
{
	json_object *arr = arg, *h = json_object_new_object();

	json_object_object_add(h, "index", admin_json_str(dir_get(e, KENPO_AT_HOUSEHOLD_INDEX)));
	json_object_object_add(h, "name", admin_json_str(dir_get(e, KENPO_AT_CN)));
	json_object_object_add(h, "nickname", admin_json_str(dir_get(e, KENPO_AT_NICKNAME)));
	json_object_object_add(h, "birth_date", admin_json_str(dir_get(e, KENPO_AT_BIRTH)));
	json_object_array_add(arr, h);
	return DIR_CB_NEXT;
}

static int
by_index(const void *a, const void *b)
{
	json_object *const *x = a, *const *y = b;
	const char *i = json_object_get_string(json_object_object_get(*x, "index"));
	const char *j = json_object_get_string(json_object_object_get(*y, "index"));

	return strcmp(i != NULL ? i : "", j != NULL ? j : "");
}

/* The household of a member, as a JSON array in the order of the index
 * (NULL on error). */
static json_object *
household_of(struct admin *a, const char *dn)
{
	static const char *const attrs[] = { KENPO_AT_HOUSEHOLD_INDEX, KENPO_AT_CN,
					     KENPO_AT_NICKNAME, KENPO_AT_BIRTH, NULL };
	json_object *arr = json_object_new_array();
	char err[ADMIN_ERR_MAX];

	if (dir_search(a->dir, dn, DIR_ONE, KENPO_FILTER_HOUSEHOLD, attrs, add_house, arr, err,
		       sizeof err) != DIR_OK) {
		admin_error("%s", err);
		json_object_put(arr);
		return NULL;
	}
	json_object_array_sort(arr, by_index);
	return arr;
}

/* kenpod.conf's key of the society: NULL when kenpo-admin runs without
 * the configuration and cannot know it. */
static const char *
key_policy(const struct admin *a)
{
	if (a->soc.key_optional < 0)
		return NULL;
	return a->soc.key_optional ? "optional" : "required";
}

/* The member as a JSON object: what an administrator may see (never a
 * hash).  With it, whether the society asks for the key at login, since
 * the member only chooses where it goes. */
static json_object *
member_json(const struct admin *a, const struct dir_entry *e)
{
	static const struct {
		const char *key, *attr;
	} plain[] = {
		{ "member_number", KENPO_AT_NUMBER },
		{ "state", KENPO_AT_STATE },
		{ "login_id", KENPO_AT_UID },
		{ "name", KENPO_AT_CN },
		{ "nickname", KENPO_AT_NICKNAME },
		{ "birth_date", KENPO_AT_BIRTH },
		{ "roster_mail", KENPO_AT_ROSTER_MAIL },
		{ "mail1", KENPO_AT_MAIL1 },
		{ "mail2", KENPO_AT_MAIL2 },
		{ "mail3", KENPO_AT_MAIL3 },
		{ "last_login", KENPO_AT_LAST_LOGIN },
		{ "postal_code", KENPO_AT_POSTAL_CODE },
		{ "employer", KENPO_AT_EMPLOYER },
		{ "office_code", KENPO_AT_OFFICE },
		{ "dn", NULL },
	};
	json_object *o = json_object_new_object();
	char lock[120], temp[80], address[ROSTER_ADDRESS_MAX * 4 + 1];
	unsigned long long uid;
	size_t i;

	for (i = 0; i < sizeof plain / sizeof plain[0]; i++)
		json_object_object_add(o, plain[i].key,
				       admin_json_str(plain[i].attr != NULL ?
							      dir_get(e, plain[i].attr) :
							      e->dn));
	if (dir_get(e, KENPO_AT_UIDNUMBER) != NULL &&
	    kenpo_parse_ulong(dir_get(e, KENPO_AT_UIDNUMBER), 0, 0xffffffffULL, &uid) == 0)
		json_object_object_add(o, "uid_number", json_object_new_int64((int64_t)uid));
	else
		json_object_object_add(o, "uid_number", NULL);
	lock_state(e, lock, sizeof lock);
	temp_state(e, temp, sizeof temp);
	json_object_object_add(o, "disabled",
			       json_object_new_boolean(is_true(dir_get(e, KENPO_AT_DISABLED))));
	json_object_object_add(o, "locked", json_object_new_boolean(lock[0] != '\0'));
	json_object_object_add(o, "lock", admin_json_str(lock[0] != '\0' ? lock : NULL));
	json_object_object_add(o, "must_change",
			       json_object_new_boolean(
				       is_true(dir_get(e, KENPO_AT_MUST_CHANGE)) ||
				       is_true(dir_get(e, KENPO_AT_PWD_RESET))));
	json_object_object_add(
		o, "address",
		admin_json_str(
			dir_get(e, KENPO_AT_POSTAL_ADDRESS) != NULL &&
					admin_postal_unescape(dir_get(e, KENPO_AT_POSTAL_ADDRESS),
							      address, sizeof address) == 0 ?
				address :
				NULL));
	json_object_object_add(o, "temp_password", admin_json_str(temp[0] != '\0' ? temp : NULL));
	json_object_object_add(o, "key_mail", json_object_new_int(admin_key_mail(e)));
	json_object_object_add(o, "key_policy", admin_json_str(key_policy(a)));
	return o;
}

/* Print a JSON object as "key  value" lines. */
static void
print_text(json_object *o)
{
	json_object *h;
	size_t i;

	json_object_object_foreach(o, key, val)
	{
		if (json_object_is_type(val, json_type_array)) {
			for (i = 0; i < json_object_array_length(val); i++) {
				h = json_object_array_get_idx(val, i);
				printf("%-14s %s %s%s%s (%s)\n", i == 0 ? key : "",
				       json_object_get_string(json_object_object_get(h, "index")),
				       json_object_get_string(json_object_object_get(h, "name")),
				       json_object_object_get(h, "birth_date") != NULL ? " " : "",
				       json_object_object_get(h, "birth_date") != NULL ?
					       json_object_get_string(
						       json_object_object_get(h, "birth_date")) :
					       "",
				       json_object_get_string(
					       json_object_object_get(h, "nickname")));
			}
		} else if (json_object_is_type(val, json_type_boolean)) {
			printf("%-14s %s\n", key, json_object_get_boolean(val) ? "yes" : "no");
		} else if (val != NULL) {
			printf("%-14s %s\n", key, json_object_get_string(val));
		}
	}
}

int
cmd_show(struct admin *a)
{
	struct dir_entry *e = NULL;
	json_object *o, *house;
	int rc = admin_find_member(a, a->o.args[0], member_attrs, &e);

	if (rc != ADMIN_OK)
		return rc;
	o = member_json(a, e);
	house = household_of(a, e->dn);
	dir_entry_free(e);
	if (house == NULL) {
		json_object_put(o);
		return ADMIN_ERROR;
	}
	json_object_object_add(o, "household", house);
	if (a->o.json) {
		admin_json_print(o);
	} else {
		print_text(o);
		json_object_put(o);
	}
	return ADMIN_OK;
}

/* ---- list ---- */

static int list_members(struct admin *a);

struct lister {
	struct admin *a;
	size_t count;
};

static int
list_one(struct dir_entry *e, void *arg)
{
	struct lister *l = arg;
	json_object *o = member_json(l->a, e);
	const char *lock = json_object_get_string(json_object_object_get(o, "lock"));

	if (l->a->o.json) {
		admin_json_list_item(o);
	} else {
		printf("%s\t%s\t%s\t%s%s%s\n", dir_get(e, KENPO_AT_NUMBER),
		       dir_get(e, KENPO_AT_UID) != NULL ? dir_get(e, KENPO_AT_UID) : "-",
		       dir_get(e, KENPO_AT_STATE) != NULL ? dir_get(e, KENPO_AT_STATE) : "-",
		       is_true(dir_get(e, KENPO_AT_DISABLED)) ? "disabled" : "",
		       is_true(dir_get(e, KENPO_AT_DISABLED)) && lock != NULL ? "," : "",
		       lock != NULL ? "locked" : "");
	}
	json_object_put(o);
	l->count++;
	return DIR_CB_NEXT;
}

int
cmd_list(struct admin *a)
{
	if (a->o.notify != NULL)
		return cmd_list_notify(a);
	return list_members(a);
}

static int
list_members(struct admin *a)
{
	/* "locked" ends with the time now: kenpod's lock runs out by itself. */
	static const struct {
		const char *state, *filter;
		int timed;
	} states[] = {
		{ "issued", "(" KENPO_AT_STATE "=" KENPO_STATE_ISSUED ")", 0 },
		{ "registered", "(" KENPO_AT_STATE "=" KENPO_STATE_REGISTERED ")", 0 },
		{ "disabled", "(" KENPO_AT_DISABLED "=" KENPO_TRUE ")", 0 },
		{ "locked", "(|(" KENPO_AT_PWD_LOCKED "=*)(" KENPO_AT_LOCKED_UNTIL ">=", 1 },
	};
	struct lister l = { a, 0 };
	char filter[FILTER_MAX], part[200], now[20], base[ADMIN_DN_MAX], err[ADMIN_ERR_MAX];
	size_t i;
	int rc;

	part[0] = '\0';
	admin_gentime(time(NULL), now, sizeof now);
	for (i = 0; a->o.state != NULL && i < sizeof states / sizeof states[0]; i++)
		if (strcmp(a->o.state, states[i].state) == 0)
			snprintf(part, sizeof part, "%s%s%s", states[i].filter,
				 states[i].timed ? now : "", states[i].timed ? "))" : "");
	if (a->o.state != NULL && part[0] == '\0') {
		admin_error("--state: issued, registered, disabled or locked, not %s",
			    a->o.state);
		return ADMIN_USAGE;
	}
	snprintf(filter, sizeof filter, "(&" KENPO_FILTER_MEMBER "%s)", part);
	if (admin_sub_dn(a, KENPO_RDN_MEMBERS, base, sizeof base) != 0)
		return ADMIN_ERROR;
	if (a->o.json)
		admin_json_list_begin("members");
	rc = dir_search(a->dir, base, DIR_ONE, filter, member_attrs, list_one, &l, err,
			sizeof err);
	if (rc != DIR_OK) {
		admin_error("%s", err);
		return ADMIN_ERROR;
	}
	if (a->o.verbose)
		fprintf(stderr, "%zu members\n", l.count);
	return ADMIN_OK;
}

/* ---- lock, unlock, disable, enable ---- */

struct action {
	const char *name, *done;
	/* Put the changes into m; leave it empty when there is nothing to do. */
	int (*plan)(const struct dir_entry *e, struct dir_mods *m);
	/* The state the action changes ("locked", "disabled") and what it is
	 * afterwards, for the audit line. */
	const char *field;
	int (*state)(const struct dir_entry *e);
	const char *after;
};

/* Remove each of attrs that the entry has. 0 or -1. */
static int
remove_present(const struct dir_entry *e, const char *const *attrs, struct dir_mods *m)
{
	for (; *attrs != NULL; attrs++)
		if (dir_get(e, *attrs) != NULL &&
		    dir_mods_put(m, DIR_MOD_REPLACE, *attrs, NULL) != 0)
			return -1;
	return 0;
}

static int
plan_lock(const struct dir_entry *e, struct dir_mods *m)
{
	const char *t = dir_get(e, KENPO_AT_PWD_LOCKED);

	if (t != NULL && strcmp(t, ADMIN_LOCK_TIME) == 0)
		return 0;
	return dir_mods_put(m, DIR_MOD_REPLACE, KENPO_AT_PWD_LOCKED, ADMIN_LOCK_TIME);
}

static int
plan_unlock(const struct dir_entry *e, struct dir_mods *m)
{
	/* kenpod's counts too: the member's own, each unfamiliar source's,
	 * all unfamiliar sources', and the wrong keys of the day. */
	static const char *const attrs[] = { KENPO_AT_PWD_LOCKED,
					     KENPO_AT_PWD_FAILURES,
					     KENPO_AT_LOCKED_UNTIL,
					     KENPO_AT_FAILURES,
					     KENPO_AT_FAIL_TIME,
					     KENPO_AT_AUTH_SOURCE,
					     KENPO_AT_UNFAMILIAR_FAILURES,
					     KENPO_AT_UNFAMILIAR_FAIL_TIME,
					     KENPO_AT_UNFAMILIAR_LOCKED_UNTIL,
					     KENPO_AT_KEY_FAILURES,
					     KENPO_AT_KEY_FAIL_WINDOW,
					     NULL };

	return remove_present(e, attrs, m);
}

static int
plan_disable(const struct dir_entry *e, struct dir_mods *m)
{
	if (is_true(dir_get(e, KENPO_AT_DISABLED)))
		return 0;
	return dir_mods_put(m, DIR_MOD_REPLACE, KENPO_AT_DISABLED, KENPO_TRUE);
}

static int
plan_enable(const struct dir_entry *e, struct dir_mods *m)
{
	static const char *const attrs[] = { KENPO_AT_DISABLED, NULL };

	return remove_present(e, attrs, m);
}

static int
is_locked(const struct dir_entry *e)
{
	char lock[120];

	lock_state(e, lock, sizeof lock);
	return lock[0] != '\0';
}

static int
is_disabled(const struct dir_entry *e)
{
	return is_true(dir_get(e, KENPO_AT_DISABLED));
}

static void
report_action(const struct admin *a, const char *action, const char *done,
	      const struct dir_entry *e, int changed)
{
	const char *number = dir_get(e, KENPO_AT_NUMBER), *login = dir_get(e, KENPO_AT_UID);
	json_object *o;

	if (!a->o.json) {
		printf("%s %s%s%s%s\n", number, login != NULL ? "(" : "",
		       login != NULL ? login : "", login != NULL ? ") " : "",
		       changed ? done : "unchanged: nothing to do");
		return;
	}
	o = json_object_new_object();
	json_object_object_add(o, "action", json_object_new_string(action));
	json_object_object_add(o, "member_number", admin_json_str(number));
	json_object_object_add(o, "login_id", admin_json_str(login));
	json_object_object_add(o, "changed", json_object_new_boolean(changed));
	admin_json_print(o);
}

static int
run_action(struct admin *a, const struct action *act)
{
	struct dir_entry *e = NULL;
	struct dir_mods *m = NULL;
	char err[ADMIN_ERR_MAX];
	int rc = admin_find_member(a, a->o.args[0], member_attrs, &e);

	if (rc != ADMIN_OK)
		return rc;
	rc = ADMIN_ERROR;
	if ((m = dir_mods_new()) == NULL || act->plan(e, m) != 0) {
		admin_error("out of memory");
		goto done;
	}
	if (dir_mods_count(m) > 0) {
		if (dir_modify(a->dir, e->dn, m, err, sizeof err) != DIR_OK) {
			admin_error("%s", err);
			goto done;
		}
		a->changed = 1;
		admin_audit(a, act->name, e->dn, "number", dir_get(e, KENPO_AT_NUMBER), "login",
			    dir_get(e, KENPO_AT_UID), "field", act->field, "old",
			    act->state(e) ? "yes" : "no", "new", act->after, NULL);
	}
	report_action(a, act->name, act->done, e, dir_mods_count(m) > 0);
	rc = ADMIN_OK;
done:
	dir_mods_free(m);
	dir_entry_free(e);
	return rc;
}

int
cmd_lock(struct admin *a)
{
	static const struct action act = {
		"lock", "locked", plan_lock, "locked", is_locked, "yes"
	};

	return run_action(a, &act);
}

int
cmd_unlock(struct admin *a)
{
	static const struct action act = { "unlock", "unlocked", plan_unlock,
					   "locked", is_locked,  "no" };

	return run_action(a, &act);
}

int
cmd_disable(struct admin *a)
{
	static const struct action act = { "disable",  "disabled",  plan_disable,
					   "disabled", is_disabled, "yes" };

	return run_action(a, &act);
}

int
cmd_enable(struct admin *a)
{
	static const struct action act = { "enable",   "enabled",   plan_enable,
					   "disabled", is_disabled, "no" };

	return run_action(a, &act);
}

/* ---- reissue ---- */

/* The expiry of a new temporary password: GeneralizedTime and its
 * readable form, or "" for none. */
static void
temp_expiry(const struct admin *a, char *gt, size_t gtsz, char *text, size_t textsz)
{
	long validity = a->o.validity >= 0 ? a->o.validity : a->soc.temp_validity;
	time_t t = time(NULL) + validity;
	struct tm tm;

	gt[0] = text[0] = '\0';
	if (validity <= 0)
		return;
	admin_gentime(t, gt, gtsz);
	if (gmtime_r(&t, &tm) != NULL)
		strftime(text, textsz, "%Y-%m-%d %H:%M UTC", &tm);
}

/* Print a new temporary password for the administrator (no letters CSV). */
static void
print_password(const struct admin *a, const struct dir_entry *e, const char *pw,
	       const char *expiry)
{
	json_object *o;

	if (!a->o.json) {
		printf("%s %s temporary password: %s%s%s\n", dir_get(e, KENPO_AT_NUMBER),
		       dir_get(e, KENPO_AT_UID), pw, expiry[0] != '\0' ? ", valid until " : "",
		       expiry);
		return;
	}
	o = json_object_new_object();
	json_object_object_add(o, "action", json_object_new_string("reissue"));
	json_object_object_add(o, "member_number", admin_json_str(dir_get(e, KENPO_AT_NUMBER)));
	json_object_object_add(o, "login_id", admin_json_str(dir_get(e, KENPO_AT_UID)));
	json_object_object_add(o, "temp_password", json_object_new_string(pw));
	json_object_object_add(o, "temp_password_expiry",
			       admin_json_str(expiry[0] ? expiry : NULL));
	admin_json_print(o);
}

/* The changes of a reissue. 0 or -1. */
static int
plan_reissue(const struct dir_entry *e, const char *hash, const char *gt, struct dir_mods *m)
{
	static const char *const tries[] = { KENPO_AT_TEMP_TRIES, NULL };
	int registered = dir_has_value(e, KENPO_AT_STATE, KENPO_STATE_REGISTERED);

	if (dir_mods_put(m, DIR_MOD_REPLACE, KENPO_AT_TEMP_PASSWORD, hash) != 0 ||
	    dir_mods_put(m, DIR_MOD_REPLACE, KENPO_AT_TEMP_EXPIRY, gt[0] != '\0' ? gt : NULL) !=
		    0 ||
	    remove_present(e, tries, m) != 0)
		return -1;
	/* A registered member logs in with it and must then choose a password. */
	return registered ? dir_mods_put(m, DIR_MOD_REPLACE, KENPO_AT_MUST_CHANGE, KENPO_TRUE) :
			    0;
}

/* Write the letter of a reissued password. 0 or -1. */
static int
reissue_letter(struct letters *l, const struct dir_entry *e, const char *pw, const char *expiry)
{
	struct letter x = {
		.line = 0,
		.number = dir_get(e, KENPO_AT_NUMBER),
		.name = dir_get(e, KENPO_AT_CN),
		.nickname = dir_get(e, KENPO_AT_NICKNAME),
		.login = dir_get(e, KENPO_AT_UID),
		.password = pw,
		.expiry = expiry,
		.postal_code = dir_get(e, KENPO_AT_POSTAL_CODE),
		.employer = dir_get(e, KENPO_AT_EMPLOYER),
		.office_code = dir_get(e, KENPO_AT_OFFICE),
	};
	char address[ROSTER_ADDRESS_MAX * 4 + 1];

	if (dir_get(e, KENPO_AT_POSTAL_ADDRESS) != NULL &&
	    admin_postal_unescape(dir_get(e, KENPO_AT_POSTAL_ADDRESS), address, sizeof address) ==
		    0)
		x.address = address;
	if (x.name == NULL)
		x.name = "";
	if (x.nickname == NULL)
		x.nickname = ADMIN_NICKNAME_DEFAULT;
	return letters_write(l, &x);
}

/* Make the new password and its hash.  0 or -1. */
static int
new_password(const struct admin *a, char *pw, size_t pwsz, char *hash, size_t hashsz)
{
	if (kenpo_gen_temp_password(pw, pwsz) != 0 ||
	    kenpo_pw_hash(pw, strlen(pw), &a->cost, hash, hashsz) != 0) {
		admin_error("cannot make a temporary password (argon2 cost t=%llu m=%zu)",
			    a->cost.opslimit, a->cost.memlimit);
		return -1;
	}
	return 0;
}

static int
do_reissue(struct admin *a, const struct dir_entry *e, struct letters *l)
{
	char pw[KENPO_TEMP_PASSWORD_LEN + 1], hash[KENPO_PWHASH_MAX], gt[20], expiry[40];
	char err[ADMIN_ERR_MAX];
	struct dir_mods *m = dir_mods_new();
	int rc = ADMIN_ERROR;

	temp_expiry(a, gt, sizeof gt, expiry, sizeof expiry);
	if (m == NULL || new_password(a, pw, sizeof pw, hash, sizeof hash) != 0 ||
	    plan_reissue(e, hash, gt, m) != 0)
		goto done;
	if (dir_modify(a->dir, e->dn, m, err, sizeof err) != DIR_OK) {
		admin_error("%s", err);
		goto done;
	}
	a->changed = 1;
	admin_audit(a, "reissue", e->dn, "number", dir_get(e, KENPO_AT_NUMBER), "login",
		    dir_get(e, KENPO_AT_UID), "temp_password", "(set)", "expiry",
		    gt[0] != '\0' ? gt : NULL, "must_change",
		    dir_has_value(e, KENPO_AT_STATE, KENPO_STATE_REGISTERED) ? "yes" : "no",
		    NULL);
	if (l == NULL) {
		print_password(a, e, pw, expiry);
	} else if (reissue_letter(l, e, pw, expiry) != 0) {
		admin_error("the letter of %s could not be written: reissue again",
			    dir_get(e, KENPO_AT_NUMBER));
		goto done;
	} else {
		report_action(a, "reissue", "reissued (letter written)", e, 1);
	}
	rc = ADMIN_OK;
done:
	kenpo_wipe(pw, sizeof pw);
	dir_mods_free(m);
	return rc;
}

int
cmd_reissue(struct admin *a)
{
	struct dir_entry *e = NULL;
	struct letters *l = NULL;
	char err[ADMIN_ERR_MAX];
	int rc = admin_find_member(a, a->o.args[0], member_attrs, &e);

	if (rc != ADMIN_OK)
		return rc;
	rc = ADMIN_ERROR;
	if (dir_get(e, KENPO_AT_UID) == NULL) {
		admin_error("%s has no login ID yet (registration by identity check): "
			    "no password to reissue",
			    dir_get(e, KENPO_AT_NUMBER));
		goto done;
	}
	if (a->o.letters_csv != NULL &&
	    letters_open(a->o.letters_csv, a->soc.name, &l, err, sizeof err) != 0) {
		admin_error("%s", err);
		goto done;
	}
	rc = do_reissue(a, e, l);
	if (l != NULL && letters_close(l, err, sizeof err) != 0) {
		admin_error("%s", err);
		rc = ADMIN_ERROR;
	}
done:
	dir_entry_free(e);
	return rc;
}

/* ---- delete ---- */

struct dnlist {
	char **dn;
	size_t n, cap;
};

static int
collect_dn(struct dir_entry *e, void *arg)
{
	struct dnlist *l = arg;
	char **nd;

	if (l->n == l->cap) {
		nd = realloc(l->dn, (l->cap ? 2 * l->cap : 16) * sizeof *nd);
		if (nd == NULL)
			return DIR_CB_FAIL;
		l->dn = nd;
		l->cap = l->cap ? 2 * l->cap : 16;
	}
	l->dn[l->n] = strdup(e->dn);
	return l->dn[l->n++] != NULL ? DIR_CB_NEXT : DIR_CB_FAIL;
}

static void
dnlist_free(struct dnlist *l)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		free(l->dn[i]);
	free(l->dn);
	memset(l, 0, sizeof *l);
}

/* DNs of what goes with a member: household entries and tokens. */
static int
dependents_of(struct admin *a, const char *dn, struct dnlist *l)
{
	static const char *const none[] = { "1.1", NULL };
	char esc[ADMIN_DN_MAX * 3], filter[sizeof esc + 64], base[ADMIN_DN_MAX];
	char err[ADMIN_ERR_MAX];
	int rc;

	rc = dir_search(a->dir, dn, DIR_ONE, "(" KENPO_AT_OBJECTCLASS "=*)", none, collect_dn, l,
			err, sizeof err);
	if (rc == DIR_OK && (dir_filter_escape(dn, esc, sizeof esc) != 0 ||
			     admin_sub_dn(a, KENPO_RDN_TOKENS, base, sizeof base) != 0))
		return -1;
	snprintf(filter, sizeof filter, "(&" KENPO_FILTER_TOKEN "(" KENPO_AT_TOKEN_MEMBER "=%s))",
		 esc);
	if (rc == DIR_OK)
		rc = dir_search(a->dir, base, DIR_ONE, filter, none, collect_dn, l, err,
				sizeof err);
	if (rc != DIR_OK && rc != DIR_NOSUCH) {
		admin_error("%s", err);
		return -1;
	}
	return 0;
}

/* Ask on the terminal.  1 when the answer is yes. */
static int
confirm(const struct dir_entry *e, size_t ndependents)
{
	char line[16];

	fprintf(stderr, "Delete member %s%s%s%s and %zu household entries and tokens? [y/N] ",
		dir_get(e, KENPO_AT_NUMBER), dir_get(e, KENPO_AT_UID) ? " (" : "",
		dir_get(e, KENPO_AT_UID) ? dir_get(e, KENPO_AT_UID) : "",
		dir_get(e, KENPO_AT_UID) ? ")" : "", ndependents);
	if (fgets(line, sizeof line, stdin) == NULL)
		return 0;
	line[strcspn(line, "\n")] = '\0';
	return strcasecmp(line, "y") == 0 || strcasecmp(line, "yes") == 0;
}

static int
delete_all(struct admin *a, const struct dnlist *l, const char *dn)
{
	char err[ADMIN_ERR_MAX];
	size_t i;
	int rc;

	for (i = 0; i <= l->n; i++) {
		rc = dir_delete(a->dir, i < l->n ? l->dn[i] : dn, err, sizeof err);
		if (rc != DIR_OK && rc != DIR_NOSUCH) {
			admin_error("%s", err);
			return ADMIN_ERROR;
		}
		a->changed = 1;
	}
	return ADMIN_OK;
}

int
cmd_delete(struct admin *a)
{
	struct dir_entry *e = NULL;
	struct dnlist l = { NULL, 0, 0 };
	int rc;

	if (!a->o.yes && !isatty(STDIN_FILENO)) {
		admin_error("delete: --yes is required when not asked on a terminal");
		return ADMIN_USAGE;
	}
	rc = admin_find_member(a, a->o.args[0], member_attrs, &e);
	if (rc != ADMIN_OK)
		return rc;
	rc = ADMIN_ERROR;
	if (dependents_of(a, e->dn, &l) != 0)
		goto done;
	if (!a->o.yes && !confirm(e, l.n)) {
		admin_error("not deleted");
		goto done;
	}
	rc = delete_all(a, &l, e->dn);
	if (rc == ADMIN_OK) {
		char n[24];

		snprintf(n, sizeof n, "%zu", l.n);
		admin_audit(a, "delete", e->dn, "number", dir_get(e, KENPO_AT_NUMBER), "login",
			    dir_get(e, KENPO_AT_UID), "entries_below", n, NULL);
		report_action(a, "delete", "deleted", e, 1);
	}
done:
	dnlist_free(&l);
	dir_entry_free(e);
	return rc;
}

/* ---- purge ---- */

struct purge {
	struct admin *a;
	size_t keys, failed;
};

/* The attributes of a pending key. */
static const char *const key_attrs[] = { KENPO_AT_KEY_HASH, KENPO_AT_KEY_EXPIRY,
					 KENPO_AT_KEY_TRIES, KENPO_AT_KEY_SENT_AT, NULL };

/* Remove the expired pending key of one member. */
static int
purge_key(struct dir_entry *e, void *arg)
{
	struct purge *p = arg;
	struct dir_mods *m = dir_mods_new();
	char err[ADMIN_ERR_MAX];

	if (m == NULL || remove_present(e, key_attrs, m) != 0) {
		dir_mods_free(m);
		return DIR_CB_FAIL;
	}
	if (dir_mods_count(m) > 0 && dir_modify(p->a->dir, e->dn, m, err, sizeof err) != DIR_OK) {
		admin_error("%s", err);
		p->failed++;
	} else {
		p->keys++;
	}
	dir_mods_free(m);
	return DIR_CB_NEXT;
}

/* Collect the expired tokens, then delete them (not while the search
 * runs: its pages would shift under it). */
static int
purge_tokens(struct admin *a, const char *now, size_t *deleted, size_t *failed)
{
	static const char *const none[] = { "1.1", NULL };
	struct dnlist l = { NULL, 0, 0 };
	char filter[FILTER_MAX], base[ADMIN_DN_MAX], err[ADMIN_ERR_MAX];
	size_t i;
	int rc;

	snprintf(filter, sizeof filter,
		 "(&" KENPO_FILTER_TOKEN "(" KENPO_AT_TOKEN_EXPIRY "<=%s))", now);
	if (admin_sub_dn(a, KENPO_RDN_TOKENS, base, sizeof base) != 0)
		return -1;
	rc = dir_search(a->dir, base, DIR_ONE, filter, none, collect_dn, &l, err, sizeof err);
	if (rc != DIR_OK && rc != DIR_NOSUCH) {
		admin_error("%s", err);
		dnlist_free(&l);
		return -1;
	}
	for (i = 0; i < l.n; i++) {
		rc = dir_delete(a->dir, l.dn[i], err, sizeof err);
		if (rc == DIR_OK || rc == DIR_NOSUCH) {
			(*deleted)++;
		} else {
			admin_error("%s", err);
			(*failed)++;
		}
	}
	dnlist_free(&l);
	return 0;
}

int
cmd_purge(struct admin *a)
{
	struct purge p = { a, 0, 0 };
	char now[20], filter[FILTER_MAX], base[ADMIN_DN_MAX], err[ADMIN_ERR_MAX];
	size_t tokens = 0, failed = 0;
	json_object *o;

	admin_gentime(time(NULL), now, sizeof now);
	if (purge_tokens(a, now, &tokens, &failed) != 0)
		return ADMIN_ERROR;
	snprintf(filter, sizeof filter, "(&" KENPO_FILTER_MEMBER "(" KENPO_AT_KEY_EXPIRY "<=%s))",
		 now);
	if (admin_sub_dn(a, KENPO_RDN_MEMBERS, base, sizeof base) != 0 ||
	    dir_search(a->dir, base, DIR_ONE, filter, key_attrs, purge_key, &p, err,
		       sizeof err) != DIR_OK) {
		admin_error("%s", err);
		return ADMIN_ERROR;
	}
	failed += p.failed;
	if (a->o.json) {
		o = json_object_new_object();
		json_object_object_add(o, "tokens_deleted",
				       json_object_new_int64((int64_t)tokens));
		json_object_object_add(o, "keys_removed", json_object_new_int64((int64_t)p.keys));
		json_object_object_add(o, "failed", json_object_new_int64((int64_t)failed));
		admin_json_print(o);
	} else {
		printf("purge: %zu expired tokens deleted, %zu expired keys removed%s\n", tokens,
		       p.keys, failed > 0 ? " (some failed)" : "");
	}
	return failed > 0 ? ADMIN_ERROR : ADMIN_OK;
}

/* ---- reset ---- */

/* kenpod answers RESET_REQUEST the same for every address (so a web form
 * reveals nothing); here the administrator has chosen a member, so the
 * member is checked first and the answer can say what happens. */
int
cmd_reset(struct admin *a)
{
	static const char *const attrs[] = { KENPO_AT_UID, KENPO_AT_STATE, KENPO_AT_MAIL1,
					     KENPO_AT_NUMBER, NULL };
	struct dir_entry *e = NULL;
	char masked[256];
	const char *state, *mail;
	int rc = admin_find_member(a, a->o.args[0], attrs, &e), r;

	if (rc != ADMIN_OK)
		return rc;
	state = dir_get(e, KENPO_AT_STATE);
	mail = dir_get(e, KENPO_AT_MAIL1);
	if (state == NULL || strcmp(state, KENPO_STATE_REGISTERED) != 0 || mail == NULL ||
	    mail[0] == '\0') {
		admin_error("%.100s: not registered, or no mail address: use reissue for a new letter",
			    a->o.args[0]);
		rc = ADMIN_ERROR;
		goto done;
	}
	if (kenpo_mail_mask(mail, masked, sizeof(masked)) != 0)
		snprintf(masked, sizeof(masked), "(address)");
	errno = 0;
	r = admin_kenpod_reset(a, mail);
	if (r != KENPO_RES_OK) {
		admin_error("kenpod did not send the reset mail: %s",
			    r < 0 ? strerror(errno) :
				    "refused (kenpod lets root and its portal group ask)");
		rc = ADMIN_ERROR;
		goto done;
	}
	admin_audit(a, "reset", e->dn, "number", dir_get(e, KENPO_AT_NUMBER), "login",
		    dir_get(e, KENPO_AT_UID), "mailed_to", masked, NULL);
	if (a->o.json) {
		json_object *o = json_object_new_object();

		json_object_object_add(o, "login_id", admin_json_str(dir_get(e, KENPO_AT_UID)));
		json_object_object_add(o, "mailed_to", admin_json_str(masked));
		admin_json_print(o);
	} else {
		printf("reset mail for %s requested to %s\n", dir_get(e, KENPO_AT_UID), masked);
	}
done:
	dir_entry_free(e);
	return rc;
}
