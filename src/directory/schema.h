/*
 * schema.h - the names kenpo gives the directory: every attribute and
 * object class it reads or writes, the parts of a society's subtree, and
 * the values of its enumerated attributes.
 *
 * kenpod and kenpo-admin name attributes only through these macros, so a
 * name is spelled once.  They are string literals, so that filters can be
 * put together at compile time:
 *
 *     "(&(" KENPO_AT_OBJECTCLASS "=" KENPO_OC_MEMBER ")(" KENPO_AT_UID "=%s))"
 *
 * The kenpo* names are defined in schema/kenpo.schema; the others come from
 * the standard schemas (core, cosine, inetorgperson, nis) and from
 * ppolicy.  tests/integration/test_foundation.py checks that every name
 * here exists in the schemas slapd loads, and that every name of
 * schema/kenpo.schema is here.
 */
#ifndef KENPO_DIRECTORY_SCHEMA_H
#define KENPO_DIRECTORY_SCHEMA_H

/* ---- object classes ---- */
#define KENPO_OC_MEMBER "kenpoMember"
#define KENPO_OC_HOUSEHOLD "kenpoHouseholdMember"
#define KENPO_OC_TOKEN "kenpoToken"
#define KENPO_OC_RATE_COUNTER "kenpoRateCounter"
#define KENPO_OC_LOGIN_FAILURES "kenpoLoginFailures"
#define KENPO_OC_COUNTER "kenpoCounter"
#define KENPO_OC_SOCIETY "kenpoSociety"
/* standard classes a member or a society entry is made of */
#define KENPO_OC_PERSON "inetOrgPerson"
#define KENPO_OC_POSIX "posixAccount"
#define KENPO_OC_OU "organizationalUnit"
#define KENPO_OC_ROLE "organizationalRole"
#define KENPO_OC_PWDPOLICY "pwdPolicy"

/* ---- a member (kenpoMember) ---- */
#define KENPO_AT_NUMBER "kenpoMemberNumber" /* the RDN: stable, never the login ID */
#define KENPO_AT_STATE "kenpoState"         /* KENPO_STATE_* */
#define KENPO_AT_DISABLED "kenpoDisabled"
#define KENPO_AT_NICKNAME "kenpoNickname"
#define KENPO_AT_MAIL1 "kenpoMail1"
#define KENPO_AT_MAIL2 "kenpoMail2"
#define KENPO_AT_MAIL3 "kenpoMail3"
#define KENPO_AT_ROSTER_MAIL "kenpoRosterMail"
#define KENPO_AT_BIRTH "kenpoDateOfBirth"
#define KENPO_AT_KEY_REQUIRED "kenpoKeyRequired" /* obsolete: kenpod only deletes it */
#define KENPO_AT_KEY_HASH "kenpoKeyHash"
#define KENPO_AT_KEY_EXPIRY "kenpoKeyExpiry"
#define KENPO_AT_KEY_TRIES "kenpoKeyTries"
#define KENPO_AT_KEY_SENT_AT "kenpoKeySentAt"
#define KENPO_AT_KEY_TXN "kenpoKeyTxn"
#define KENPO_AT_KEY_MAIL "kenpoKeyMail" /* 1, 2 or 3: where the key goes */
#define KENPO_AT_TEMP_PASSWORD "kenpoTempPassword"
#define KENPO_AT_TEMP_EXPIRY "kenpoTempPasswordExpiry"
#define KENPO_AT_TEMP_TRIES "kenpoTempPasswordTries"
#define KENPO_AT_MUST_CHANGE "kenpoMustChange"
#define KENPO_AT_FAILURES "kenpoAuthFailures"
#define KENPO_AT_FAIL_TIME "kenpoAuthFailTime"
#define KENPO_AT_LOCKED_UNTIL "kenpoLockedUntil"
#define KENPO_AT_LAST_LOGIN "kenpoLastLogin"
/* smart lockout (lockout.h): unfamiliar sources, the pool, keys */
#define KENPO_AT_AUTH_SOURCE "kenpoAuthSource"         /* multi-valued */
#define KENPO_AT_FAMILIAR_SOURCE "kenpoFamiliarSource" /* multi-valued */
#define KENPO_AT_UNFAMILIAR_FAILURES "kenpoUnfamiliarFailures"
#define KENPO_AT_UNFAMILIAR_FAIL_TIME "kenpoUnfamiliarFailTime"
#define KENPO_AT_UNFAMILIAR_LOCKED_UNTIL "kenpoUnfamiliarLockedUntil"
#define KENPO_AT_KEY_FAILURES "kenpoKeyFailures"
#define KENPO_AT_KEY_FAIL_WINDOW "kenpoKeyFailWindow"
#define KENPO_AT_KEY_MAILS "kenpoKeyMails"
#define KENPO_AT_KEY_MAIL_WINDOW "kenpoKeyMailWindow"
#define KENPO_AT_KEY_SOURCE "kenpoKeySource"
#define KENPO_AT_LOGIN_HISTORY "kenpoLoginHistory" /* multi-valued */
#define KENPO_AT_NOTIFY_MEDICAL "kenpoNotifyMedical"
#define KENPO_AT_NOTIFY_GENERIC "kenpoNotifyGeneric"
#define KENPO_AT_NOTIFY_MAGAZINE "kenpoNotifyMagazine"
#define KENPO_AT_NOTIFY_DOCUMENTS "kenpoNotifyDocuments"
#define KENPO_AT_NOTIFY_APPLICATIONS "kenpoNotifyApplications"
#define KENPO_AT_DISCLOSE_MEDICAL "kenpoDiscloseMedical"
#define KENPO_AT_DISCLOSE_GENERIC "kenpoDiscloseGeneric"
/* a household member (kenpoHouseholdMember), a child entry of the member */
#define KENPO_AT_HOUSEHOLD_INDEX "kenpoHouseholdIndex" /* "01".."99", the RDN */

