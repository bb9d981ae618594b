/*
 * passwd.h - the passwd lookups: PASSWD_BYNAME, PASSWD_BYUID, PASSWD_ALL.
 *
 * A member appears in passwd only while registered and not disabled;
 * pre-issued accounts are not users yet.  The GECOS field is the nickname,
 * never the real name; home and shell come from the society's templates.
 */
#ifndef KENPOD_PASSWD_H
#define KENPOD_PASSWD_H

#include <stddef.h>

#include "cache.h"
#include "myldap.h"
#include "request.h"
#include "schema.h"

kenpod_handler passwd_byname;
kenpod_handler passwd_byuid;
kenpod_handler passwd_all;

struct kenpo_society;

/* What the follower asks the directory for: every member (kenpoMember)
 * with these attributes; passwd_entry_rec judges which are users. */
#define PASSWD_SYNC_FILTER KENPO_FILTER_MEMBER
extern const char *const passwd_attrs[];

/* The passwd record of an entry read with passwd_attrs: 0 with *rec
 * filled for a user; 1 for a member who is not a user (pre-issued,
 * disabled); -1 for an entry that breaks the rules (several uids, a
 * uidNumber outside the society's range, a name or uid of this host's
 * own accounts, ...), with the reason in *why for the log. */
int passwd_entry_rec(const struct kenpo_society *soc, const struct myldap_entry *e,
		     struct kenpo_pwrec *rec, size_t recsz, const char **why);
void passwd_log_bad_entry(const struct myldap_entry *e, const char *why);

#endif
