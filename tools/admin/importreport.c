/*
 * importreport.c - what an import did, or with --dry-run would do: per
 * member its status and what differs (old and new values, dependents
 * removed and added), in text or JSON; and the audit lines of what was
 * written (audit.c).
 */
#include "autoconfig.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "import.h"
#include "proto.h"
#include "schema.h"

#define VALUE_MAX (ROSTER_ADDRESS_MAX * 4 + 1)

/* ---- values ---- */

const char *
import_old_value(const struct existing *x, unsigned bit, char *buf, size_t bufsz)
{
	size_t i;

	for (i = 0; i < IMPORT_NFIELDS; i++)
		if (bit == 1u << i && import_fields[i].attr != NULL) {
			const char *v = dir_get(x->e, import_fields[i].attr);

			if (bit != F_ADDRESS || v == NULL)
				return v;
			return admin_postal_unescape(v, buf, bufsz) == 0 ? buf : v;
		}
	return NULL;
}

const char *
import_new_value(const struct roster_row *row, unsigned bit)
{
	switch (bit) {
	case F_NAME:
		return row->name;
	case F_BIRTH:
		return row->birth;
	case F_MAIL:
		return row->mail;
	case F_POSTAL:
		return row->postal_code;
	case F_ADDRESS:
		return row->address;
	case F_EMPLOYER:
		return row->employer;
	case F_OFFICE:
		return row->office_code;
	case F_LEFT:
		return row->left;
	default:
		return NULL;
	}
}

static int
dry(const struct import *im)
{
	return im->a->o.dry_run;
}

static const char *
status_of(const struct import *im, const struct item *it)
{
	if (it->state == S_FAILED)
		return "failed";
	if (it->state == S_SKIPPED)
		return "skipped";
	switch (it->kind) {
	case K_NEW:
		return "new";
	case K_UPDATE:
		return dry(im) ? "changed" : "updated";
	case K_MISSING:
		return "missing";
	case K_LEFT:
		return "left";
	default:
		return "unchanged";
	}
}

/* ---- the household's changes ---- */

static json_object *
dependent_json(const char *index, const char *name, const char *birth)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "index", json_object_new_string(index));
	json_object_object_add(o, "name", admin_json_str(name));
	json_object_object_add(o, "birth_date", admin_json_str(birth));
	return o;
}

/* {"removed": [...], "added": [...], "changed": [...]} of a plan. */
static json_object *
household_json(const struct item *it)
{
	const struct hh_plan *p = it->hp;
	json_object *o = json_object_new_object(), *rm = json_object_new_array();
	json_object *add = json_object_new_array(), *fix = json_object_new_array();
	const struct dir_entry *h;
	char idx[4];
	size_t i;

	for (i = 0; i < p->nentries; i++) {
		h = it->ex->house[i];
		if (p->gone[i])
			json_object_array_add(rm,
					      dependent_json(dir_get(h, KENPO_AT_HOUSEHOLD_INDEX),
							     dir_get(h, KENPO_AT_CN),
							     dir_get(h, KENPO_AT_BIRTH)));
	}
	for (i = 0; i < p->nroster; i++) {
		const struct roster_house *r = &it->row->house[i];

		if (p->match[i] < 0) {
			snprintf(idx, sizeof idx, "%02u", p->new_index[i]);
			json_object_array_add(add, dependent_json(idx, r->name, r->birth));
		} else if (p->fix[i]) {
			h = it->ex->house[p->match[i]];
			json_object_array_add(fix,
					      dependent_json(dir_get(h, KENPO_AT_HOUSEHOLD_INDEX),
							     r->name, r->birth));
		}
	}
	json_object_object_add(o, "removed", rm);
	json_object_object_add(o, "added", add);
	json_object_object_add(o, "changed", fix);
	return o;
}

