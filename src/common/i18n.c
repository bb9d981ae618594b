/*
 * i18n.c - messages in Japanese and English through glibc's gettext.
 *
 * A Japanese lookup switches only the calling thread to a private
 * ja_JP.UTF-8 locale (uselocale) for the length of one dgettext() call, so
 * the host process's locale, which kenpo does not own inside sshd or a web
 * server, is never touched.
 */
#include <autoconfig.h>

#include "i18n.h"

#include <libintl.h>
#include <locale.h>
#include <pthread.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct lang_info {
	const char *name;
	enum kenpo_lang lang;
};

static const struct lang_info langs[] = {
	{ "ja", KENPO_LANG_JA },
	{ "en", KENPO_LANG_EN },
};

/* Names tried for the Japanese locale: the canonical one and the name
 * glibc's own normalisation gives it. */
static const char *const ja_locale_names[] = { "ja_JP.UTF-8", "ja_JP.utf8" };

static pthread_once_t ja_once = PTHREAD_ONCE_INIT;
static locale_t ja_locale = (locale_t)0;

static int
ascii_lower(int c)
{
	return c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c;
}

static int
ascii_alnum(int c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

/* What may follow the language in a locale name: "_JP", ".UTF-8", "@euro"
 * or a BCP 47 "-JP", and then only name characters. */
static int
valid_suffix(const char *s)
{
	if (*s == '\0')
		return 1;
	if (strchr("_.@-", *s) == NULL || s[1] == '\0')
		return 0;
	for (s++; *s != '\0'; s++) {
		if (!ascii_alnum((unsigned char)*s) && strchr("_.@-", *s) == NULL)
			return 0;
	}
	return 1;
}

int
kenpo_lang_parse(const char *s, enum kenpo_lang *out)
{
	char code[3];

	if (s == NULL || out == NULL || s[0] == '\0' || s[1] == '\0')
		return -1;
	/* Lower-cased by hand: strcasecmp() follows the host's locale. */
	code[0] = (char)ascii_lower((unsigned char)s[0]);
	code[1] = (char)ascii_lower((unsigned char)s[1]);
	code[2] = '\0';
	if (!valid_suffix(s + 2))
		return -1;
	for (size_t i = 0; i < sizeof langs / sizeof langs[0]; i++) {
		if (strcmp(code, langs[i].name) == 0) {
			*out = langs[i].lang;
			return 0;
		}
	}
	return -1;
}

const char *
kenpo_lang_name(enum kenpo_lang lang)
{
	for (size_t i = 0; i < sizeof langs / sizeof langs[0]; i++) {
		if (langs[i].lang == lang)
			return langs[i].name;
	}
	return NULL;
}

/* The catalogue directory.  $KENPO_LOCALEDIR is honoured only in a process
 * that runs with its own identity: secure_getenv() covers set-id programs,
 * the uid/gid comparison covers a process that changed only its effective
 * ids after exec (a PAM module inside such a program must not let the
 * caller's environment pick the text it shows). */
static const char *
catalogue_dir(void)
{
	const char *dir = NULL;

	if (getuid() == geteuid() && getgid() == getegid())
		dir = secure_getenv("KENPO_LOCALEDIR");
	if (dir == NULL || dir[0] != '/')
		return LOCALEDIR;
	return dir;
}

static void
ja_init(void)
{
	if (bindtextdomain(KENPO_TEXTDOMAIN, catalogue_dir()) == NULL)
		return;
	/* Output UTF-8 whatever the charset of the locale in use. */
	if (bind_textdomain_codeset(KENPO_TEXTDOMAIN, "UTF-8") == NULL)
		return;
	for (size_t i = 0; i < sizeof ja_locale_names / sizeof ja_locale_names[0]; i++) {
		ja_locale = newlocale(LC_MESSAGES_MASK | LC_CTYPE_MASK, ja_locale_names[i],
				      (locale_t)0);
		if (ja_locale != (locale_t)0)
			return;
	}
}

/* A PAM module is loaded and unloaded once per PAM handle; without this,
 * a long-running process that authenticates many times would lose one
 * locale object per load. */
__attribute__((destructor)) static void
ja_fini(void)
{
	if (ja_locale != (locale_t)0) {
		freelocale(ja_locale);
		ja_locale = (locale_t)0;
	}
}

const char *
kenpo_i18n_text(enum kenpo_lang lang, const char *msgid)
{
	locale_t old;
	const char *text;

	/* dgettext("") would return the catalogue's header, not a message. */
	if (msgid == NULL || msgid[0] == '\0' || lang != KENPO_LANG_JA)
		return msgid;
	if (pthread_once(&ja_once, ja_init) != 0 || ja_locale == (locale_t)0)
		return msgid;
	old = uselocale(ja_locale);
	if (old == (locale_t)0)
		return msgid;
	text = dgettext(KENPO_TEXTDOMAIN, msgid);
	/* Restoring the locale that was in use cannot fail. */
	(void)uselocale(old);
	return text;
}
