/* tests/harness/check_invariant_customer.c - no-orphan and customer-liveness
 * on hand-made histories: one that holds, then one break per clause, each
 * with the message naming what broke. */
#include <check.h>
#include <string.h>

#include "harness/invariant.h"

/* One user with one customer, mapped, asked once and answered with it;
 * every clause holds. */
struct cu_fixture {
	struct history h;
	struct hist_customer_user u[2];
	struct hist_cu_request r[2];
	struct inv_violation v;
};

static void fixture_init(struct cu_fixture *f)
{
	memset(f, 0, sizeof *f);
	f->h.end_us = 1000000;
	f->h.cu_retries_max = 2;
	strcpy(f->u[0].user, "cu0");
	strcpy(f->u[0].mapped, "cus_A");
	strcpy(f->u[0].customers[0], "cus_A");
	f->u[0].ncustomers = 1;
	f->u[0].requests = 1;
	f->u[0].stripe_calls = 1;
	f->u[0].insert_calls = 1;
	strcpy(f->u[1].user, "cu1");
	f->h.cust = f->u;
	f->h.ncust = 2;
	f->r[0] = (struct hist_cu_request){.user = 0, .valid_id = true, .done = true,
	                                   .answer = HIST_CU_OK, .customer = "cus_A",
	                                   .exclusive = true, .stripe_calls = 1,
	                                   .insert_calls = 1, .start_us = 10, .end_us = 20};
	f->h.cu = f->r;
	f->h.ncu = 1;
}

static bool holds(struct cu_fixture *f, enum invariant_id inv)
{
	return invariant_check(inv, &f->h, &f->v);
}

static void assert_breaks(struct cu_fixture *f, enum invariant_id inv, const char *what)
{
	ck_assert(!invariant_check(inv, &f->h, &f->v));
	ck_assert_msg(strstr(f->v.message, what) != NULL, "'%s' not in '%s'", what, f->v.message);
}

START_TEST(test_customer_fixture_holds)
{
	struct cu_fixture f;
	fixture_init(&f);
	ck_assert(holds(&f, INV_NO_ORPHAN));
	ck_assert(holds(&f, INV_CUSTOMER_LIVENESS));
}
END_TEST

/* ---- no-orphan ---------------------------------------------------------------- */

START_TEST(test_no_orphan_breaks_on_second_customer)
{
	struct cu_fixture f;
	fixture_init(&f);
	strcpy(f.u[0].customers[1], "cus_B");
	f.u[0].ncustomers = 2;
	assert_breaks(&f, INV_NO_ORPHAN, "cu0 has 2 Stripe customers");
}
END_TEST

START_TEST(test_no_orphan_breaks_on_unmapped_customer)
{
	struct cu_fixture f;
	fixture_init(&f);
	f.u[0].mapped[0] = '\0';
	f.r[0].answer = HIST_CU_RETRY;
	f.r[0].touched = true;
	assert_breaks(&f, INV_NO_ORPHAN, "is not the one mapped (none): orphaned");
}
END_TEST

START_TEST(test_no_orphan_breaks_on_customer_of_another_user)
{
	struct cu_fixture f;
	fixture_init(&f);
	/* cu1 mapped to cu0's customer: two users share one. */
	strcpy(f.u[1].mapped, "cus_A");
	assert_breaks(&f, INV_NO_ORPHAN, "user cu1 is mapped to cus_A, which is not a Stripe "
	                                 "customer of that user");
}
END_TEST

START_TEST(test_no_orphan_breaks_when_earlier_mapping_replaced)
{
	struct cu_fixture f;
	fixture_init(&f);
	strcpy(f.u[0].pre_mapped, "cus_A");
	ck_assert(holds(&f, INV_NO_ORPHAN));
	strcpy(f.u[0].pre_mapped, "cus_OLD");
	assert_breaks(&f, INV_NO_ORPHAN, "was mapped to cus_OLD before the run");
}
END_TEST

START_TEST(test_no_orphan_breaks_on_another_address)
{
	struct cu_fixture f;
	fixture_init(&f);
	f.h.cu_wrong_email = true;
	f.h.cu_wrong_email_user = 0;
	strcpy(f.h.cu_wrong_email_sent, "");
	assert_breaks(&f, INV_NO_ORPHAN, "a customer create for user cu0 sent the address ''");
}
END_TEST

/* ---- customer-liveness ---------------------------------------------------------- */

START_TEST(test_liveness_breaks_when_answer_is_not_the_mapping)
{
	struct cu_fixture f;
	fixture_init(&f);
	strcpy(f.r[0].customer, "cus_B");
	assert_breaks(&f, INV_CUSTOMER_LIVENESS, "answered customer cus_B but is mapped to cus_A");
}
END_TEST

START_TEST(test_liveness_breaks_on_untouched_failure)
{
	struct cu_fixture f;
	fixture_init(&f);
	f.r[0].answer = HIST_CU_RETRY;
	assert_breaks(&f, INV_CUSTOMER_LIVENESS, "a call no fault touched was answered retry");
	f.r[0].touched = true; /* a fault excuses a retriable answer */
	ck_assert(holds(&f, INV_CUSTOMER_LIVENESS));
}
END_TEST

START_TEST(test_liveness_breaks_on_permanent_error_for_transient_cause)
{
	struct cu_fixture f;
	fixture_init(&f);
	f.r[0].answer = HIST_CU_ERROR;
	f.r[0].touched = true;
	assert_breaks(&f, INV_CUSTOMER_LIVENESS, "permanent error although only transient");
	f.r[0].refused = true; /* Stripe refused it for good: permanent is right */
	ck_assert(holds(&f, INV_CUSTOMER_LIVENESS));
}
END_TEST

