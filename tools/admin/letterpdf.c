/*
 * letterpdf.c - the registration letters as a PDF file (see letterpdf.h).
 *
 * Cairo writes the PDF, Pango lays out the Japanese text (line breaking,
 * font fallback) and libqrencode makes the QR code, drawn as rectangles so
 * that it stays sharp at any printer resolution.  Lengths are in points
 * (1/72 inch), the unit of a PDF page.
 */
#include "autoconfig.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cairo.h>
#include <cairo-pdf.h>
#include <pango/pangocairo.h>
#include <qrencode.h>

#include "letterpdf.h"
#include "secret.h"

#define MM (72.0 / 25.4)
#define PAGE_W (210.0 * MM)          /* A4 */
#define PAGE_H (297.0 * MM)
#define MARGIN (16.0 * MM)
#define BODY_W (PAGE_W - 2 * MARGIN)
#define LABEL_W (40.0 * MM)          /* the label column of the ID box */
#define PAD (2.2 * MM)
#define INDENT (5.0 * MM)
#define GAP (3.0 * MM)
#define BADGE_W (19.0 * MM)
#define QR_SIZE (30.0 * MM)          /* with its quiet zone */
#define QR_QUIET 4                   /* modules of white around the code (ISO/IEC 18004) */
#define FOOTER_H (14.0 * MM)
#define TEXT_MAX 2048
#define CODE_LONG 16                 /* a longer ID or password gets a smaller face */

/* Mincho-less Gothic faces: IPAexGothic is what Debian's
 * fonts-ipaexfont-gothic installs; fontconfig falls back along the list.
 * The ID and password are in a fixed-width face whose 0 and O, 1 and l
 * look different. */
#define FONT_TEXT "IPAexGothic, Noto Sans CJK JP, sans"
#define FONT_CODE "DejaVu Sans Mono, Noto Sans Mono, IPAexGothic, monospace"

struct face {
	const char *family;
	double size;           /* points */
	int bold;
	PangoAlignment align;
	double rgb[3];
	double spacing;        /* extra space between characters, points */
	double line;           /* line height as a multiple of the font's, 0: the font's */
};

static const struct face F_TOP = { FONT_TEXT, 9, 0, PANGO_ALIGN_LEFT, { .35, .35, .35 }, 0, 0 };
static const struct face F_ADDRESSEE = { FONT_TEXT, 15, 0, PANGO_ALIGN_LEFT, { 0, 0, 0 }, 0, 0 };
static const struct face F_SOCIETY = { FONT_TEXT, 11, 1, PANGO_ALIGN_RIGHT, { 0, 0, 0 }, 0, 0 };
static const struct face F_HEADING = { FONT_TEXT, 15, 1, PANGO_ALIGN_CENTER, { 0, 0, 0 }, 0, 0 };
static const struct face F_BODY = { FONT_TEXT, 9.5, 0, PANGO_ALIGN_LEFT, { 0, 0, 0 }, 0, 1.35 };
static const struct face F_SMALL = { FONT_TEXT, 8.5, 0, PANGO_ALIGN_LEFT, { .2, .2, .2 }, 0, 1.3 };
static const struct face F_LABEL = { FONT_TEXT, 9.5, 1, PANGO_ALIGN_LEFT, { 0, 0, 0 }, 0, 0 };
static const struct face F_VALUE = { FONT_TEXT, 11, 0, PANGO_ALIGN_LEFT, { 0, 0, 0 }, 0, 0 };
static const struct face F_CODE = { FONT_CODE, 20, 1, PANGO_ALIGN_LEFT, { 0, 0, 0 }, 3, 0 };
static const struct face F_CODE_LONG = { FONT_CODE, 13, 1, PANGO_ALIGN_LEFT, { 0, 0, 0 }, 1, 0 };
static const struct face F_SPELL = { FONT_TEXT, 8.5, 0, PANGO_ALIGN_LEFT, { .2, .2, .2 }, 0, 1.25 };
static const struct face F_FLOW = { FONT_TEXT, 12, 1, PANGO_ALIGN_CENTER, { .1, .25, .5 }, 0, 0 };
static const struct face F_BADGE = { FONT_TEXT, 10, 1, PANGO_ALIGN_CENTER, { 1, 1, 1 }, 0, 0 };
static const struct face F_STEP = { FONT_TEXT, 11, 1, PANGO_ALIGN_LEFT, { .1, .25, .5 }, 0, 0 };
static const struct face F_WAY = { FONT_TEXT, 10, 1, PANGO_ALIGN_LEFT, { 0, 0, 0 }, 0, 0 };
static const struct face F_NOTE = { FONT_TEXT, 8.5, 0, PANGO_ALIGN_LEFT, { 0, 0, 0 }, 0, 1.3 };
static const struct face F_FOOTER = { FONT_TEXT, 8, 0, PANGO_ALIGN_LEFT, { .3, .3, .3 }, 0, 1.25 };

