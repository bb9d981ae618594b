/*
 * notify.c - `kenpo-admin list --notify CATEGORY`: who wants which notice
 * mail (通知メール受信設定, manual ⑤-5), at which addresses.
 *
 * A member receives the notices of a category when registered, not
 * disabled, with メールアドレス1 set, and the category's setting not
 * FALSE (absent means on: every notice is on by default).  The mails go to
 * every registered address: メールアドレス1, and 2 and 3 when set (they
 * are only allowed while 1 is).  The export is CSV on stdout (cells safe
 * for spreadsheets, csv.h) or, with --json, the members inside the
 * answer.
 */
#include "autoconfig.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "admin.h"
#include "csv.h"
#include "schema.h"

#define FILTER_MAX 400

static const struct category {
	const char *name, *ja, *attr;
} categories[] = {
	{ "medical", "医療費通知", KENPO_AT_NOTIFY_MEDICAL },
	{ "generic", "ジェネリック通知", KENPO_AT_NOTIFY_GENERIC },
	{ "magazine", "健保組合メールマガジン", KENPO_AT_NOTIFY_MAGAZINE },
	{ "documents", "通知書・証明書配布", KENPO_AT_NOTIFY_DOCUMENTS },
	{ "applications", "申請書公開", KENPO_AT_NOTIFY_APPLICATIONS },
};

struct export
{
	struct admin *a;
	const struct category *c;
	size_t count;
	int failed;
};

static const struct category *
category_named(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof categories / sizeof categories[0]; i++)
		if (strcasecmp(name, categories[i].name) == 0 ||
		    strcmp(name, categories[i].ja) == 0)
			return &categories[i];
	return NULL;
}

static int
export_one(struct dir_entry *e, void *arg)
{
	static const char *const mails[] = { KENPO_AT_MAIL1, KENPO_AT_MAIL2, KENPO_AT_MAIL3 };
	struct export *x = arg;
	const char *row[5];
	json_object *o, *addrs;
	size_t i;

	row[0] = dir_get(e, KENPO_AT_NUMBER);
	row[1] = dir_get(e, KENPO_AT_UID);
	for (i = 0; i < 3; i++)
		row[2 + i] = dir_get(e, mails[i]);
	x->count++;
	if (!x->a->o.json) {
		if (csv_write_row(stdout, row, 5) != 0)
			x->failed = 1;
		return DIR_CB_NEXT;
	}
	o = json_object_new_object();
	addrs = json_object_new_array();
	json_object_object_add(o, "member_number", admin_json_str(row[0]));
	json_object_object_add(o, "login_id", admin_json_str(row[1]));
	for (i = 0; i < 3; i++)
		if (row[2 + i] != NULL)
			json_object_array_add(addrs, json_object_new_string(row[2 + i]));
	json_object_object_add(o, "addresses", addrs);
	admin_json_list_item(o);
	json_object_put(o);
	return DIR_CB_NEXT;
}

int
cmd_list_notify(struct admin *a)
{
	static const char *const attrs[] = { KENPO_AT_NUMBER, KENPO_AT_UID,   KENPO_AT_MAIL1,
					     KENPO_AT_MAIL2,  KENPO_AT_MAIL3, NULL };
	static const char *const header[] = { "member_number", "login_id", "mail1", "mail2",
					      "mail3" };
	struct export x = { a, category_named(a->o.notify), 0, 0 };
	char filter[FILTER_MAX], base[ADMIN_DN_MAX], err[ADMIN_ERR_MAX];
	json_object *o;

	if (x.c == NULL) {
		admin_error("--notify: medical, generic, magazine, documents or applications "
			    "(医療費通知, ジェネリック通知, 健保組合メールマガジン, 通知書・証明書配布, "
			    "申請書公開), not %s",
			    a->o.notify);
		return ADMIN_USAGE;
	}
	snprintf(filter, sizeof filter,
		 "(&" KENPO_FILTER_MEMBER "(" KENPO_AT_STATE "=" KENPO_STATE_REGISTERED
		 ")" KENPO_FILTER_NOT_DISABLED "(" KENPO_AT_MAIL1 "=*)"
		 "(!(%s=" KENPO_FALSE ")))",
		 x.c->attr);
	if (admin_sub_dn(a, KENPO_RDN_MEMBERS, base, sizeof base) != 0)
		return ADMIN_ERROR;
	if (a->o.json)
		admin_json_list_begin("members");
	else if (csv_write_row(stdout, header, 5) != 0)
		x.failed = 1;
	if (dir_search(a->dir, base, DIR_ONE, filter, attrs, export_one, &x, err, sizeof err) !=
	    DIR_OK) {
		admin_error("%s", err);
		return ADMIN_ERROR;
	}
	if (a->o.json) {
		o = json_object_new_object();
		json_object_object_add(o, "category", json_object_new_string(x.c->name));
		json_object_object_add(o, "count", json_object_new_int64((int64_t)x.count));
		admin_json_print(o);
	}
	if (a->o.verbose)
		fprintf(stderr, "%zu members want %s (%s)\n", x.count, x.c->name, x.c->ja);
	if (x.failed) {
		admin_error("cannot write the output");
		return ADMIN_ERROR;
	}
	return ADMIN_OK;
}
