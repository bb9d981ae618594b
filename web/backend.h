/*
 * backend.h - every call kenpo-web makes to kenpod, in one place.
 *
 * The screens ask for self-service through these functions only; none of
 * them knows the protocol.  They are built on kenpo's one client
 * (src/client/client.h: kenpo_call() and the protocol table), as the PAM
 * module and the tools are.  Logins themselves go through PAM (pamauth.h),
 * not through here.
 *
 * Each function opens its own connection to kenpod's socket, so the
 * threads of the server share nothing, and returns an enum kenpo_result
 * (KENPO_RES_OK, KENPO_RES_TOKEN_INVALID, ...) or a negative BE_E* when
 * kenpod could not be asked.  Refusals that carry details (tries left, a
 * rule mask, a field) put them into *d when d is not NULL.
 */
#ifndef KENPO_WEB_BACKEND_H
#define KENPO_WEB_BACKEND_H

#include <stddef.h>
#include <stdint.h>

enum be_error {
	BE_EUNAVAIL = -1, /* kenpod cannot be reached or did not answer */
	BE_EPROTO = -2,   /* its answer was malformed */
	BE_ETOOLONG = -3, /* a value did not fit in a request */
};

struct be_detail {
	int32_t tries_left; /* MISMATCH; -1 if not given */
	uint32_t mask;      /* POLICY: enum kenpo_rule bits (| KENPO_PWC_SAME_AS_OLD) */
	int32_t seconds;    /* LOCKED, DELAY */
	char field[64];     /* BADVALUE */
};

struct be_reg {
	char ticket[160]; /* the registration ticket */
	int32_t seconds;  /* its validity */
	char mail[256];   /* the address to prefill */
};

#define BE_PROFILE_MAX 320

/* A profile as field/value pairs (kenpo-proto.h PROFILE_GET's names). */
struct be_profile {
	size_t n;
	char *field[BE_PROFILE_MAX];
	char *value[BE_PROFILE_MAX];
};

/* kenpod's socket, and how many calls may be at kenpod at once (gate.h).
 * 0, or -1. */
int be_init(const char *socket_path, unsigned concurrency);

int be_guide_request(const char *society, const char *address, struct be_detail *d);
int be_token_check(const char *token, int *kind, int *seconds, char *masked, size_t masksz);
int be_letter_open(const char *token, const char *login, const char *temp_password,
		   struct be_reg *out, struct be_detail *d);
int be_identity_check(const char *token, const char *address, const char *dob, char *authkey,
		      size_t keysz, struct be_detail *d);
int be_identity_open(const char *token, const char *authkey, struct be_reg *out,
		     struct be_detail *d);
int be_register(const char *ticket, const char *login, const char *password, const char *mail,
		const char *nickname, char *final_login, size_t loginsz, struct be_detail *d);
int be_reset_request(const char *society, const char *address, struct be_detail *d);
int be_reset_open(const char *token, char *login, size_t loginsz, int *seconds);

/*
 * The profile session (kenpo-proto.h PROFILE_GET): the ticket of the login
 * serves every call until it has been idle for the society's session_idle
 * or session_lifetime has passed since the login, and each use keeps it
 * alive.  The profile of `login` with that ticket; *ticket takes whatever
 * ticket the answer carries.
 */
int be_profile_get(const char *login, char *ticket, size_t ticketsz, struct be_profile *out);
/* fields[i] = values[i] for i < n, all or nothing.  current_password is
 * NULL, or the member's password, which a change of an address or of
 * key_mail needs (a wrong one counts as a failed login). */
int be_profile_set(const char *login, char *ticket, size_t ticketsz, size_t n,
		   const char *const *fields, const char *const *values,
		   const char *current_password, struct be_detail *d);
/* The member logs out: the ticket is void from now on. */
int be_profile_end(const char *login, const char *ticket);
const char *be_profile_value(const struct be_profile *p, const char *field);
void be_profile_free(struct be_profile *p);

/* proof: the proof of the member's completed login (pam_kenpo's
 * KENPO_PROOF), which kenpod asks for where the society requires the key
 * (else LOGIN_REQUIRED); "" for the forced change of a temporary
 * password.  rhost: the client, for the count of wrong passwords. */
int be_password_change(const char *login, const char *old_password, const char *new_password,
		       const char *proof, const char *rhost, struct be_detail *d);

/* The newest login of the member's history (LOGIN_HISTORY, with the proof
 * of a completed login) into when, "YYYY/MM/DD HH:MM:SS" in the society's
 * zone; "" and KENPO_RES_OK when there is none (the first login).  Asked
 * before the PAM session records this login, it is the previous one. */
int be_previous_login(const char *login, const char *proof, char *when, size_t whensz);

/* Void the key pending for this login (the member left the key screen). */
int be_key_abort(const char *login, const char *password, const char *rhost);

#endif
