/*
 * ldapconn.c - the connection policy and the shared operations (see
 * ldapconn.h).
 */
#include "autoconfig.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>

#include "config.h"
#include "ldapconn.h"

int
kenpo_ldap_setup(void)
{
	int version = LDAP_VERSION3, tlsmin = LDAP_OPT_X_TLS_PROTOCOL_TLS1_2;

	/* Setting global options makes libldap initialise its global state
	 * here, in one thread.  Every connection made afterwards copies the
	 * TLS floor, and so does the default TLS context, which libldap makes
	 * on the first TLS connection without a CA file of ours. */
	if (ldap_set_option(NULL, LDAP_OPT_PROTOCOL_VERSION, &version) != LDAP_OPT_SUCCESS ||
	    ldap_set_option(NULL, LDAP_OPT_X_TLS_PROTOCOL_MIN, &tlsmin) != LDAP_OPT_SUCCESS)
		return -1;
	return 0;
}

static int
is_set(const char *s)
{
	return s != NULL && s[0] != '\0';
}

static int
set_options(LDAP *ld, const struct kenpo_ldap_params *p)
{
	struct timeval tv = { .tv_sec = p->timeout, .tv_usec = 0 };
	int version = LDAP_VERSION3, demand = LDAP_OPT_X_TLS_DEMAND;
	int tlsmin = LDAP_OPT_X_TLS_PROTOCOL_TLS1_2, newctx = 0;

	if (ldap_set_option(ld, LDAP_OPT_PROTOCOL_VERSION, &version) != LDAP_OPT_SUCCESS ||
	    ldap_set_option(ld, LDAP_OPT_NETWORK_TIMEOUT, &tv) != LDAP_OPT_SUCCESS ||
	    ldap_set_option(ld, LDAP_OPT_TIMEOUT, &tv) != LDAP_OPT_SUCCESS ||
	    ldap_set_option(ld, LDAP_OPT_RESTART, LDAP_OPT_ON) != LDAP_OPT_SUCCESS ||
	    ldap_set_option(ld, LDAP_OPT_REFERRALS, LDAP_OPT_OFF) != LDAP_OPT_SUCCESS)
		return -1;
	if (!is_set(p->ca_file))
		return 0;
	/* The connection's own TLS context (NEWCTX), made from these. */
	if (ldap_set_option(ld, LDAP_OPT_X_TLS_CACERTFILE, p->ca_file) != LDAP_OPT_SUCCESS ||
	    ldap_set_option(ld, LDAP_OPT_X_TLS_REQUIRE_CERT, &demand) != LDAP_OPT_SUCCESS ||
	    ldap_set_option(ld, LDAP_OPT_X_TLS_PROTOCOL_MIN, &tlsmin) != LDAP_OPT_SUCCESS ||
	    ldap_set_option(ld, LDAP_OPT_X_TLS_NEWCTX, &newctx) != LDAP_OPT_SUCCESS)
		return -1;
	return 0;
}

/* A CA file with a plain ldap:// URI can only mean StartTLS: the
 * connection must not go on in clear text. */
static int
wants_starttls(const struct kenpo_ldap_params *p)
{
	return is_set(p->ca_file) && strncasecmp(p->uri, "ldap://", 7) == 0;
}

static int
do_bind(LDAP *ld, const struct kenpo_ldap_params *p)
{
	struct berval cred = { 0, NULL };

	/* EXTERNAL takes an empty initial response: with no credentials at
	 * all slapd answers saslBindInProgress and waits for one. */
	if (!is_set(p->bind_dn)) {
		cred.bv_val = (char *)(uintptr_t) "";
		return ldap_sasl_bind_s(ld, NULL, "EXTERNAL", &cred, NULL, NULL, NULL);
	}
	/* libldap does not keep or change the credential. */
	cred.bv_val = (char *)(uintptr_t)(p->password != NULL ? p->password : "");
	cred.bv_len = strlen(cred.bv_val);
	return ldap_sasl_bind_s(ld, p->bind_dn, LDAP_SASL_SIMPLE, &cred, NULL, NULL, NULL);
}

int
kenpo_ldap_open(const struct kenpo_ldap_params *p, LDAP **out, char *err, size_t errsz)
{
	LDAP *ld = NULL;
	int rc;

	rc = ldap_initialize(&ld, p->uri);
	if (rc != LDAP_SUCCESS) {
		snprintf(err, errsz, "%.300s: %s", p->uri, ldap_err2string(rc));
		goto done;
	}
	if (set_options(ld, p) != 0) {
		rc = LDAP_LOCAL_ERROR;
		snprintf(err, errsz, "%.300s: cannot set the connection options", p->uri);
		goto done;
	}
	if (wants_starttls(p) && (rc = ldap_start_tls_s(ld, NULL, NULL)) != LDAP_SUCCESS) {
		snprintf(err, errsz, "StartTLS: %s", ldap_err2string(rc));
		goto done;
	}
	rc = do_bind(ld, p);
	if (rc != LDAP_SUCCESS) {
		if (is_set(p->bind_dn))
			snprintf(err, errsz, "bind as %.200s: %s", p->bind_dn,
				 ldap_err2string(rc));
		else
			snprintf(err, errsz, "SASL EXTERNAL bind: %s", ldap_err2string(rc));
		goto done;
	}
	*out = ld;
	ld = NULL;
done:
	if (ld != NULL)
		ldap_unbind_ext_s(ld, NULL, NULL);
	return rc;
}