static const double BLUE[3] = { .1, .25, .5 };
static const double GRAY[3] = { .92, .92, .92 };

typedef int spell_fn(const char *s, int mark_case, char *out, size_t outsz);
typedef size_t time_fn(char *out, size_t outsz, const struct tm *tm);

/* The words of the letter in the society's language.  Where a value goes
 * inside a sentence, the sentence is split into the part before and the
 * part after it. */
struct wording {
	enum kenpo_lang lang;
	spell_fn *spell;
	const char *heading;
	const char *intro_after_society;
	const char *dependents;
	const char *number_before;
	const char *honorific;           /* after the name */
	const char *name_label, *nickname_label, *login_label, *password_label, *expiry_label;
	const char *spell_open, *spell_close, *spell_sep;
	time_fn *expiry_format;
	const char *flow;
	const char *step1, *step1_lead, *step1_lead_web;
	const char *way_a, *way_a_before, *way_a_after, *way_a_send;
	const char *way_b, *way_b_before, *way_b_after, *way_b_qr;
	const char *step2, *step2_text, *step2_spam;
	const char *step3, *step3_text;
	const char *note1, *note2;
	const char *keep;
};

static spell_fn spell_en;

/* The formats are literals, so that the compiler checks them. */
static size_t
expiry_ja(char *out, size_t outsz, const struct tm *tm)
{
	return strftime(out, outsz, "%Y年%m月%d日 %H:%M (%Z) まで", tm);
}

static size_t
expiry_en(char *out, size_t outsz, const struct tm *tm)
{
	return strftime(out, outsz, "%Y-%m-%d %H:%M %Z", tm);
}

static const struct wording wording_ja = {
	.lang = KENPO_LANG_JA,
	.spell = letters_spell,
	.heading = "健康マイポータル(健康ポータルサイト)への登録について",
	.intro_after_society =
		"では、いつでもご自身のパソコンやスマートフォンから医療費通知や健診結果が"
		"参照できたり、各種申請用紙が取り出せるなどの新しいサービス(健康マイポータル)"
		"を開始します。サービス利用には、個別のログインID、パスワードが必要です。"
		"下記の通りログインIDと仮パスワードを送付致しますので、「新規登録の流れ」に"
		"沿って利用登録をお願い致します。",
	.dependents = "※尚、ログインID等は、被保険者の方にだけ配布され、被扶養者(扶養家族)"
		      "には配布されません。",
	.number_before = "番号 ",
	.honorific = " 様",
	.name_label = "氏名",
	.nickname_label = "仮ニックネーム",
	.login_label = "ログインID",
	.password_label = "仮パスワード",
	.expiry_label = "仮パスワード有効期限",
	.spell_open = "(",
	.spell_close = ")",
	.spell_sep = "、",
	.expiry_format = expiry_ja,
	.flow = "◆ 新規登録の流れ ◆",
	.step1 = "仮登録",
	.step1_lead = "次のどちらかの手順でメールアドレスを送信します。",
	.step1_lead_web = "ホームページからメールアドレスを送信します。",
	.way_a = "手順A　ホームページから登録",
	.way_a_before = "① ",
	.way_a_after = " へアクセス",
	.way_a_send = "② メールアドレスを入力、送信",
	.way_b = "手順B　空メールを送信して登録",
	.way_b_before = "① ",
	.way_b_after = " へ空メール",
	.way_b_qr = "右の2次元コードを、スマートフォンの2次元コード読取に対応した内蔵カメラ等で"
		    "読み取りして空メールを送信してください。",
	.step2 = "メール受信",
	.step2_text = "届いたメール「利用登録手続きのご案内」の本文にある URL をクリックして"
		      "アクセスします。",
	.step2_spam = "※メールが届かない場合は、迷惑メール等に入っている可能性があります。"
		      "メールの受信設定をご確認ください。",
	.step3 = "新規利用登録",
	.step3_text = "新規利用登録画面の「ログインID」へ上記のログインIDを、「仮パスワード」へ"
		      "上記の仮パスワードを入力し、ログインをクリックしてください。続く"
		      "「利用者情報入力」画面で新ログインID・新パスワード・メールアドレス・"
		      "ニックネームを設定すると登録は完了です。",
	.note1 = "【注1】 ログインIDは2文字以上40文字未満で設定してください。8文字の場合、"
		 "7・8文字目に数字は使えません。使える文字は半角英数字と「.」「_」「-」です。",
	.note2 = "【注2】 パスワードは英大文字・英小文字・数字をすべて含む8文字以上40文字未満"
		 "で設定してください。記号は使えません。",
	.keep = "※この通知には仮パスワードが記載されています。登録が済むまで大切に保管し、"
		"他の人に見せないでください。",
};

