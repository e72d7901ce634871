/* core/result.c - names of enum result values, for logs and traces. */
#include "core/result.h"

const char *result_name(enum result rc)
{
	switch (rc) {
	case RESULT_OK: return "ok";
	case RESULT_RETRY: return "retry";
	case RESULT_REJECT: return "reject";
	case RESULT_NOMEM: return "nomem";
	case RESULT_ERROR: return "error";
	case RESULT_UNHANDLED: return "unhandled";
	}
	return "?";
}
