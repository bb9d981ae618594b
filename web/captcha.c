/*
 * captcha.c - the built-in image CAPTCHA (see captcha.h).
 */
#include "autoconfig.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cairo.h>
#include <fontconfig/fontconfig.h>
#include <pango/pangocairo.h>
#include <pthread.h>
#include <sodium.h>

#include "captcha.h"
#include "page.h"

#define CAPTCHA_LEN 5
#define WIDTH 220
#define HEIGHT 70
#define PNG_MAX (256 * 1024)

/* No characters that read as others (0/O/D, 1/I/L, 2/Z, 5/S, 8/B, Q). */
static const char alphabet[] = "ACEFGHJKMNPRTUVWXY34679";

/* One font map for the server, not pango's one per thread: each of the
 * workers would build its own map and keep it.  Pango's maps are not for concurrent use, so
 * drawing takes turns; a CAPTCHA is drawn a few times a minute. */
static pthread_mutex_t draw_lock = PTHREAD_MUTEX_INITIALIZER;
static PangoFontMap *fontmap;

static double
uniform(double lo, double hi)
{
	return lo + (hi - lo) * (double)randombytes_uniform(10001) / 10000.0;
}

struct png_out {
	unsigned char *data;
	size_t len, cap;
};

static cairo_status_t
png_write(void *closure, const unsigned char *data, unsigned int n)
{
	struct png_out *o = closure;
	unsigned char *p;

	if (o->len + n > PNG_MAX)
		return CAIRO_STATUS_WRITE_ERROR;
	if (o->len + n > o->cap) {
		size_t cap = o->cap ? o->cap * 2 : 16384;

		while (cap < o->len + n)
			cap *= 2;
		if ((p = realloc(o->data, cap)) == NULL)
			return CAIRO_STATUS_NO_MEMORY;
		o->data = p;
		o->cap = cap;
	}
	memcpy(o->data + o->len, data, n);
	o->len += n;
	return CAIRO_STATUS_SUCCESS;
}

static void
noise(cairo_t *cr)
{
	int i;

	for (i = 0; i < 5; i++) {
		cairo_set_source_rgb(cr, uniform(0.2, 0.6), uniform(0.2, 0.6), uniform(0.2, 0.6));
		cairo_set_line_width(cr, uniform(1.0, 2.2));
		cairo_move_to(cr, uniform(0, WIDTH / 4.0), uniform(0, HEIGHT));
		cairo_curve_to(cr, uniform(0, WIDTH), uniform(0, HEIGHT), uniform(0, WIDTH),
			       uniform(0, HEIGHT), uniform(WIDTH * 0.75, WIDTH),
			       uniform(0, HEIGHT));
		cairo_stroke(cr);
	}
	for (i = 0; i < 160; i++) {
		cairo_set_source_rgb(cr, uniform(0.3, 0.8), uniform(0.3, 0.8), uniform(0.3, 0.8));
		cairo_arc(cr, uniform(0, WIDTH), uniform(0, HEIGHT), uniform(0.6, 1.6), 0,
			  2 * M_PI);
		cairo_fill(cr);
	}
}

static void
glyphs(cairo_t *cr, const char *text)
{
	PangoContext *ctx = pango_font_map_create_context(fontmap);
	PangoLayout *layout;
	PangoFontDescription *font = pango_font_description_from_string("Sans Bold 30");
	double step = (WIDTH - 20) / (double)CAPTCHA_LEN;
	size_t i;

	pango_cairo_update_context(cr, ctx);
	layout = pango_layout_new(ctx);
	for (i = 0; text[i] != '\0'; i++) {
		pango_font_description_set_absolute_size(font, uniform(28, 36) * PANGO_SCALE);
		pango_layout_set_font_description(layout, font);
		pango_layout_set_text(layout, text + i, 1);
		cairo_save(cr);
		cairo_translate(cr, 12 + step * (double)i + uniform(-3, 3), uniform(6, 18));
		cairo_rotate(cr, uniform(-0.4, 0.4));
		cairo_set_source_rgb(cr, uniform(0, 0.35), uniform(0, 0.35), uniform(0, 0.45));
		pango_cairo_show_layout(cr, layout);
		cairo_restore(cr);
	}
	pango_font_description_free(font);
	g_object_unref(layout);
	g_object_unref(ctx);
}