/* The household's changes as text lines, each with prefix. */
static void
household_text(FILE *f, const struct item *it, const char *prefix)
{
	const struct hh_plan *p = it->hp;
	const struct dir_entry *h;
	size_t i;

	for (i = 0; i < p->nentries; i++) {
		h = it->ex->house[i];
		if (p->gone[i])
			fprintf(f, "%shousehold: - %s %s%s%s%s\n", prefix,
				dir_get(h, KENPO_AT_HOUSEHOLD_INDEX), dir_get(h, KENPO_AT_CN),
				dir_get(h, KENPO_AT_BIRTH) ? " (" : "",
				dir_get(h, KENPO_AT_BIRTH) ? dir_get(h, KENPO_AT_BIRTH) : "",
				dir_get(h, KENPO_AT_BIRTH) ? ")" : "");
	}
	for (i = 0; i < p->nroster; i++) {
		const struct roster_house *r = &it->row->house[i];
		char idx[4];

		if (p->match[i] >= 0 && !p->fix[i])
			continue;
		if (p->match[i] >= 0)
			snprintf(idx, sizeof idx, "%s",
				 dir_get(it->ex->house[p->match[i]], KENPO_AT_HOUSEHOLD_INDEX));
		else
			snprintf(idx, sizeof idx, "%02u", p->new_index[i]);
		fprintf(f, "%shousehold: %c %s %s%s%s%s\n", prefix, p->match[i] < 0 ? '+' : '~',
			idx, r->name, r->birth ? " (" : "", r->birth ? r->birth : "",
			r->birth ? ")" : "");
	}
}

/* ---- one member ---- */

static json_object *
changes_json(const struct item *it)
{
	json_object *arr = json_object_new_array(), *o;
	char buf[VALUE_MAX];
	size_t i;

	for (i = 0; i < IMPORT_NFIELDS; i++) {
		unsigned bit = 1u << i;

		if (!(it->fields & bit) || bit == F_HOUSEHOLD)
			continue;
		o = json_object_new_object();
		json_object_object_add(o, "field", json_object_new_string(import_fields[i].name));
		json_object_object_add(o, "old",
				       admin_json_str(bit == F_LEFT ?
							      NULL :
							      import_old_value(it->ex, bit, buf,
									       sizeof buf)));
		json_object_object_add(o, "new", admin_json_str(import_new_value(it->row, bit)));
		json_object_array_add(arr, o);
	}
	return arr;
}

static json_object *
fields_json(unsigned fields)
{
	json_object *arr = json_object_new_array();
	size_t i;

	for (i = 0; i < IMPORT_NFIELDS; i++)
		if (fields & (1u << i))
			json_object_array_add(arr, json_object_new_string(import_fields[i].name));
	return arr;
}

static void
fields_text(unsigned fields, char *out, size_t outsz)
{
	size_t i, o = 0;
	int n;

	out[0] = '\0';
	for (i = 0; i < IMPORT_NFIELDS; i++) {
		if (!(fields & (1u << i)) || o >= outsz)
			continue;
		n = snprintf(out + o, outsz - o, "%s%s", o ? ", " : "", import_fields[i].name);
		o += n > 0 ? (size_t)n : 0;
	}
}

static json_object *
item_json(const struct import *im, const struct item *it)
{
	json_object *o = json_object_new_object();
	const char *login = it->ex != NULL ? dir_get(it->ex->e, KENPO_AT_UID) : NULL;

	json_object_object_add(o, "line",
			       it->row->line != 0 ?
				       json_object_new_int64((int64_t)it->row->line) :
				       NULL);
	json_object_object_add(o, "member_number", json_object_new_string(it->row->number));
	json_object_object_add(o, "status", json_object_new_string(status_of(im, it)));
	if (it->kind == K_NEW && it->state == S_DONE && it->login[0] != '\0') {
		json_object_object_add(o, "login_id", json_object_new_string(it->login));
		json_object_object_add(o, "uid_number", json_object_new_int64((int64_t)it->uid));
	}
	if (it->kind == K_UPDATE) {
		json_object_object_add(o, "fields", fields_json(it->fields));
		json_object_object_add(o, "changes", changes_json(it));
		if (it->hp != NULL)
			json_object_object_add(o, "household", household_json(it));
	}
	if (it->kind == K_MISSING) {
		json_object_object_add(o, "login_id", admin_json_str(login));
		/* Disabled after this import (or, on a dry run, after the real one). */
		json_object_object_add(o, "disabled",
				       json_object_new_boolean(
					       (it->disable && (it->state == S_DONE || dry(im))) ||
					       dir_get(it->ex->e, KENPO_AT_DISABLED) != NULL));
	}
	if (it->kind == K_LEFT)
		json_object_object_add(o, "left", admin_json_str(it->row->left));
	if (it->state == S_FAILED)
		json_object_object_add(o, "message", admin_json_str(it->msg));
	return o;
}

