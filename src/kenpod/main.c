/*
 * main.c - kenpod: options, start-up, privileges and shutdown.
 *
 *   kenpod [-c CONFIG] [-f] [-d] [-s SOCKET] [-t]
 *
 * -f stays in the foreground and logs to stderr too (systemd runs it so),
 * -d logs debug lines, -s overrides the socket path, -t checks the
 * configuration and exits 0 or 1.
 */
#include "autoconfig.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>
#include <sodium.h>

#include "auth.h"
#include "cache.h"
#include "conf.h"
#include "config.h"
#include "follow.h"
#include "log.h"
#include "myldap.h"
#include "pubmap.h"
#include "readfile.h"
#include "secret.h"
#include "server.h"

#define PASSWORD_FILE_MAX 4096

struct options {
	const char *config;
	const char *socket;
	int foreground;
	int debug;
	int check;
};

/* What main owns and releases at the end. */
struct daemon_state {
	struct kenpo_config *cfg;
	char *password; /* the bind password, wiped at exit */
	size_t password_len;
	int listen_fd;
	const char *socket_path;
	char created_dir[PATH_MAX]; /* the socket's directory, if kenpod made it */
	char map_dir[PATH_MAX];     /* the passwd map's directory */
	int map_dir_ours;           /* kenpod made it, or it is the runtime directory */
	struct follow *follow;
	dev_t socket_dev;
	ino_t socket_ino;
	int ctl[2]; /* signal handlers -> event loop */
	unsigned char secret[KENPO_SERVER_SECRET_BYTES];
	int conf_begun; /* the configuration's generations started */
	struct kenpod kd;
};

static int ctl_write_fd = -1;
static int in_foreground;

static void
usage(FILE *f)
{
	fprintf(f,
		"usage: kenpod [-c CONFIG] [-f] [-d] [-s SOCKET] [-t]\n"
		"  -c CONFIG  configuration file (default %s)\n"
		"  -f         stay in the foreground, log to stderr too\n"
		"  -d         log debug messages\n"
		"  -s SOCKET  listen on this socket instead of the configured one\n"
		"  -t         check the configuration and exit\n",
		KENPO_CONFIG_PATH);
}

static int
parse_options(int argc, char **argv, struct options *o)
{
	int c;

	while ((c = getopt(argc, argv, "c:fds:th")) != -1) {
		switch (c) {
		case 'c':
			o->config = optarg;
			break;
		case 'f':
			o->foreground = 1;
			break;
		case 'd':
			o->debug = 1;
			break;
		case 's':
			o->socket = optarg;
			break;
		case 't':
			o->check = 1;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			return -1;
		}
	}
	return optind == argc ? 0 : -1;
}

/* A start-up error: to syslog, and to stderr, which the foreground log
 * writes to anyway and which is still attached before daemonising. */
static void
startup_error(const char *what, const char *detail)
{
	log_msg(LOG_ERR, "%s: %.300s", what, detail);
	if (!in_foreground)
		fprintf(stderr, "kenpod: %s: %.300s\n", what, detail);
}

/* ---- hardening ---- */

/*
 * kenpod holds the server secret, the bind password and the relay's
 * password for as long as it runs.  So: no core file that would write
 * them to disk, and not dumpable, which also keeps other processes of
 * kenpod's user from ptrace and from /proc/PID/mem.  Set before any
 * secret is read, and again after the privilege drop, since changing
 * the uid sets the dumpable flag to fs.suid_dumpable.
 */
static int
not_dumpable(void)
{
	static const struct rlimit none = { 0, 0 };

	if (setrlimit(RLIMIT_CORE, &none) != 0) {
		startup_error("RLIMIT_CORE", strerror(errno));
		return -1;
	}
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0) {
		startup_error("PR_SET_DUMPABLE", strerror(errno));
		return -1;
	}
	return 0;
}

/* Keep a long-lived secret out of swap.  A failure (RLIMIT_MEMLOCK) is
 * worth a warning, not a refusal to start: the secret is still wiped at
 * exit. */