static const struct wording wording_en = {
	.lang = KENPO_LANG_EN,
	.spell = spell_en,
	.heading = "Registering for the Health My Portal",
	.intro_after_society =
		" is starting a new service, the Health My Portal: from your own computer or "
		"smartphone you can read your medical expense notices and health check results "
		"and download application forms at any time.  Each member needs a personal login "
		"ID and password.  Your login ID and temporary password are below; please "
		"register as \"How to register\" describes.",
	.dependents = "* Login IDs are issued to the insured person only, not to dependents.",
	.number_before = "No. ",
	.honorific = "",
	.name_label = "Name",
	.nickname_label = "Nickname",
	.login_label = "Login ID",
	.password_label = "Temporary password",
	.expiry_label = "Valid until",
	.spell_open = "(",
	.spell_close = ")",
	.spell_sep = ", ",
	.expiry_format = expiry_en,
	.flow = "How to register",
	.step1 = "Send your mail address",
	.step1_lead = "Send us your mail address in one of these two ways.",
	.step1_lead_web = "Send us your mail address on the homepage.",
	.way_a = "Way A: on the homepage",
	.way_a_before = "1. Open ",
	.way_a_after = "",
	.way_a_send = "2. Enter your mail address and send it.",
	.way_b = "Way B: by an empty mail",
	.way_b_before = "1. Send an empty mail to ",
	.way_b_after = "",
	.way_b_qr = "Or scan the code on the right with your smartphone's camera to send the "
		    "empty mail.",
	.step2 = "Open the mail",
	.step2_text = "Open the URL in the mail you receive (\"Registration guide\").",
	.step2_spam = "* If no mail arrives, look in your spam folder and check your mail "
		      "filter settings.",
	.step3 = "First login",
	.step3_text = "On the registration page, enter the login ID and the temporary password "
		      "above and click Log in.  Then choose your new login ID and password and "
		      "enter your mail address and a nickname; registration is then complete.",
	.note1 = "Note 1: a login ID has 2 to 39 characters: letters, digits, \".\", \"_\" and "
		 "\"-\".  A login ID of exactly 8 characters may not have a digit as its 7th or "
		 "8th character.",
	.note2 = "Note 2: a password has 8 to 39 characters and contains an upper-case letter, "
		 "a lower-case letter and a digit; symbols are not allowed.",
	.keep = "* This letter holds your temporary password: keep it safe until you have "
		"registered, and show it to nobody.",
};

static const struct wording *const wordings[] = { &wording_ja, &wording_en };

struct letterpdf {
	char *path;
	int fd;
	int created;              /* the file is ours to remove */
	int spoiled;              /* a page failed: the file is not kept */
	int write_errno;
	unsigned long pages;
	const struct kenpo_society *soc;
	const struct wording *w;
	QRcode *qr;               /* of mailto:entry_address, the same on every page */
	cairo_surface_t *surface;
	cairo_t *cr;
	PangoLayout *layout;
};

/* ---- spelling ---- */

/* English readings.  letters_spell reads in katakana, which an English
 * letter cannot use; the rest of the alphabet reads as itself. */
static const char *const en_digits[] = {
	"zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine",
};
static const struct {
	char c;
	const char *word;
} en_marks[] = { { '.', "dot" }, { '_', "underscore" }, { '-', "hyphen" } };

static int
en_word(char c, int mark_case, char *out, size_t outsz)
{
	size_t i;
	int n = -1;

	if (c >= '0' && c <= '9')
		n = snprintf(out, outsz, "%s", en_digits[c - '0']);
	else if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'))
		n = snprintf(out, outsz, "%s%c", !mark_case ? "" : c <= 'Z' ? "capital " :
			     "small ", mark_case || c <= 'Z' ? c : (char)(c - 'a' + 'A'));
	for (i = 0; i < sizeof en_marks / sizeof en_marks[0]; i++)
		if (en_marks[i].c == c)
			n = snprintf(out, outsz, "%s", en_marks[i].word);
	return n < 0 || (size_t)n >= outsz ? -1 : 0;
}

static int
spell_en(const char *s, int mark_case, char *out, size_t outsz)
{
	char word[16];
	size_t o = 0;
	int n;

	if (outsz == 0)
		return -1;
	out[0] = '\0';
	for (; *s != '\0'; s++) {
		if (en_word(*s, mark_case, word, sizeof word) != 0)
			return -1;
		n = snprintf(out + o, outsz - o, "%s%s", o > 0 ? ", " : "", word);
		if (n < 0 || (size_t)n >= outsz - o)
			return -1;
		o += (size_t)n;
	}
	return 0;
}

