/*
 * reset.c - password reset in kenpod (パスワード再発行): RESET_REQUEST mails
 * each registered member of an address a link, their login ID and a
 * temporary password valid reset_validity; RESET_OPEN checks the link.
 *
 * The answer to a request does not tell whether the address is known:
 * not by its words, and not by its time either.  The mail goes out after
 * the answer (mailer_queue), and an address that reaches no member costs
 * what one member's reset costs: an argon2 hash, a search of the member's
 * links, and two writes (a link made and removed where a member's entry
 * and a link are written).  Requests for ever new addresses are capped per
 * society and hour (reset_total_per_hour), so that their rate counters
 * cannot grow the directory without end.  The current password keeps working until the
 * temporary one is used; a login with the temporary password forces a
 * change (auth.c).
 */
#include "autoconfig.h"

#include <stdio.h>
#include <string.h>

#include "config.h"
#include "flow.h"
#include "gen.h"
#include "gentime.h"
#include "kenpo-proto.h"
#include "log.h"
#include "schema.h"
#include "member.h"
#include "schema.h"
#include "secret.h"
#include "selfsvc.h"
#include "token.h"

#define RESET_MEMBERS_MAX 10 /* members sharing one address */

/* ---- RESET_REQUEST ---- */

/* The temporary password as stored. */
struct reset_password {
	char hash[KENPO_PWHASH_MAX];
	char expiry[KENPO_GENTIME_MAX];
};

/* The current password keeps working; the temporary one is a second way
 * in until it expires, and a login with it forces a change. */
static int
reset_build(const struct member *m, struct member_change *c, void *ctx)
{
	const struct reset_password *r = ctx;

	(void)m;
	member_replace(c, MA_TEMP_PASSWORD, r->hash);
	member_replace(c, MA_TEMP_EXPIRY, r->expiry);
	member_replace(c, MA_TEMP_TRIES, NULL);
	return KENPO_RES_OK;
}

/* Take back exactly the password written, nothing written since. */
static void
reset_withdraw(struct request *rq, const struct member *m, const struct reset_password *r)
{
	struct member_change c;

	member_change_init(&c);
	member_delete(&c, MA_TEMP_PASSWORD, r->hash);
	(void)member_apply(rq, m, &c);
}

static void
reset_audit(const struct request *rq, const struct member *m, const char *addr)
{
	char uid[24];
	struct log_kv kv[4] = { { "member", m->e->dn },
				{ "login", member_get(m, MA_UID) },
				{ "to", addr },
				{ "caller_uid", uid } };

	(void)snprintf(uid, sizeof uid, "%lu", (unsigned long)rq->peer_uid);
	log_audit("reset.request", kv, 4);
}

/* What reset_one costs, for a request that mails nothing: the hash of a
 * temporary password, a search of a member's links, two writes and the
 * mail composed (to addr, with a stand-in login ID). */
static void
reset_decoy(struct request *rq, const struct kenpo_society *soc, const char *addr)
{
	char temp[KENPO_TEMP_PASSWORD_LEN + 1], hash[KENPO_PWHASH_MAX], dn[MEMBER_DN_MAX];
	struct kenpo_var vars[2] = { { "LOGINID", "Kenpo.Member" }, { "PASSWD", temp } };
	struct kenpo_pwcost cost;

	flow_pwcost(rq, &cost);
	if (kenpo_gen_temp_password(temp, sizeof temp) != 0 ||
	    kenpo_pw_hash(temp, strlen(temp), &cost, hash, sizeof hash) != 0)
		log_msg(LOG_WARNING, "no temporary password could be made");
	(void)snprintf(dn, sizeof dn, KENPO_AT_NUMBER "=-,%s", soc->base);
	(void)token_void_member(rq, soc, dn, KENPO_TOKEN_RESET);
	token_mail_decoy(rq, soc, KENPO_TOKEN_RESET, 2, KENPO_MAIL_RESET, soc->reset_url,
			 soc->reset_validity, vars, 2, addr);
	kenpo_wipe(temp, sizeof temp);
	kenpo_wipe(hash, sizeof hash);
}