static void
lock_in_memory(void *p, size_t len, const char *what)
{
	if (p != NULL && len > 0 && sodium_mlock(p, len) != 0)
		log_msg(LOG_WARNING, "%s cannot be locked in memory: %s", what, strerror(errno));
}

/* ---- configuration and secrets ---- */

static int
load_config(const struct options *o, struct kenpo_config **cfg)
{
	char err[512] = "";

	if (conf_read(o->config, cfg, err, sizeof err) != 0) {
		startup_error("configuration", err);
		return -1;
	}
	return 0;
}

/* Read the bind password (readfile.h: one line), kept only in memory. */
static int
load_password(struct daemon_state *st)
{
	char err[512] = "";

	/* Without bind_dn, SASL EXTERNAL: no password. */
	if (st->cfg->bind_dn == NULL || st->cfg->bind_dn[0] == '\0' ||
	    kenpo_read_secret_line(st->cfg->bind_password_file, geteuid(), PASSWORD_FILE_MAX,
				   &st->password, &st->password_len, err, sizeof err) == 0) {
		lock_in_memory(st->password, st->password_len + 1, "the bind password");
		return 0;
	}
	startup_error("bind_password_file", err);
	return -1;
}

static int
load_secret(struct daemon_state *st)
{
	const struct kenpo_config *cfg = st->cfg;
	char err[512] = "";

	struct stat sb;

	/* Lookups need no secret, so kenpod still serves them without one:
	 * a missing file is worth a warning (and authentication answers
	 * "unavailable"), a file that is there but wrong an error. */
	if (cfg->secret_file == NULL || cfg->secret_file[0] == '\0' ||
	    (lstat(cfg->secret_file, &sb) != 0 && errno == ENOENT)) {
		log_msg(LOG_WARNING, "no secret_file: authentication is not available");
		return 0;
	}
	lock_in_memory(st->secret, sizeof st->secret, "the server secret");
	if (kenpo_server_secret_load(cfg->secret_file, st->secret, err, sizeof err) != 0) {
		startup_error("secret_file", err);
		return -1;
	}
	st->kd.have_secret = 1;
	return 0;
}

static int
resolve_portal_group(struct daemon_state *st)
{
	char err[512] = "";

	if (conf_portal_group(st->cfg, &st->kd, err, sizeof err) == 0)
		return 0;
	startup_error("configuration", err);
	return -1;
}

/* ---- the socket ---- */

/* Create the socket's directory (only the last level) if missing, and
 * remember it in st->created_dir. */
static int
make_socket_dir(struct daemon_state *st, const char *path)
{
	char dir[PATH_MAX];
	char *slash;

	if (snprintf(dir, sizeof dir, "%s", path) >= (int)sizeof dir)
		return -1;
	slash = strrchr(dir, '/');
	if (slash == NULL || slash == dir)
		return 0;
	*slash = '\0';
	if (mkdir(dir, 0755) == 0) {
		memcpy(st->created_dir, dir, strlen(dir) + 1);
		return 0;
	}
	if (errno == EEXIST)
		return 0;
	startup_error(dir, strerror(errno));
	return -1;
}

/* Remove a socket that nobody answers on; refuse to take over one that
 * another kenpod answers on, and anything that is not a socket. */
static int
clear_stale_socket(const char *path)
{
	struct stat sb;
	int fd;

	if (lstat(path, &sb) != 0) {
		if (errno == ENOENT)
			return 0;
		startup_error(path, strerror(errno));
		return -1;
	}
	if (!S_ISSOCK(sb.st_mode)) {
		startup_error(path, "exists and is not a socket");
		return -1;
	}
	fd = kenpo_connect(path, kenpo_now_ms() + 1000);
	if (fd >= 0) {
		close(fd);
		startup_error(path, "another kenpod is answering on this socket");
		return -1;
	}
	if (errno != ECONNREFUSED) {
		startup_error(path, strerror(errno));
		return -1;
	}
	if (unlink(path) != 0 && errno != ENOENT) {
		startup_error(path, strerror(errno));
		return -1;
	}
	log_msg(LOG_INFO, "removed the stale socket %.200s", path);
	return 0;
}

