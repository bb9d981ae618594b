/*
 * flow.h - what the self-service flows (register.c, reset.c, profile.c)
 * share: reading the text fields of a request, refusing a bad value, and
 * the checks of the values a member types.
 *
 * Every request is validated whole before anything is looked up, changed
 * or mailed (DESIGN.md 2.9).
 */
#ifndef KENPOD_FLOW_H
#define KENPOD_FLOW_H

#include <stddef.h>

#include "proto.h"
#include "request.h"
#include "secret.h"

#define FLOW_ADDRESS_MAX 254 /* RFC 5321 path limit */
#define FLOW_TEXT_MAX 512    /* any field on the wire but secrets */
#define FLOW_SECRET_MAX 128  /* passwords and keys (the rules allow 39) */
#define FLOW_DEFAULT_NICKNAME "ご本人"

/* Copy one STRING of the request into out; a value that does not fit sets
 * *toolong (the frame stays readable, so the answer can name the field). */
void flow_take(struct kenpo_buf *in, char *out, size_t outsz, int *toolong);

/* A request that holds one token text and nothing else: the text into
 * text (too long a text is taken as "", which no token is), the frame
 * closed, the request tagged `what` in the log.  OK or BADREQ. */
int flow_take_token(struct kenpo_buf *in, char *text, size_t textsz, const char *what);

/* Answer BADVALUE naming the field (escaped in the log: a PROFILE_SET
 * field name comes from the client). */
int flow_badvalue(struct kenpo_buf *out, const char *field);

/* A mail address a member may register: kenpo_mail_address_ok. */
int flow_address_ok(const char *s);

/* A nickname: UTF-8, 1 to 64 characters, no control character (C0, DEL,
 * C1), so it is safe in a mail, a log line and a GECOS field. */
int flow_nickname_ok(const char *s);

/* The rules a new login ID breaks (a KENPO_RULE_* mask): the manuals'
 * rules, and the names of the host's own accounts and the reserved list
 * (localname.h), so that no member can ever take the name of root or of a
 * service. */
unsigned flow_login_id_rules(const struct request *rq, const char *id);

/* The argon2 cost of the configuration. */
void flow_pwcost(const struct request *rq, struct kenpo_pwcost *c);

#endif
