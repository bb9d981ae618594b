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
#include "lettertext.h"
#include "secret.h"

#define MM (72.0 / 25.4)
#define PAGE_W (210.0 * MM) /* A4 */
#define PAGE_H (297.0 * MM)
#define MARGIN (16.0 * MM)
#define BODY_W (PAGE_W - 2 * MARGIN)
#define LABEL_W (40.0 * MM) /* the label column of the ID box */
#define PAD (1.8 * MM)
#define INDENT (5.0 * MM)
#define GAP (3.0 * MM)
#define BADGE_W (19.0 * MM)
#define QR_SIZE (27.0 * MM) /* with its quiet zone */
#define QR_QUIET 4          /* modules of white around the code (ISO/IEC 18004) */
#define FOOTER_H (14.0 * MM)
#define TEXT_MAX 2048
#define CODE_LONG 16        /* a longer ID or password gets a smaller face */
#define BODY_SHRINK_MIN 0.8 /* the least a letter's body is drawn smaller */

/* Mincho-less Gothic faces: IPAexGothic is what Debian's
 * fonts-ipaexfont-gothic installs; fontconfig falls back along the list.
 * The ID and password are in a fixed-width face whose 0 and O, 1 and l
 * look different. */
#define FONT_TEXT "IPAexGothic, Noto Sans CJK JP, sans"
#define FONT_CODE "DejaVu Sans Mono, Noto Sans Mono, IPAexGothic, monospace"

struct face {
	const char *family;
	double size; /* points */
	int bold;
	PangoAlignment align;
	double rgb[3];
	double spacing; /* extra space between characters, points */
	double line;    /* line height as a multiple of the font's, 0: the font's */
};

static const struct face F_TOP = { FONT_TEXT, 9, 0, PANGO_ALIGN_LEFT, { .35, .35, .35 }, 0, 0 };
static const struct face F_POSTAL = { FONT_TEXT, 11, 0, PANGO_ALIGN_LEFT, { 0, 0, 0 }, 0.5, 0 };
static const struct face F_ADDRESS = {
	FONT_TEXT, 10.5, 0, PANGO_ALIGN_LEFT, { 0, 0, 0 }, 0, 1.15
};
static const struct face F_ADDRESSEE = { FONT_TEXT, 15, 0, PANGO_ALIGN_LEFT, { 0, 0, 0 }, 0, 0 };
static const struct face F_SOCIETY = { FONT_TEXT, 11, 1, PANGO_ALIGN_RIGHT, { 0, 0, 0 }, 0, 0 };
static const struct face F_HEADING = { FONT_TEXT, 15, 1, PANGO_ALIGN_CENTER, { 0, 0, 0 }, 0, 0 };
static const struct face F_BODY = { FONT_TEXT, 9.5, 0, PANGO_ALIGN_LEFT, { 0, 0, 0 }, 0, 1.3 };
static const struct face F_SMALL = { FONT_TEXT, 8.5, 0, PANGO_ALIGN_LEFT, { .2, .2, .2 }, 0, 1.3 };
static const struct face F_LABEL = { FONT_TEXT, 9.5, 1, PANGO_ALIGN_LEFT, { 0, 0, 0 }, 0, 0 };
static const struct face F_VALUE = { FONT_TEXT, 11, 0, PANGO_ALIGN_LEFT, { 0, 0, 0 }, 0, 0 };
static const struct face F_CODE = { FONT_CODE, 18, 1, PANGO_ALIGN_LEFT, { 0, 0, 0 }, 3, 0 };
static const struct face F_CODE_LONG = { FONT_CODE, 13, 1, PANGO_ALIGN_LEFT, { 0, 0, 0 }, 1, 0 };
static const struct face F_SPELL = {
	FONT_TEXT, 8.5, 0, PANGO_ALIGN_LEFT, { .2, .2, .2 }, 0, 1.15
};
static const struct face F_FLOW = { FONT_TEXT, 12, 1, PANGO_ALIGN_CENTER, { .1, .25, .5 }, 0, 0 };
static const struct face F_BADGE = { FONT_TEXT, 10, 1, PANGO_ALIGN_CENTER, { 1, 1, 1 }, 0, 0 };
static const struct face F_STEP = { FONT_TEXT, 11, 1, PANGO_ALIGN_LEFT, { .1, .25, .5 }, 0, 0 };
static const struct face F_WAY = { FONT_TEXT, 10, 1, PANGO_ALIGN_LEFT, { 0, 0, 0 }, 0, 0 };
static const struct face F_NOTE = { FONT_TEXT, 8.5, 0, PANGO_ALIGN_LEFT, { 0, 0, 0 }, 0, 1.2 };
static const struct face F_FOOTER = { FONT_TEXT, 8, 0, PANGO_ALIGN_LEFT, { .3, .3, .3 }, 0, 1.25 };

