/*
 * fuzz_config.c - libFuzzer target for the reader of kenpod.conf
 * (src/common/config.c, config-check.c) and of password files
 * (src/common/readfile.c).
 *
 * The input is the text of a configuration file, given to
 * kenpo_config_parse, the code kenpo_config_load runs after reading the
 * file.  Whatever the bytes, the parser must not read outside them, must
 * free what it allocated, and must answer either a configuration that
 * keeps the promises of config.h (at least one society, each found by its
 * id, every uid range in order) or one error line naming the file, with
 * no control character that could forge a second log line.  The same
 * bytes are also checked as a password file (kenpo_secret_line_len) and,
 * when short, as a duration, a number and a size.
 */
#include "autoconfig.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "readfile.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_error(const char *err)
{
	static const char name[] = "fuzz.conf";
	const unsigned char *p;

	if (strncmp(err, name, sizeof name - 1) != 0)
		abort();
	for (p = (const unsigned char *)err; *p != '\0'; p++)
		if (*p < 0x20 || *p == 0x7f)
			abort();
}

static void
check_config(const struct kenpo_config *cfg)
{
	const struct kenpo_society *soc;
	size_t i;

	if (cfg->nsocieties == 0 || cfg->nsocieties > KENPO_SOCIETY_MAX)
		abort();
	for (i = 0; i < cfg->nsocieties; i++) {
		soc = &cfg->societies[i];
		if (kenpo_config_society(cfg, soc->id) != soc)
			abort();
		if (soc->uid_min >= soc->uid_max || soc->name == NULL || soc->base == NULL)
			abort();
	}
}

/* The small parsers of the tools' options, on an input that fits one. */
static void
check_numbers(const char *s, size_t size)
{
	unsigned long long u = 0;
	size_t bytes = 0;
	long secs = 0;

	if (size > 64)
		return;
	if (kenpo_parse_duration(s, 0, 365L * 86400, &secs) == 0 &&
	    (secs < 0 || secs > 365L * 86400))
		abort();
	if (kenpo_parse_ulong(s, 1, 1000, &u) == 0 && (u < 1 || u > 1000))
		abort();
	if (kenpo_parse_size(s, 8192, (size_t)1 << 32, &bytes) == 0 &&
	    (bytes < 8192 || bytes > (size_t)1 << 32))
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kenpo_config *cfg = NULL;
	char err[512];
	char *copy;
	size_t len = 0;

	/* An exact-size copy, so that AddressSanitizer sees a read past the
	 * end: the parser must not need a NUL after the text. */
	copy = malloc(size > 0 ? size : 1);
	if (copy == NULL)
		return 0;
	memcpy(copy, data, size);
	err[0] = '\0';
	if (kenpo_config_parse("fuzz.conf", copy, size, &cfg, err, sizeof err) == 0) {
		check_config(cfg);
		kenpo_config_free(cfg);
	} else {
		check_error(err);
	}
	free(copy);

	/* The password file and the numbers, NUL-terminated as read. */
	copy = malloc(size + 1);
	if (copy == NULL)
		return 0;
	memcpy(copy, data, size);
	copy[size] = '\0';
	if (kenpo_secret_line_len(copy, size, &len) == 0 &&
	    (len == 0 || len > size || strcspn(copy, "\r\n") != len))
		abort();
	check_numbers(copy, size);
	free(copy);
	return 0;
}
