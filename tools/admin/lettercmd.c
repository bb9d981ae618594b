/*
 * lettercmd.c - `kenpo-admin letters` and --letters-pdf: the printable
 * letters (letterpdf.c, which only draws) made from a letters CSV
 * (letters.c, which writes it).
 */
#include "autoconfig.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "admin.h"
#include "csv.h"
#include "letterpdf.h"
#include "letters.h"
#include "readfile.h"
#include "secret.h"

#define LETTERS_CSV_MAX ((size_t)1 << 30)

/* The columns a page needs. */
static const enum letters_column needed[] = {
	LC_SOCIETY, LC_NUMBER, LC_NAME, LC_NICKNAME, LC_LOGIN, LC_PASSWORD, LC_EXPIRY,
};
#define NNEEDED (sizeof needed / sizeof needed[0])

/* ---- from the letters CSV ---- */

/* Find the columns in the header record: col[c] for each letters_column
 * (CSV_FIELDS_MAX for one that is not needed).  0 or -1. */
static int
read_header(struct csv_reader *r, size_t col[LC_COUNT], const char *path,
	    char *err, size_t errsz)
{
	size_t i, k, c;

	if (csv_next(r) != CSV_RECORD) {
		snprintf(err, errsz, "%s: no header line", path);
		return -1;
	}
	for (c = 0; c < LC_COUNT; c++)
		col[c] = CSV_FIELDS_MAX;
	for (k = 0; k < NNEEDED; k++) {
		c = needed[k];
		for (i = 0; i < r->nfields; i++)
			if (strcmp(csv_field(r, i), letters_columns[c]) == 0 &&
			    col[c] == CSV_FIELDS_MAX)
				col[c] = i;
		if (col[c] == CSV_FIELDS_MAX) {
			snprintf(err, errsz, "%s: not a letters file: no column %s", path,
				 letters_columns[c]);
			return -1;
		}
	}
	return 0;
}

/* One row: check it and add its page.  0 or -1. */
static int
add_row(struct letterpdf *p, const struct kenpo_society *soc, const struct csv_reader *r,
	const size_t col[LC_COUNT], const char *path, char *err, size_t errsz)
{
	struct letter x;
	char e[ADMIN_ERR_MAX / 2];
	size_t k;

	for (k = 0; k < NNEEDED; k++) {
		if (r->nfields <= col[needed[k]]) {
			snprintf(err, errsz, "%s:%lu: too few fields", path, r->rec_line);
			return -1;
		}
	}
	if (strcmp(csv_field(r, col[LC_SOCIETY]), soc->name) != 0) {
		snprintf(err, errsz, "%s:%lu: a letter of %s, not of %s", path, r->rec_line,
			 csv_field(r, col[LC_SOCIETY]), soc->name);
		return -1;
	}
	memset(&x, 0, sizeof x);
	x.line = r->rec_line;
	x.number = csv_field(r, col[LC_NUMBER]);
	x.name = csv_field(r, col[LC_NAME]);
	x.nickname = csv_field(r, col[LC_NICKNAME]);
	x.login = csv_field(r, col[LC_LOGIN]);
	x.password = csv_field(r, col[LC_PASSWORD]);
	x.expiry = csv_field(r, col[LC_EXPIRY]);
	if (letterpdf_add(p, &x, e, sizeof e) != 0) {
		snprintf(err, errsz, "%.200s:%lu: %s", path, r->rec_line, e);
		return -1;
	}
	return 0;
}

static int
add_rows(struct letterpdf *p, const struct kenpo_society *soc, struct csv_reader *r,
	 const char *path, char *err, size_t errsz)
{
	size_t col[LC_COUNT];
	int rc;

	if (read_header(r, col, path, err, errsz) != 0)
		return -1;
	while ((rc = csv_next(r)) == CSV_RECORD)
		if (add_row(p, soc, r, col, path, err, errsz) != 0)
			return -1;
	if (rc == CSV_BAD)
		snprintf(err, errsz, "%s:%lu: %s", path, r->err_line, r->err);
	else if (rc != CSV_EOF)
		snprintf(err, errsz, "out of memory");
	return rc == CSV_EOF ? 0 : -1;
}

/* Make the PDF at pdf_path from the letters CSV at csv_path.  Rows of
 * another society than soc are refused.  *count (may be NULL) receives the
 * number of pages.  0, or -1 with err filled (no PDF is left behind). */