int
kenpo_ldap_escape(const char *value, size_t len, char *out, size_t outsz)
{
	struct berval in, esc = { 0, NULL };
	int rc = -1;

	in.bv_val = (char *)(uintptr_t)value;
	in.bv_len = len;
	if (ldap_bv2escaped_filter_value(&in, &esc) != LDAP_SUCCESS)
		goto done;
	if (esc.bv_len >= outsz)
		goto done;
	if (esc.bv_len > 0)
		memcpy(out, esc.bv_val, esc.bv_len);
	out[esc.bv_len] = '\0';
	rc = 0;
done:
	ber_memfree(esc.bv_val);
	return rc;
}

/* ---- modify-increment with pre-read ---- */

/* The pre-read request control: an AttributeSelection of one attribute. */
static int
preread_control(const char *attr, LDAPControl **out)
{
	BerElement *ber = ber_alloc_t(LBER_USE_DER);
	char *attrs[2] = { (char *)(uintptr_t)attr, NULL };
	struct berval bv;
	int rc = LDAP_NO_MEMORY;

	if (ber == NULL)
		return rc;
	if (ber_printf(ber, "{v}", attrs) != -1 && ber_flatten2(ber, &bv, 0) == 0)
		rc = ldap_control_create(LDAP_CONTROL_PRE_READ, 1, &bv, 1, out);
	ber_free(ber, 1);
	return rc;
}

/* The value of attr in a pre-read response control (a SearchResultEntry). */
static int
parse_preread(LDAPControl *c, const char *attr, unsigned long long *out)
{
	BerElement *ber = ber_init(&c->ldctl_value);
	struct berval dn, type;
	BerVarray vals = NULL;
	char num[32];
	int ret = -1;

	if (ber == NULL)
		return -1;
	if (ber_scanf(ber, "{m{{m[W]}}}", &dn, &type, &vals) == LBER_ERROR || vals == NULL ||
	    vals[0].bv_val == NULL || vals[0].bv_len >= sizeof num ||
	    type.bv_len != strlen(attr) || strncasecmp(type.bv_val, attr, type.bv_len) != 0)
		goto done;
	memcpy(num, vals[0].bv_val, vals[0].bv_len);
	num[vals[0].bv_len] = '\0';
	if (kenpo_parse_ulong(num, 0, 0xffffffffULL, out) != 0)
		goto done;
	ret = 0;
done:
	ber_bvarray_free(vals);
	ber_free(ber, 1);
	return ret;
}

/* Wait for the increment's result and read the pre-read value. */
static int
increment_result(LDAP *ld, int msgid, const char *attr, long timeout, unsigned long long *before,
		 char *diag, size_t diagsz)
{
	struct timeval tv = { .tv_sec = timeout, .tv_usec = 0 };
	LDAPMessage *res = NULL;
	LDAPControl **ctrls = NULL, *c;
	char *text = NULL;
	int code = LDAP_OTHER, type;

	type = ldap_result(ld, msgid, LDAP_MSG_ALL, &tv, &res);
	if (type <= 0) {
		if (type == 0)
			return LDAP_TIMEOUT;
		(void)ldap_get_option(ld, LDAP_OPT_RESULT_CODE, &code);
		return code != LDAP_SUCCESS ? code : LDAP_SERVER_DOWN;
	}
	if (ldap_parse_result(ld, res, &code, NULL, &text, NULL, &ctrls, 1) != LDAP_SUCCESS)
		code = LDAP_DECODING_ERROR;
	if (text != NULL && text[0] != '\0')
		snprintf(diag, diagsz, "%.200s", text);
	if (code == LDAP_SUCCESS &&
	    ((c = ldap_control_find(LDAP_CONTROL_PRE_READ, ctrls, NULL)) == NULL ||
	     parse_preread(c, attr, before) != 0))
		code = LDAP_DECODING_ERROR;
	ldap_memfree(text);
	ldap_controls_free(ctrls);
	return code;
}

int
kenpo_ldap_increment(LDAP *ld, const char *dn, const char *attr, unsigned long by, long timeout,
		     unsigned long long *before, char *diag, size_t diagsz)
{
	LDAPControl *pre = NULL, *ctrls[2] = { NULL, NULL };
	char num[32], *vals[2] = { num, NULL };
	LDAPMod mod = { LDAP_MOD_INCREMENT, (char *)(uintptr_t)attr, { vals } };
	LDAPMod *mods[2] = { &mod, NULL };
	int rc, msgid;

	if (diagsz > 0)
		diag[0] = '\0';
	(void)snprintf(num, sizeof num, "%lu", by);
	rc = preread_control(attr, &pre);
	if (rc != LDAP_SUCCESS)
		return rc;
	ctrls[0] = pre;
	rc = ldap_modify_ext(ld, dn, mods, ctrls, NULL, &msgid);
	if (rc == LDAP_SUCCESS)
		rc = increment_result(ld, msgid, attr, timeout, before, diag, diagsz);
	ldap_control_free(pre);
	return rc;
}