/* The detail lines of an update: each field's old and new value. */
static void
changes_text(const struct item *it)
{
	char buf[VALUE_MAX];
	const char *old, *new_;
	size_t i;

	for (i = 0; i < IMPORT_NFIELDS; i++) {
		unsigned bit = 1u << i;

		if (!(it->fields & bit) || bit == F_HOUSEHOLD)
			continue;
		old = bit == F_LEFT ? NULL : import_old_value(it->ex, bit, buf, sizeof buf);
		new_ = import_new_value(it->row, bit);
		printf("    %s: %s -> %s\n", import_fields[i].name, old ? old : "(none)",
		       new_ ? new_ : "(none)");
	}
	if (it->hp != NULL)
		household_text(stdout, it, "    ");
}

/* A member's lines of the text report (only what is worth saying). */
static void
item_text(const struct import *im, const struct item *it)
{
	const char *login = it->ex != NULL ? dir_get(it->ex->e, KENPO_AT_UID) : NULL;
	int details = dry(im) || im->a->o.verbose;
	char f[160];

	if (it->state == S_FAILED) {
		fprintf(stderr, "%s:%lu: member %s: %s\n", im->path, it->row->line,
			it->row->number, it->msg != NULL ? it->msg : "failed");
	} else if (it->state == S_SKIPPED) {
		printf("skipped %s (line %lu): added meanwhile by someone else\n",
		       it->row->number, it->row->line);
	} else if (it->kind == K_UPDATE) {
		fields_text(it->fields, f, sizeof f);
		printf("%s %s (line %lu): %s\n", status_of(im, it), it->row->number,
		       it->row->line, f);
		if (details)
			changes_text(it);
	} else if (it->kind == K_MISSING) {
		printf("missing %s%s%s%s: not on the roster%s\n", it->row->number,
		       login ? " (" : "", login ? login : "", login ? ")" : "",
		       it->disable ? (dry(im) ? ", would be disabled" : ", disabled") :
		       dir_get(it->ex->e, KENPO_AT_DISABLED) ? ", disabled already" :
							       "");
	} else if (it->kind == K_LEFT) {
		printf("left %s (line %lu): left on %s, not issued\n", it->row->number,
		       it->row->line, it->row->left);
	} else if (it->kind == K_NEW && (details || dry(im))) {
		printf("new %s (line %lu)%s%s\n", it->row->number, it->row->line,
		       it->login[0] ? ": " : "", it->login);
	} else if (it->kind == K_SAME && dry(im) && im->a->o.verbose) {
		printf("unchanged %s (line %lu)\n", it->row->number, it->row->line);
	}
}

/* ---- the whole import ---- */

static void
count(struct import *im, const struct item *it)
{
	if (it->state == S_FAILED)
		im->n_failed++;
	else if (it->state == S_SKIPPED)
		im->n_skipped++;
	else if (it->kind == K_NEW)
		im->n_new++;
	else if (it->kind == K_UPDATE)
		im->n_updated++;
	else if (it->kind == K_MISSING)
		im->n_missing++;
	else if (it->kind == K_LEFT)
		im->n_left++;
	else
		im->n_same++;
}

static json_object *
errors_json(const struct roster *r)
{
	json_object *arr = json_object_new_array(), *o;
	size_t i;

	for (i = 0; i < r->nerrs; i++) {
		o = json_object_new_object();
		json_object_object_add(o, "line",
				       json_object_new_int64((int64_t)r->errs[i].line));
		json_object_object_add(o, "field",
				       r->errs[i].field[0] != '\0' ?
					       json_object_new_string(r->errs[i].field) :
					       NULL);
		json_object_object_add(o, "message", admin_json_msg(&r->errs[i].msg));
		json_object_array_add(arr, o);
	}
	return arr;
}