static const double BLUE[3] = { .1, .25, .5 };
static const double GRAY[3] = { .92, .92, .92 };

typedef int spell_fn(const char *s, int mark_case, char *out, size_t outsz);
typedef size_t time_fn(char *out, size_t outsz, const struct tm *tm);

/* What of the letter depends on its language beyond its wording (which
 * is the template's, lettertext.h): how characters are read out, and how
 * a time is written. */
struct wording {
	enum kenpo_lang lang;
	spell_fn *spell;
	time_fn *expiry_format;
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

static const struct wording wording_ja = { KENPO_LANG_JA, letters_spell, expiry_ja };
static const struct wording wording_en = { KENPO_LANG_EN, spell_en, expiry_en };
static const struct wording *const wordings[] = { &wording_ja, &wording_en };

struct letterpdf {
	char *path;
	int fd;
	int created; /* the file is ours to remove */
	int spoiled; /* a page failed: the file is not kept */
	int write_errno;
	unsigned long pages; /* letters (covers not counted) */
	const struct kenpo_society *soc;
	const struct wording *w;
	struct letter_text lt; /* the template */
	char *t[LT_COUNT];     /* its sections, filled (covers' per cover) */
	QRcode *qr;            /* of mailto:entry_address, the same on every page */
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
		n = snprintf(out, outsz, "%s%c",
			     !mark_case ? "" :
			     c <= 'Z'   ? "capital " :
					  "small ",
			     mark_case || c <= 'Z' ? c : (char)(c - 'a' + 'A'));
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
	ok = ok && localtime_r(&t, &tm) != NULL && p->w->expiry_format(out, outsz, &tm) != 0;
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
			for (start = c; c + 1 < q->width && (q->data[r * q->width + c + 1] & 1);
			     c++)
				;
			cairo_rectangle(p->cr, x + (QR_QUIET + start) * m, y + (QR_QUIET + r) * m,
					(c - start + 1) * m, m);
		}
	cairo_set_source_rgb(p->cr, 0, 0, 0);
	cairo_fill(p->cr);
}

/* The window of a 長形3号 envelope (JIS S 5502) over an A4 page folded
 * in three: its address block, 90 x 45 mm, 20 mm from the left and 14 mm
 * from the top edge. */
#define WINDOW_X (20.0 * MM)
#define WINDOW_Y (14.0 * MM)
#define WINDOW_W (90.0 * MM)
#define WINDOW_H (45.0 * MM)
#define FOLD_1 (99.0 * MM) /* the folds of a Z fold into thirds */
#define FOLD_2 (198.0 * MM)

static int
present(const char *s)
{
	return s != NULL && s[0] != '\0';
}

/* Short marks on the left edge where the page is folded for the envelope. */
static void
draw_fold_marks(struct letterpdf *p)
{
	cairo_set_source_rgb(p->cr, .6, .6, .6);
	cairo_set_line_width(p->cr, 0.4);
	cairo_move_to(p->cr, 4 * MM, FOLD_1);
	cairo_line_to(p->cr, 8 * MM, FOLD_1);
	cairo_move_to(p->cr, 4 * MM, FOLD_2);
	cairo_line_to(p->cr, 8 * MM, FOLD_2);
	cairo_stroke(p->cr);
}

/* One line of the address block; the new y.  Nothing for an empty text. */
static double
block_line(struct letterpdf *p, double y, const struct face *f, const char *a, const char *b)
{
	char buf[TEXT_MAX];

	if (!present(b) || join3(buf, sizeof buf, a, b, "") != 0)
		return y;
	return y + show(p, WINDOW_X, y, WINDOW_W, f, buf) + 0.6 * MM;
}

/* The address block in the envelope's window: 〒, the address, the
 * employer and its office code, then the member's name and number; the
 * society on the right, outside the window.  The new y. */
