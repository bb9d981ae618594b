/*
 * page.c - HTML output (see page.h).
 */
#include "autoconfig.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kenpo-proto.h"
#include "page.h"
#include "policy.h"

#define BUF_MAX (1024 * 1024) /* no page of the portal comes near it */

void
buf_add(struct buf *b, const char *s, size_t n)
{
	size_t cap;
	char *p;

	if (b->err)
		return;
	if (b->len + n + 1 > b->cap) {
		cap = b->cap ? b->cap : 4096;
		while (cap < b->len + n + 1)
			cap *= 2;
		if (cap > BUF_MAX || (p = realloc(b->data, cap)) == NULL) {
			b->err = 1;
			return;
		}
		b->data = p;
		b->cap = cap;
	}
	memcpy(b->data + b->len, s, n);
	b->len += n;
	b->data[b->len] = '\0';
}

void
buf_free(struct buf *b)
{
	free(b->data);
	memset(b, 0, sizeof(*b));
}

void
buf_escape(struct buf *b, const char *s)
{
	const char *start = s;
	const char *rep;

	for (; *s != '\0'; s++) {
		switch (*s) {
		case '&':
			rep = "&amp;";
			break;
		case '<':
			rep = "&lt;";
			break;
		case '>':
			rep = "&gt;";
			break;
		case '"':
			rep = "&quot;";
			break;
		case '\'':
			rep = "&#39;";
			break;
		default:
			continue;
		}
		buf_add(b, start, (size_t)(s - start));
		buf_add(b, rep, strlen(rep));
		start = s + 1;
	}
	buf_add(b, start, (size_t)(s - start));
}

void
hraw(struct req *r, const char *fmt, ...)
{
	char small[1024], *big = NULL;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(small, sizeof small, fmt, ap);
	va_end(ap);
	if (n < 0) {
		r->body.err = 1;
		return;
	}
	if ((size_t)n < sizeof small) {
		buf_add(&r->body, small, (size_t)n);
		return;
	}
	if ((big = malloc((size_t)n + 1)) == NULL) {
		r->body.err = 1;
		return;
	}
	va_start(ap, fmt);
	vsnprintf(big, (size_t)n + 1, fmt, ap);
	va_end(ap);
	buf_add(&r->body, big, (size_t)n);
	free(big);
}

void
hf(struct req *r, const char *fmt, ...)
{
	const char *p = fmt, *s;
	char num[32];
	va_list ap;

	va_start(ap, fmt);
	while (*p != '\0') {
		const char *pct = strchr(p, '%');

		if (pct == NULL) {
			buf_add(&r->body, p, strlen(p));
			break;
		}
		buf_add(&r->body, p, (size_t)(pct - p));
		p = pct + 1;
		if (*p == 's') {
			s = va_arg(ap, const char *);
			buf_escape(&r->body, s != NULL ? s : "");
		} else if (*p == 'd') {
			snprintf(num, sizeof num, "%d", va_arg(ap, int));
			buf_add(&r->body, num, strlen(num));
		} else if (*p == 'l' && p[1] == 'd') {
			snprintf(num, sizeof num, "%ld", va_arg(ap, long));
			buf_add(&r->body, num, strlen(num));
			p++;
		} else if (*p == '%') {
			buf_add(&r->body, "%", 1);
		} else {
			r->body.err = 1; /* a format this function does not know */
			break;
		}
		p++;
	}
	va_end(ap);
}

void
page_text(struct req *r, const char *s)
{
	buf_escape(&r->body, s);
}

/* ---- the frame ---- */