void
import_print_errors(const struct import *im)
{
	const struct roster *r = &im->roster;
	size_t i;

	for (i = 0; i < r->nerrs && !im->a->o.json; i++)
		admin_error_at(im->path, r->errs[i].line, r->errs[i].field, &r->errs[i].msg);
}

static void
add_counts(json_object *o, const struct import *im, double secs)
{
	static const struct {
		const char *key;
		size_t off;
	} counts[] = {
		{ "new", offsetof(struct import, n_new) },
		{ "updated", offsetof(struct import, n_updated) },
		{ "unchanged", offsetof(struct import, n_same) },
		{ "missing", offsetof(struct import, n_missing) },
		{ "left", offsetof(struct import, n_left) },
		{ "failed", offsetof(struct import, n_failed) },
		{ "skipped", offsetof(struct import, n_skipped) },
	};
	size_t i;

	json_object_object_add(o, "rows",
			       json_object_new_int64(
				       (int64_t)(im->roster.nrows + im->roster.nbad)));
	for (i = 0; i < sizeof counts / sizeof counts[0]; i++)
		json_object_object_add(o, counts[i].key,
				       json_object_new_int64(
					       (int64_t) *
					       (const size_t *)(const void *)((const char *)im +
									      counts[i].off)));
	json_object_object_add(o, "refused", json_object_new_int64((int64_t)im->roster.nbad));
	json_object_object_add(o, "seconds", json_object_new_double(secs));
	json_object_object_add(o, "rows_per_second",
			       json_object_new_double(secs > 0 ? (double)im->total / secs : 0));
	json_object_object_add(o, "argon2_t",
			       json_object_new_int64((int64_t)im->a->cost.opslimit));
	json_object_object_add(o, "argon2_m",
			       json_object_new_int64((int64_t)im->a->cost.memlimit));
}

static void
summary_text(const struct import *im, double secs)
{
	printf("%s: %zu rows: %zu new, %zu %s, %zu unchanged, %zu refused, %zu failed, "
	       "%zu skipped",
	       im->path, im->roster.nrows + im->roster.nbad, im->n_new, im->n_updated,
	       dry(im) ? "changed" : "updated", im->n_same, im->roster.nbad, im->n_failed,
	       im->n_skipped);
	if (im->a->o.full)
		printf(", %zu missing", im->n_missing);
	if (im->n_left > 0)
		printf(", %zu left", im->n_left);
	if (dry(im))
		printf("; dry run: nothing was written\n");
	else
		printf("; %zu written in %.1f s (%.1f/s, argon2id t=%llu m=%zuK)\n", im->total,
		       secs, secs > 0 ? (double)im->total / secs : 0, im->a->cost.opslimit,
		       im->a->cost.memlimit / 1024);
}

void
import_report(struct import *im)
{
	double secs = (double)(kenpo_now_ms() - im->started_ms) / 1000.0;
	json_object *o = NULL, *members = NULL;
	size_t i;

	if (im->a->o.json) {
		o = json_object_new_object();
		members = json_object_new_array();
	}
	for (i = 0; i < im->nitems; i++) {
		count(im, &im->items[i]);
		if (members != NULL && (im->items[i].kind != K_SAME || im->a->o.verbose))
			json_object_array_add(members, item_json(im, &im->items[i]));
		else if (members == NULL)
			item_text(im, &im->items[i]);
	}
	if (o == NULL) {
		summary_text(im, secs);
		return;
	}
	json_object_object_add(o, "roster", json_object_new_string(im->path));
	json_object_object_add(o, "encoding",
			       json_object_new_string(roster_encoding_name(im->encoding)));
	json_object_object_add(o, "dry_run", json_object_new_boolean(dry(im)));
	add_counts(o, im, secs);
	if (im->uid_first != 0)
		json_object_object_add(o, "uid_first",
				       json_object_new_int64((int64_t)im->uid_first));
	json_object_object_add(o, "members", members);
	json_object_object_add(o, "errors", errors_json(&im->roster));
	admin_json_print(o);
}