static double
draw_top(struct letterpdf *p, const struct letter *x)
{
	const struct face *f;
	char buf[TEXT_MAX];
	double y = WINDOW_Y + 2 * MM;

	show(p, MARGIN, MARGIN, BODY_W, &F_SOCIETY, p->soc->name);
	y = block_line(p, y, &F_POSTAL, "〒", x->postal_code);
	y = block_line(p, y, &F_ADDRESS, "", x->address);
	y = block_line(p, y, &F_ADDRESS, "", x->employer);
	y = block_line(p, y, &F_TOP, p->t[LT_OFFICE], x->office_code);
	if (join3(buf, sizeof buf, x->name, p->t[LT_HONORIFIC], "") != 0)
		return -1;
	/* A name too long for one line of the window gets a smaller face. */
	f = lay_out(p, WINDOW_W, &F_ADDRESSEE, buf) > F_ADDRESSEE.size * 1.8 ? &F_ADDRESS :
									       &F_ADDRESSEE;
	y += 1 * MM + show(p, WINDOW_X, y + 1 * MM, WINDOW_W, f, buf);
	y = block_line(p, y + 0.5 * MM, &F_TOP, p->t[LT_NUMBER], x->number);
	if (y > WINDOW_Y + WINDOW_H)
		return -1; /* the address would not show in the window */
	return WINDOW_Y + WINDOW_H + 3 * MM;
}

static double
draw_intro(struct letterpdf *p, double y)
{
	y += show(p, MARGIN, y, BODY_W, &F_HEADING, p->t[LT_HEADING]) + 1.5 * MM;
	cairo_set_source_rgb(p->cr, 0, 0, 0);
	cairo_set_line_width(p->cr, 0.8);
	cairo_move_to(p->cr, MARGIN + BODY_W * 0.1, y);
	cairo_line_to(p->cr, MARGIN + BODY_W * 0.9, y);
	cairo_stroke(p->cr);
	y += 3.5 * MM;
	y += show(p, MARGIN, y, BODY_W, &F_BODY, p->t[LT_INTRO]) + 1.5 * MM;
	return y + show(p, MARGIN, y, BODY_W, &F_SMALL, p->t[LT_DEPENDENTS]) + 3 * MM;
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
	    join3(buf, sizeof buf, p->t[LT_SPELL_OPEN], spelled, p->t[LT_SPELL_CLOSE]) == 0) {
		h += 0.8 * MM;
		lh = lay_out_sep(p, vw, &F_SPELL, buf, p->t[LT_SPELL_SEP]);
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
	char name[TEXT_MAX];

	if (join3(name, sizeof name, x->name, p->t[LT_HONORIFIC], "") != 0)
		return -1;
	y = draw_row(p, y, p->t[LT_NAME_LABEL], name, &F_VALUE, NULL);
	if (present(x->nickname))
		y = draw_row(p, y, p->t[LT_NICKNAME_LABEL], x->nickname, &F_VALUE, NULL);
	y = draw_row(p, y, p->t[LT_LOGIN_LABEL], x->login,
		     strlen(x->login) > CODE_LONG ? &F_CODE_LONG : &F_CODE, s->login);
	y = draw_row(p, y, p->t[LT_PASSWORD_LABEL], x->password,
		     strlen(x->password) > CODE_LONG ? &F_CODE_LONG : &F_CODE, s->password);
	if (s->expiry[0] == '\0')
		return y + 5 * MM;
	y = draw_row(p, y, p->t[LT_EXPIRY_LABEL], s->expiry, &F_VALUE, NULL);
	return y + 1 * MM + show(p, MARGIN, y + 1 * MM, BODY_W, &F_SMALL, p->t[LT_EXPIRY_NOTE]) +
	       3 * MM;
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
	double x = MARGIN + INDENT, tw = BODY_W - INDENT - (p->qr ? QR_SIZE + GAP : 0);
	double top = y;

	y += show(p, x, y, tw, &F_BODY, p->t[p->qr ? LT_STEP1_LEAD : LT_STEP1_LEAD_WEB]) + 2 * MM;
	if (p->qr != NULL) /* one way only: no need to name it */
		y += show(p, x, y, tw, &F_WAY, p->t[LT_WAY_A]) + 1 * MM;
	y += show(p, x + INDENT, y, tw - INDENT, &F_BODY, p->t[LT_WAY_A_URL]);
	y += show(p, x + INDENT, y, tw - INDENT, &F_BODY, p->t[LT_WAY_A_SEND]) + 2.5 * MM;
	if (p->qr == NULL)
		return y + 3 * MM;
	y += show(p, x, y, tw, &F_WAY, p->t[LT_WAY_B]) + 1 * MM;
	y += show(p, x + INDENT, y, tw - INDENT, &F_BODY, p->t[LT_WAY_B_MAIL]);
	y += show(p, x + INDENT, y, tw - INDENT, &F_SMALL, p->t[LT_WAY_B_QR]);
	draw_qr(p, MARGIN + BODY_W - QR_SIZE, top);
	return (y > top + QR_SIZE ? y : top + QR_SIZE) + 3 * MM;
}

