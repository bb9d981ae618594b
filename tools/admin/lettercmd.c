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

/* The columns a page needs; the address columns are read when there
 * (letters CSVs of older versions have none). */
static const enum letters_column needed[] = {
	LC_SOCIETY, LC_NUMBER, LC_NAME, LC_NICKNAME, LC_LOGIN, LC_PASSWORD, LC_EXPIRY,
};
#define NNEEDED (sizeof needed / sizeof needed[0])

/* One letter of the CSV, copied out of the reader (wiped when freed). */
struct row {
	unsigned long line;
	char *f[LC_COUNT];
	struct letter x;
};

struct rows {
	struct row *r;
	size_t n, cap;
};

/* ---- from the letters CSV ---- */

/* Find the columns in the header record: col[c] for each letters_column
 * (CSV_FIELDS_MAX for one that is not there).  0 or -1. */
static int
read_header(struct csv_reader *r, size_t col[LC_COUNT], const char *path, char *err, size_t errsz)
{
	size_t i, k, c;

	if (csv_next(r) != CSV_RECORD) {
		snprintf(err, errsz, "%s: no header line", path);
		return -1;
	}
	for (c = 0; c < LC_COUNT; c++) {
		col[c] = CSV_FIELDS_MAX;
		for (i = 0; i < r->nfields; i++)
			if (strcmp(csv_field(r, i), letters_columns[c]) == 0 &&
			    col[c] == CSV_FIELDS_MAX)
				col[c] = i;
	}
	for (k = 0; k < NNEEDED; k++)
		if (col[needed[k]] == CSV_FIELDS_MAX) {
			snprintf(err, errsz, "%s: not a letters file: no column %s", path,
				 letters_columns[needed[k]]);
			return -1;
		}
	return 0;
}

static void
rows_free(struct rows *rs)
{
	size_t i, c;

	for (i = 0; i < rs->n; i++)
		for (c = 0; c < LC_COUNT; c++)
			if (rs->r[i].f[c] != NULL)
				kenpo_wipe_free(rs->r[i].f[c], strlen(rs->r[i].f[c]) + 1);
	free(rs->r);
	memset(rs, 0, sizeof *rs);
}

/* Copy the current record as a row.  0 or -1. */
static int
keep_row(struct rows *rs, const struct csv_reader *r, const size_t col[LC_COUNT])
{
	struct row *nr, *row;
	size_t c;

	if (rs->n == rs->cap) {
		nr = realloc(rs->r, (rs->cap ? 2 * rs->cap : 64) * sizeof *nr);
		if (nr == NULL)
			return -1;
		rs->r = nr;
		rs->cap = rs->cap ? 2 * rs->cap : 64;
	}
	row = &rs->r[rs->n++];
	memset(row, 0, sizeof *row);
	row->line = r->rec_line;
	for (c = 0; c < LC_COUNT; c++) {
		if (col[c] >= r->nfields)
			continue;
		/* The cell as it was before csv_write_row kept it from a spreadsheet. */
		row->f[c] = strdup(csv_cell_text(csv_field(r, col[c])));
		if (row->f[c] == NULL)
			return -1;
	}
	return 0;
}

/* One row: checked, and kept.  0 or -1. */
static int
add_row(struct rows *rs, const struct kenpo_society *soc, const struct csv_reader *r,
	const size_t col[LC_COUNT], const char *path, char *err, size_t errsz)
{
	const char *society;
	size_t k;

	for (k = 0; k < NNEEDED; k++) {
		if (r->nfields <= col[needed[k]]) {
			snprintf(err, errsz, "%s:%lu: too few fields", path, r->rec_line);
			return -1;
		}
	}
	society = csv_cell_text(csv_field(r, col[LC_SOCIETY]));
	if (strcmp(society, soc->name) != 0) {
		snprintf(err, errsz, "%s:%lu: a letter of %s, not of %s", path, r->rec_line,
			 society, soc->name);
		return -1;
	}
	if (keep_row(rs, r, col) != 0) {
		snprintf(err, errsz, "out of memory");
		return -1;
	}
	return 0;
}

static int
read_rows(struct rows *rs, const struct kenpo_society *soc, struct csv_reader *r,
	  const char *path, char *err, size_t errsz)
{
	size_t col[LC_COUNT];
	int rc;

	if (read_header(r, col, path, err, errsz) != 0)
		return -1;
	while ((rc = csv_next(r)) == CSV_RECORD)
		if (add_row(rs, soc, r, col, path, err, errsz) != 0)
			return -1;
	if (rc == CSV_BAD)
		snprintf(err, errsz, "%s:%lu: %s", path, r->err_line, r->err);
	else if (rc != CSV_EOF)
		snprintf(err, errsz, "out of memory");
	return rc == CSV_EOF ? 0 : -1;
}