/* What `issue` prints: the member, and the password unless it went to
 * the letters CSV. */
void
import_report_issue(struct import *im)
{
	struct item *it = &im->items[0];
	json_object *o;

	if (!im->a->o.json) {
		printf("issued %s%s%s", it->row->number, it->login[0] ? ": login ID " : "",
		       it->login);
		if (it->login[0] != '\0' && im->letters == NULL && !im->a->o.letters_csv)
			printf(", temporary password %s%s%s", it->pw,
			       im->expiry_text[0] ? ", valid until " : "", im->expiry_text);
		printf("\n");
		return;
	}
	o = item_json(im, it);
	if (it->login[0] != '\0' && im->a->o.letters_csv == NULL)
		json_object_object_add(o, "temp_password", json_object_new_string(it->pw));
	json_object_object_add(o, "temp_password_expiry",
			       admin_json_str(im->expiry_text[0] ? im->expiry_text : NULL));
	admin_json_print(o);
}

/* ---- audit lines ---- */

static const char *
member_dn(const struct item *it)
{
	return it->kind == K_NEW ? it->dn : it->ex->e->dn;
}

static void
audit_household(const struct import *im, const struct item *it)
{
	const struct hh_plan *p = it->hp;
	const struct dir_entry *h;
	char idx[4];
	size_t i;

	for (i = 0; i < p->nentries; i++) {
		h = it->ex->house[i];
		if (p->gone[i])
			admin_audit(im->a, "household-remove", member_dn(it), "number",
				    it->row->number, "index",
				    dir_get(h, KENPO_AT_HOUSEHOLD_INDEX), "old",
				    dir_get(h, KENPO_AT_CN), "new", NULL, NULL);
	}
	for (i = 0; i < p->nroster; i++) {
		if (p->match[i] >= 0 && !p->fix[i])
			continue;
		h = p->match[i] >= 0 ? it->ex->house[p->match[i]] : NULL;
		snprintf(idx, sizeof idx, "%02u", p->new_index[i]);
		admin_audit(im->a, h != NULL ? "household-update" : "household-add",
			    member_dn(it), "number", it->row->number, "index",
			    h != NULL ? dir_get(h, KENPO_AT_HOUSEHOLD_INDEX) : idx, "old",
			    h != NULL ? dir_get(h, KENPO_AT_CN) : NULL, "new",
			    it->row->house[i].name, NULL);
	}
}

/* The audit lines of one member written: who, what, old and new. */
static void
audit_item(const struct import *im, const struct item *it)
{
	char buf[VALUE_MAX];
	size_t i;

	if (it->kind == K_NEW) {
		admin_audit(im->a, "issue", member_dn(it), "number", it->row->number, "login",
			    it->login[0] ? it->login : NULL, "temp_password",
			    it->login[0] ? "(set)" : NULL, NULL);
		return;
	}
	if (it->kind == K_MISSING) {
		admin_audit(im->a, "disable", member_dn(it), "number", it->row->number, "reason",
			    "missing from the roster", NULL);
		return;
	}
	for (i = 0; i < IMPORT_NFIELDS; i++) {
		unsigned bit = 1u << i;

		if (!(it->fields & bit) || bit == F_HOUSEHOLD)
			continue;
		if (bit == F_LEFT)
			admin_audit(im->a, "disable", member_dn(it), "number", it->row->number,
				    "reason", "left", "left", it->row->left, NULL);
		else
			admin_audit(im->a, "update", member_dn(it), "number", it->row->number,
				    "field", import_fields[i].name, "old",
				    import_old_value(it->ex, bit, buf, sizeof buf), "new",
				    import_new_value(it->row, bit), NULL);
	}
	if (it->hp != NULL)
		audit_household(im, it);
}

void
import_audit(struct import *im)
{
	size_t i;

	for (i = 0; i < im->nitems; i++)
		if (im->items[i].state == S_DONE && im->items[i].kind != K_SAME &&
		    im->items[i].kind != K_LEFT &&
		    (im->items[i].kind != K_MISSING || im->items[i].disable))
			audit_item(im, &im->items[i]);
}
