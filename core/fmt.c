/* core/fmt.c - see fmt.h. */
#include "core/fmt.h"

#include <string.h>

#include "core/assert.h"

void fmt_init(struct fmt *f, char *buf, size_t size)
{
	ASSERT(buf != NULL);
	ASSERT(size >= 1);
	f->buf = buf;
	f->size = size;
	f->len = 0;
	f->cut = false;
	buf[0] = '\0';
}

void fmt_mem(struct fmt *f, const char *s, size_t n)
{
	ASSERT(f->len < f->size);
	size_t room = f->size - 1 - f->len;
	if (n > room) {
		n = room;
		f->cut = true;
	}
	memcpy(f->buf + f->len, s, n);
	f->len += n;
	f->buf[f->len] = '\0';
}

void fmt_str(struct fmt *f, const char *s)
{
	fmt_mem(f, s, strlen(s));
}

size_t fmt_u64_digits(char out[FMT_U64_MAX], uint64_t v)
{
	char rev[FMT_U64_MAX];
	size_t n = 0;
	do {
		rev[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v != 0);
	ASSERT(n <= FMT_U64_MAX);
	for (size_t i = 0; i < n; i++)
		out[i] = rev[n - 1 - i];
	return n;
}

void fmt_u64(struct fmt *f, uint64_t v)
{
	char d[FMT_U64_MAX];
	fmt_mem(f, d, fmt_u64_digits(d, v));
}

void fmt_i64(struct fmt *f, int64_t v)
{
	if (v < 0) {
		fmt_mem(f, "-", 1);
		/* -(v + 1) + 1 stays in range for INT64_MIN. */
		fmt_u64(f, (uint64_t)(-(v + 1)) + 1);
		return;
	}
	fmt_u64(f, (uint64_t)v);
}

void fmt_hex64(struct fmt *f, uint64_t v)
{
	static const char digits[] = "0123456789abcdef";
	char d[16];
	for (int i = 15; i >= 0; i--) {
		d[i] = digits[v & 0xf];
		v >>= 4;
	}
	fmt_mem(f, d, sizeof d);
}
