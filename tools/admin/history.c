/*
 * history.c - `kenpo-admin history MEMBER`: a member's changes and logins
 * as slapd recorded them.
 *
 * slapo-accesslog (set up by `kenpo-admin init`, schema/README.md) logs
 * every write to the directory as an entry of its own database
 * (cn=accesslog): when (reqStart), who (reqAuthzID: kenpod's service
 * account, an administrator), which entry (reqDN), the modifications
 * (reqMod, "attr:+ value", "attr:= value", "attr:- value") and the old
 * values (reqOld, "attr: value").  kenpod writes a member's last login
 * at every login, its failure count at every failure and its lock when
 * it locks: so the log holds the logins too.  Here the entries of the
 * member and of its household are read, oldest first, each named by
 * what it means; secrets (password and key hashes) show only that they
 * changed, and slapd's own bookkeeping attributes are left out.
 */
#include "autoconfig.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "admin.h"
#include "gentime.h"
#include "schema.h"

#define FILTER_MAX (2 * 3 * ADMIN_DN_MAX + 128)
#define VALUE_SHOWN 120

/* Attributes whose values are never shown. */
static const char *const secrets[] = { KENPO_AT_PASSWORD, KENPO_AT_TEMP_PASSWORD,
				       KENPO_AT_KEY_HASH, "kenpoAuthKeyHash",
				       KENPO_AT_KEY_TXN,  NULL };

/* slapd's bookkeeping, which every write carries. */
static const char *const quiet[] = { "entryCSN",
				     "modifiersName",
				     "modifyTimestamp",
				     "creatorsName",
				     "createTimestamp",
				     "entryUUID",
				     "structuralObjectClass",
				     "contextCSN",
				     "pwdChangedTime",
				     NULL };

/* What a modification of these attributes means, in this order of
 * precedence (op: the first character after ':', 0 for any). */
static const struct meaning {
	const char *attr;
	char op;
	const char *what;
} meanings[] = {
	{ KENPO_AT_LAST_LOGIN, 0, "login" },
	{ KENPO_AT_PWD_LOCKED, '-', "unlocked" },
	{ KENPO_AT_PWD_LOCKED, 0, "locked" },
	{ KENPO_AT_LOCKED_UNTIL, '-', "unlocked" },
	{ KENPO_AT_LOCKED_UNTIL, 0, "locked by kenpod" },
	{ KENPO_AT_PASSWORD, 0, "password changed" },
	{ KENPO_AT_TEMP_PASSWORD, '-', "temporary password used or removed" },
	{ KENPO_AT_TEMP_PASSWORD, 0, "temporary password issued" },
	{ KENPO_AT_FAILURES, '-', "failures cleared" },
	{ KENPO_AT_FAILURES, 0, "login failed" },
	{ KENPO_AT_PWD_FAILURES, 0, "login failed (bind)" },
	{ KENPO_AT_DISABLED, '-', "enabled" },
	{ KENPO_AT_DISABLED, 0, "disabled" },
	{ KENPO_AT_KEY_HASH, '-', "key used or voided" },
	{ KENPO_AT_KEY_HASH, 0, "key mailed" },
	{ KENPO_AT_STATE, 0, "registration" },
};

struct event {
	char *start; /* reqStart, GeneralizedTime */
	struct dir_entry *e;
};

struct history {
	struct admin *a;
	const char *member_dn;
	struct event *ev;
	size_t n, cap;
};

static int
listed(const char *const *list, const char *attr, size_t len)
{
	for (; *list != NULL; list++)
		if (strlen(*list) == len && strncasecmp(*list, attr, len) == 0)
			return 1;
	return 0;
}

static int
keep_event(struct dir_entry *e, void *arg)
{
	struct history *h = arg;
	struct event *ne;
	const char *start = dir_get(e, "reqStart");

	if (start == NULL)
		return DIR_CB_NEXT;
	if (h->n == h->cap) {
		ne = realloc(h->ev, (h->cap ? 2 * h->cap : 64) * sizeof *ne);
		if (ne == NULL)
			return DIR_CB_FAIL;
		h->ev = ne;
		h->cap = h->cap ? 2 * h->cap : 64;
	}
	h->ev[h->n].start = strdup(start);
	h->ev[h->n].e = e;
	if (h->ev[h->n].start == NULL)
		return DIR_CB_FAIL;
	h->n++;
	return DIR_CB_KEEP;
}

static int
by_start(const void *x, const void *y)
{
	const struct event *a = x, *b = y;

	return strcmp(a->start, b->start);
}

/* One reqMod value "attr:OP value": the attribute's length, the op, the
 * value.  A replace with no value removes the attribute: its op is '-'. */
static size_t
split_mod(const char *mod, char *op, const char **value)
{
	size_t n = strcspn(mod, ":");

	*op = mod[n] == ':' ? mod[n + 1] : '\0';
	*value = mod[n] == ':' && mod[n + 1] != '\0' ? mod + n + 2 : "";
	if (**value == ' ')
		(*value)++;
	if (*op == '=' && **value == '\0')
		*op = '-';
	return n;
}