/* Bind and listen, mode 0666: every local process may ask. */
static int
open_socket(struct daemon_state *st)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	const char *path = st->socket_path;
	struct stat sb;
	mode_t old;
	int fd, rc;

	if (strlen(path) >= sizeof sa.sun_path) {
		startup_error(path, "socket path too long");
		return -1;
	}
	memcpy(sa.sun_path, path, strlen(path) + 1);
	if (make_socket_dir(st, path) != 0 || clear_stale_socket(path) != 0)
		return -1;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		startup_error("socket", strerror(errno));
		return -1;
	}
	old = umask(0111);
	rc = bind(fd, (struct sockaddr *)&sa, sizeof sa);
	umask(old);
	if (rc != 0 || listen(fd, SOMAXCONN) != 0 || stat(path, &sb) != 0) {
		startup_error(path, strerror(errno));
		close(fd);
		return -1;
	}
	st->socket_dev = sb.st_dev;
	st->socket_ino = sb.st_ino;
	st->listen_fd = fd;
	return 0;
}

/* Remove the socket, unless another kenpod has replaced it meanwhile. */
static void
remove_socket(const struct daemon_state *st)
{
	struct stat sb;

	if (st->listen_fd < 0)
		return;
	if (lstat(st->socket_path, &sb) == 0 && sb.st_dev == st->socket_dev &&
	    sb.st_ino == st->socket_ino && unlink(st->socket_path) != 0)
		log_msg(LOG_WARNING, "cannot remove %.200s: %s", st->socket_path,
			strerror(errno));
}

/* ---- the passwd map's directory ---- */

/* kenpod writes the passwd map after it has dropped its privileges, so its
 * directory must be its own: made here if missing, or kenpod's runtime
 * directory, which a service manager may have made for root. */
#define RUNTIME_DIR RUNDIR "/kenpo"

static int
prepare_map_dir(struct daemon_state *st)
{
	const char *path = st->cfg->passwd_map, *slash = strrchr(path, '/');
	size_t len = slash != NULL ? (size_t)(slash - path) : 0;

	if (len == 0 || len >= sizeof st->map_dir) {
		startup_error("passwd_map", "not a file path in a directory");
		return -1;
	}
	memcpy(st->map_dir, path, len);
	st->map_dir[len] = '\0';
	if (mkdir(st->map_dir, 0755) == 0) {
		st->map_dir_ours = 1;
		return 0;
	}
	if (errno != EEXIST) {
		startup_error(st->map_dir, strerror(errno));
		return -1;
	}
	st->map_dir_ours = strcmp(st->map_dir, RUNTIME_DIR) == 0;
	return 0;
}

/* ---- privileges ---- */

/* As root with `user` set, become that user for good, after the socket
 * is open and the files are read.  The socket's directory is handed over
 * too when kenpod created it, so that the socket can be removed at exit. */
static int
drop_privileges(const struct daemon_state *st)
{
	const char *user = st->cfg->user;
	struct passwd *pw;

	if (geteuid() != 0 || user == NULL || user[0] == '\0')
		return 0;
	errno = 0;
	pw = getpwnam(user);
	if (pw == NULL) {
		startup_error("user", errno != 0 ? strerror(errno) : "no such user");
		return -1;
	}
	if (pw->pw_uid == 0)
		return 0;
	if (st->created_dir[0] != '\0' && chown(st->created_dir, pw->pw_uid, pw->pw_gid) != 0) {
		startup_error(st->created_dir, strerror(errno));
		return -1;
	}
	if (st->map_dir_ours && chown(st->map_dir, pw->pw_uid, pw->pw_gid) != 0) {
		startup_error(st->map_dir, strerror(errno));
		return -1;
	}
	if (initgroups(pw->pw_name, pw->pw_gid) != 0 || setgid(pw->pw_gid) != 0 ||
	    setuid(pw->pw_uid) != 0) {
		startup_error("dropping privileges", strerror(errno));
		return -1;
	}
	if (setuid(0) == 0) {
		startup_error("dropping privileges", "root could be regained");
		return -1;
	}
	log_msg(LOG_INFO, "running as %.100s (uid %lu)", user, (unsigned long)pw->pw_uid);
	return 0;
}