static double
draw_flow(struct letterpdf *p, double y)
{
	double x = MARGIN + INDENT, tw = BODY_W - INDENT;

	y += show(p, MARGIN, y, BODY_W, &F_FLOW, p->t[LT_FLOW]) + 2 * MM;
	y = draw_step(p, y, "STEP 1", p->t[LT_STEP1]);
	y = draw_ways(p, y);
	if (y < 0)
		return -1;
	y = draw_step(p, y, "STEP 2", p->t[LT_STEP2]);
	y += show(p, x, y, tw, &F_BODY, p->t[LT_STEP2_TEXT]);
	y += show(p, x, y, tw, &F_SMALL, p->t[LT_STEP2_SPAM]) + 2.5 * MM;
	y = draw_step(p, y, "STEP 3", p->t[LT_STEP3]);
	y += show(p, x, y, tw, &F_BODY, p->t[LT_STEP3_TEXT]) + 3 * MM;
	y += show(p, MARGIN, y, BODY_W, &F_NOTE, p->t[LT_NOTE1]) + 1 * MM;
	return y + show(p, MARGIN, y, BODY_W, &F_NOTE, p->t[LT_NOTE2]);
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
	show(p, MARGIN, y + 2 * MM, BODY_W * 0.62, &F_FOOTER, p->t[LT_KEEP]);
	show(p, MARGIN, y + 2 * MM, BODY_W, &F_SOCIETY, p->soc->name);
}

/* The letter below the address block, from y0; the y it ends at, or -1. */
static double
draw_body(struct letterpdf *p, const struct letter *x, const struct spelled *s, double y0)
{
	double y = draw_intro(p, y0);

	if (y >= 0)
		y = draw_box(p, x, s, y);
	if (y >= 0)
		y = draw_flow(p, y);
	return y;
}

/* The whole page.  The body is drawn as a group first: when it is taller
 * than the room left (a long name, a 39-character login ID spelled out),
 * it is drawn smaller, down to BODY_SHRINK_MIN, centred, rather than
 * refused.  0, or -1 when the text does not fit even so. */
static int
draw_page(struct letterpdf *p, const struct letter *x, const struct spelled *s)
{
	double y0, y, room, k = 1;
	cairo_pattern_t *body;
	int ret = -1;

	draw_fold_marks(p);
	y0 = draw_top(p, x);
	if (y0 < 0)
		goto done;
	cairo_push_group(p->cr);
	y = draw_body(p, x, s, y0);
	body = cairo_pop_group(p->cr);
	room = PAGE_H - MARGIN - FOOTER_H - 1 * MM - y0;
	if (y >= 0 && y - y0 > room)
		k = room / (y - y0);
	if (y >= 0 && k >= BODY_SHRINK_MIN) {
		cairo_save(p->cr);
		cairo_translate(p->cr, MARGIN + BODY_W * (1 - k) / 2, y0);
		cairo_scale(p->cr, k, k);
		cairo_translate(p->cr, -MARGIN, -y0);
		cairo_set_source(p->cr, body);
		cairo_paint(p->cr);
		cairo_restore(p->cr);
		ret = 0;
	}
	cairo_pattern_destroy(body);
	draw_footer(p);
done:
	/* Pango and cairo free their copies of the text unwiped, which kenpo
	 * cannot change (the password is in the PDF anyway); at least the
	 * layout kept from page to page holds none. */
	pango_layout_set_text(p->layout, "", 0);
	return ret;
}

/* The cover page of an employer's letters: the office, the employer, how
 * many letters follow and whose (member number and name; no password). */
