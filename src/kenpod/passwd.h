/*
 * passwd.h - the passwd lookups: PASSWD_BYNAME, PASSWD_BYUID, PASSWD_ALL.
 *
 * A member appears in passwd only while registered and not disabled;
 * pre-issued accounts are not users yet.  The GECOS field is the nickname,
 * never the real name; home and shell come from the society's templates.
 */
#ifndef KENPOD_PASSWD_H
#define KENPOD_PASSWD_H

#include "request.h"

kenpod_handler passwd_byname;
kenpod_handler passwd_byuid;
kenpod_handler passwd_all;

#endif