/* ---- signals ---- */

/* Async-signal-safe: one byte down the control pipe. */
static void
on_signal(int sig)
{
	int saved = errno;
	char c = sig == SIGHUP ? 'H' : 'T';

	if (write(ctl_write_fd, &c, 1) != 1) {
		/* A full pipe already holds a pending command. */
	}
	errno = saved;
}

static int
setup_signals(struct daemon_state *st)
{
	struct sigaction sa;

	if (pipe2(st->ctl, O_CLOEXEC | O_NONBLOCK) != 0) {
		startup_error("pipe", strerror(errno));
		return -1;
	}
	ctl_write_fd = st->ctl[1];
	memset(&sa, 0, sizeof sa);
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = SA_RESTART;
	sa.sa_handler = on_signal;
	if (sigaction(SIGTERM, &sa, NULL) != 0 || sigaction(SIGINT, &sa, NULL) != 0 ||
	    sigaction(SIGHUP, &sa, NULL) != 0)
		return -1;
	sa.sa_handler = SIG_IGN;
	return sigaction(SIGPIPE, &sa, NULL);
}

/* ---- daemon ---- */

/* Detach: fork, new session, fork again so that no terminal can ever be
 * acquired, then stdio to /dev/null.  Returns in the daemon only. */
static int
daemonize(void)
{
	pid_t pid;
	int fd, status;

	pid = fork();
	if (pid < 0)
		return -1;
	if (pid > 0) {
		/* The parent leaves once the intermediate child has forked. */
		(void)waitpid(pid, &status, 0);
		_exit(WIFEXITED(status) ? WEXITSTATUS(status) : 1);
	}
	if (setsid() < 0)
		_exit(1);
	pid = fork();
	if (pid < 0)
		_exit(1);
	if (pid > 0)
		_exit(0);
	if (chdir("/") != 0)
		return -1;
	fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (fd < 0 || dup2(fd, STDIN_FILENO) < 0 || dup2(fd, STDOUT_FILENO) < 0 ||
	    dup2(fd, STDERR_FILENO) < 0)
		return -1;
	if (fd > STDERR_FILENO)
		close(fd);
	return 0;
}

/* ---- main ---- */

static void
state_release(struct daemon_state *st)
{
	remove_socket(st);
	if (st->listen_fd >= 0)
		close(st->listen_fd);
	if (st->ctl[0] >= 0) {
		close(st->ctl[0]);
		close(st->ctl[1]);
	}
	/* The follower holds a generation and reads the bind password. */
	conf_on_reload(NULL, NULL);
	follow_stop(st->follow);
	/* sodium_munlock wipes before it unlocks (and wipes what could not
	 * be locked too). */
	if (st->password != NULL) {
		(void)sodium_munlock(st->password, st->password_len + 1);
		free(st->password);
	}
	if (st->conf_begun)
		conf_end();
	(void)sodium_munlock(st->secret, sizeof st->secret);
	auth_cleanup();
	pubmap_free(st->kd.map);
	cache_free(st->kd.cache);
	kenpo_config_free(st->cfg);
}

/* Everything done as root: files, socket, then the privilege drop. */
static int
prepare(const struct options *o, struct daemon_state *st)
{
	char err[512] = "";

	if (load_config(o, &st->cfg) != 0)
		return -1;
	if (o->debug || (st->cfg->log_level != NULL && strcmp(st->cfg->log_level, "debug") == 0))
		log_open(o->foreground, 1);
	st->kd.cfg = st->cfg;
	st->kd.secret = st->secret;
	st->socket_path = o->socket != NULL            ? o->socket :
			  st->cfg->socket_path != NULL ? st->cfg->socket_path :
							 KENPO_SOCKET_PATH;
	if (load_secret(st) != 0 || load_password(st) != 0 || resolve_portal_group(st) != 0)
		return -1;
	/* Reads smtp_password_file, so before the privileges go. */
	if (auth_setup(st->cfg, err, sizeof err) != 0) {
		startup_error("authentication", err);
		return -1;
	}
	if (open_socket(st) != 0 || prepare_map_dir(st) != 0 || drop_privileges(st) != 0)
		return -1;
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
		startup_error("PR_SET_NO_NEW_PRIVS", strerror(errno));
		return -1;
	}
	return not_dumpable();
}

