/*
 * selfsvc.h - the self-service actions of kenpo-proto.h (0x0003xxxx):
 * registration guide, letter registration, identity check, password reset
 * and profile, for root and the configured portal group.
 */
#ifndef KENPOD_SELFSVC_H
#define KENPOD_SELFSVC_H

#include <stddef.h>

#include "request.h"

/* How long a profile ticket lasts: proof of a login a moment ago. */
#define SELFSVC_TICKET_VALIDITY 600

kenpod_handler selfsvc_guide_request;
kenpod_handler selfsvc_token_check;
kenpod_handler selfsvc_reg_letter_open;
kenpod_handler selfsvc_identity_check;
kenpod_handler selfsvc_identity_open;
kenpod_handler selfsvc_reg_complete;
kenpod_handler selfsvc_reset_request;
kenpod_handler selfsvc_reset_open;
kenpod_handler selfsvc_login_id_check;
kenpod_handler selfsvc_profile_get;
kenpod_handler selfsvc_profile_set;

/*
 * Issue a profile ticket for the member entry member_dn (after a
 * successful login): a single-use token of kind KENPO_TOKEN_TICKET, valid
 * SELFSVC_TICKET_VALIDITY seconds, that PROFILE_GET and PROFILE_SET accept
 * for that member only (each use hands out the next one).  The ticket text
 * (KENPO_TOKEN_LEN characters) goes into out (outsz >= KENPO_TOKEN_LEN + 1).
 * A kenpo_result: OK, UNAVAIL, INTERNAL (member_dn in no society).
 */
int selfsvc_ticket_issue(struct request *rq, const char *member_dn, char *out, size_t outsz);

#endif
