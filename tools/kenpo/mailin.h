/*
 * mailin.h - the sender of a mail piped in by an MTA (the empty-mail path
 * of 利用登録: the member sends an empty mail to the society's address and
 * gets the registration guide back).
 *
 * The message is parsed with GMime 3; only its header matters, the body is
 * ignored.  The sender is taken, in this order, from:
 *   1. From:        when it holds exactly one mailbox with a usable address;
 *   2. Sender:      likewise (RFC 5322 requires it when From names several);
 *   3. Return-Path: the envelope sender the MTA recorded on delivery.
 * "Usable" means what kenpo_mail_address_ok() accepts (a plain ASCII
 * addr-spec, no CR or LF).  A message that declares itself automatic
 * (Auto-Submitted other than "no", RFC 3834) or a bounce (Return-Path: <>)
 * is refused whatever its From says, so that kenpo never answers a robot
 * and two robots can never mail each other in a loop.  A leading mbox
 * "From " line, which some MTAs put in front of what they pipe, is skipped.
 */
#ifndef KENPO_MAILIN_H
#define KENPO_MAILIN_H

#include <stddef.h>

/* The largest message read; an empty request mail is a few KiB. */
#define KENPO_MAILIN_MAX (1024 * 1024)

enum kenpo_mailin_rc {
	KENPO_MAILIN_OK = 0,
	KENPO_MAILIN_READ_ERROR, /* reading the input failed */
	KENPO_MAILIN_TOO_LARGE,  /* more than the cap */
	KENPO_MAILIN_MALFORMED,  /* no message header could be parsed */
	KENPO_MAILIN_NO_SENDER,  /* no usable From, Sender or Return-Path */
	KENPO_MAILIN_AUTOMATIC,  /* Auto-Submitted, or a bounce */
};

/* Where the sender was found. */
enum kenpo_mailin_source {
	KENPO_MAILIN_FROM = 0,
	KENPO_MAILIN_SENDER,
	KENPO_MAILIN_RETURN_PATH,
};

/* Read all of fd (a pipe) into a malloc'd, NUL-terminated buffer, at most
 * `max` bytes: one byte more is KENPO_MAILIN_TOO_LARGE.  *data and *len are
 * written only on KENPO_MAILIN_OK. */
enum kenpo_mailin_rc kenpo_mailin_read(int fd, size_t max, char **data, size_t *len);

/* Find the sender of the message data[0..len) and copy its address into
 * out (outsz >= 255 is always enough).  out and *source are written only
 * on KENPO_MAILIN_OK; source may be NULL. */
enum kenpo_mailin_rc kenpo_mailin_sender(const char *data, size_t len, char *out, size_t outsz,
					 enum kenpo_mailin_source *source);

/* Stable text code of a result ("no-sender", ...) for messages and --json. */
const char *kenpo_mailin_code(enum kenpo_mailin_rc rc);
/* Name of a source: "from", "sender", "return-path". */
const char *kenpo_mailin_source_name(enum kenpo_mailin_source s);

#endif
