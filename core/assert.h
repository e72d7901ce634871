/* core/assert.h - assertions that are on in every build.
 * A failed assertion prints the expression and file:line, then whatever
 * context the program registered (the simulator adds the seed and the
 * virtual time, so every crash is replayable), then aborts. */
#ifndef CORE_ASSERT_H
#define CORE_ASSERT_H

#include <stddef.h>

typedef void assert_context_fn(char *buf, size_t size);

/* Registers fn to describe the current context in failure messages.
 * Process-wide; NULL removes it. */
void assert_set_context(assert_context_fn *fn);

__attribute__((noreturn)) void assert_fail(const char *expr, const char *file,
                                           int line);

#define ASSERT(expr) \
	((expr) ? (void)0 : assert_fail(#expr, __FILE__, __LINE__))

#endif
