/*
 * letterpdf.h - the print-ready registration letters
 * 「健康マイポータル(健康ポータルサイト)への登録について」 as a PDF file,
 * one A4 page per member.
 *
 * The top of each page is the address block of a window envelope
 * (長形3号, the page folded in three; marks on the left edge show the
 * folds): 〒, the address, the employer and its office code, the member's
 * name and number; the society's name is on the right.  The wording is
 * the society's letter template (lettertext.h).
 *
 * Each page names the society and the member, gives the pre-issued login
 * ID and the temporary password in a large fixed-width face, each also
 * spelled out character by character (letters_spell: 0 ゼロ, O オー), and
 * explains the registration: STEP 1 仮登録 through the society's homepage
 * (login_url, 手順A) or by an empty mail to entry_address (手順B, with a QR
 * code of mailto:entry_address for a phone's camera), STEP 2 the mail
 * received, STEP 3 the first login, and the rules of the new login ID
 * (【注1】) and password (【注2】).  A society with language = en gets the
 * same letter in English.
 *
 * The file holds temporary passwords: it is created with mode 0600, never
 * over an existing file, and removed again when it cannot be completed.
 */
#ifndef KENPO_ADMIN_LETTERPDF_H
#define KENPO_ADMIN_LETTERPDF_H

#include <stddef.h>

#include "config.h"
#include "letters.h"

struct letterpdf;

/* Create path (O_EXCL, mode 0600) for the letters of society soc, which
 * must outlive the writer (its name, login_url, entry_address (optional),
 * lang and timezone are used).  The writer, or NULL with err filled. */
struct letterpdf *letterpdf_open(const char *path, const struct kenpo_society *soc, char *err,
				 size_t errsz);

/* Add the page of one member: x->name, number, nickname, login, password,
 * expiry ("YYYY-MM-DD HH:MM UTC", shown in the society's time zone, or ""
 * for none) and the address (postal_code, address, employer, office_code;
 * NULL or "" for none) are used; line is not.  0, or -1 with err filled
 * (the writer is then spoiled: close it). */
int letterpdf_add(struct letterpdf *p, const struct letter *x, char *err, size_t errsz);

/* A cover page for the letters xs[0..n) of one employer, which follow it:
 * the employer's address block, its office code, the number of letters,
 * and their members' numbers and names (no password).  0, or -1 with err
 * filled (the writer is spoiled). */
int letterpdf_cover(struct letterpdf *p, const struct letter *const *xs, size_t n, char *err,
		    size_t errsz);

/* The number of letters added so far (cover pages not counted). */
unsigned long letterpdf_count(const struct letterpdf *p);

/* Finish the file and sync it to the disk.  0, or -1 with err filled when
 * the file could not be completed (it is then removed).  A writer spoiled
 * by letterpdf_add, or with no page at all, removes the file too and
 * returns -1.  p is freed in any case; NULL is allowed (returns 0). */
int letterpdf_close(struct letterpdf *p, char *err, size_t errsz);

/* Give up: release p and remove the file.  NULL is allowed. */
void letterpdf_abort(struct letterpdf *p);

#endif
