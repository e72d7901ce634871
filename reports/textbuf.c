/* reports/textbuf.c - bounded text buffer and XML/HTML escaping for the
 * report writers. Escaping decodes UTF-8 itself only to find the characters
 * XML 1.0 forbids; everything else is copied byte for byte. */
#include "reports/textbuf.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/assert.h"

void textbuf_init(struct textbuf *tb)
{
	ASSERT(tb != NULL);
	memset(tb, 0, sizeof *tb);
}

void textbuf_fini(struct textbuf *tb)
{
	if (tb == NULL)
		return;
	free(tb->data);
	memset(tb, 0, sizeof *tb);
}

const char *textbuf_str(const struct textbuf *tb)
{
	ASSERT(tb != NULL);
	return tb->data != NULL ? tb->data : "";
}

/* Makes room for n more bytes plus the NUL; false (and failed) when it
 * cannot. */
static bool textbuf_reserve(struct textbuf *tb, size_t n)
{
	if (tb->failed)
		return false;
	if (n > TEXTBUF_MAX || tb->len + n > TEXTBUF_MAX) {
		tb->failed = true;
		return false;
	}
	size_t need = tb->len + n + 1;
	if (need <= tb->cap)
		return true;
	size_t cap = tb->cap != 0 ? tb->cap : 4096;
	while (cap < need)        /* at most ~15 doublings up to TEXTBUF_MAX */
		cap *= 2;
	char *bigger = realloc(tb->data, cap);
	if (bigger == NULL) {
		tb->failed = true;
		return false;
	}
	tb->data = bigger;
	tb->cap = cap;
	return true;
}

void textbuf_putn(struct textbuf *tb, const char *s, size_t n)
{
	ASSERT(tb != NULL);
	ASSERT(s != NULL || n == 0);
	if (!textbuf_reserve(tb, n))
		return;
	memcpy(tb->data + tb->len, s, n);
	tb->len += n;
	tb->data[tb->len] = '\0';
}

void textbuf_put(struct textbuf *tb, const char *s)
{
	ASSERT(s != NULL);
	textbuf_putn(tb, s, strlen(s));
}

void textbuf_printf(struct textbuf *tb, const char *fmt, ...)
{
	ASSERT(tb != NULL);
	char small[512];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(small, sizeof small, fmt, ap);
	va_end(ap);
	if (n < 0) {
		tb->failed = true;
		return;
	}
	if ((size_t)n < sizeof small) {
		textbuf_putn(tb, small, (size_t)n);
		return;
	}
	if (!textbuf_reserve(tb, (size_t)n))
		return;
	va_start(ap, fmt);
	vsnprintf(tb->data + tb->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	tb->len += (size_t)n;
}

/* Decodes the UTF-8 character at s (n > 0 bytes left) into *cp and returns
 * its length, or 0 when the bytes are not well-formed UTF-8. */
static size_t textbuf_decode(const unsigned char *s, size_t n, uint32_t *cp)
{
	unsigned char c = s[0];
	size_t len;
	uint32_t v, min;
	if (c < 0x80) {
		*cp = c;
		return 1;
	} else if ((c & 0xE0) == 0xC0) {
		len = 2, v = c & 0x1F, min = 0x80;
	} else if ((c & 0xF0) == 0xE0) {
		len = 3, v = c & 0x0F, min = 0x800;
	} else if ((c & 0xF8) == 0xF0) {
		len = 4, v = c & 0x07, min = 0x10000;
	} else {
		return 0;
	}
	if (n < len)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xC0) != 0x80)
			return 0;
		v = (v << 6) | (s[i] & 0x3F);
	}
	if (v < min || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF))
		return 0;
	*cp = v;
	return len;
}

/* XML 1.0 production Char. */
static bool textbuf_xml_allows(uint32_t cp)
{
	if (cp < 0x20)
		return cp == 0x09 || cp == 0x0A || cp == 0x0D;
	return cp != 0xFFFE && cp != 0xFFFF;
}

static void textbuf_put_escaped(struct textbuf *tb, const char *s, bool attr)
{
	ASSERT(tb != NULL);
	if (s == NULL)
		return;
	const unsigned char *p = (const unsigned char *)s;
	size_t n = strlen(s);
	/* Bounded by n: every pass consumes at least one byte. */
	for (size_t i = 0; i < n;) {
		uint32_t cp = 0;
		size_t len = textbuf_decode(p + i, n - i, &cp);
		if (len == 0) {
			i++;                       /* not UTF-8: dropped */
			continue;
		}
		const char *ref = NULL;
		switch (cp) {
		case '&': ref = "&amp;"; break;
		case '<': ref = "&lt;"; break;
		case '>': ref = "&gt;"; break;
		case '"': ref = "&quot;"; break;
		case '\'': ref = "&#39;"; break;
		case '\t': ref = attr ? "&#9;" : NULL; break;
		case '\n': ref = attr ? "&#10;" : NULL; break;
		case '\r': ref = "&#13;"; break;  /* a raw CR would be normalised away */
		default: break;
		}
		if (ref != NULL)
			textbuf_put(tb, ref);
		else if (textbuf_xml_allows(cp))
			textbuf_putn(tb, (const char *)p + i, len);
		i += len;
	}
}

void textbuf_put_xml(struct textbuf *tb, const char *s)
{
	textbuf_put_escaped(tb, s, false);
}

void textbuf_put_xml_attr(struct textbuf *tb, const char *s)
{
	textbuf_put_escaped(tb, s, true);
}

void textbuf_put_time_us(struct textbuf *tb, uint64_t us)
{
	textbuf_printf(tb, "%llu.%06llu s", (unsigned long long)(us / 1000000),
	               (unsigned long long)(us % 1000000));
}

void textbuf_put_duration_us(struct textbuf *tb, uint64_t us)
{
	if (us < 1000) {
		textbuf_printf(tb, "%llu us", (unsigned long long)us);
		return;
	}
	double v = (double)us / 1000.0;
	const char *unit = "ms";
	if (us >= 1000000) {
		v = (double)us / 1000000.0;
		unit = "s";
	}
	/* %.3g drops trailing zeros (1.28 ms, 2.5 s) but turns 100 and more
	 * into exponents, so those print as whole numbers. */
	if (v < 99.95)
		textbuf_printf(tb, "%.3g %s", v, unit);
	else
		textbuf_printf(tb, "%.0f %s", v, unit);
}
