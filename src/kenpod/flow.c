/*
 * flow.c - what the self-service flows share (see flow.h).
 */
#include "autoconfig.h"

#include <string.h>
#include <unictype.h>

#include "config.h"
#include "flow.h"
#include "kenpo-proto.h"
#include "localname.h"
#include "log.h"
#include "policy.h"
#include "text.h"

#define NICKNAME_CHARS_MAX 64 /* kenpoNickname DS{64} */
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

/*
 * Characters a nickname may not hold: controls, format characters (the
 * bidirectional overrides and isolates, zero-width spaces and joiners, the
 * soft hyphen, tags), line and paragraph separators, surrogates, private
 * use and unassigned code points, and whatever else Unicode says to
 * ignore when shown (fillers that look like nothing) but the variation
 * selectors, which choose a glyph of a name's kanji.  A nickname is shown
 * in place of the member's name: it must look like what it is.  The
 * categories are libunistring's, so they follow Unicode.
 */
static int
nickname_char_ok(ucs4_t cp)
{
	if (uc_is_general_category(cp,
				   uc_general_category_or(uc_general_category_or(UC_CATEGORY_C,
										 UC_CATEGORY_Zl),
							  UC_CATEGORY_Zp)))
		return 0;
	if (uc_is_property_variation_selector(cp))
		return 1;
	return !uc_is_property_default_ignorable_code_point(cp);
}

int
flow_nickname_ok(const char *s)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t len = strlen(s), chars = 0, i = 0, l;
	unsigned long cp;

	if (len == 0 || len > NICKNAME_BYTES_MAX || !kenpo_utf8_valid(s, len))
		return 0;
	while (i < len) {
		l = kenpo_utf8_next(u + i, len - i, &cp);
		if (l == 0 || !nickname_char_ok((ucs4_t)cp))
			return 0;
		i += l;
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
