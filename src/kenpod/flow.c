/*
 * flow.c - what the self-service flows share (see flow.h).
 */
#include "autoconfig.h"

#include <string.h>

#include "config.h"
#include "flow.h"
#include "kenpo-proto.h"
#include "localname.h"
#include "log.h"
#include "policy.h"
#include "text.h"

#define NICKNAME_CHARS_MAX 64      /* kenpoNickname DS{64} */
#define NICKNAME_BYTES_MAX 256

void
flow_take(struct kenpo_buf *in, char *out, size_t outsz, int *toolong)
{
	const char *s;
	size_t len;

	kenpo_get_string_ref(in, &s, &len);
	out[0] = '\0';
	if (in->err)
		return;
	if (len >= outsz) {
		*toolong = 1;
		return;
	}
	memcpy(out, s, len);
	out[len] = '\0';
}

int
flow_take_token(struct kenpo_buf *in, char *text, size_t textsz, const char *what)
{
	int toolong = 0;

	flow_take(in, text, textsz, &toolong);
	if (kenpo_frame_close(in) != 0)
		return KENPO_RES_BADREQ;
	log_setrequest("%s", what);
	return KENPO_RES_OK;
}

int
flow_badvalue(struct kenpo_buf *out, const char *field)
{
	char esc[LOG_ESCAPE_MAX];

	log_msg(LOG_INFO, "refused: bad %.100s", log_escape(field, strlen(field), esc));
	kenpo_put_cstring(out, field);
	return KENPO_RES_BADVALUE;
}

int
flow_address_ok(const char *s)
{
	return strlen(s) <= FLOW_ADDRESS_MAX && kenpo_mail_address_ok(s);
}

int
flow_nickname_ok(const char *s)
{
	size_t len = strlen(s), chars = 0, i;
	const unsigned char *u = (const unsigned char *)s;

	if (len == 0 || len > NICKNAME_BYTES_MAX || !kenpo_utf8_valid(s, len))
		return 0;
	for (i = 0; i < len; i++) {
		if (u[i] < 0x20 || u[i] == 0x7f)
			return 0;
		if (u[i] == 0xc2 && i + 1 < len && u[i + 1] >= 0x80 && u[i + 1] < 0xa0)
			return 0;
		if ((u[i] & 0xc0) != 0x80)
			chars++;
	}
	return chars <= NICKNAME_CHARS_MAX;
}

unsigned
flow_login_id_rules(const struct request *rq, const char *id)
{
	size_t len = strlen(id);

	return kenpo_policy_check_login_id(id, len) |
	       kenpo_localname_check(id, len, rq->kd->cfg->reserved_login_ids);
}

void
flow_pwcost(const struct request *rq, struct kenpo_pwcost *c)
{
	c->opslimit = rq->kd->cfg->argon2_opslimit;
	c->memlimit = rq->kd->cfg->argon2_memlimit;
}