static int
pdf_from_csv(const char *csv_path, const char *pdf_path,
		   const struct kenpo_society *soc, unsigned long *count,
		   char *err, size_t errsz)
{
	struct csv_reader r;
	struct letterpdf *p = NULL;
	char *data = NULL;
	size_t len = 0;
	int ret = -1;

	memset(&r, 0, sizeof r);
	/* The file holds passwords: read it only if nobody else may. */
	if (kenpo_read_file_safely(csv_path, getuid(), LETTERS_CSV_MAX, 1, &data, &len,
				   err, errsz) != 0)
		return -1;
	csv_init(&r, data, len, 0);
	p = letterpdf_open(pdf_path, soc, err, errsz);
	if (p == NULL)
		goto done;
	if (add_rows(p, soc, &r, csv_path, err, errsz) != 0) {
		letterpdf_abort(p);
		goto done;
	}
	if (count != NULL)
		*count = letterpdf_count(p);
	ret = letterpdf_close(p, err, errsz);
done:
	csv_free(&r);
	kenpo_wipe_free(data, len);
	return ret;
}

/* ---- kenpo-admin letters, --letters-pdf ---- */

/* The PDF of the letters CSV csv_path at pdf_path, for the society of the
 * configuration.  An exit code; *count the pages. */
static int
letters_pdf(struct admin *a, const char *csv_path, const char *pdf_path, unsigned long *count)
{
	const struct kenpo_society *soc;
	char err[ADMIN_ERR_MAX];

	soc = a->cfg != NULL ? kenpo_config_society(a->cfg, a->soc.id) : NULL;
	if (soc == NULL) {
		admin_error("the letters' login_url and entry_address come from kenpod.conf: "
			    "give -c FILE (and --society ID)");
		return ADMIN_USAGE;
	}
	if (pdf_from_csv(csv_path, pdf_path, soc, count, err, sizeof err) != 0) {
		admin_error("%s", err);
		return ADMIN_ERROR;
	}
	return ADMIN_OK;
}

int
cmd_letters(struct admin *a)
{
	unsigned long n = 0;
	json_object *o;
	int rc = letters_pdf(a, a->o.args[0], a->o.args[1], &n);

	if (rc != ADMIN_OK)
		return rc;
	if (a->o.json) {
		o = json_object_new_object();
		json_object_object_add(o, "letters", json_object_new_int64((int64_t)n));
		json_object_object_add(o, "file", json_object_new_string(a->o.args[1]));
		admin_json_print(o);
	} else {
		printf("%lu letters written to %s\n", n, a->o.args[1]);
	}
	return ADMIN_OK;
}

int
admin_letters_pdf_ready(const struct admin *a)
{
	struct stat st;

	if (a->o.letters_pdf == NULL)
		return ADMIN_OK;
	if (a->cfg == NULL || kenpo_config_society(a->cfg, a->soc.id) == NULL) {
		admin_error("--letters-pdf: the letters' login_url and entry_address come from "
			    "kenpod.conf: give -c FILE (and --society ID)");
		return ADMIN_USAGE;
	}
	/* Refused now rather than after the directory was changed; lstat, as
	 * letterpdf_open's O_EXCL refuses a symbolic link even to nothing. */
	if (lstat(a->o.letters_pdf, &st) == 0) {
		admin_error("%s: %s", a->o.letters_pdf, strerror(EEXIST));
		return ADMIN_ERROR;
	}
	if (errno != ENOENT) {
		admin_error("%s: %s", a->o.letters_pdf, strerror(errno));
		return ADMIN_ERROR;
	}
	return ADMIN_OK;
}

int
admin_letters_pdf(struct admin *a, int rc)
{
	unsigned long n = 0;
	int r;

	if ((rc != ADMIN_OK && rc != ADMIN_PARTIAL) || a->o.letters_pdf == NULL)
		return rc;
	/* No new member, no temporary password: the CSV was not made. */
	if (access(a->o.letters_csv, F_OK) != 0 && errno == ENOENT) {
		admin_note("no letters: %s not written", a->o.letters_pdf);
		return rc;
	}
	r = letters_pdf(a, a->o.letters_csv, a->o.letters_pdf, &n);
	if (r != ADMIN_OK) {
		admin_error("the letters CSV %s is complete: make the PDF again with "
			    "kenpo-admin letters %s FILE.pdf", a->o.letters_csv, a->o.letters_csv);
		return r;
	}
	if (a->o.verbose)
		admin_note("%lu letters written to %s", n, a->o.letters_pdf);
	return rc;
}
