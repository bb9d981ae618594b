/*
 * household.c - matching a roster row's dependents with the household
 * entries of the directory (see household.h).
 */
#include "autoconfig.h"

#include <string.h>

#include "household.h"

static int
same_name(const char *a, const char *b)
{
	char ka[ROSTER_NAME_KEY_MAX], kb[ROSTER_NAME_KEY_MAX];

	if (a == NULL || b == NULL)
		return 0;
	roster_name_key(a, ka, sizeof ka);
	roster_name_key(b, kb, sizeof kb);
	return strcmp(ka, kb) == 0;
}

static int
same_text(const char *a, const char *b)
{
	return (a == NULL && b == NULL) || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

/* First pass: the same name and the same birth date (or neither has one). */
static void
match_exact(const struct roster_house *r, const struct hh_entry *e, struct hh_plan *p,
	    unsigned char *taken)
{
	size_t i, j;

	for (i = 0; i < p->nroster; i++)
		for (j = 0; j < p->nentries && p->match[i] < 0; j++)
			if (!taken[j] && same_name(r[i].name, e[j].name) &&
			    same_text(r[i].birth, e[j].birth)) {
				p->match[i] = (short)j;
				taken[j] = 1;
			}
}

/* How many of the unmatched roster dependents (or free entries) may be
 * the person named `name` when one side has no birth date. */
static size_t
roster_candidates(const struct roster_house *r, const struct hh_plan *p, const char *name)
{
	size_t i, n = 0;

	for (i = 0; i < p->nroster; i++)
		n += p->match[i] < 0 && same_name(r[i].name, name);
	return n;
}

/* Second pass: the same name where one side has no birth date, when that
 * name leaves no choice on either side. */
static void
match_by_name(const struct roster_house *r, const struct hh_entry *e, struct hh_plan *p,
	      unsigned char *taken)
{
	size_t i, j, found, n;

	for (i = 0; i < p->nroster; i++) {
		if (p->match[i] >= 0 || roster_candidates(r, p, r[i].name) != 1)
			continue;
		for (j = 0, n = 0, found = 0; j < p->nentries; j++)
			if (!taken[j] && same_name(r[i].name, e[j].name) &&
			    (r[i].birth == NULL || e[j].birth == NULL)) {
				found = j;
				n++;
			}
		if (n == 1) {
			p->match[i] = (short)found;
			taken[found] = 1;
		}
	}
}

/* Indexes for the new dependents: after the highest in use, so that an
 * index that just left is not handed on; when 99 is reached, the lowest
 * that no entry holds.  0 or -1. */
static int
new_indexes(const struct hh_entry *e, struct hh_plan *p)
{
	unsigned char held[ROSTER_HOUSEHOLD_MAX + 1];
	unsigned next = 1, k;
	size_t i, j;

	memset(held, 0, sizeof held);
	for (j = 0; j < p->nentries; j++) {
		held[e[j].index] = 1;
		if (e[j].index >= next)
			next = e[j].index + 1;
	}
	for (i = 0; i < p->nroster; i++) {
		if (p->match[i] >= 0)
			continue;
		for (k = next; k <= ROSTER_HOUSEHOLD_MAX && held[k]; k++)
			;
		if (k > ROSTER_HOUSEHOLD_MAX)
			for (k = 1; k <= ROSTER_HOUSEHOLD_MAX && held[k]; k++)
				;
		if (k > ROSTER_HOUSEHOLD_MAX)
			return -1;
		held[k] = 1;
		p->new_index[i] = (unsigned char)k;
		p->nadd++;
	}
	return 0;
}

int
household_plan(const struct roster_house *r, size_t nr, const struct hh_entry *e, size_t ne,
	       struct hh_plan *p)
{
	unsigned char taken[ROSTER_HOUSEHOLD_MAX];
	size_t i, j;

	if (nr > ROSTER_HOUSEHOLD_MAX || ne > ROSTER_HOUSEHOLD_MAX)
		return -1;
	memset(p, 0, sizeof *p);
	memset(taken, 0, sizeof taken);
	p->nroster = nr;
	p->nentries = ne;
	for (i = 0; i < nr; i++)
		p->match[i] = -1;
	match_exact(r, e, p, taken);
	match_by_name(r, e, p, taken);
	for (i = 0; i < nr; i++) {
		if (p->match[i] < 0)
			continue;
		j = (size_t)p->match[i];
		p->fix[i] = !same_text(r[i].name, e[j].name) ||
			    !same_text(r[i].birth, e[j].birth);
		p->nfix += p->fix[i];
	}
	for (j = 0; j < ne; j++) {
		p->gone[j] = !taken[j];
		p->nremove += p->gone[j];
	}
	return new_indexes(e, p);
}

int
household_changes(const struct hh_plan *p)
{
	return p->nadd + p->nremove + p->nfix > 0;
}