static void
tools(struct req *r)
{
	const char *size_m = r->s != NULL && r->s->large ? "" : " aria-pressed=\"true\"";
	const char *size_l = r->s != NULL && r->s->large ? " aria-pressed=\"true\"" : "";

	hf(r, "<nav class=\"tools\" aria-label=\"%s\">", T(r, "表示の設定", "Display"));
	form_begin(r, "prefs");
	hf(r, "<input type=\"hidden\" name=\"back\" value=\"/%s%s\">", r->sid, r->path);
	hf(r, "<span class=\"size\"><span class=\"size-label\">%s</span>",
	   T(r, "文字サイズ", "Text size"));
	hraw(r, "<button type=\"submit\" name=\"size\" value=\"m\"%s>%s</button>", size_m,
	     T(r, "中", "M"));
	hraw(r, "<button type=\"submit\" name=\"size\" value=\"l\"%s>%s</button></span>", size_l,
	     T(r, "大", "L"));
	if (r->lang == KENPO_LANG_EN)
		hraw(r,
		     "<button type=\"submit\" name=\"lang\" value=\"ja\" lang=\"ja\">日本語</button>");
	else
		hraw(r,
		     "<button type=\"submit\" name=\"lang\" value=\"en\" lang=\"en\">English</button>");
	form_end(r);
	if (strncmp(r->w->conf->help_url, "/help", 5) == 0)
		hf(r, "<a class=\"help\" href=\"/%s/help\">%s</a>", r->sid,
		   T(r, "ヘルプ", "Help"));
	else
		hf(r, "<a class=\"help\" href=\"%s\">%s</a>", r->w->conf->help_url,
		   T(r, "ヘルプ", "Help"));
	hraw(r, "</nav>");
}

void
page_begin(struct req *r, const char *title, const char *lead)
{
	const char *portal = T(r, "健康マイポータル", "Health My Portal");

	hf(r,
	   "<!DOCTYPE html>\n<html lang=\"%s\" class=\"%s\"><head><meta charset=\"utf-8\">"
	   "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
	   "<title>%s | %s</title>"
	   "<link rel=\"stylesheet\" href=\"/static/kenpo.css\">"
	   "<script src=\"/static/kenpo.js\" defer></script></head><body>",
	   r->lang == KENPO_LANG_EN ? "en" : "ja",
	   r->s != NULL && r->s->large ? "size-l" : "size-m", title, portal);
	hf(r, "<header><p class=\"brand\">%s <span class=\"society\">%s</span></p>", portal,
	   r->soc->name);
	tools(r);
	hf(r, "</header><main><h1>%s</h1>", title);
	if (lead != NULL)
		hf(r, "<p class=\"lead\">%s</p>", lead);
	page_session_notice(r);
}

void
page_end(struct req *r)
{
	hf(r, "</main><footer><p>%s</p></footer></body></html>\n",
	   T(r, "当サイトはSSL暗号化通信に対応しています。",
	     "This site is protected by SSL/TLS encryption."));
}

void
page_error(struct req *r, const char *msg)
{
	hf(r, "<div class=\"error\" role=\"alert\"><p>%s</p></div>", msg);
}

void
page_notice(struct req *r, const char *msg)
{
	hf(r, "<div class=\"notice\" role=\"status\"><p>%s</p></div>", msg);
}

void
page_session_notice(struct req *r)
{
	if (r->s == NULL || r->s->notice[0] == '\0')
		return;
	page_notice(r, r->s->notice);
	r->s->notice[0] = '\0';
}

/* ---- forms ---- */

void
form_begin(struct req *r, const char *action)
{
	char token[SESSION_TOKEN_LEN + 1] = "";

	if (r->s != NULL)
		session_csrf(r->s, token);
	hf(r,
	   "<form method=\"post\" action=\"/%s/%s\" accept-charset=\"UTF-8\">"
	   "<input type=\"hidden\" name=\"csrf\" value=\"%s\">",
	   r->sid, action, token);
}

void
form_end(struct req *r)
{
	hraw(r, "</form>");
}

void
page_field(struct req *r, const struct field *f)
{
	hf(r, "<div class=\"field\"><label for=\"%s\">%s", f->name, f->label);
	if (f->required)
		hf(r, " <span class=\"req\" aria-label=\"%s\">*</span>",
		   T(r, "必須", "required"));
	hf(r, "</label><input id=\"%s\" name=\"%s\" type=\"%s\" value=\"%s\"", f->name, f->name,
	   f->type, f->value);
	if (f->autocomplete != NULL)
		hf(r, " autocomplete=\"%s\"", f->autocomplete);
	if (f->inputmode != NULL)
		hf(r, " inputmode=\"%s\"", f->inputmode);
	if (f->maxlength > 0)
		hf(r, " maxlength=\"%d\"", f->maxlength);
	if (f->required)
		hraw(r, " required");
	if (f->hint != NULL)
		hf(r,
		   " aria-describedby=\"%s-hint\">"
		   "<p class=\"hint\" id=\"%s-hint\">%s</p></div>",
		   f->name, f->name, f->hint);
	else
		hraw(r, "></div>");
}

