/*
 * http.h - the HTTP side of kenpo-web: libmicrohttpd, the routes, the
 * session cookie, the CSRF check and the headers of every answer.
 */
#ifndef KENPO_WEB_HTTP_H
#define KENPO_WEB_HTTP_H

#include "web.h"

/* Start serving; 0 or -1 with errbuf filled. */
int http_start(struct web *w, char *errbuf, size_t errsz);
void http_stop(void);

#endif