static void
make_letter(struct row *row)
{
	struct letter *x = &row->x;

	x->line = row->line;
	x->number = row->f[LC_NUMBER];
	x->name = row->f[LC_NAME];
	x->nickname = row->f[LC_NICKNAME];
	x->login = row->f[LC_LOGIN];
	x->password = row->f[LC_PASSWORD];
	x->expiry = row->f[LC_EXPIRY];
	x->postal_code = row->f[LC_POSTAL_CODE];
	x->address = row->f[LC_ADDRESS];
	x->employer = row->f[LC_EMPLOYER];
	x->office_code = row->f[LC_OFFICE];
}

static const char *
office_of(const struct row *row)
{
	return row->f[LC_OFFICE] != NULL ? row->f[LC_OFFICE] : "";
}

/* By office code (letters without one last), then member number, then line. */
static int
by_office(const void *a, const void *b)
{
	const struct row *x = a, *y = b;
	const char *ox = office_of(x), *oy = office_of(y);
	int c;

	if ((ox[0] == '\0') != (oy[0] == '\0'))
		return ox[0] == '\0' ? 1 : -1;
	if ((c = strcmp(ox, oy)) != 0 || (c = strcmp(x->f[LC_NUMBER], y->f[LC_NUMBER])) != 0)
		return c;
	return (x->line > y->line) - (x->line < y->line);
}

/* The pages: in the CSV's order; or, when letters carry office codes,
 * sorted by office, each office's letters after a cover page (so that the
 * printed pile falls apart by employer).  0 or -1 with err. */
static int
add_pages(struct letterpdf *p, struct rows *rs, const char *path, char *err, size_t errsz)
{
	const struct letter **group = NULL;
	char e[ADMIN_ERR_MAX / 2];
	size_t i, j, offices = 0;
	int ret = -1;

	for (i = 0; i < rs->n; i++) {
		make_letter(&rs->r[i]);
		offices += office_of(&rs->r[i])[0] != '\0';
	}
	if (offices > 0 && rs->n > 1)
		qsort(rs->r, rs->n, sizeof *rs->r, by_office);
	for (i = 0; i < rs->n; i++)
		make_letter(&rs->r[i]);
	group = calloc(rs->n + 1, sizeof *group);
	if (group == NULL) {
		snprintf(err, errsz, "out of memory");
		return -1;
	}
	for (i = 0; i < rs->n; i = j) {
		for (j = i; j < rs->n && strcmp(office_of(&rs->r[j]), office_of(&rs->r[i])) == 0;
		     j++)
			group[j - i] = &rs->r[j].x;
		if (office_of(&rs->r[i])[0] != '\0' &&
		    letterpdf_cover(p, group, j - i, e, sizeof e) != 0) {
			snprintf(err, errsz, "%.200s: %s", path, e);
			goto done;
		}
		for (; i < j; i++)
			if (letterpdf_add(p, &rs->r[i].x, e, sizeof e) != 0) {
				snprintf(err, errsz, "%.200s:%lu: %s", path, rs->r[i].line, e);
				goto done;
			}
	}
	ret = 0;
done:
	free(group);
	return ret;
}

/* Make the PDF at pdf_path from the letters CSV at csv_path.  Rows of
 * another society than soc are refused.  *count (may be NULL) receives the
 * number of letters.  0, or -1 with err filled (no PDF is left behind). */
static int
pdf_from_csv(const char *csv_path, const char *pdf_path, const struct kenpo_society *soc,
	     unsigned long *count, char *err, size_t errsz)
{
	struct csv_reader r;
	struct letterpdf *p = NULL;
	struct rows rs = { NULL, 0, 0 };
	char *data = NULL;
	size_t len = 0;
	int ret = -1;

	memset(&r, 0, sizeof r);
	/* The file holds passwords: read it only if nobody else may. */
	if (kenpo_read_file_safely(csv_path, getuid(), LETTERS_CSV_MAX, 1, &data, &len, err,
				   errsz) != 0)
		return -1;
	csv_init(&r, data, len, 0);
	if (read_rows(&rs, soc, &r, csv_path, err, errsz) != 0)
		goto done;
	p = letterpdf_open(pdf_path, soc, err, errsz);
	if (p == NULL)
		goto done;
	if (add_pages(p, &rs, csv_path, err, errsz) != 0) {
		letterpdf_abort(p);
		goto done;
	}
	if (count != NULL)
		*count = letterpdf_count(p);
	ret = letterpdf_close(p, err, errsz);
done:
	rows_free(&rs);
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
			    "kenpo-admin letters %s FILE.pdf",
			    a->o.letters_csv, a->o.letters_csv);
		return r;
	}
	if (a->o.verbose)
		admin_note("%lu letters written to %s", n, a->o.letters_pdf);
	return rc;
}