/* ---- small helpers ---- */

static int
join3(char *out, size_t outsz, const char *a, const char *b, const char *c)
{
	int n = snprintf(out, outsz, "%s%s%s", a, b, c);

	return n < 0 || (size_t)n >= outsz ? -1 : 0;
}

/* The expiry "YYYY-MM-DD HH:MM UTC" of the letters CSV in the society's
 * time zone.  glibc converts only into the zone of $TZ, so TZ is set for
 * the moment of the conversion and put back (letters are written by one
 * thread).  0, or -1 when the text is not such a time. */
static int
expiry_local(const struct letterpdf *p, const char *utc, char *out, size_t outsz)
{
	const char *old = getenv("TZ"), *end;
	char *saved = old != NULL ? strdup(old) : NULL;
	struct tm tm;
	time_t t;
	int ok;

	memset(&tm, 0, sizeof tm);
	end = strptime(utc, "%Y-%m-%d %H:%M UTC", &tm);
	if (end == NULL || *end != '\0' || (old != NULL && saved == NULL)) {
		free(saved);
		return -1;
	}
	t = timegm(&tm);
	ok = p->soc->timezone == NULL || setenv("TZ", p->soc->timezone, 1) == 0;
	tzset();
	ok = ok && localtime_r(&t, &tm) != NULL &&
	     p->w->expiry_format(out, outsz, &tm) != 0;
	if (saved != NULL)
		ok = setenv("TZ", saved, 1) == 0 && ok;
	else
		ok = unsetenv("TZ") == 0 && ok;
	tzset();
	free(saved);
	return ok ? 0 : -1;
}

/* ---- drawing ---- */

/* Keep each reading of a spelling whole: a line may break only after a
 * separator, never inside 「ダブリュー」. */
static void
keep_readings(PangoAttrList *attrs, const char *text, const char *sep)
{
	PangoAttribute *a;
	const char *s = text, *next;

	while (*s != '\0') {
		next = strstr(s, sep);
		a = pango_attr_allow_breaks_new(FALSE);
		a->start_index = (guint)(s - text);
		a->end_index = next != NULL ? (guint)(next - text) : (guint)strlen(text);
		pango_attr_list_insert(attrs, a);
		s = next != NULL ? next + strlen(sep) : s + strlen(s);
	}
}

/* Lay out text in face f, wrapped to width w; its height.  With sep, the
 * text is a spelling whose readings are separated by sep. */
static double
lay_out_sep(struct letterpdf *p, double w, const struct face *f, const char *text,
	    const char *sep)
{
	PangoFontDescription *d = pango_font_description_from_string(f->family);
	PangoAttrList *attrs = NULL;
	int h;

	pango_font_description_set_absolute_size(d, f->size * PANGO_SCALE);
	pango_font_description_set_weight(d, f->bold ? PANGO_WEIGHT_BOLD : PANGO_WEIGHT_NORMAL);
	pango_layout_set_font_description(p->layout, d);
	pango_font_description_free(d);
	if (f->spacing > 0 || sep != NULL)
		attrs = pango_attr_list_new();
	if (f->spacing > 0)
		pango_attr_list_insert(attrs, pango_attr_letter_spacing_new(
					       (int)(f->spacing * PANGO_SCALE)));
	if (sep != NULL)
		keep_readings(attrs, text, sep);
	pango_layout_set_attributes(p->layout, attrs);
	if (attrs != NULL)
		pango_attr_list_unref(attrs);
	pango_layout_set_line_spacing(p->layout, (float)f->line);
	pango_layout_set_width(p->layout, (int)(w * PANGO_SCALE));
	pango_layout_set_wrap(p->layout, PANGO_WRAP_WORD_CHAR);
	pango_layout_set_alignment(p->layout, f->align);
	pango_layout_set_text(p->layout, text, -1);
	pango_layout_get_size(p->layout, NULL, &h);
	return (double)h / PANGO_SCALE;
}

static double
lay_out(struct letterpdf *p, double w, const struct face *f, const char *text)
{
	return lay_out_sep(p, w, f, text, NULL);
}

/* Draw what lay_out prepared, its top left at (x, y). */
static void
show_laid(struct letterpdf *p, double x, double y, const struct face *f)
{
	cairo_set_source_rgb(p->cr, f->rgb[0], f->rgb[1], f->rgb[2]);
	cairo_move_to(p->cr, x, y);
	pango_cairo_show_layout(p->cr, p->layout);
}

/* Draw text at (x, y) wrapped to width w; the height used. */
static double
show(struct letterpdf *p, double x, double y, double w, const struct face *f, const char *text)
{
	double h = lay_out(p, w, f, text);

	show_laid(p, x, y, f);
	return h;
}

