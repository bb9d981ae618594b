/*
 * i18n.h - messages in Japanese and English through gettext.
 *
 * The language is chosen per call (a PAM module option, a society's
 * setting), never from the host process's environment: sshd runs in the C
 * locale, and kenpod serves several societies with different languages.
 * The text domain is "kenpo"; catalogues live in LOCALEDIR/<lang>/LC_MESSAGES.
 */
#ifndef KENPO_I18N_H
#define KENPO_I18N_H

#define KENPO_TEXTDOMAIN "kenpo"
#define N_(s) (s)

enum kenpo_lang { KENPO_LANG_JA = 0, KENPO_LANG_EN = 1 };

/* Parse "ja" / "en" (also "ja_JP", "en_US.UTF-8", case-insensitive
 * language part).  Returns 0 and sets *out, or -1. */
int kenpo_lang_parse(const char *s, enum kenpo_lang *out);
const char *kenpo_lang_name(enum kenpo_lang lang);

/* Translate msgid into `lang`.  English returns msgid itself.  Japanese
 * uses dgettext(KENPO_TEXTDOMAIN) under a thread-local ja_JP.UTF-8 locale
 * (uselocale), so it is safe in threads and leaves the host's locale alone;
 * if that locale or the catalogue is missing, msgid is returned.
 * The directory is LOCALEDIR, or $KENPO_LOCALEDIR when set and the process
 * is not set-id (tests use the build tree's catalogue). */
const char *kenpo_i18n_text(enum kenpo_lang lang, const char *msgid);

#endif
