/*
 * history.h - a member's logins: 前回ログイン日時 (kenpoLastLogin) and the
 * recent logins with their service and source (kenpoLoginHistory, the
 * society's login_history of them), recorded by a PAM session
 * (SESSION_OPEN) and by a web login that asks for it
 * (KENPO_AUTHF_SESSION), and read by the portal (LOGIN_HISTORY).
 *
 * A value of kenpoLoginHistory is "TIME SERVICE SOURCE": GeneralizedTime
 * with milliseconds, then the service and the source with every byte
 * outside printable ASCII, and the space, as '?' ("-" when empty), cut
 * to HISTORY_SERVICE_MAX and HISTORY_SOURCE_MAX bytes.
 */
#ifndef KENPOD_HISTORY_H
#define KENPOD_HISTORY_H

#include <stddef.h>
#include <stdint.h>

#include "request.h"

struct member;
struct member_change;

#define HISTORY_SERVICE_MAX 32
#define HISTORY_SOURCE_MAX 64
#define HISTORY_PREVIOUS_MAX 32 /* "YYYY/MM/DD HH:MM:SS" and its NUL */

/* Record a login at now: kenpoLastLogin, and a value of kenpoLoginHistory
 * (the oldest beyond login_history dropped).  Last writer wins on the
 * time: two logins at once both count, and either time is right. */
void history_change_record(struct member_change *c, const struct member *m, int64_t now,
			   const char *service, size_t service_len, const char *source,
			   size_t source_len);

/* The previous login as read (before history_change_record) in the
 * society's zone, or "" for none. */
void history_previous(const struct member *m, char out[HISTORY_PREVIOUS_MAX]);

#endif
