/* tests/run_checks.c - runs every Check suite (tests/check_*.c) in fork
 * mode. The list comes from build/tests/suites.h, generated from the file
 * names by the Makefile. CK_RUN_SUITE=name runs one suite. */
#include <check.h>
#include <stdlib.h>

#define SUITE(name) Suite *check_##name##_suite(void);
#include "suites.h"
#undef SUITE

int main(void)
{
	SRunner *sr = srunner_create(NULL);
#define SUITE(name) srunner_add_suite(sr, check_##name##_suite());
#include "suites.h"
#undef SUITE
	srunner_set_fork_status(sr, CK_FORK);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