static const char *
meaning_of(const struct dir_entry *e)
{
	const char *type = dir_get(e, "reqType"), *value;
	size_t i, j, n;
	char op;

	if (type != NULL && strcasecmp(type, "add") == 0)
		return "added";
	if (type != NULL && strcasecmp(type, "delete") == 0)
		return "deleted";
	for (i = 0; i < sizeof meanings / sizeof meanings[0]; i++)
		for (j = 0; j < dir_nvals(e, "reqMod"); j++) {
			n = split_mod(dir_val(e, "reqMod", j), &op, &value);
			if (strlen(meanings[i].attr) == n &&
			    strncasecmp(meanings[i].attr, dir_val(e, "reqMod", j), n) == 0 &&
			    (meanings[i].op == 0 || meanings[i].op == op))
				return meanings[i].what;
		}
	return "changed";
}

/* The old value of attr (reqOld "attr: value"), or NULL. */
static const char *
old_value(const struct dir_entry *e, const char *attr, size_t len)
{
	const char *v;
	size_t i;

	for (i = 0; i < dir_nvals(e, "reqOld"); i++) {
		v = dir_val(e, "reqOld", i);
		if (strncasecmp(v, attr, len) == 0 && v[len] == ':')
			return v[len + 1] == ' ' ? v + len + 2 : v + len + 1;
	}
	return NULL;
}

/* The changed attributes that are shown: [{attribute, old, new}]. */
static json_object *
changes_of(const struct dir_entry *e)
{
	json_object *arr = json_object_new_array(), *o;
	const char *mod, *value, *old;
	char attr[64];
	size_t i, n;
	char op;

	for (i = 0; i < dir_nvals(e, "reqMod"); i++) {
		mod = dir_val(e, "reqMod", i);
		n = split_mod(mod, &op, &value);
		if (n == 0 || n >= sizeof attr || listed(quiet, mod, n))
			continue;
		snprintf(attr, sizeof attr, "%.*s", (int)n, mod);
		old = old_value(e, mod, n);
		if (listed(secrets, mod, n)) {
			old = NULL;
			value = op == '-' ? "" : "(secret)";
		}
		o = json_object_new_object();
		json_object_object_add(o, "attribute", json_object_new_string(attr));
		json_object_object_add(o, "old", admin_json_str(old));
		json_object_object_add(o, "new",
				       admin_json_str(op == '-' || value[0] == '\0' ? NULL :
										      value));
		json_object_array_add(arr, o);
	}
	return arr;
}

/* Who made the change: "kenpod" for its service account, else the DN. */
static const char *
who_of(const struct history *h, const struct dir_entry *e)
{
	const char *dn = dir_get(e, "reqAuthzID");
	const char *kenpod = h->a->cfg != NULL ? h->a->cfg->bind_dn : NULL;

	if (dn == NULL || dn[0] == '\0')
		return "(anonymous)";
	if ((kenpod != NULL && strcasecmp(dn, kenpod) == 0) ||
	    strncasecmp(dn, "cn=kenpod,", 10) == 0)
		return "kenpod";
	return dn;
}

/* "member" or "household 03": whose entry it is. */
static void
whose(const struct history *h, const struct dir_entry *e, char *out, size_t outsz)
{
	const char *dn = dir_get(e, "reqDN");
	size_t rdn;

	if (dn == NULL || strcasecmp(dn, h->member_dn) == 0) {
		snprintf(out, outsz, "member");
		return;
	}
	rdn = strlen(KENPO_AT_HOUSEHOLD_INDEX "=");
	if (strncasecmp(dn, KENPO_AT_HOUSEHOLD_INDEX "=", rdn) == 0)
		snprintf(out, outsz, "household %.2s", dn + rdn);
	else
		snprintf(out, outsz, "%.200s", dn);
}

/* reqStart in the society's time zone (main.c set TZ). */
static void
local_time(const char *start, char *out, size_t outsz)
{
	int64_t ms;
	time_t t;
	struct tm tm;

	if (kenpo_gentime_parse(start, &ms) != 0) {
		snprintf(out, outsz, "%s", start);
		return;
	}
	t = (time_t)(ms / 1000);
	if (localtime_r(&t, &tm) == NULL ||
	    strftime(out, outsz, "%Y-%m-%d %H:%M:%S %Z", &tm) == 0)
		snprintf(out, outsz, "%s", start);
}

static json_object *
event_json(const struct history *h, const struct event *ev)
{
	json_object *o = json_object_new_object();
	char when[64], entry[256];

	local_time(ev->start, when, sizeof when);
	whose(h, ev->e, entry, sizeof entry);
	json_object_object_add(o, "time", json_object_new_string(ev->start));
	json_object_object_add(o, "local_time", json_object_new_string(when));
	json_object_object_add(o, "by", json_object_new_string(who_of(h, ev->e)));
	json_object_object_add(o, "what", json_object_new_string(meaning_of(ev->e)));
	json_object_object_add(o, "entry", json_object_new_string(entry));
	json_object_object_add(o, "changes", changes_of(ev->e));
	return o;
}