START_TEST(test_liveness_breaks_on_rejected_valid_call)
{
	struct cu_fixture f;
	fixture_init(&f);
	f.r[0].answer = HIST_CU_REJECT;
	f.r[0].touched = true;
	assert_breaks(&f, INV_CUSTOMER_LIVENESS, "a valid call was rejected");
}
END_TEST

START_TEST(test_liveness_breaks_when_refused_id_accepted)
{
	struct cu_fixture f;
	fixture_init(&f);
	f.r[1] = (struct hist_cu_request){.valid_id = false, .done = true, .answer = HIST_CU_REJECT};
	f.h.ncu = 2;
	ck_assert(holds(&f, INV_CUSTOMER_LIVENESS));
	f.r[1].answer = HIST_CU_ERROR;
	assert_breaks(&f, INV_CUSTOMER_LIVENESS, "a user id the API refuses was answered permanent "
	                                         "error, not rejected");
	f.r[1].answer = HIST_CU_REJECT;
	f.h.cu_invalid_calls = 1;
	assert_breaks(&f, INV_CUSTOMER_LIVENESS, "1 customer create(s) reached Stripe for user ids");
}
END_TEST

START_TEST(test_liveness_breaks_over_the_retry_budget)
{
	struct cu_fixture f;
	fixture_init(&f);
	f.r[0].touched = true;
	f.r[0].stripe_calls = 3; /* 1 + retries_max */
	f.u[0].stripe_calls = 3;
	ck_assert(holds(&f, INV_CUSTOMER_LIVENESS));
	f.r[0].stripe_calls = 4;
	assert_breaks(&f, INV_CUSTOMER_LIVENESS, "one call sent 4 customer creates, over its "
	                                         "budget of 3");
	f.r[0].stripe_calls = 1;
	f.r[0].insert_calls = 4;
	assert_breaks(&f, INV_CUSTOMER_LIVENESS, "one call sent 4 mapping inserts");
	/* Overlapping calls are bounded together. */
	f.r[0].exclusive = false;
	ck_assert(holds(&f, INV_CUSTOMER_LIVENESS));
	f.u[0].insert_calls = 4;
	assert_breaks(&f, INV_CUSTOMER_LIVENESS, "over the budget of 3 each");
}
END_TEST

START_TEST(test_liveness_breaks_on_refusal_sent_again)
{
	struct cu_fixture f;
	fixture_init(&f);
	f.r[0].touched = true;
	f.r[0].refused = true;
	f.r[0].answer = HIST_CU_ERROR;
	ck_assert(holds(&f, INV_CUSTOMER_LIVENESS));
	f.r[0].calls_after_refusal = 1;
	assert_breaks(&f, INV_CUSTOMER_LIVENESS, "sent again after Stripe refused it for good");
}
END_TEST

START_TEST(test_liveness_permanent_error_for_lasting_cause_holds)
{
	struct cu_fixture f;
	fixture_init(&f);
	f.r[0].answer = HIST_CU_ERROR;
	f.r[0].touched = true;
	assert_breaks(&f, INV_CUSTOMER_LIVENESS, "permanent error although only transient");
	/* A permanent SQLSTATE (say a check constraint) touched it: no retry
	 * mends that, so a permanent error is the honest answer. */
	f.r[0].lasting = true;
	ck_assert(holds(&f, INV_CUSTOMER_LIVENESS));
}
END_TEST

START_TEST(test_liveness_breaks_on_retry_for_lasting_cause)
{
	struct cu_fixture f;
	fixture_init(&f);
	f.r[0].answer = HIST_CU_RETRY;
	f.r[0].touched = true;
	f.r[0].lasting = true;
	/* A lasting cause beside a transient one: retry may still succeed. */
	ck_assert(holds(&f, INV_CUSTOMER_LIVENESS));
	f.r[0].only_lasting = true;
	assert_breaks(&f, INV_CUSTOMER_LIVENESS, "answered retry although only causes no retry "
	                                         "mends");
	f.r[0].answer = HIST_CU_ERROR;
	ck_assert(holds(&f, INV_CUSTOMER_LIVENESS));
}
END_TEST

Suite *check_invariant_customer_suite(void);
Suite *check_invariant_customer_suite(void)
{
	Suite *s = suite_create("invariant_customer");
	TCase *tc = tcase_create("no-orphan");
	tcase_add_test(tc, test_customer_fixture_holds);
	tcase_add_test(tc, test_no_orphan_breaks_on_second_customer);
	tcase_add_test(tc, test_no_orphan_breaks_on_unmapped_customer);
	tcase_add_test(tc, test_no_orphan_breaks_on_customer_of_another_user);
	tcase_add_test(tc, test_no_orphan_breaks_when_earlier_mapping_replaced);
	tcase_add_test(tc, test_no_orphan_breaks_on_another_address);
	suite_add_tcase(s, tc);
	tc = tcase_create("customer-liveness");
	tcase_add_test(tc, test_liveness_breaks_when_answer_is_not_the_mapping);
	tcase_add_test(tc, test_liveness_breaks_on_untouched_failure);
	tcase_add_test(tc, test_liveness_breaks_on_permanent_error_for_transient_cause);
	tcase_add_test(tc, test_liveness_breaks_on_rejected_valid_call);
	tcase_add_test(tc, test_liveness_breaks_when_refused_id_accepted);
	tcase_add_test(tc, test_liveness_breaks_over_the_retry_budget);
	tcase_add_test(tc, test_liveness_breaks_on_refusal_sent_again);
	tcase_add_test(tc, test_liveness_permanent_error_for_lasting_cause_holds);
	tcase_add_test(tc, test_liveness_breaks_on_retry_for_lasting_cause);
	suite_add_tcase(s, tc);
	return s;
}
