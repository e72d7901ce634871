/* core/fmt.h - building short keys and numbers into fixed buffers without
 * printf, for the paths every simulated request takes (keys, tokens, ids,
 * integer replies). Like snprintf, output is cut to the buffer and always
 * NUL-terminated; unlike it, there is no format string to parse. For
 * anything off the hot path, snprintf is the clearer choice. */
#ifndef CORE_FMT_H
#define CORE_FMT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A cursor over caller-owned storage of size octets (size >= 1). */
struct fmt {
	char *buf;
	size_t size;
	size_t len;   /* octets written, excluding the NUL; always < size */
	bool cut;     /* something did not fit */
};

void fmt_init(struct fmt *f, char *buf, size_t size);
void fmt_mem(struct fmt *f, const char *s, size_t n);
void fmt_str(struct fmt *f, const char *s);
void fmt_u64(struct fmt *f, uint64_t v);             /* decimal */
void fmt_i64(struct fmt *f, int64_t v);              /* decimal, '-' when negative */
void fmt_hex64(struct fmt *f, uint64_t v);           /* 16 lower-case digits */

/* Decimal digits of v into out (at least FMT_U64_MAX octets, no NUL);
 * returns how many. */
#define FMT_U64_MAX 20
size_t fmt_u64_digits(char out[FMT_U64_MAX], uint64_t v);

#endif
