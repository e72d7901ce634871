/* reports/textbuf.h - a bounded, growable text buffer for the report writers,
 * with the XML/HTML escaping they share. Not a general string library: it
 * stops growing at TEXTBUF_MAX and remembers that it did, so a writer checks
 * once at the end instead of after every append. */
#ifndef REPORTS_TEXTBUF_H
#define REPORTS_TEXTBUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TEXTBUF_MAX (64u << 20)   /* bytes; a report page larger is refused */

struct textbuf {
	char *data;      /* NUL-terminated once anything was appended */
	size_t len;
	size_t cap;
	bool failed;     /* out of memory or past TEXTBUF_MAX: content is cut */
};

void textbuf_init(struct textbuf *tb);
void textbuf_fini(struct textbuf *tb);

/* The content so far ("" when empty); valid until the next append. */
const char *textbuf_str(const struct textbuf *tb);

void textbuf_put(struct textbuf *tb, const char *s);
void textbuf_putn(struct textbuf *tb, const char *s, size_t n);
void textbuf_printf(struct textbuf *tb, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Appends s escaped for XML 1.0 and HTML text or attribute values: & < > "
 * and ' become references, characters XML 1.0 forbids (controls other than
 * tab, line feed and carriage return, U+FFFE, U+FFFF, bytes that are not
 * UTF-8) are dropped. NULL appends nothing. */
void textbuf_put_xml(struct textbuf *tb, const char *s);
/* The same, for attribute values: tab, line feed and carriage return also
 * become references so that attribute normalisation keeps them. */
void textbuf_put_xml_attr(struct textbuf *tb, const char *s);

/* A simulated instant, exact: "1.234567 s". */
void textbuf_put_time_us(struct textbuf *tb, uint64_t us);
/* A duration for charts, three significant digits at most: "640 us",
 * "1.28 ms", "2.5 s". */
void textbuf_put_duration_us(struct textbuf *tb, uint64_t us);

#endif