static void
event_text(const struct history *h, const struct event *ev)
{
	json_object *o = event_json(h, ev), *ch = json_object_object_get(o, "changes"), *c;
	const char *entry = json_object_get_string(json_object_object_get(o, "entry"));
	const char *old, *new_;
	size_t i;

	printf("%s  %-22s %s%s%s\n",
	       json_object_get_string(json_object_object_get(o, "local_time")),
	       json_object_get_string(json_object_object_get(o, "what")),
	       json_object_get_string(json_object_object_get(o, "by")),
	       strcmp(entry, "member") != 0 ? "  " : "",
	       strcmp(entry, "member") != 0 ? entry : "");
	for (i = 0; i < json_object_array_length(ch); i++) {
		c = json_object_array_get_idx(ch, i);
		old = json_object_get_string(json_object_object_get(c, "old"));
		new_ = json_object_get_string(json_object_object_get(c, "new"));
		printf("    %s: %.*s -> %.*s\n",
		       json_object_get_string(json_object_object_get(c, "attribute")),
		       VALUE_SHOWN, old != NULL ? old : "(none)", VALUE_SHOWN,
		       new_ != NULL ? new_ : "(none)");
	}
	json_object_put(o);
}

/* The access log's entries of the member and its household. */
static int
read_log(struct history *h)
{
	static const char *const attrs[] = { "reqStart", "reqType", "reqDN", "reqAuthzID",
					     "reqMod",   "reqOld",  NULL };
	const char *base = h->a->o.accesslog != NULL ? h->a->o.accesslog : ADMIN_ACCESSLOG_BASE;
	char esc[ADMIN_DN_MAX * 3], filter[FILTER_MAX], err[ADMIN_ERR_MAX];
	int rc, n;

	if (dir_filter_escape(h->member_dn, esc, sizeof esc) != 0)
		return -1;
	/* Successful writes on the member's entry or below it (its household). */
	n = snprintf(filter, sizeof filter,
		     "(&(objectClass=auditWriteObject)(reqResult=0)"
		     "(|(reqDN=%s)(reqDN:dnSubtreeMatch:=%s)))",
		     esc, esc);
	if (n < 0 || (size_t)n >= sizeof filter)
		return -1;
	rc = dir_search(h->a->dir, base, DIR_ONE, filter, attrs, keep_event, h, err, sizeof err);
	if (rc == DIR_NOSUCH) {
		admin_error("%s: no such access log: kenpo-admin init sets up slapo-accesslog "
			    "(see schema/README.md)",
			    base);
		return -1;
	}
	if (rc != DIR_OK) {
		admin_error("%s", err);
		return -1;
	}
	if (h->n > 1)
		qsort(h->ev, h->n, sizeof *h->ev, by_start);
	return 0;
}

int
cmd_history(struct admin *a)
{
	static const char *const attrs[] = { KENPO_AT_NUMBER, KENPO_AT_UID, NULL };
	struct history h = { a, NULL, NULL, 0, 0 };
	struct dir_entry *m = NULL;
	json_object *o;
	size_t i;
	int rc = admin_find_member(a, a->o.args[0], attrs, &m);

	if (rc != ADMIN_OK)
		return rc;
	h.member_dn = m->dn;
	rc = read_log(&h) == 0 ? ADMIN_OK : ADMIN_ERROR;
	if (rc == ADMIN_OK && a->o.json) {
		admin_json_list_begin("events");
		for (i = 0; i < h.n; i++) {
			o = event_json(&h, &h.ev[i]);
			admin_json_list_item(o);
			json_object_put(o);
		}
		o = json_object_new_object();
		json_object_object_add(o, "member_number",
				       admin_json_str(dir_get(m, KENPO_AT_NUMBER)));
		json_object_object_add(o, "login_id", admin_json_str(dir_get(m, KENPO_AT_UID)));
		admin_json_print(o);
	} else if (rc == ADMIN_OK) {
		printf("%s%s%s%s: %zu events\n", dir_get(m, KENPO_AT_NUMBER),
		       dir_get(m, KENPO_AT_UID) ? " (" : "",
		       dir_get(m, KENPO_AT_UID) ? dir_get(m, KENPO_AT_UID) : "",
		       dir_get(m, KENPO_AT_UID) ? ")" : "", h.n);
		for (i = 0; i < h.n; i++)
			event_text(&h, &h.ev[i]);
	}
	for (i = 0; i < h.n; i++) {
		free(h.ev[i].start);
		dir_entry_free(h.ev[i].e);
	}
	free(h.ev);
	dir_entry_free(m);
	return rc;
}
