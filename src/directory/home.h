/*
 * home.h - a member's home directory, made from the society's template
 * (kenpod.conf `home`): kenpod answers it in passwd lookups and writes it
 * at registration; kenpo-admin writes it when it issues a member.
 */
#ifndef KENPO_DIRECTORY_HOME_H
#define KENPO_DIRECTORY_HOME_H

#include <stddef.h>

/* Expand tmpl: %u the login ID, %n the member number, %% a percent sign;
 * any other character, a lone '%' included, stands for itself.  0, or -1
 * when the result does not fit in outsz bytes, or when the template uses
 * %u or %n and login or number is NULL.  out is written only on success. */
int kenpo_home_expand(const char *tmpl, const char *login, const char *number, char *out,
		      size_t outsz);

#endif