/* standard attributes of a member */
#define KENPO_AT_OBJECTCLASS "objectClass"
#define KENPO_AT_UID "uid" /* the login ID */
#define KENPO_AT_UIDNUMBER "uidNumber"
#define KENPO_AT_GIDNUMBER "gidNumber"
#define KENPO_AT_HOME "homeDirectory"
#define KENPO_AT_SHELL "loginShell"
#define KENPO_AT_CN "cn" /* the real name */
#define KENPO_AT_SN "sn"
#define KENPO_AT_OU "ou"
#define KENPO_AT_DISPLAY_NAME "displayName"
#define KENPO_AT_DESCRIPTION "description"
#define KENPO_AT_PASSWORD "userPassword" /* {ARGON2} */
/* where the registration letter goes (inetOrgPerson) */
#define KENPO_AT_POSTAL_CODE "postalCode"       /* 〒 NNN-NNNN */
#define KENPO_AT_POSTAL_ADDRESS "postalAddress" /* PostalAddress syntax: '$' and '\' escaped */
#define KENPO_AT_EMPLOYER "o"                   /* the employer (事業所) */
#define KENPO_AT_OFFICE "departmentNumber"      /* the employer's office code */
/* ppolicy's operational attributes */
#define KENPO_AT_PWD_LOCKED "pwdAccountLockedTime"
#define KENPO_AT_PWD_FAILURES "pwdFailureTime"
#define KENPO_AT_PWD_RESET "pwdReset" /* TRUE: the password must be changed */

/* ---- tokens, rate counters, the uid counter, the society ---- */
#define KENPO_AT_TOKEN_HASH "kenpoTokenHash" /* the RDN of a token */
#define KENPO_AT_TOKEN_KIND "kenpoTokenKind"
#define KENPO_AT_TOKEN_EXPIRY "kenpoTokenExpiry"
#define KENPO_AT_TOKEN_MAIL "kenpoTokenMail"
#define KENPO_AT_TOKEN_MEMBER "kenpoTokenMember"
#define KENPO_AT_TOKEN_TRIES "kenpoTokenTries"
#define KENPO_AT_AUTHKEY_HASH "kenpoAuthKeyHash"
#define KENPO_AT_TOKEN_NOT_AFTER "kenpoTokenNotAfter" /* a ticket's absolute end */
#define KENPO_AT_RATE_KEY "kenpoRateKey"              /* the RDN of a rate counter */
#define KENPO_AT_RATE_COUNT "kenpoRateCount"
#define KENPO_AT_RATE_WINDOW "kenpoRateWindow"
#define KENPO_AT_NEXT_UID "kenpoNextUid"
#define KENPO_AT_SOCIETY_ID "kenpoSocietyId"

/* ---- the subtree of a society (schema/README.md) ---- */
#define KENPO_RDN_MEMBERS "ou=members"
#define KENPO_RDN_TOKENS "ou=tokens"
#define KENPO_RDN_RATES "ou=rates"
#define KENPO_RDN_UID_COUNTER "cn=uidNumber"

/* ---- values ---- */
#define KENPO_STATE_ISSUED "issued" /* pre-issued, not registered yet */
#define KENPO_STATE_REGISTERED "registered"
#define KENPO_TRUE "TRUE"
#define KENPO_FALSE "FALSE"

/* ---- filters every part uses ---- */
#define KENPO_FILTER_MEMBER "(" KENPO_AT_OBJECTCLASS "=" KENPO_OC_MEMBER ")"
#define KENPO_FILTER_HOUSEHOLD "(" KENPO_AT_OBJECTCLASS "=" KENPO_OC_HOUSEHOLD ")"
#define KENPO_FILTER_TOKEN "(" KENPO_AT_OBJECTCLASS "=" KENPO_OC_TOKEN ")"
#define KENPO_FILTER_NOT_DISABLED "(!(" KENPO_AT_DISABLED "=" KENPO_TRUE "))"

#endif
