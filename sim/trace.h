/* sim/trace.h - the run's trace: one JSON object per line, each with the
 * simulated time "t" (microseconds) and a kind "ev", then fields.
 * Writes to a FILE, to a bounded memory buffer, or only into a digest; a
 * disabled trace costs one branch per call site (use the TRACE_ON test).
 * Lines are built field by field so strings are always escaped. */
#ifndef SIM_TRACE_H
#define SIM_TRACE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define TRACE_LINE_MAX 2048          /* longer lines are cut, marked "cut":1 */
#define TRACE_MEM_MAX (64u << 20)    /* memory sink bound; then "truncated" */

struct trace {
	bool on;           /* any sink or digest wanted */
	FILE *out;         /* borrowed; NULL for none */
	char *mem;         /* memory sink, or NULL */
	size_t mem_len, mem_cap;
	bool mem_truncated;
	uint64_t digest;   /* FNV-1a 64 over every byte of every line */
	uint64_t lines;
	char line[TRACE_LINE_MAX];
	size_t len;
	bool cut;
};

#define TRACE_ON(tr) ((tr) != NULL && (tr)->on)

/* An inactive trace. */
void trace_init_off(struct trace *tr);
/* Digest only (the determinism self-check). */
void trace_init_digest(struct trace *tr);
/* Lines to out (borrowed) and into the digest. */
void trace_init_file(struct trace *tr, FILE *out);
/* Lines kept in memory (up to TRACE_MEM_MAX) and into the digest. */
void trace_init_mem(struct trace *tr);
void trace_fini(struct trace *tr);

/* The memory sink's content (NUL-terminated), or "" when none. */
const char *trace_mem(const struct trace *tr, size_t *len);

void trace_begin(struct trace *tr, uint64_t t_us, const char *ev);
void trace_str(struct trace *tr, const char *key, const char *val); /* NULL -> null */
void trace_strn(struct trace *tr, const char *key, const char *val, size_t n);
void trace_int(struct trace *tr, const char *key, long long val);
void trace_uint(struct trace *tr, const char *key, uint64_t val);
void trace_bool(struct trace *tr, const char *key, bool val);
void trace_end(struct trace *tr);

/* Appends s (n bytes) to buf as a JSON string body, escaping quotes,
 * backslashes, control characters and bytes that are not valid UTF-8
 * (as \u00XX of the byte). Returns bytes written, never more than cap; stops
 * early rather than cut an escape. */
size_t json_escape(char *buf, size_t cap, const char *s, size_t n);

#endif