void
page_show_password(struct req *r, const char *ids)
{
	hf(r,
	   "<p class=\"showpw\" hidden><label><input type=\"checkbox\" data-show=\"%s\"> %s"
	   "</label></p>",
	   ids, T(r, "パスワードを表示する", "Show password"));
}

void
page_button(struct req *r, const char *label, const char *cls)
{
	hf(r, "<p class=\"actions\"><button type=\"submit\" class=\"%s\">%s</button></p>",
	   cls != NULL ? cls : "primary", label);
}

void
page_link_button(struct req *r, const char *href, const char *label)
{
	hf(r, "<p class=\"actions\"><a class=\"button\" href=\"/%s/%s\">%s</a></p>", r->sid, href,
	   label);
}

/* ---- rules ---- */

void
page_policy(struct req *r, const char *intro, unsigned mask)
{
	unsigned rule;

	hf(r, "<div class=\"error\" role=\"alert\"><p>%s</p><ul>", intro);
	if (mask & KENPO_PWC_SAME_AS_OLD) {
		mask &= ~KENPO_PWC_SAME_AS_OLD;
		hf(r, "<li>%s</li>",
		   T(r, "新しいパスワードには、現在のパスワードと異なるものを設定してください。",
		     "The new password must differ from the current one."));
	}
	while ((rule = kenpo_rule_next(&mask)) != 0)
		if (kenpo_rule_message(rule) != NULL)
			hf(r, "<li>%s</li>", kenpo_i18n_text(r->lang, kenpo_rule_message(rule)));
	hraw(r, "</ul></div>");
}

void
page_rules_id(struct req *r)
{
	hf(r,
	   "<div class=\"rules\"><p><strong>%s</strong></p><ul><li>%s</li><li>%s</li>"
	   "</ul></div>",
	   T(r, "【注1】ログインIDには次の制限があります。", "Note 1: rules for the login ID"),
	   T(r, "ログインID文字数は2文字以上40文字未満で設定してください。",
	     "The login ID must be at least 2 and fewer than 40 characters long."),
	   T(r,
	     "ログインIDを8文字で設定すると7、8桁目には数字を設定することができません。"
	     "（ログインIDが8文字でない場合は、この制約はありません。）",
	     "A login ID of 8 characters may not have digits as its 7th and 8th characters "
	     "(no such limit for other lengths)."));
}

void
page_rules_password(struct req *r)
{
	hf(r,
	   "<div class=\"rules\"><p><strong>%s</strong></p><ul><li>%s</li><li>%s</li>"
	   "<li>%s</li></ul></div>",
	   T(r, "【注2】パスワードは次の条件で設定を行ってください。",
	     "Note 2: rules for the password"),
	   T(r, "必ず「半角英大文字」「半角英小文字」「数字」を組み合わせで設定してください。",
	     "Use upper-case letters, lower-case letters and digits, at least one of each."),
	   T(r, "パスワードの文字数は8文字以上40文字未満で設定してください。",
	     "The password must be at least 8 and fewer than 40 characters long."),
	   T(r,
	     "パスワードに利用できる文字は半角英大文字（A～Z）、半角英小文字（a～z）、半角数字（0～9）で、"
	     "記号は使用できません。",
	     "Only A-Z, a-z and 0-9 may be used; no symbols."));
}

void
page_duration(const struct req *r, long seconds, char *out, size_t outsz)
{
	int hours = seconds >= 3600 && seconds % 3600 == 0, minutes = seconds >= 60;
	long n = hours   ? seconds / 3600 :
		 minutes ? (seconds + 59) / 60 :
			   (seconds > 0 ? seconds : 1);

	if (r->lang != KENPO_LANG_EN)
		snprintf(out, outsz, hours ? "%ld時間" : minutes ? "%ld分" : "%ld秒", n);
	else if (hours)
		snprintf(out, outsz, n == 1 ? "%ld hour" : "%ld hours", n);
	else if (minutes)
		snprintf(out, outsz, n == 1 ? "%ld minute" : "%ld minutes", n);
	else
		snprintf(out, outsz, n == 1 ? "%ld second" : "%ld seconds", n);
}
