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
 * if that locale or the catalogue is missing, msgid is returned.  The text
 * is UTF-8 and static: never free it.  NULL and "" are returned as given.
 * The directory is LOCALEDIR, or $KENPO_LOCALEDIR when it is an absolute
 * path and the process runs with its own uid and gid (tests use the build
 * tree's catalogue); the locale is found as glibc finds it ($LOCPATH, which
 * glibc ignores in set-id programs, else the installed locales).
 *
 * One thing of the environment does count: glibc's gettext gives the GNU
 * variable $LANGUAGE precedence over the thread's locale and offers no way
 * around it short of changing the environment, which a library inside
 * another program may not do.  With LANGUAGE unset, empty, or listing "ja"
 * before any other language that has a kenpo catalogue, Japanese comes
 * back.  With, say, LANGUAGE=en_US:en (some installers put it in
 * /etc/default/locale), glibc looks for an English catalogue, finds none
 * and returns msgid: the message stays correct but comes in English,
 * except for messages already translated in this process, which glibc
 * answers from its cache.  So a daemon should unsetenv("LANGUAGE") at
 * start-up, before it starts threads, and a service whose PAM stack shows
 * Japanese should not be started with LANGUAGE set. */
const char *kenpo_i18n_text(enum kenpo_lang lang, const char *msgid);

#endif
