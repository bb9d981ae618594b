/*
 * household.h - which dependent (被扶養者) of a roster row is which entry of
 * the directory.
 *
 * A dependent is known by who they are, never by their place in the
 * roster's list: by the name (white space collapsed: 「家族　花子」 is
 * 「家族 花子」) and the date of birth.  Rosters carry no dependent number
 * kenpo could rely on (the household column is "name[:birth date]; ..."),
 * and name and birth date are what every roster has and what does not
 * change when another dependent comes or goes.  A dependent's entry keeps
 * its index (ご家族02 stays 02) and with it the settings the household
 * chose (nickname, 世帯内への公開設定) for as long as the roster lists that
 * person; a dependent no longer listed is removed, and a new one gets an
 * index no entry of the household holds, so that no setting can ever pass
 * from one person to another.  Where the roster corrects a name's white
 * space, or gives a birth date for the first time (or no longer gives
 * one), the entry whose name matches and is the only one that can be
 * meant is updated; a real change of name reads as one dependent leaving
 * and another coming: the settings go back to the defaults rather than to
 * someone else.
 *
 * Entries written by earlier versions (which matched by position) hold
 * the same name and birth date, so they are matched the same way from
 * the first import on: nothing needs converting.
 */
#ifndef KENPO_ADMIN_HOUSEHOLD_H
#define KENPO_ADMIN_HOUSEHOLD_H

#include <stddef.h>

#include "roster.h"

/* A household entry of the directory. */
struct hh_entry {
	const char *name;  /* cn, or NULL */
	const char *birth; /* kenpoDateOfBirth, or NULL */
	unsigned index;    /* kenpoHouseholdIndex, 1..ROSTER_HOUSEHOLD_MAX */
};

/* What a roster row means for the household in the directory. */
struct hh_plan {
	size_t nroster, nentries;
	/* roster dependent i: the entry it is (-1: a new one, with new_index[i]) */
	short match[ROSTER_HOUSEHOLD_MAX];
	unsigned char new_index[ROSTER_HOUSEHOLD_MAX];
	/* roster dependent i matched, but its entry's name text or birth date
	 * is to be set to the roster's */
	unsigned char fix[ROSTER_HOUSEHOLD_MAX];
	/* entry j: on the roster no more (to be removed) */
	unsigned char gone[ROSTER_HOUSEHOLD_MAX];
	size_t nadd, nremove, nfix;
};

/* Match the roster's dependents r[0..nr) with the entries e[0..ne)
 * (ne <= ROSTER_HOUSEHOLD_MAX, indexes distinct).  0 with p filled
 * (nadd + nremove + nfix == 0 when nothing changes), or -1 when the
 * household has no index left for a new dependent. */
int household_plan(const struct roster_house *r, size_t nr, const struct hh_entry *e, size_t ne,
		   struct hh_plan *p);

/* 1 when p changes anything. */
int household_changes(const struct hh_plan *p);

#endif