static int
draw_cover(struct letterpdf *p, const struct letter *const *xs, size_t n)
{
	char count[24], *head = NULL, *num = NULL, *note = NULL, line[TEXT_MAX];
	double y = WINDOW_Y + 2 * MM;
	size_t i;
	int ret = -1;

	snprintf(count, sizeof count, "%zu", n);
	head = letter_text(&p->lt, LT_COVER_HEADING, count, xs[0]->office_code);
	num = letter_text(&p->lt, LT_COVER_COUNT, count, xs[0]->office_code);
	note = letter_text(&p->lt, LT_COVER_NOTE, count, xs[0]->office_code);
	if (head == NULL || num == NULL || note == NULL)
		goto done;
	draw_fold_marks(p);
	show(p, MARGIN, MARGIN, BODY_W, &F_SOCIETY, p->soc->name);
	y = block_line(p, y, &F_POSTAL, "〒", xs[0]->postal_code);
	y = block_line(p, y, &F_ADDRESS, "", xs[0]->address);
	y = block_line(p, y, &F_ADDRESSEE, "", xs[0]->employer);
	y = block_line(p, y, &F_ADDRESS, p->t[LT_OFFICE], xs[0]->office_code);
	y = WINDOW_Y + WINDOW_H + 8 * MM;
	y += show(p, MARGIN, y, BODY_W, &F_HEADING, head) + 2 * MM;
	y += show(p, MARGIN, y, BODY_W, &F_FLOW, num) + 4 * MM;
	y += show(p, MARGIN, y, BODY_W, &F_BODY, note) + 4 * MM;
	for (i = 0; i < n && y < PAGE_H - MARGIN - 6 * MM; i++) {
		if (join3(line, sizeof line, xs[i]->number, "　", xs[i]->name) != 0)
			goto done;
		y += show(p, MARGIN + INDENT, y, BODY_W - INDENT, &F_BODY, line);
	}
	ret = i == n ? 0 : -1;
done:
	pango_layout_set_text(p->layout, "", 0);
	free(head);
	free(num);
	free(note);
	return ret;
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
		snprintf(err, errsz, "%s: %s", p->path,
			 cairo_status_to_string(cairo_status(p->cr)));
		return -1;
	}
	cairo_pdf_surface_set_metadata(p->surface, CAIRO_PDF_METADATA_TITLE, p->t[LT_HEADING]);
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
	for (size_t k = 0; k < LT_COUNT; k++)
		free(p->t[k]);
	letter_text_free(&p->lt);
	free(p->path);
	free(p);
	release_fonts();
}

/* The template's sections, filled once for every page. */
static int
load_text(struct letterpdf *p, char *err, size_t errsz)
{
	size_t k;

	if (letter_text_load(p->soc, &p->lt, err, errsz) != 0)
		return -1;
	for (k = 0; k < LT_COUNT; k++)
		if ((p->t[k] = letter_text(&p->lt, (enum letter_key)k, NULL, NULL)) == NULL) {
			snprintf(err, errsz, "out of memory");
			return -1;
		}
	return 0;
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
	if (load_text(p, err, errsz) != 0 || make_qr(p, err, errsz) != 0)
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
spell_member(const struct letterpdf *p, const struct letter *x, struct spelled *s, char *err,
	     size_t errsz)
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

int
letterpdf_cover(struct letterpdf *p, const struct letter *const *xs, size_t n, char *err,
		size_t errsz)
{
	if (p->spoiled || n == 0) {
		snprintf(err, errsz, "%s: %s", p->path,
			 p->spoiled ? "an earlier letter failed" : "no letters for a cover page");
		return -1;
	}
	if (draw_cover(p, xs, n) != 0) {
		snprintf(err, errsz, "office %s: the cover page does not fit on one page",
			 xs[0]->office_code != NULL ? xs[0]->office_code : "");
		p->spoiled = 1;
		return -1;
	}
	cairo_show_page(p->cr);
	if (cairo_status(p->cr) != CAIRO_STATUS_SUCCESS) {
		snprintf(err, errsz, "%s: %s", p->path,
			 p->write_errno ? strerror(p->write_errno) :
					  cairo_status_to_string(cairo_status(p->cr)));
		p->spoiled = 1;
		return -1;
	}
	return 0;
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
		snprintf(err, errsz,
			 p->spoiled ? "%s: an earlier letter failed" : "%s: no letter to write",
			 p->path);
		goto fail;
	}
	g_object_unref(p->layout);
	p->layout = NULL;
	cairo_destroy(p->cr);
	p->cr = NULL;
	cairo_surface_finish(p->surface);
	st = cairo_surface_status(p->surface);
	if (st != CAIRO_STATUS_SUCCESS) {
		snprintf(err, errsz, "%s: %s", p->path,
			 p->write_errno ? strerror(p->write_errno) : cairo_status_to_string(st));
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
