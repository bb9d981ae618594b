/*
 * selfsvc.h - the self-service actions of kenpo-proto.h (0x0003xxxx), for
 * root and the configured portal group: registration (register.c), the
 * password reset (reset.c) and the profile (profile.c).
 */
#ifndef KENPOD_SELFSVC_H
#define KENPOD_SELFSVC_H

#include "request.h"

/* register.c */
kenpod_handler selfsvc_guide_request;
kenpod_handler selfsvc_token_check;
kenpod_handler selfsvc_reg_letter_open;
kenpod_handler selfsvc_identity_check;
kenpod_handler selfsvc_identity_open;
kenpod_handler selfsvc_reg_complete;
kenpod_handler selfsvc_login_id_check;

/* reset.c */
kenpod_handler selfsvc_reset_request;
kenpod_handler selfsvc_reset_open;

/* profile.c */
kenpod_handler selfsvc_profile_get;
kenpod_handler selfsvc_profile_set;
kenpod_handler selfsvc_profile_end;

#endif
