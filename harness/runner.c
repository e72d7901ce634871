/* harness/runner.c - seeds, processes, aggregation, replays of failing seeds,
 * and the determinism self-check. Memory does not grow with the number of
 * seeds: each seed's result is folded into one aggregate at once. */
#include "harness/runner.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "core/assert.h"
#include "sim/assert_ctx.h"
#include "sim/sched.h"
#include "sim/trace.h"
#include "harness/scenario_write.h"
#include "harness/swarm.h"

/* ---- variant sets -------------------------------------------------------- */

bool variant_set_parse(const char *spec, struct variant_set *out, char *err, size_t errsize)
{
	enum variant all;
	if (variant_parse(spec, &all)) {
		for (int f = 0; f < FIX_COUNT; f++)
			out->v[f] = all;
		return true;
	}
	char buf[256];
	if (strlen(spec) >= sizeof buf) {
		snprintf(err, errsize, "--variant: too long");
		return false;
	}
	strcpy(buf, spec);
	struct variant_set vs = *out;
	char *save = NULL;
	for (char *item = strtok_r(buf, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(item, '=');
		enum fix_id f;
		enum variant v;
		if (eq == NULL && variant_parse(item, &v)) {
			snprintf(err, errsize, "--variant: '%s': one variant for every fix stands alone "
			         "(--variant %s); a list gives each fix its own (FIX=VARIANT,..., e.g. "
			         "webhook=seed,ratelimit=hardened)", spec, item);
			return false;
		}
		if (eq == NULL) {
			snprintf(err, errsize, "--variant: '%s' is not legacy, seed, hardened or FIX=VARIANT",
			         item);
			return false;
		}
		*eq = '\0';
		if (!fix_parse(item, &f)) {
			snprintf(err, errsize, "--variant: unknown fix '%s' (ratelimit, quote-email, "
			         "webhook, request-dedup, stripe-customer)", item);
			return false;
		}
		if (!variant_parse(eq + 1, &v)) {
			snprintf(err, errsize, "--variant: unknown variant '%s' for %s (legacy, seed, "
			         "hardened)", eq + 1, item);
			return false;
		}
		vs.v[f] = v;
	}
	*out = vs;
	return true;
}

void variant_set_format(const struct variant_set *vs, const struct scenario *sc, char *buf,
                        size_t size)
{
	int first = -1;
	bool same = true;
	for (int f = 0; f < FIX_COUNT; f++) {
		if (!(sc->fixes & (1u << f)))
			continue;
		if (first < 0)
			first = f;
		else if (vs->v[f] != vs->v[first])
			same = false;
	}
	if (first < 0) {
		snprintf(buf, size, "hardened");
		return;
	}
	if (same) {
		snprintf(buf, size, "%s", variant_name(vs->v[first]));
		return;
	}
	size_t used = 0;
	buf[0] = '\0';
	for (int f = 0; f < FIX_COUNT; f++) {
		if (!(sc->fixes & (1u << f)))
			continue;
		int n = snprintf(buf + used, size - used, "%s%s=%s", used ? "," : "",
		                 fix_name((enum fix_id)f), variant_name(vs->v[f]));
		if (n < 0 || (size_t)n >= size - used)
			break;
		used += (size_t)n;
	}
}

static const char *runner_program_name = "faultline";

void runner_set_program(const char *argv0)
{
	runner_program_name = argv0 != NULL && strchr(argv0, '/') != NULL ? argv0 : "faultline";
}

const char *runner_program(void)
{
	return runner_program_name;
}

void runner_replay_command(const struct scenario *sc, const struct variant_set *vs,
                           uint64_t seed, char *buf, size_t size)
{
	char v[160];
	variant_set_format(vs, sc, v, sizeof v);
	snprintf(buf, size, "%s replay %s --seed %llu --variant %s%s", runner_program_name,
	         sc->path, (unsigned long long)seed, v, sc->swarm_from_cli ? " --swarm" : "");
}

static void make_dirs(const char *path);
static void safe_name(const char *in, char *out, size_t size);

/* ---- one seed, swarm or not --------------------------------------------- */

/* traces/NAME-SEED.yaml under dir: the drawn scenario of a failing swarm
 * seed as a plain file, which `faultline run` reproduces. Best effort: a
 * file that cannot be written only loses the convenience. */
static void swarm_write_file(const struct scenario *base, const struct scenario *drawn,
                             uint64_t seed, const char *note, const char *dir)
{
	char name[128], tdir[600], path[1024];
	safe_name(base->name, name, sizeof name);
	make_dirs(dir);
	snprintf(tdir, sizeof tdir, "%s/traces", dir);
	make_dirs(tdir);
	snprintf(path, sizeof path, "%s/%s-%llu.yaml", tdir, name, (unsigned long long)seed);
	char comment[SWARM_NOTE_MAX + 2048];
	snprintf(comment, sizeof comment,
	         "Swarm draw of %s for seed %llu, as a plain scenario (no ranges, no\n"
	         "swarm): `faultline run %s` reproduces that seed.\n"
	         "Drawn: %s", base->path, (unsigned long long)seed, path, note);
	FILE *f = fopen(path, "w");
	if (f == NULL)
		return;
	if (scenario_write(drawn, comment, f) != RESULT_OK) {
		fclose(f);
		remove(path);
		return;
	}
	if (fclose(f) != 0)
		remove(path);
}

/* Runs cfg->sc for cfg->seed; in swarm mode the seed's own variation,
 * announced at the head of the trace. When the seed violates and
 * swarm_dir is set, its variation is written there as a plain file. */
static enum result run_seed(struct world_config *cfg, struct world_result *r,
                            const char *swarm_dir)
{
	const struct scenario *sc = cfg->sc;
	if (!sc->swarm)
		return world_run(cfg, r);
	char note[SWARM_NOTE_MAX];
	struct scenario *drawn = swarm_draw(sc, cfg->seed, note, sizeof note);
	if (drawn == NULL)
		return RESULT_NOMEM;
	if (TRACE_ON(cfg->trace)) {
		trace_begin(cfg->trace, 0, "swarm");
		trace_str(cfg->trace, "scenario", sc->name);
		trace_str(cfg->trace, "draw", note);
		trace_end(cfg->trace);
	}
	cfg->sc = drawn;
	enum result rc = world_run(cfg, r);
	cfg->sc = sc;
	if (rc == RESULT_OK && r->violated && swarm_dir != NULL)
		swarm_write_file(sc, drawn, cfg->seed, note, swarm_dir);
	scenario_destroy(drawn);
	return rc;
}

/* ---- one process's share of the seeds ---------------------------------- */

/* The plain-data aggregate a worker sends back through its pipe. */
struct agg {
	uint64_t seeds_run;
	uint64_t seed_min, seed_max;
	uint32_t checked, violated;
	uint64_t violations[INV_COUNT];
	uint64_t first_seed[INV_COUNT];      /* UINT64_MAX: none */
	uint64_t first_time_us[INV_COUNT];
	uint64_t faults[FAULT_KIND_COUNT];
	uint64_t outcomes[WO_COUNT];
	uint64_t tags[WT_COUNT];
	uint64_t hist[REPORT_HIST_BUCKETS];
	uint64_t dup;
	uint64_t events, sim_us;
	uint8_t fault_fired, race_seen;
	struct coverage cov;
	uint8_t failed;                      /* a seed could not run */
	double first_violation_wall_s;       /* < 0: none yet */
	uint64_t first_violation_seeds;      /* seeds this worker had run by then */
};

static void agg_init(struct agg *a)
{
	memset(a, 0, sizeof *a);
	a->seed_min = UINT64_MAX;
	a->first_violation_wall_s = -1;
	for (int i = 0; i < INV_COUNT; i++)
		a->first_seed[i] = UINT64_MAX;
}

static void agg_add_seed(struct agg *a, uint64_t seed, const struct world_result *r)
{
	a->seeds_run++;
	if (seed < a->seed_min)
		a->seed_min = seed;
	if (seed > a->seed_max)
		a->seed_max = seed;
	a->checked |= r->checked;
	a->violated |= r->violated;
	for (int i = 0; i < INV_COUNT; i++) {
		if (!(r->violated & (1u << i)))
			continue;
		a->violations[i]++;
		if (seed < a->first_seed[i]) {
			a->first_seed[i] = seed;
			a->first_time_us[i] = r->v[i].t_us;
		}
	}
	for (int k = 0; k < FAULT_KIND_COUNT; k++)
		a->faults[k] += r->faults[k];
	for (int o = 0; o < WO_COUNT; o++)
		a->outcomes[o] += r->outcomes[o];
	for (int t = 0; t < WT_COUNT; t++)
		a->tags[t] += r->tags[t];
	for (int b = 0; b < REPORT_HIST_BUCKETS; b++)
		a->hist[b] += r->latency_hist[b];
	a->dup += r->duplicates_let_through;
	a->events += r->events;
	a->sim_us += r->sim_end_us;
	a->fault_fired |= r->fault_fired;
	a->race_seen |= r->race_seen;
	coverage_add(&a->cov, &r->cov);
}

static void agg_merge(struct agg *a, const struct agg *b)
{
	a->seeds_run += b->seeds_run;
	if (b->seed_min < a->seed_min)
		a->seed_min = b->seed_min;
	if (b->seeds_run && b->seed_max > a->seed_max)
		a->seed_max = b->seed_max;
	a->checked |= b->checked;
	a->violated |= b->violated;
	for (int i = 0; i < INV_COUNT; i++) {
		a->violations[i] += b->violations[i];
		if (b->first_seed[i] < a->first_seed[i]) {
			a->first_seed[i] = b->first_seed[i];
			a->first_time_us[i] = b->first_time_us[i];
		}
	}
	for (int k = 0; k < FAULT_KIND_COUNT; k++)
		a->faults[k] += b->faults[k];
	for (int o = 0; o < WO_COUNT; o++)
		a->outcomes[o] += b->outcomes[o];
	for (int t = 0; t < WT_COUNT; t++)
		a->tags[t] += b->tags[t];
	for (int h = 0; h < REPORT_HIST_BUCKETS; h++)
		a->hist[h] += b->hist[h];
	a->dup += b->dup;
	a->events += b->events;
	a->sim_us += b->sim_us;
	a->fault_fired |= b->fault_fired;
	a->race_seen |= b->race_seen;
	coverage_add(&a->cov, &b->cov);
	a->failed |= b->failed;
	if (b->first_violation_wall_s >= 0 &&
	    (a->first_violation_wall_s < 0 || b->first_violation_wall_s < a->first_violation_wall_s)) {
		a->first_violation_wall_s = b->first_violation_wall_s;
		a->first_violation_seeds = b->first_violation_seeds;
	}
}

double runner_clock_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double wall_now(void)
{
	return runner_clock_s();
}

/* The seeds of one result: the base plan (one seed, a range, or the
 * scenario's own seeds) filtered to the shard. In a range every shard's
 * seeds are stride apart, so the walk need not test each seed. */
struct seed_plan {
	size_t base_count;         /* seeds before the shard filter */
	bool range;                /* base seed j is first + j */
	uint64_t first;
	size_t stride;             /* base indices between two of the shard's */
	size_t j0;                 /* the shard's first base index */
	size_t count;              /* the shard's seeds */
	const struct runner_options *opt;
	const struct scenario *sc;
	double t0;                 /* wall clock when the sweep began */
	uint64_t *claimed;         /* shared next plan index under a deadline,
	                            * or NULL: worker k takes k, k+W, ... */
};

static uint64_t plan_base_seed(const struct seed_plan *p, size_t j)
{
	if (p->opt->seed_set)
		return p->opt->seed;
	if (p->range)
		return p->first + j;
	return scenario_seed_at(p->sc, j);
}

static bool plan_holds(const struct seed_plan *p, size_t j)
{
	return shard_holds(&p->opt->shard, p->sc->name, plan_base_seed(p, j));
}

static void plan_init(struct seed_plan *p, const struct scenario *sc,
                      const struct runner_options *opt)
{
	p->sc = sc;
	p->opt = opt;
	p->range = !opt->seed_set && (opt->seeds_set || opt->seed_first_set || opt->deadline_s > 0);
	p->first = opt->seed_first_set ? opt->seed_first : sc->seed_first;
	if (opt->seed_set)
		p->base_count = 1;
	else if (opt->seeds_set)
		p->base_count = opt->seeds;
	else if (opt->deadline_s > 0)
		p->base_count = RUNNER_SEEDS_MAX;
	else
		p->base_count = scenario_seed_count(sc);
	if (p->range && p->first > UINT64_MAX - p->base_count)
		p->base_count = (size_t)(UINT64_MAX - p->first); /* never wrap round */
	p->stride = 1;
	p->j0 = 0;
	p->count = p->base_count;
	if (opt->shard.count == 0)
		return;
	while (p->j0 < p->base_count && !plan_holds(p, p->j0))
		p->j0++;
	if (p->range) {
		p->stride = opt->shard.count;
		p->count = p->j0 < p->base_count
		           ? (p->base_count - p->j0 + p->stride - 1) / p->stride : 0;
		return;
	}
	p->count = 0;
	for (size_t j = p->j0; j < p->base_count; j++)
		p->count += plan_holds(p, j);
}

/* Walks the shard's seeds in plan order: index i of the shard at base
 * index j. */
struct seed_cursor {
	size_t i;
	size_t j;
};

static void cursor_init(const struct seed_plan *p, struct seed_cursor *c)
{
	c->i = 0;
	c->j = p->j0;
}

/* The seed of the shard's index i (>= the cursor's; the cursor moves). */
static uint64_t cursor_seed_at(const struct seed_plan *p, struct seed_cursor *c, size_t i)
{
	ASSERT(i >= c->i);
	ASSERT(i < p->count);
	if (p->stride > 1 || p->opt->shard.count == 0) {
		c->j += (i - c->i) * p->stride;
		c->i = i;
	}
	while (c->i < i) {
		c->j++;
		while (c->j < p->base_count && !plan_holds(p, c->j))
			c->j++;
		c->i++;
	}
	ASSERT(c->j < p->base_count);
	return plan_base_seed(p, c->j);
}

/* The next plan index for this worker, or false when it is done. */
static bool plan_claim(const struct seed_plan *p, size_t *next, unsigned workers, size_t *i)
{
	if (p->claimed != NULL) {
		if (wall_now() >= p->opt->deadline_s)
			return false;
		*i = (size_t)__atomic_fetch_add(p->claimed, 1, __ATOMIC_SEQ_CST);
	} else {
		*i = *next;
		*next += workers;
	}
	return *i < p->count;
}

static void run_share(const struct scenario *sc, const struct variant_set *vs,
                      const struct seed_plan *p, unsigned worker, unsigned workers,
                      struct agg *a)
{
	struct event_base *base = sched_base_new(SCHED_VIRTUAL);
	if (base == NULL) {
		a->failed = 1;
		return;
	}
	struct world_result r;
	char var[160];
	variant_set_format(vs, sc, var, sizeof var);
	struct seed_cursor cur;
	cursor_init(p, &cur);
	size_t next = worker, i;
	while (plan_claim(p, &next, workers, &i)) {
		uint64_t seed = cursor_seed_at(p, &cur, i);
		assert_ctx_run(sc->path, var, seed);
		struct trace tr;
		if (p->opt->trace_digest)
			trace_init_digest(&tr);
		else
			trace_init_off(&tr);
		struct world_config cfg = {.sc = sc, .seed = seed, .base = base, .trace = &tr};
		memcpy(cfg.variants, vs->v, sizeof cfg.variants);
		enum result rc = run_seed(&cfg, &r, p->opt->traces_dir);
		trace_fini(&tr);
		if (rc != RESULT_OK) {
			a->failed = 1;
			break;
		}
		agg_add_seed(a, seed, &r);
		if (r.violated && a->first_violation_wall_s < 0) {
			a->first_violation_wall_s = wall_now() - p->t0;
			a->first_violation_seeds = a->seeds_run;
		}
	}
	event_base_free(base);
}

static bool write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;
	while (len > 0) {
		ssize_t w = write(fd, p, len);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return false;
		p += w;
		len -= (size_t)w;
	}
	return true;
}

