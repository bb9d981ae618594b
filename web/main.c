/*
 * main.c - kenpo-web: the member portal's login screens.
 *
 *   kenpo-web [-c FILE] [-t]
 *
 * Reads kenpo-web.conf (conf.h) and the societies of kenpod.conf, starts
 * the HTTP server (http.c) and runs in the foreground until SIGTERM or
 * SIGINT; a thread ends the sessions that timed out.  -t checks the
 * configuration and exits.
 */
#include "autoconfig.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "backend.h"
#include "captcha.h"
#include "http.h"
#include "pamauth.h"
#include "kenpo-proto.h"
#include "web.h"

#define SWEEP_SECONDS 5

static volatile sig_atomic_t stopping;

static void
on_signal(int sig)
{
	(void)sig;
	stopping = 1;
}

/* A session ended by time or to make room: a pending key is voided, as
 * leaving the key screen does, and a login's profile session ended, as
 * logging out does (session.h calls this with the session locked). */
void
web_session_ended(struct session *s, void *arg)
{
	(void)arg;
	web_end_login(s, "");
}

static void
usage(FILE *f)
{
	fprintf(f,
		"usage: kenpo-web [-c FILE] [-t]\n"
		"  -c FILE  the configuration (default %s)\n"
		"  -t       check the configuration and exit\n",
		WEB_CONF_PATH);
}

static int
load(const char *path, struct web_conf **conf, struct kenpo_config **kenpod)
{
	char err[512];

	if (web_conf_load(path, getuid(), conf, err, sizeof err) != 0) {
		fprintf(stderr, "kenpo-web: %s\n", err);
		return -1;
	}
	if (kenpo_config_load((*conf)->kenpod_conf, getuid(), kenpod, err, sizeof err) != 0) {
		fprintf(stderr, "kenpo-web: %s\n", err);
		return -1;
	}
	if (captcha_find((*conf)->captcha) == NULL) {
		fprintf(stderr, "kenpo-web: %s: captcha: no provider \"%s\"\n",
			path != NULL ? path : WEB_CONF_PATH, (*conf)->captcha);
		return -1;
	}
	return 0;
}

static void
serve(void)
{
	struct sigaction sa;
	sigset_t none;

	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&none);
	while (!stopping) {
		(void)sessions_sweep();
		sleep(SWEEP_SECONDS);
	}
}

int
main(int argc, char **argv)
{
	struct web_conf *conf = NULL;
	struct kenpo_config *kenpod = NULL;
	struct web w;
	const char *path = NULL;
	char err[512];
	int opt, check = 0, rc = 1;

	while ((opt = getopt(argc, argv, "c:th")) != -1) {
		switch (opt) {
		case 'c':
			path = optarg;
			break;
		case 't':
			check = 1;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}
	if (sodium_init() < 0) {
		fprintf(stderr, "kenpo-web: libsodium cannot start\n");
		return 1;
	}
	if (load(path, &conf, &kenpod) != 0)
		goto done;
	if (check) {
		printf("kenpo-web: configuration OK (%zu societies)\n", kenpod->nsocieties);
		rc = 0;
		goto done;
	}
	w.conf = conf;
	w.kenpod = kenpod;
	snprintf(err, sizeof err, "cannot start");
	if (be_init(conf->socket != NULL ? conf->socket : kenpod->socket_path,
		    conf->kenpod_concurrency) != 0 ||
	    pa_init(conf->kenpod_concurrency) != 0 ||
	    sessions_init(conf, web_session_ended, NULL) != 0 ||
	    http_start(&w, err, sizeof err) != 0) {
		fprintf(stderr, "kenpo-web: %s\n", err);
		goto done;
	}
	fprintf(stderr, "kenpo-web: listening on %s port %u\n", conf->listen_host, conf->port);
	serve();
	http_stop();
	sessions_shutdown();
	captcha_shutdown();
	rc = 0;
done:
	kenpo_config_free(kenpod);
	web_conf_free(conf);
	return rc;
}