static void
fill_rect(struct letterpdf *p, double x, double y, double w, double h, const double rgb[3])
{
	cairo_set_source_rgb(p->cr, rgb[0], rgb[1], rgb[2]);
	cairo_rectangle(p->cr, x, y, w, h);
	cairo_fill(p->cr);
}

static void
stroke_rect(struct letterpdf *p, double x, double y, double w, double h, double width)
{
	cairo_set_source_rgb(p->cr, 0, 0, 0);
	cairo_set_line_width(p->cr, width);
	cairo_rectangle(p->cr, x, y, w, h);
	cairo_stroke(p->cr);
}

/* The QR code with its top left corner (quiet zone included) at (x, y):
 * one rectangle per run of dark modules in a row, filled as one path so
 * that no seam shows between neighbours. */
static void
draw_qr(struct letterpdf *p, double x, double y)
{
	const QRcode *q = p->qr;
	double m = QR_SIZE / (q->width + 2 * QR_QUIET);
	int r, c, start;

	for (r = 0; r < q->width; r++)
		for (c = 0; c < q->width; c++) {
			if (!(q->data[r * q->width + c] & 1))
				continue;
			for (start = c; c + 1 < q->width && (q->data[r * q->width + c + 1] & 1); c++)
				;
			cairo_rectangle(p->cr, x + (QR_QUIET + start) * m, y + (QR_QUIET + r) * m,
					(c - start + 1) * m, m);
		}
	cairo_set_source_rgb(p->cr, 0, 0, 0);
	cairo_fill(p->cr);
}

/* Addressee on the left, society on the right.  The new y. */
static double
draw_top(struct letterpdf *p, const struct letter *x, double y)
{
	char buf[TEXT_MAX];
	double h;

	show(p, MARGIN, y, BODY_W, &F_SOCIETY, p->soc->name);
	h = 0;
	if (x->number != NULL && x->number[0] != '\0' &&
	    join3(buf, sizeof buf, p->w->number_before, x->number, "") == 0)
		h = show(p, MARGIN, y, BODY_W / 2, &F_TOP, buf) + 1.5 * MM;
	if (join3(buf, sizeof buf, x->name, p->w->honorific, "") != 0)
		return -1;
	h += show(p, MARGIN, y + h, BODY_W * 0.6, &F_ADDRESSEE, buf);
	return y + h + 8 * MM;
}

static double
draw_intro(struct letterpdf *p, double y)
{
	char buf[TEXT_MAX];

	y += show(p, MARGIN, y, BODY_W, &F_HEADING, p->w->heading) + 1.5 * MM;
	cairo_set_source_rgb(p->cr, 0, 0, 0);
	cairo_set_line_width(p->cr, 0.8);
	cairo_move_to(p->cr, MARGIN + BODY_W * 0.1, y);
	cairo_line_to(p->cr, MARGIN + BODY_W * 0.9, y);
	cairo_stroke(p->cr);
	y += 5 * MM;
	if (join3(buf, sizeof buf, p->soc->name, p->w->intro_after_society, "") != 0)
		return -1;
	y += show(p, MARGIN, y, BODY_W, &F_BODY, buf) + 1.5 * MM;
	return y + show(p, MARGIN, y, BODY_W, &F_SMALL, p->w->dependents) + 4 * MM;
}

/* One row of the ID box: the value (large in a fixed-width face when
 * code), its spelling under it, and the label cell.  The new y. */
static double
draw_row(struct letterpdf *p, double y, const char *label, const char *value,
	 const struct face *f, const char *spelled)
{
	double vx = MARGIN + LABEL_W + PAD, vw = BODY_W - LABEL_W - 2 * PAD, h, lh;
	char buf[LETTERS_SPELL_MAX + 16];

	h = PAD + show(p, vx, y + PAD, vw, f, value);
	if (spelled != NULL &&
	    join3(buf, sizeof buf, p->w->spell_open, spelled, p->w->spell_close) == 0) {
		h += 0.8 * MM;
		lh = lay_out_sep(p, vw, &F_SPELL, buf, p->w->spell_sep);
		show_laid(p, vx, y + h, &F_SPELL);
		h += lh;
	}
	kenpo_wipe(buf, sizeof buf);
	h += PAD;
	fill_rect(p, MARGIN, y, LABEL_W, h, GRAY);
	lh = lay_out(p, LABEL_W - 2 * PAD, &F_LABEL, label);
	show_laid(p, MARGIN + PAD, y + (h - lh) / 2, &F_LABEL);
	stroke_rect(p, MARGIN, y, LABEL_W, h, 0.6);
	stroke_rect(p, MARGIN + LABEL_W, y, BODY_W - LABEL_W, h, 0.6);
	return y + h;
}

