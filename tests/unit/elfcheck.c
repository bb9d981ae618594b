/*
 * elfcheck.c - see elfcheck.h.
 */
#include "autoconfig.h"

#include <elf.h>
#include <link.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <cmocka.h>

#include "elfcheck.h"

static const char *const forbidden_libs[] = {
	"libldap", "liblber", "libcurl", "libsodium", "libssl", "libcrypto", "libgnutls",
};

static unsigned char *
read_file(const char *path, size_t *len)
{
	struct stat st;
	unsigned char *p;
	FILE *f = fopen(path, "rb");

	assert_non_null(f);
	assert_int_equal(fstat(fileno(f), &st), 0);
	p = malloc((size_t)st.st_size);
	assert_non_null(p);
	assert_int_equal(fread(p, 1, (size_t)st.st_size, f), (size_t)st.st_size);
	fclose(f);
	*len = (size_t)st.st_size;
	return p;
}

/* Copy section header i out of the image (no alignment assumed). */
static void
section(const unsigned char *img, size_t len, size_t i, ElfW(Shdr) *sh)
{
	ElfW(Ehdr) eh;

	memcpy(&eh, img, sizeof(eh));
	assert_true(i < eh.e_shnum);
	assert_true(eh.e_shoff + (i + 1) * sizeof(*sh) <= len);
	memcpy(sh, img + eh.e_shoff + i * eh.e_shentsize, sizeof(*sh));
	assert_true(sh->sh_type == SHT_NOBITS || sh->sh_offset + sh->sh_size <= len);
}

/* The first section of `type`, and the string table it links to. */
static void
find_section(const unsigned char *img, size_t len, uint32_t type, ElfW(Shdr) *sh,
	     ElfW(Shdr) *strtab)
{
	ElfW(Ehdr) eh;
	size_t i;

	assert_true(len >= sizeof(eh));
	memcpy(&eh, img, sizeof(eh));
	assert_memory_equal(eh.e_ident, ELFMAG, SELFMAG);
	assert_int_equal(eh.e_shentsize, sizeof(*sh));
	for (i = 0; i < eh.e_shnum; i++) {
		section(img, len, i, sh);
		if (sh->sh_type == type) {
			section(img, len, sh->sh_link, strtab);
			return;
		}
	}
	fail_msg("no section of type %u", (unsigned)type);
}

static const char *
elf_string(const unsigned char *img, const ElfW(Shdr) *strtab, size_t off)
{
	const char *s = (const char *)img + strtab->sh_offset + off;

	assert_true(off < strtab->sh_size);
	assert_non_null(memchr(s, '\0', strtab->sh_size - off));
	return s;
}

void
elfcheck_exports_only(const char *path, const char *prefix, const char *const *expected, size_t n)
{
	ElfW(Shdr) dynsym, strtab;
	ElfW(Sym) sym;
	unsigned char *img;
	size_t len, i, j, found = 0;
	const char *name;

	img = read_file(path, &len);
	find_section(img, len, SHT_DYNSYM, &dynsym, &strtab);
	for (i = 1; i < dynsym.sh_size / sizeof(sym); i++) {
		memcpy(&sym, img + dynsym.sh_offset + i * sizeof(sym), sizeof(sym));
		/* Imports, and the version node's own name, export nothing. */
		if (sym.st_shndx == SHN_UNDEF || sym.st_shndx == SHN_ABS)
			continue;
		name = elf_string(img, &strtab, sym.st_name);
		if (strncmp(name, prefix, strlen(prefix)) != 0)
			fail_msg("the module exports %s", name);
		for (j = 0; j < n; j++)
			if (strcmp(name, expected[j]) == 0)
				found++;
		assert_int_equal(ELF64_ST_TYPE(sym.st_info), STT_FUNC);
	}
	assert_int_equal(found, n);
	free(img);
}

void
elfcheck_each_needed(const char *path, void (*cb)(const char *name, void *arg), void *arg)
{
	ElfW(Shdr) dynamic, dynstr;
	ElfW(Dyn) dyn;
	unsigned char *img;
	size_t len, i;

	img = read_file(path, &len);
	find_section(img, len, SHT_DYNAMIC, &dynamic, &dynstr);
	for (i = 0; i < dynamic.sh_size / sizeof(dyn); i++) {
		memcpy(&dyn, img + dynamic.sh_offset + i * sizeof(dyn), sizeof(dyn));
		if (dyn.d_tag == DT_NULL)
			break;
		if (dyn.d_tag == DT_NEEDED)
			cb(elf_string(img, &dynstr, dyn.d_un.d_val), arg);
	}
	free(img);
}

int
elfcheck_is_forbidden(const char *path)
{
	const char *base = strrchr(path, '/');
	size_t i;

	base = base != NULL ? base + 1 : path;
	for (i = 0; i < sizeof(forbidden_libs) / sizeof(forbidden_libs[0]); i++)
		if (strncmp(base, forbidden_libs[i], strlen(forbidden_libs[i])) == 0)
			return 1;
	return 0;
}

int
elfcheck_module_path(const char *file, char *out, size_t outsz)
{
	const char *builddir = getenv("KENPO_BUILDDIR");

	if (builddir == NULL) {
		fprintf(stderr, "KENPO_BUILDDIR is not set\n");
		return -1;
	}
	snprintf(out, outsz, "%s/.libs/%s", builddir, file);
	return 0;
}
