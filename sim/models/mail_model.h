/* sim/models/mail_model.h - an in-process mail server's outbox: it keeps
 * every accepted message byte for byte as it came over the wire and answers
 * with the SMTP code a strict server would give. Synchronous; knows nothing
 * of the scheduler or of faults. Not a MIME parser: only the header section
 * is read, on demand, for invariant checks. Not thread-safe. */
#ifndef SIM_MODELS_MAIL_MODEL_H
#define SIM_MODELS_MAIL_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/env.h"

#define MAIL_MODEL_MESSAGE_MAX (256u * 1024)  /* bytes of data in a message */
#define MAIL_MODEL_MESSAGES_MAX (1u << 17)    /* messages kept */
#define MAIL_MODEL_BYTES_MAX (64u << 20)      /* data bytes kept in all */
#define MAIL_MODEL_ADDRESS_MAX 254            /* RFC 5321 path, no brackets */

struct mail_model; /* opaque */

/* NULL when out of memory. */
struct mail_model *mail_model_create(void);
void mail_model_destroy(struct mail_model *m); /* accepts NULL */

/* Accepts a message at now_us, copying from, to and data. Returns the SMTP
 * code, checked in this order:
 *  501 from or to is NULL, empty, without an '@', over MAIL_MODEL_ADDRESS_MAX
 *      bytes, or holding what cannot travel in an SMTP envelope (controls,
 *      spaces, angle brackets, a comma between two addresses); anything else
 *      is delivered, as a lenient MTA would (one-label domains, odd dots,
 *      quoted local parts, IP literals, UTF-8, long local parts);
 *  552 data over MAIL_MODEL_MESSAGE_MAX bytes;
 *  554 data holding a bare CR or LF (not part of CRLF) or a NUL: SMTP would
 *      reject or mangle it;
 *  452 the outbox is full (MAIL_MODEL_MESSAGES_MAX messages or
 *      MAIL_MODEL_BYTES_MAX bytes), or memory ran out: "insufficient system
 *      storage", a transient failure;
 *  250 accepted: the message is appended to the outbox.
 * msg->data may be NULL only when msg->len is 0 (asserted). */
int mail_model_accept(struct mail_model *m, uint64_t now_us,
                      const struct mail_message *msg);

size_t mail_model_count(const struct mail_model *m);
/* Message i (0 = first accepted), i < count (asserted). The message and its
 * strings (NUL-terminated copies; data also carries len) stay valid until
 * the model is destroyed. */
const struct mail_message *mail_model_get(const struct mail_model *m, size_t i);
/* When message i was accepted. */
uint64_t mail_model_accepted_us(const struct mail_model *m, size_t i);

/* Parses the header section of message i (the lines before the first empty
 * line, or all of data without one) and calls fn for each field in order
 * with its name and its unfolded value (the CRLF before each continuation
 * line removed, spaces and tabs around the value trimmed). Both strings are
 * valid during the call only. Returns false, without calling fn at all, if
 * the section is malformed: a line that is neither "Name: value" (the name
 * being one or more printable ASCII characters other than ':', with no space
 * before the colon) nor a continuation (starting with a space or tab) of a
 * field. fn must not call mail_model_headers (its buffer is shared). */
typedef void mail_model_header_fn(void *arg, const char *name, const char *value);
bool mail_model_headers(const struct mail_model *m, size_t i,
                        mail_model_header_fn *fn, void *arg);

#endif