struct spelled {
	char login[LETTERS_SPELL_MAX], password[LETTERS_SPELL_MAX];
	char expiry[128];
};

static double
draw_box(struct letterpdf *p, const struct letter *x, const struct spelled *s, double y)
{
	const struct wording *w = p->w;
	char name[TEXT_MAX];

	if (join3(name, sizeof name, x->name, w->honorific, "") != 0)
		return -1;
	y = draw_row(p, y, w->name_label, name, &F_VALUE, NULL);
	if (x->nickname != NULL && x->nickname[0] != '\0')
		y = draw_row(p, y, w->nickname_label, x->nickname, &F_VALUE, NULL);
	y = draw_row(p, y, w->login_label, x->login,
		     strlen(x->login) > CODE_LONG ? &F_CODE_LONG : &F_CODE, s->login);
	y = draw_row(p, y, w->password_label, x->password,
		     strlen(x->password) > CODE_LONG ? &F_CODE_LONG : &F_CODE, s->password);
	if (s->expiry[0] != '\0')
		y = draw_row(p, y, w->expiry_label, s->expiry, &F_VALUE, NULL);
	return y + 6 * MM;
}

/* "STEP n" in a badge and the step's title.  The new y. */
static double
draw_step(struct letterpdf *p, double y, const char *badge, const char *title)
{
	double bh = lay_out(p, BADGE_W, &F_BADGE, badge) + 1.6 * MM;

	fill_rect(p, MARGIN, y, BADGE_W, bh, BLUE);
	show_laid(p, MARGIN, y + 0.8 * MM, &F_BADGE);
	show(p, MARGIN + BADGE_W + GAP, y + 0.8 * MM, BODY_W - BADGE_W - GAP, &F_STEP, title);
	return y + bh + 2 * MM;
}

/* 手順A and 手順B of STEP 1 in the left column, the QR code on the right. */
static double
draw_ways(struct letterpdf *p, double y)
{
	const struct wording *w = p->w;
	const char *entry = p->soc->entry_address;
	double x = MARGIN + INDENT, tw = BODY_W - INDENT - (p->qr ? QR_SIZE + GAP : 0);
	double top = y;
	char buf[TEXT_MAX];

	y += show(p, x, y, tw, &F_BODY, p->qr ? w->step1_lead : w->step1_lead_web) + 2 * MM;
	if (p->qr != NULL)       /* one way only: no need to name it */
		y += show(p, x, y, tw, &F_WAY, w->way_a) + 1 * MM;
	if (join3(buf, sizeof buf, w->way_a_before, p->soc->login_url, w->way_a_after) != 0)
		return -1;
	y += show(p, x + INDENT, y, tw - INDENT, &F_BODY, buf);
	y += show(p, x + INDENT, y, tw - INDENT, &F_BODY, w->way_a_send) + 2.5 * MM;
	if (p->qr == NULL)
		return y + 3 * MM;
	y += show(p, x, y, tw, &F_WAY, w->way_b) + 1 * MM;
	if (join3(buf, sizeof buf, w->way_b_before, entry, w->way_b_after) != 0)
		return -1;
	y += show(p, x + INDENT, y, tw - INDENT, &F_BODY, buf);
	y += show(p, x + INDENT, y, tw - INDENT, &F_SMALL, w->way_b_qr);
	draw_qr(p, MARGIN + BODY_W - QR_SIZE, top);
	return (y > top + QR_SIZE ? y : top + QR_SIZE) + 3 * MM;
}

static double
draw_flow(struct letterpdf *p, double y)
{
	const struct wording *w = p->w;
	double x = MARGIN + INDENT, tw = BODY_W - INDENT;

	y += show(p, MARGIN, y, BODY_W, &F_FLOW, w->flow) + 3 * MM;
	y = draw_step(p, y, "STEP 1", w->step1);
	y = draw_ways(p, y);
	if (y < 0)
		return -1;
	y = draw_step(p, y, "STEP 2", w->step2);
	y += show(p, x, y, tw, &F_BODY, w->step2_text);
	y += show(p, x, y, tw, &F_SMALL, w->step2_spam) + 3 * MM;
	y = draw_step(p, y, "STEP 3", w->step3);
	y += show(p, x, y, tw, &F_BODY, w->step3_text) + 4 * MM;
	y += show(p, MARGIN, y, BODY_W, &F_NOTE, w->note1) + 1 * MM;
	return y + show(p, MARGIN, y, BODY_W, &F_NOTE, w->note2);
}

