/* fuzz/fuzz.h - the entry functions of the fuzz targets and a small reader
 * that splits one fuzz input into fields. Each fuzz/fuzz_<name>.c defines
 * fuzz_<name>_one; libFuzzer reaches it through LLVMFuzzerTestOneInput (when
 * built with -DFUZZ_LIBFUZZER) and tests/check_fuzz_corpus.c replays the
 * committed corpus through it. A broken property aborts through ASSERT. */
#ifndef FUZZ_FUZZ_H
#define FUZZ_FUZZ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sim/prng.h"

/* Every entry takes any bytes and returns 0; it never keeps data. */
int fuzz_scenario_one(const uint8_t *data, size_t size);
int fuzz_stripe_sig_one(const uint8_t *data, size_t size);
int fuzz_webhook_one(const uint8_t *data, size_t size);
int fuzz_quote_email_one(const uint8_t *data, size_t size);
int fuzz_resp_wire_one(const uint8_t *data, size_t size);
int fuzz_pg_wire_one(const uint8_t *data, size_t size);

/* The secret the fuzz targets sign and verify with; the fuzzer never sees
 * it, so a signature it did not get from the harness is a forgery. */
#define FUZZ_SECRET "whsec_fuzz_0123456789abcdef"
#define FUZZ_NOW_S 1700000000 /* fake_env's default wall time */

/* Reads fixed fields off the front of an input; past the end it yields
 * zeros, so every input is a valid one. */
struct fuzz_reader {
	const uint8_t *p;
	size_t left;
};

static inline uint8_t fuzz_take_u8(struct fuzz_reader *r)
{
	if (r->left == 0)
		return 0;
	r->left--;
	return *r->p++;
}

static inline uint16_t fuzz_take_u16(struct fuzz_reader *r)
{
	uint16_t hi = fuzz_take_u8(r);
	return (uint16_t)(hi << 8 | fuzz_take_u8(r));
}

static inline uint64_t fuzz_take_u64(struct fuzz_reader *r)
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v = v << 8 | fuzz_take_u8(r);
	return v;
}

/* Up to n bytes (fewer at the end); *len gets how many. */
static inline const uint8_t *fuzz_take_bytes(struct fuzz_reader *r, size_t n, size_t *len)
{
	const uint8_t *at = r->p;
	*len = n < r->left ? n : r->left;
	r->p += *len;
	r->left -= *len;
	return at;
}

/* The bytes before the first LF (dropped), or everything left. */
static inline const uint8_t *fuzz_take_line(struct fuzz_reader *r, size_t *len)
{
	const uint8_t *at = r->p;
	size_t n = 0;
	while (n < r->left && at[n] != '\n')
		n++;
	*len = n;
	size_t skip = n < r->left ? n + 1 : n;
	r->p += skip;
	r->left -= skip;
	return at;
}

/* The length of the next piece of a stream that a slow or vanishing peer
 * cuts up: mostly a few bytes, sometimes hundreds, now and then 64 KiB (and
 * always up to 64 KiB for a long input, so a long run of zeros goes in
 * kilobytes, not bytes). Between 1 and left. The wire-parser targets feed
 * their streams whole and again in such pieces. */
static inline size_t fuzz_piece_len(struct prng *cut, size_t left, bool long_input)
{
	uint64_t roll = prng_below(cut, 16);
	size_t max = roll < 12 ? 8 : roll < 15 ? 512 : 65536;
	if (long_input)
		max = 65536;
	size_t want = (size_t)prng_below(cut, max) + 1;
	return want < left ? want : left;
}

#endif
