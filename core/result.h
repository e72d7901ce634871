/* core/result.h - the one small result enum shared by core and sim.
 * Operating failures are values of this enum; bugs are assertions (see
 * core/assert.h). Not for outcomes of port operations: see enum outcome. */
#ifndef CORE_RESULT_H
#define CORE_RESULT_H

#define MUST_USE __attribute__((warn_unused_result))

enum result {
	RESULT_OK = 0,
	RESULT_RETRY,     /* transient: the same call may succeed later */
	RESULT_REJECT,    /* the input or request is refused, do not retry */
	RESULT_NOMEM,     /* an allocation or a named maximum was exhausted */
	RESULT_ERROR,     /* permanent failure of a dependency */
	RESULT_UNHANDLED, /* legacy code paths only: the request died with an
	                   * unhandled error (a crash in the original backend) */
};

const char *result_name(enum result rc);

#endif
