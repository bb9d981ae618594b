/*
 * kenpo-prototab - print the protocol table of kenpo-proto.h as the
 * compiler reads it, as one JSON object, for tests/integration/
 * test_protocol.py to compare with what tests/kenpoproto.py reads from the
 * same header.
 *
 *   {"constants": {NAME: number, ...},
 *    "results": [[name, number, text code, log words], ...],
 *    "actions": [[name, number, log name, caller, lane, request signature], ...],
 *    "requests": {ACTION: [field, ...]}, "layouts": {LAYOUT: [field, ...]},
 *    "signatures": {LAYOUT: signature},
 *    "answers": {ACTION: [[result, layout], ...]}, "any": [[result, layout], ...]}
 *
 * A field is "INT name", "STR name" or "LIST ITEM name".  Not installed.
 */
#include "autoconfig.h"

#include <stdio.h>

#include "prototab.h"

static const char *const caller_names[] = { "ANYONE", "PORTAL", "ROOT" };
static const char *const lane_names[] = { "NSS", "AUTH", "SELFSERVICE", "CONTROL" };

#define NAME_F(type, name) #type " " #name,
#define NAME_L(name, item) "LIST " #item " " #name,
#define NAME_RULE(result, layout) #result, #layout,

#define LAYOUT_FIELDS(layout) \
	static const char *const layout_##layout[] = { KENPO_L_##layout(NAME_F, NAME_L) NULL };
KENPO_LAYOUTS(LAYOUT_FIELDS)

#define ACTION_FIELDS(name, number, logname, who, lane) \
	static const char *const request_##name[] = { KENPO_REQ_##name(NAME_F, NAME_L) NULL }; \
	static const char *const answers_##name[] = { KENPO_ANS_##name(NAME_RULE) NULL };
KENPO_ACTIONS(ACTION_FIELDS)

static const char *const answers_any[] = { KENPO_ANS_ANY(NAME_RULE) NULL };

static const struct named {
	const char *name;
	const char *const *list;
} layouts[] = {
#define LAYOUT_ENTRY(layout) { #layout, layout_##layout },
	KENPO_LAYOUTS(LAYOUT_ENTRY)
}, requests[] = {
#define REQUEST_ENTRY(name, number, logname, who, lane) { #name, request_##name },
	KENPO_ACTIONS(REQUEST_ENTRY)
}, answers[] = {
#define ANSWERS_ENTRY(name, number, logname, who, lane) { #name, answers_##name },
	KENPO_ACTIONS(ANSWERS_ENTRY)
};

static const struct {
	const char *name;
	long long value;
} constants[] = {
	{ "VERSION", KENPO_PROTO_VERSION },
	{ "MAX_FRAME", KENPO_PROTO_MAX_FRAME },
	{ "MAX_STRING", KENPO_PROTO_MAX_STRING },
	{ "PROFILE_PAIRS_MAX", KENPO_PROFILE_PAIRS_MAX },
	{ "TOKEN_GUIDE", KENPO_TOKEN_GUIDE },
	{ "TOKEN_IDENTITY", KENPO_TOKEN_IDENTITY },
	{ "TOKEN_RESET", KENPO_TOKEN_RESET },
	{ "TOKEN_REGISTRATION", KENPO_TOKEN_REGISTRATION },
	{ "TOKEN_TICKET", KENPO_TOKEN_TICKET },
	{ "AUTHF_SPLIT", KENPO_AUTHF_SPLIT },
	{ "AUTHF_SINGLE", KENPO_AUTHF_SINGLE },
	{ "AUTHF_TICKET", KENPO_AUTHF_TICKET },
	{ "AUTHR_MUST_CHANGE", KENPO_AUTHR_MUST_CHANGE },
	{ "PWCF_ADMIN", KENPO_PWCF_ADMIN },
	{ "PWC_SAME_AS_OLD", KENPO_PWC_SAME_AS_OLD },
};

/* A list of strings as a JSON array; `pairs` makes an array of pairs. */
static void
print_list(const char *const *list, int pairs)
{
	size_t i;

	putchar('[');
	for (i = 0; list[i] != NULL; i += pairs ? 2 : 1) {
		if (pairs)
			printf("%s[\"%s\", \"%s\"]", i > 0 ? ", " : "", list[i], list[i + 1]);
		else
			printf("%s\"%s\"", i > 0 ? ", " : "", list[i]);
	}
	putchar(']');
}

static void
print_named(const char *key, const struct named *n, size_t count, int pairs)
{
	size_t i;

	printf(", \"%s\": {", key);
	for (i = 0; i < count; i++) {
		printf("%s\"%s\": ", i > 0 ? ", " : "", n[i].name);
		print_list(n[i].list, pairs);
	}
	putchar('}');
}

int
main(void)
{
	size_t i;

	printf("{\"constants\": {");
	for (i = 0; i < sizeof constants / sizeof constants[0]; i++)
		printf("%s\"%s\": %lld", i > 0 ? ", " : "", constants[i].name,
		       constants[i].value);
	printf("}, \"results\": [");
	for (i = 0; i < kenpo_nresults; i++)
		printf("%s[\"%s\", %ld, \"%s\", \"%s\"]", i > 0 ? ", " : "",
		       kenpo_results[i].name, (long)kenpo_results[i].code, kenpo_results[i].text,
		       kenpo_results[i].words);
	printf("], \"actions\": [");
	for (i = 0; i < kenpo_nactions; i++)
		printf("%s[\"%s\", %ld, \"%s\", \"%s\", \"%s\", \"%s\"]", i > 0 ? ", " : "",
		       kenpo_actions[i].name, (long)kenpo_actions[i].code,
		       kenpo_actions[i].log_name, caller_names[kenpo_actions[i].who],
		       lane_names[kenpo_actions[i].lane], kenpo_actions[i].request);
	putchar(']');
	print_named("requests", requests, sizeof requests / sizeof requests[0], 0);
	print_named("layouts", layouts, sizeof layouts / sizeof layouts[0], 0);
	printf(", \"signatures\": {");
	for (i = 0; i < KENPO_NLAYOUTS; i++)
		printf("%s\"%s\": \"%s\"", i > 0 ? ", " : "", kenpo_layout_names[i],
		       kenpo_layout_signatures[i]);
	putchar('}');
	print_named("answers", answers, sizeof answers / sizeof answers[0], 1);
	printf(", \"any\": ");
	print_list(answers_any, 1);
	printf("}\n");
	return ferror(stdout) ? 1 : 0;
}