static void
draw_footer(struct letterpdf *p)
{
	double y = PAGE_H - MARGIN - FOOTER_H;

	cairo_set_source_rgb(p->cr, .5, .5, .5);
	cairo_set_line_width(p->cr, 0.5);
	cairo_move_to(p->cr, MARGIN, y);
	cairo_line_to(p->cr, MARGIN + BODY_W, y);
	cairo_stroke(p->cr);
	show(p, MARGIN, y + 2 * MM, BODY_W * 0.62, &F_FOOTER, p->w->keep);
	show(p, MARGIN, y + 2 * MM, BODY_W, &F_SOCIETY, p->soc->name);
}

/* The whole page.  0, or -1 when the text does not fit. */
static int
draw_page(struct letterpdf *p, const struct letter *x, const struct spelled *s)
{
	double y = draw_top(p, x, MARGIN);

	if (y >= 0)
		y = draw_intro(p, y);
	if (y >= 0)
		y = draw_box(p, x, s, y);
	if (y >= 0)
		y = draw_flow(p, y);
	draw_footer(p);
	/* Pango and cairo free their copies of the text unwiped, which kenpo
	 * cannot change (the password is in the PDF anyway); at least the
	 * layout kept from page to page holds none. */
	pango_layout_set_text(p->layout, "", 0);
	return y >= 0 && y <= PAGE_H - MARGIN - FOOTER_H - 1 * MM ? 0 : -1;
}

/* ---- the writer ---- */

static cairo_status_t
write_out(void *closure, const unsigned char *data, unsigned int len)
{
	struct letterpdf *p = closure;
	ssize_t n;

	while (len > 0) {
		n = write(p->fd, data, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			p->write_errno = n < 0 ? errno : EIO;
			return CAIRO_STATUS_WRITE_ERROR;
		}
		data += n;
		len -= (unsigned)n;
	}
	return CAIRO_STATUS_SUCCESS;
}

static const struct wording *
wording_of(enum kenpo_lang lang)
{
	size_t i;

	for (i = 0; i < sizeof wordings / sizeof wordings[0]; i++)
		if (wordings[i]->lang == lang)
			return wordings[i];
	return &wording_ja;
}

/* The QR code of mailto:entry_address, error correction M (15%: a stain
 * or a fold on paper still reads).  0 or -1. */
static int
make_qr(struct letterpdf *p, char *err, size_t errsz)
{
	char uri[TEXT_MAX];

	if (p->soc->entry_address == NULL || p->soc->entry_address[0] == '\0')
		return 0;
	if (join3(uri, sizeof uri, "mailto:", p->soc->entry_address, "") != 0 ||
	    (p->qr = QRcode_encodeString(uri, 0, QR_ECLEVEL_M, QR_MODE_8, 1)) == NULL) {
		snprintf(err, errsz, "cannot make the QR code of %s", p->soc->entry_address);
		return -1;
	}
	return 0;
}

static int
start_surface(struct letterpdf *p, char *err, size_t errsz)
{
	p->surface = cairo_pdf_surface_create_for_stream(write_out, p, PAGE_W, PAGE_H);
	p->cr = cairo_create(p->surface);
	if (cairo_status(p->cr) != CAIRO_STATUS_SUCCESS) {
		snprintf(err, errsz, "%s: %s", p->path, cairo_status_to_string(cairo_status(p->cr)));
		return -1;
	}
	cairo_pdf_surface_set_metadata(p->surface, CAIRO_PDF_METADATA_TITLE, p->w->heading);
	cairo_pdf_surface_set_metadata(p->surface, CAIRO_PDF_METADATA_AUTHOR, p->soc->name);
	cairo_pdf_surface_set_metadata(p->surface, CAIRO_PDF_METADATA_CREATOR, "kenpo-admin");
	p->layout = pango_cairo_create_layout(p->cr);
	if (p->layout == NULL) {
		snprintf(err, errsz, "cannot lay out text");
		return -1;
	}
	return 0;
}

/* Give back Pango's default font map, which holds the fonts of this PDF.
 * The process-wide caches of cairo and fontconfig stay until exit: they
 * are reachable from those libraries' globals, so a leak checker does not
 * count them, and both libraries' tear-down calls
 * (cairo_debug_reset_static_data, FcFini) assert, aborting kenpo-admin,
 * when a font is still referenced at that moment — Pango keeps some beyond
 * its font map's life. */
static void
release_fonts(void)
{
	pango_cairo_font_map_set_default(NULL);
}

/* Release everything; remove the file unless keep. */
static void
discard(struct letterpdf *p, int keep)
{
	if (p->layout != NULL)
		g_object_unref(p->layout);
	if (p->cr != NULL)
		cairo_destroy(p->cr);
	if (p->surface != NULL)
		cairo_surface_destroy(p->surface);
	if (p->fd >= 0)
		close(p->fd);
	if (!keep && p->created)
		unlink(p->path);
	QRcode_free(p->qr);
	free(p->path);
	free(p);
	release_fonts();
}

