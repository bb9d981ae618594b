/*
 * elfcheck.h - what a built module exports and needs, read from its ELF
 * file (no binutils needed), for the dlopen tests of the NSS and PAM
 * modules (pam-u2f's dlsym_check).  Failures are cmocka assertions.
 */
#ifndef KENPO_TEST_ELFCHECK_H
#define KENPO_TEST_ELFCHECK_H

#include <stddef.h>

/* Every symbol the object at `path` defines in its dynamic symbol table is
 * a function whose name starts with `prefix`, and each of expected[0..n)
 * is among them. */
void elfcheck_exports_only(const char *path, const char *prefix, const char *const *expected,
			   size_t n);

/* Call cb with each DT_NEEDED library name of the object at `path`. */
void elfcheck_each_needed(const char *path, void (*cb)(const char *name, void *arg), void *arg);

/* The path of the built module FILE, $KENPO_BUILDDIR/.libs/FILE, in out.
 * 0, or -1 (said on stderr) when KENPO_BUILDDIR is not set. */
int elfcheck_module_path(const char *file, char *out, size_t outsz);

/* True if the base name of `path` is a library the modules must never
 * load: LDAP, TLS, curl or libsodium. */
int elfcheck_is_forbidden(const char *path);

#endif