/* Publish the passwd map and follow the directory into it. */
static int
start_map(struct daemon_state *st)
{
	struct pubmap_params p = {
		st->cfg->passwd_map,
		st->socket_path,
		st->cfg->enumerate,
		st->cfg->cache_positive_ttl * 1000,
	};
	char err[512] = "";

	if (pubmap_new(&p, &st->kd.map, err, sizeof err) != 0) {
		startup_error("passwd_map", err);
		return -1;
	}
	cache_attach_map(st->kd.cache, st->kd.map);
	if (pubmap_start(st->kd.map) != 0) {
		startup_error("passwd_map", "cannot start its thread");
		return -1;
	}
	return 0;
}

/* After conf_begin: each reading of the follower holds a generation. */
static int
start_follower(struct daemon_state *st)
{
	if (follow_start(&st->kd, st->password, &st->follow) != 0) {
		startup_error("passwd_map", "cannot start its follower");
		return -1;
	}
	conf_on_reload(follow_reread, st->follow);
	return 0;
}

static int
run(const struct options *o, struct daemon_state *st)
{
	int rc;

	if (prepare(o, st) != 0 || setup_signals(st) != 0)
		return -1;
	if (!o->foreground && daemonize() != 0) {
		startup_error("daemonize", strerror(errno));
		return -1;
	}
	st->kd.cache = cache_new(st->cfg->cache_size, st->cfg->cache_positive_ttl,
				 st->cfg->cache_negative_ttl);
	if (st->kd.cache == NULL || myldap_setup(st->cfg, st->password) != 0) {
		startup_error("start-up", "out of memory");
		return -1;
	}
	/* Before the first generation, which copies the map's handle. */
	if (start_map(st) != 0)
		return -1;
	if (conf_begin(&st->kd, o->config, o->debug) != 0) {
		startup_error("start-up", "out of memory");
		return -1;
	}
	st->conf_begun = 1;
	if (start_follower(st) != 0)
		return -1;
	log_msg(LOG_INFO, "kenpod %s listening on %.200s", PACKAGE_VERSION, st->socket_path);
	rc = server_run(st->listen_fd, st->ctl[0], st->cfg);
	myldap_teardown();
	if (rc != 0)
		return -1;
	log_msg(LOG_INFO, "stopped");
	return 0;
}

static int
check_only(const struct options *o)
{
	struct kenpo_config *cfg = NULL;

	if (load_config(o, &cfg) != 0)
		return 1;
	printf("%s: configuration OK (%zu societies)\n", cfg->path, cfg->nsocieties);
	kenpo_config_free(cfg);
	return 0;
}

int
main(int argc, char **argv)
{
	struct options o = { NULL, NULL, 0, 0, 0 };
	struct daemon_state st = { .listen_fd = -1, .ctl = { -1, -1 } };
	int rc;

	/* libnss_kenpo must answer "unavailable" inside kenpod, so that
	 * kenpod never asks itself (and waits for itself) through NSS. */
	if (setenv("_KENPO_NSS_LOOPS", "NO", 1) != 0)
		return 1;
	/* glibc's gettext prefers $LANGUAGE to the per-thread locale that
	 * kenpo_i18n_text sets (i18n.h); the environment may only change
	 * now, before any thread starts. */
	if (unsetenv("LANGUAGE") != 0)
		return 1;
	if (parse_options(argc, argv, &o) != 0) {
		usage(stderr);
		return 2;
	}
	in_foreground = o.foreground || o.check;
	log_open(in_foreground, o.debug);
	if (o.check)
		return check_only(&o);
	if (kenpo_secret_init() != 0) {
		startup_error("libsodium", "cannot initialise");
		return 1;
	}
	if (not_dumpable() != 0)
		return 1;
	rc = run(&o, &st);
	state_release(&st);
	log_close();
	return rc == 0 ? 0 : 1;
}