void
letterpdf_abort(struct letterpdf *p)
{
	if (p != NULL)
		discard(p, 0);
}

struct letterpdf *
letterpdf_open(const char *path, const struct kenpo_society *soc, char *err, size_t errsz)
{
	struct letterpdf *p = calloc(1, sizeof *p);

	if (p == NULL || (p->path = strdup(path)) == NULL) {
		snprintf(err, errsz, "out of memory");
		free(p);
		return NULL;
	}
	p->fd = -1;
	p->soc = soc;
	p->w = wording_of(soc->lang);
	if (soc->login_url == NULL || soc->name == NULL) {
		snprintf(err, errsz, "the letters need the society's name and login_url");
		goto fail;
	}
	if (make_qr(p, err, errsz) != 0)
		goto fail;
	/* Never over an existing file: it may be the letters of an earlier run. */
	p->fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	p->created = p->fd >= 0;
	if (p->fd < 0 || fchmod(p->fd, 0600) != 0) {
		snprintf(err, errsz, "%s: %s", path, strerror(errno));
		goto fail;
	}
	if (start_surface(p, err, errsz) != 0)
		goto fail;
	return p;
fail:
	discard(p, 0);
	return NULL;
}

static int
spell_member(const struct letterpdf *p, const struct letter *x, struct spelled *s,
	     char *err, size_t errsz)
{
	s->expiry[0] = '\0';
	if (x->login == NULL || x->password == NULL || x->name == NULL ||
	    p->w->spell(x->login, 0, s->login, sizeof s->login) != 0 ||
	    p->w->spell(x->password, 1, s->password, sizeof s->password) != 0) {
		snprintf(err, errsz, "member %s: no login ID and temporary password to spell",
			 x->number != NULL ? x->number : "");
		return -1;
	}
	if (x->expiry != NULL && x->expiry[0] != '\0' &&
	    expiry_local(p, x->expiry, s->expiry, sizeof s->expiry) != 0) {
		snprintf(err, errsz, "member %s: not an expiry time: %s",
			 x->number != NULL ? x->number : "", x->expiry);
		return -1;
	}
	return 0;
}

int
letterpdf_add(struct letterpdf *p, const struct letter *x, char *err, size_t errsz)
{
	struct spelled s;
	int ret = -1;

	if (p->spoiled) {
		snprintf(err, errsz, "%s: an earlier letter failed", p->path);
		return -1;
	}
	if (spell_member(p, x, &s, err, errsz) != 0)
		goto done;
	if (draw_page(p, x, &s) != 0) {
		snprintf(err, errsz, "member %s: the letter does not fit on one page",
			 x->number != NULL ? x->number : "");
		goto done;
	}
	cairo_show_page(p->cr);
	if (cairo_status(p->cr) != CAIRO_STATUS_SUCCESS) {
		snprintf(err, errsz, "%s: %s", p->path,
			 p->write_errno ? strerror(p->write_errno) :
			 cairo_status_to_string(cairo_status(p->cr)));
		goto done;
	}
	p->pages++;
	ret = 0;
done:
	kenpo_wipe(&s, sizeof s);
	if (ret != 0)
		p->spoiled = 1;
	return ret;
}

unsigned long
letterpdf_count(const struct letterpdf *p)
{
	return p->pages;
}

int
letterpdf_close(struct letterpdf *p, char *err, size_t errsz)
{
	cairo_status_t st;
	int fd, rc, e;

	if (p == NULL)
		return 0;
	if (p->spoiled || p->pages == 0) {
		snprintf(err, errsz, p->spoiled ? "%s: an earlier letter failed" :
			 "%s: no letter to write", p->path);
		goto fail;
	}
	g_object_unref(p->layout);
	p->layout = NULL;
	cairo_destroy(p->cr);
	p->cr = NULL;
	cairo_surface_finish(p->surface);
	st = cairo_surface_status(p->surface);
	if (st != CAIRO_STATUS_SUCCESS) {
		snprintf(err, errsz, "%s: %s", p->path, p->write_errno ?
			 strerror(p->write_errno) : cairo_status_to_string(st));
		goto fail;
	}
	fd = p->fd;
	p->fd = -1;
	rc = fsync(fd);
	e = errno;
	if (close(fd) != 0 && rc == 0) {
		rc = -1;
		e = errno;
	}
	if (rc != 0) {
		snprintf(err, errsz, "%s: %s", p->path, strerror(e));
		goto fail;
	}
	discard(p, 1);
	return 0;
fail:
	discard(p, 0);
	return -1;
}