static bool read_all(int fd, void *buf, size_t len)
{
	char *p = buf;
	while (len > 0) {
		ssize_t r = read(fd, p, len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return false;
		p += r;
		len -= (size_t)r;
	}
	return true;
}

/* Seeds are independent: worker k takes seeds k, k+N, k+2N ... The merge is
 * a sum (and a minimum for first seeds), so the result equals one
 * process's. */
static enum result run_parallel(const struct scenario *sc, const struct variant_set *vs,
                                const struct seed_plan *p, unsigned jobs, struct agg *total,
                                char *err, size_t errsize)
{
	pid_t pids[RUNNER_JOBS_MAX];
	int fds[RUNNER_JOBS_MAX];
	unsigned started = 0;
	fflush(NULL);
	for (unsigned k = 0; k < jobs; k++) {
		int pipefd[2];
		if (pipe(pipefd) != 0)
			break;
		pid_t pid = fork();
		if (pid < 0) {
			close(pipefd[0]);
			close(pipefd[1]);
			break;
		}
		if (pid == 0) {
			close(pipefd[0]);
			for (unsigned j = 0; j < started; j++)
				close(fds[j]);
			struct agg a;
			agg_init(&a);
			run_share(sc, vs, p, k, jobs, &a);
			_exit(write_all(pipefd[1], &a, sizeof a) ? 0 : 1);
		}
		close(pipefd[1]);
		pids[started] = pid;
		fds[started] = pipefd[0];
		started++;
	}
	bool ok = started == jobs;
	for (unsigned k = 0; k < started; k++) {
		struct agg a;
		if (read_all(fds[k], &a, sizeof a))
			agg_merge(total, &a);
		else
			ok = false;
		close(fds[k]);
		int status;
		while (waitpid(pids[k], &status, 0) < 0 && errno == EINTR)
			;
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
			ok = false;
	}
	if (!ok) {
		snprintf(err, errsize, "a worker process failed (%u of %u started)", started, jobs);
		return RESULT_ERROR;
	}
	return RESULT_OK;
}

/* ---- replays -------------------------------------------------------------- */

static enum result run_traced(const struct scenario *sc, const struct variant_set *vs,
                              uint64_t seed, struct trace *tr, struct world_result *res)
{
	struct event_base *base = sched_base_new(SCHED_VIRTUAL);
	if (base == NULL)
		return RESULT_NOMEM;
	struct world_config cfg = {.sc = sc, .seed = seed, .base = base, .trace = tr};
	memcpy(cfg.variants, vs->v, sizeof cfg.variants);
	char var[160];
	variant_set_format(vs, sc, var, sizeof var);
	assert_ctx_run(sc->path, var, seed);
	enum result rc = run_seed(&cfg, res, NULL);
	event_base_free(base);
	return rc;
}

enum result runner_run_seed(const struct scenario *sc, const struct variant_set *vs,
                            uint64_t seed, struct trace *tr, struct world_result *res)
{
	if (tr != NULL)
		return run_traced(sc, vs, seed, tr, res);
	struct trace off;
	trace_init_off(&off);
	enum result rc = run_traced(sc, vs, seed, &off, res);
	trace_fini(&off);
	return rc;
}

enum result runner_replay(const struct scenario *sc, const struct variant_set *vs,
                          uint64_t seed, FILE *out, struct world_result *res)
{
	struct trace tr;
	trace_init_file(&tr, out);
	enum result rc = run_traced(sc, vs, seed, &tr, res);
	trace_fini(&tr);
	return rc;
}

/* The last RUNNER_TIMELINE_MAX trace lines at or before t_us (trace lines
 * are in time order; the run's violation lines come last and qualify by
 * their own time). */
static char *timeline_slice(const char *trace, size_t len, uint64_t t_us)
{
	size_t cap = RUNNER_TIMELINE_MAX;
	size_t *starts = calloc(cap, sizeof *starts);
	size_t *lens = calloc(cap, sizeof *lens);
	ASSERT(starts != NULL && lens != NULL);
	size_t kept = 0; /* ring of the last cap qualifying lines */
	for (size_t pos = 0; pos < len;) {
		const char *nl = memchr(trace + pos, '\n', len - pos);
		size_t end = nl ? (size_t)(nl - trace) + 1 : len;
		unsigned long long t = strtoull(trace + pos + 5, NULL, 10); /* {"t":N */
		if (t <= t_us) {
			starts[kept % cap] = pos;
			lens[kept % cap] = end - pos;
			kept++;
		}
		pos = end;
	}
	size_t n = kept < cap ? kept : cap;
	size_t total = 0;
	for (size_t k = kept - n; k < kept; k++)
		total += lens[k % cap];
	char *out = malloc(total + 1);
	ASSERT(out != NULL);
	size_t w = 0;
	for (size_t k = kept - n; k < kept; k++) {
		memcpy(out + w, trace + starts[k % cap], lens[k % cap]);
		w += lens[k % cap];
	}
	out[w] = '\0';
	free(starts);
	free(lens);
	return out;
}

static void make_dirs(const char *path)
{
	char buf[512];
	snprintf(buf, sizeof buf, "%s", path);
	for (char *p = buf + 1; *p; p++) {
		if (*p == '/') {
			*p = '\0';
			mkdir(buf, 0755);
			*p = '/';
		}
	}
	mkdir(buf, 0755);
}

static void safe_name(const char *in, char *out, size_t size)
{
	size_t i = 0;
	for (; in[i] && i + 1 < size; i++) {
		char c = in[i];
		out[i] = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		                 c == '-' || c == '_' || c == '.'
		         ? c : '_';
	}
	out[i] = '\0';
}

/* Reruns the first failing seed of each violated invariant with a trace:
 * the message, the timeline and (when asked) the trace file. */
static void explain_violations(struct runner_result *out, const struct runner_options *opt)
{
	for (int i = 0; i < INV_COUNT; i++) {
		struct runner_invariant *ri = &out->inv[i];
		if (!ri->has_first)
			continue;
		struct trace tr;
		trace_init_mem(&tr);
		struct world_result res;
		if (run_traced(out->sc, &out->vs, ri->first_seed, &tr, &res) == RESULT_OK &&
		    (res.violated & (1u << i))) {
			snprintf(ri->message, sizeof ri->message, "%s", res.v[i].message);
			ri->first_time_us = res.v[i].t_us;
			size_t len;
			const char *text = trace_mem(&tr, &len);
			ri->timeline = timeline_slice(text, len, res.v[i].t_us);
			if (opt->traces_dir != NULL) {
				char name[128], var[96], rel[512], path[1024];
				safe_name(out->sc->name, name, sizeof name);
				variant_set_format(&out->vs, out->sc, var, sizeof var);
				char svar[96];
				safe_name(var, svar, sizeof svar);
				snprintf(rel, sizeof rel, "traces/%s-%s-seed%llu.jsonl", name, svar,
				         (unsigned long long)ri->first_seed);
				snprintf(path, sizeof path, "%s/%s", opt->traces_dir, rel);
				make_dirs(opt->traces_dir);
				char tdir[600];
				snprintf(tdir, sizeof tdir, "%s/traces", opt->traces_dir);
				make_dirs(tdir);
				FILE *f = fopen(path, "w");
				if (f != NULL) {
					fwrite(text, 1, len, f);
					if (fclose(f) == 0)
						snprintf(ri->trace_file, sizeof ri->trace_file, "%s", rel);
				}
			}
		} else {
			/* A seed that violated in the sweep must violate again: if
			 * not, the run is not deterministic. */
			snprintf(ri->message, sizeof ri->message,
			         "seed %llu did not violate again when replayed (nondeterminism)",
			         (unsigned long long)ri->first_seed);
			out->determinism_mismatches++;
		}
		trace_fini(&tr);
	}
}

/* Re-runs a few seeds twice with a digest-only trace and compares. */
static void determinism_check(struct runner_result *out, const struct seed_plan *p,
                              unsigned samples)
{
	struct seed_cursor cur;
	cursor_init(p, &cur);
	for (size_t i = 0; i < samples && i < out->seeds_run; i++) {
		uint64_t seed = cursor_seed_at(p, &cur, i);
		uint64_t digest[2];
		for (int k = 0; k < 2; k++) {
			struct trace tr;
			trace_init_digest(&tr);
			struct world_result res;
			if (run_traced(out->sc, &out->vs, seed, &tr, &res) != RESULT_OK)
				digest[k] = (uint64_t)k; /* forces a mismatch */
			else
				digest[k] = tr.digest;
			trace_fini(&tr);
		}
		out->determinism_checked++;
		if (digest[0] != digest[1])
			out->determinism_mismatches++;
	}
}

enum result runner_run(const struct scenario *sc, const struct variant_set *vs,
                       const struct runner_options *opt, struct runner_result *out,
                       char *err, size_t errsize)
{
	memset(out, 0, sizeof *out);
	out->sc = sc;
	out->vs = *vs;
	double t0 = wall_now();
	struct seed_plan p = {.t0 = t0};
	plan_init(&p, sc, opt);
	unsigned jobs = opt->jobs ? opt->jobs : 1;
	if (jobs > RUNNER_JOBS_MAX)
		jobs = RUNNER_JOBS_MAX;
	if ((size_t)jobs > p.count)
		jobs = p.count ? (unsigned)p.count : 1;

	struct agg a;
	agg_init(&a);
	if (opt->deadline_s > 0) {
		/* shared so that the seeds run are the plan's first, whoever ran them */
		p.claimed = mmap(NULL, sizeof *p.claimed, PROT_READ | PROT_WRITE,
		                 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
		if (p.claimed == MAP_FAILED) {
			snprintf(err, errsize, "cannot map the shared seed counter: %s",
			         strerror(errno));
			return RESULT_ERROR;
		}
		*p.claimed = 0;
	}
	enum result prc = RESULT_OK;
	if (jobs <= 1)
		run_share(sc, vs, &p, 0, 1, &a);
	else
		prc = run_parallel(sc, vs, &p, jobs, &a, err, errsize);
	if (p.claimed != NULL)
		munmap(p.claimed, sizeof *p.claimed);
	if (prc != RESULT_OK)
		return prc;
	if (a.failed) {
		snprintf(err, errsize, "a seed could not be run (out of memory)");
		return RESULT_NOMEM;
	}
	out->sweep_wall_s = wall_now() - t0;
	out->first_violation_wall_s = a.first_violation_wall_s;
	out->first_violation_seeds = a.first_violation_seeds;
	out->seeds_run = a.seeds_run;
	out->seeds_planned = p.count;
	if (a.seeds_run < p.count) {
		struct seed_cursor cur;
		cursor_init(&p, &cur);
		out->seed_next = cursor_seed_at(&p, &cur, a.seeds_run);
	}
	out->seed_min = a.seeds_run ? a.seed_min : 0;
	out->seed_max = a.seed_max;
	out->checked = a.checked;
	out->violated = a.violated;
	for (int i = 0; i < INV_COUNT; i++) {
		out->inv[i].violations = a.violations[i];
		if (a.first_seed[i] != UINT64_MAX) {
			out->inv[i].has_first = true;
			out->inv[i].first_seed = a.first_seed[i];
			out->inv[i].first_time_us = a.first_time_us[i];
		}
	}
	memcpy(out->faults, a.faults, sizeof out->faults);
	memcpy(out->outcomes, a.outcomes, sizeof out->outcomes);
	memcpy(out->tags, a.tags, sizeof out->tags);
	memcpy(out->latency_hist, a.hist, sizeof out->latency_hist);
	out->duplicates_let_through = a.dup;
	out->fault_fired = a.fault_fired;
	out->race_seen = a.race_seen;
	out->events = a.events;
	out->sim_us = a.sim_us;
	out->cov = a.cov;

	/* A green result that tested nothing must not look like a pass. */
	out->exercised = true;
	if (sc->faults.nrules > 0 && !a.fault_fired) {
		out->exercised = false;
		snprintf(out->not_exercised, sizeof out->not_exercised,
		         "no fault fired in %s%llu seed%s", a.seeds_run == 1 ? "its " : "any of ",
		         (unsigned long long)a.seeds_run, a.seeds_run == 1 ? "" : "s");
	}
	bool wants_race = ((sc->fixes & (1u << FIX_WEBHOOK)) && sc->webhook.copies > 1) ||
	                  ((sc->fixes & (1u << FIX_CUSTOMER)) && sc->customer.concurrent > 1);
	if (out->exercised && wants_race && !a.race_seen) {
		out->exercised = false;
		snprintf(out->not_exercised, sizeof out->not_exercised,
		         "no two copies ever overlapped in %llu seed%s", (unsigned long long)a.seeds_run,
		         a.seeds_run == 1 ? "" : "s");
	}
	/* What the scenario says it asks about must have happened (in swarm
	 * mode each seed draws its own subset of it: not checked). */
	char var[160];
	variant_set_format(vs, sc, var, sizeof var);
	for (size_t i = 0; out->exercised && !sc->swarm && i < sc->nexpect; i++) {
		const char *key = coverage_expect_key(sc->expect_reached[i], var);
		if (key != NULL && coverage_count(&out->cov, out->outcomes, key) == 0) {
			out->exercised = false;
			snprintf(out->not_exercised, sizeof out->not_exercised,
			         "expect_reached %s never reached in %llu seed%s", sc->expect_reached[i],
			         (unsigned long long)a.seeds_run, a.seeds_run == 1 ? "" : "s");
		}
	}

	explain_violations(out, opt);
	determinism_check(out, &p, opt->determinism_samples);
	out->wall_s = wall_now() - t0;
	return RESULT_OK;
}

void runner_result_fini(struct runner_result *r)
{
	for (int i = 0; i < INV_COUNT; i++) {
		free(r->inv[i].timeline);
		r->inv[i].timeline = NULL;
	}
}