/* A temporary password for one member, stored, and its link mailed.  A
 * member gone meanwhile gets nothing (OK). */
static int
reset_one(struct request *rq, struct member *m, const char *addr)
{
	const struct kenpo_society *soc = m->soc;
	struct token_spec spec = { KENPO_TOKEN_RESET, 0, addr, NULL, NULL, 0 };
	char temp[KENPO_TEMP_PASSWORD_LEN + 1];
	struct kenpo_var vars[2] = { { "LOGINID", NULL }, { "PASSWD", temp } };
	struct reset_password r;
	struct kenpo_pwcost cost;
	int rc = KENPO_RES_INTERNAL;

	flow_pwcost(rq, &cost);
	spec.expiry = kenpo_gentime_now() + (int64_t)soc->reset_validity * 1000;
	if (kenpo_gen_temp_password(temp, sizeof temp) != 0 ||
	    kenpo_pw_hash(temp, strlen(temp), &cost, r.hash, sizeof r.hash) != 0 ||
	    kenpo_gentime_format(spec.expiry, 0, r.expiry, sizeof r.expiry) != 0)
		goto done;
	rc = member_update(rq, m, reset_build, &r);
	if (rc != KENPO_RES_OK) {
		rc = rc == KENPO_RES_NOTFOUND ? KENPO_RES_OK : rc;
		goto done;
	}
	/* The entry as last read: member_update may have read it again. */
	vars[0].value = member_get(m, MA_UID);
	spec.member = m->e->dn;
	(void)token_void_member(rq, soc, m->e->dn, KENPO_TOKEN_RESET);
	rc = token_mail(rq, soc, &spec, KENPO_MAIL_RESET, soc->reset_url, soc->reset_validity,
			vars, 2, addr);
	if (rc != KENPO_RES_OK)
		reset_withdraw(rq, m, &r);
	else
		reset_audit(rq, m, addr);
done:
	kenpo_wipe(temp, sizeof temp);
	kenpo_wipe(&r, sizeof r);
	return rc;
}

/* The registered members of addr in soc, into *res. */
static int
reset_members(struct request *rq, const struct kenpo_society *soc, const char *addr,
	      struct myldap_result **res)
{
	char esc[3 * FLOW_ADDRESS_MAX + 1], filter[3 * sizeof esc + 256];

	if (myldap_escape(addr, strlen(addr), esc, sizeof esc) != 0)
		return KENPO_RES_INTERNAL;
	(void)snprintf(filter, sizeof filter,
		       "(&" KENPO_FILTER_MEMBER "(" KENPO_AT_STATE "=" KENPO_STATE_REGISTERED
		       ")" KENPO_FILTER_NOT_DISABLED "(|(" KENPO_AT_MAIL1 "=%s)(" KENPO_AT_MAIL2
		       "=%s)(" KENPO_AT_MAIL3 "=%s)))",
		       esc, esc, esc);
	return member_search(rq, soc, filter, RESET_MEMBERS_MAX, res);
}

/* Whether the society's and the address's caps let this request through. */
static int
reset_allowed(struct request *rq, const struct kenpo_society *soc, const char *addr, int *allowed)
{
	int rc = rate_take(rq, soc, "reset-all", "", soc->reset_total_per_hour, 3600, allowed);

	if (rc == KENPO_RES_OK && *allowed)
		rc = rate_take(rq, soc, "reset", addr, soc->reset_per_hour, 3600, allowed);
	if (rc == KENPO_RES_OK && !*allowed)
		log_msg(LOG_INFO, "no reset mailed (rate limit)");
	return rc;
}