int
captcha_draw(const char *text, unsigned char **png, size_t *len)
{
	cairo_surface_t *surface = cairo_image_surface_create(CAIRO_FORMAT_RGB24, WIDTH, HEIGHT);
	struct png_out o = { NULL, 0, 0 };
	cairo_t *cr = cairo_create(surface);
	int rc = -1;

	pthread_mutex_lock(&draw_lock);
	if (fontmap == NULL)
		fontmap = pango_cairo_font_map_new();
	if (fontmap == NULL || cairo_status(cr) != CAIRO_STATUS_SUCCESS)
		goto done;
	cairo_set_source_rgb(cr, uniform(0.88, 0.98), uniform(0.88, 0.98), uniform(0.85, 0.95));
	cairo_paint(cr);
	noise(cr);
	glyphs(cr, text);
	cairo_surface_flush(surface);
	if (cairo_surface_write_to_png_stream(surface, png_write, &o) != CAIRO_STATUS_SUCCESS)
		goto done;
	*png = o.data;
	*len = o.len;
	o.data = NULL;
	rc = 0;
done:
	pthread_mutex_unlock(&draw_lock);
	free(o.data);
	cairo_destroy(cr);
	cairo_surface_destroy(surface);
	return rc;
}

void
captcha_shutdown(void)
{
	pthread_mutex_lock(&draw_lock);
	if (fontmap != NULL) {
		g_object_unref(fontmap);
		fontmap = NULL;
		/* fontconfig's caches, which would outlive the map. */
		FcFini();
	}
	pthread_mutex_unlock(&draw_lock);
}

/* ---- the built-in provider ---- */

#ifdef KENPO_WEB_TEST_HOOKS
/* Tests only (captcha.h): the answer, where the browser test reads it. */
static void
test_hook(const char *answer)
{
	const char *path = getenv("KENPO_WEB_TEST_CAPTCHA_FILE");
	FILE *f;

	if (path == NULL || (f = fopen(path, "w")) == NULL)
		return;
	fprintf(f, "%s\n", answer);
	fclose(f);
}
#endif

static int
image_challenge(struct req *r)
{
	size_t i;

	for (i = 0; i < CAPTCHA_LEN; i++)
		r->s->captcha[i] = alphabet[randombytes_uniform(sizeof alphabet - 1)];
	r->s->captcha[CAPTCHA_LEN] = '\0';
#ifdef KENPO_WEB_TEST_HOOKS
	test_hook(r->s->captcha);
#endif
	return 0;
}

static void
image_form(struct req *r)
{
	hf(r,
	   "<div class=\"field captcha\"><img src=\"/%s/captcha.png\" width=\"%d\" "
	   "height=\"%d\" alt=\"%s\">",
	   r->sid, WIDTH, HEIGHT, T(r, "画像認証の文字", "Characters of the image check"));
	hf(r,
	   "<label for=\"captcha\">%s</label><input id=\"captcha\" name=\"captcha\" "
	   "type=\"text\" autocomplete=\"off\" autocapitalize=\"characters\" spellcheck=\"false\" "
	   "maxlength=\"16\" required aria-describedby=\"captcha-hint\">"
	   "<p class=\"hint\" id=\"captcha-hint\">%s</p></div>",
	   T(r, "画像の文字", "Characters in the image"),
	   T(r,
	     "画像に表示されている英数字5文字を入力してください（大文字・小文字は区別しません）。",
	     "Type the 5 letters and digits shown in the image (upper or lower case)."));
}

static void
image_image(struct req *r)
{
	unsigned char *png = NULL;
	size_t len = 0;

	if (r->s->captcha[0] == '\0' || captcha_draw(r->s->captcha, &png, &len) != 0) {
		r->status = 404;
		return;
	}
	buf_add(&r->body, (const char *)png, len);
	free(png);
	r->content_type = "image/png";
}

static int
image_verify(struct req *r, const char *answer)
{
	char up[CAPTCHA_LEN + 1];
	size_t i, n = strlen(answer);
	int ok = 0;

	if (r->s->captcha[0] != '\0' && n == CAPTCHA_LEN) {
		for (i = 0; i < n; i++)
			up[i] = answer[i] >= 'a' && answer[i] <= 'z' ? (char)(answer[i] - 32) :
								       answer[i];
		up[n] = '\0';
		ok = sodium_memcmp(up, r->s->captcha, CAPTCHA_LEN) == 0;
		sodium_memzero(up, sizeof up);
	}
	/* Single use, right or wrong. */
	sodium_memzero(r->s->captcha, sizeof r->s->captcha);
	return ok;
}

static const struct captcha_provider image_provider = {
	"image", image_challenge, image_form, image_image, image_verify,
};

static const struct captcha_provider *const providers[] = {
	&image_provider,
};

const struct captcha_provider *
captcha_find(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof providers / sizeof providers[0]; i++)
		if (strcmp(providers[i]->name, name) == 0)
			return providers[i];
	return NULL;
}