static int
reset_send(struct request *rq, const struct kenpo_society *soc, const char *addr)
{
	struct myldap_result *res = NULL;
	struct member m;
	size_t i;
	int rc, r, allowed = 0, sent = 0;

	rc = reset_allowed(rq, soc, addr, &allowed);
	if (rc == KENPO_RES_OK && allowed)
		rc = reset_members(rq, soc, addr, &res);
	/* A mail that fails for one member (logged by the mailer) does not
	 * keep the others who share the address from theirs. */
	for (i = 0; rc == KENPO_RES_OK && res != NULL && i < res->nentries; i++) {
		member_of(soc, &res->entries[i], &m);
		r = myldap_nvalues(m.e, MA_UID) == 1 ? reset_one(rq, &m, addr) : KENPO_RES_OK;
		member_release(&m);
		sent += r == KENPO_RES_OK;
		if (r != KENPO_RES_OK && r != KENPO_RES_MAIL_FAILED)
			rc = r;
	}
	if (rc == KENPO_RES_OK && sent == 0) {
		if (allowed)
			log_msg(LOG_INFO,
				"no reset mailed (no registered member has the address)");
		reset_decoy(rq, soc, addr);
	}
	myldap_result_free(res);
	return rc;
}

int
selfsvc_reset_request(struct request *rq, struct kenpo_buf *in, struct kenpo_buf *out)
{
	const struct kenpo_config *cfg = rq->kd->cfg;
	char society[FLOW_TEXT_MAX], addr[FLOW_TEXT_MAX], esc[LOG_ESCAPE_MAX];
	const struct kenpo_society *soc;
	int toolong = 0, rc = KENPO_RES_OK;
	size_t i;

	flow_take(in, society, sizeof society, &toolong);
	flow_take(in, addr, sizeof addr, &toolong);
	if (kenpo_frame_close(in) != 0)
		return KENPO_RES_BADREQ;
	log_setrequest("reset request society=%.40s", log_escape(society, strlen(society), esc));
	soc = society[0] != '\0' ? kenpo_config_society(cfg, society) : NULL;
	if (society[0] != '\0' && soc == NULL)
		return flow_badvalue(out, "society");
	if (toolong || !flow_address_ok(addr))
		return flow_badvalue(out, "address");
	/* No society named: the login page serves every society (「利用可能な
	 * 組合」), so the address is looked for in each. */
	for (i = 0; i < cfg->nsocieties && rc == KENPO_RES_OK; i++)
		if (soc == NULL || soc == &cfg->societies[i])
			rc = reset_send(rq, &cfg->societies[i], addr);
	return rc == KENPO_RES_MAIL_FAILED ? KENPO_RES_OK : rc;
}

/* ---- RESET_OPEN ---- */

static void
reset_open_audit(const struct request *rq, const struct member *m)
{
	char uid[24];
	struct log_kv kv[3] = { { "member", m->e->dn },
				{ "login", member_get(m, MA_UID) },
				{ "caller_uid", uid } };

	(void)snprintf(uid, sizeof uid, "%lu", (unsigned long)rq->peer_uid);
	log_audit("reset.open", kv, 3);
}

int
selfsvc_reset_open(struct request *rq, struct kenpo_buf *in, struct kenpo_buf *out)
{
	char text[FLOW_TEXT_MAX];
	struct member m = { NULL, NULL, NULL, 0 };
	struct token t;
	int rc;

	if (flow_take_token(in, text, sizeof text, "reset link") != KENPO_RES_OK)
		return KENPO_RES_BADREQ;
	rc = token_get(rq, text, KENPO_TOKEN_RESET, &t);
	kenpo_wipe(text, sizeof text);
	if (rc == KENPO_RES_OK)
		rc = member_load_dn(rq, t.member, &m);
	if (rc == KENPO_RES_NOTFOUND || (rc == KENPO_RES_OK && member_get(&m, MA_UID) == NULL))
		rc = KENPO_RES_TOKEN_INVALID;
	if (rc == KENPO_RES_OK)
		rc = token_consume(rq, &t);
	if (rc == KENPO_RES_OK) {
		reset_open_audit(rq, &m);
		kenpo_put_cstring(out, member_get(&m, MA_UID));
		kenpo_put_int32(out, (int32_t)kenpo_ms_to_secs(member_time(&m, MA_TEMP_EXPIRY) -
							       kenpo_gentime_now()));
	}
	member_release(&m);
	return rc;
}
