# faultline - build, test, bench. One plain GNU Makefile.
#   make                 build/faultline
#   make test            every test suite (Check unit suites, CLI and scenario tests)
#   make SANITIZE=1 test the same under AddressSanitizer and UndefinedBehaviorSanitizer
#   make bench           measurements into build/bench.json (never a pass/fail test)
#   make soak            the live soak, SOAK_S seconds (600) (docs/soak.md)
#   make install         PREFIX=/usr/local DESTDIR= (uninstall removes it again)
# Quiet lines unless V=1.

PREFIX  ?= /usr/local
BUILD   ?= build
CC      ?= cc
PKG_CONFIG ?= pkg-config

PKGS := libevent hiredis libpq libcurl check libfyaml jansson libcrypto gmime-3.0

ifeq ($(V),1)
Q :=
else
Q := @
endif

WARN := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
        -Wformat=2 -Wno-format-nonliteral -Werror
OPT  := -O2 -g

ifeq ($(SANITIZE),1)
BUILD := build/san
OPT  := -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined \
        -fno-sanitize-recover=undefined
SAN_LDFLAGS := -fsanitize=address,undefined
endif

PKG_CFLAGS := $(shell $(PKG_CONFIG) --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell $(PKG_CONFIG) --libs $(PKGS) 2>/dev/null) -levent_pthreads -lm

ALL_CFLAGS  = -std=c11 -D_GNU_SOURCE $(OPT) $(WARN) -I. $(PKG_CFLAGS) -MMD -MP $(CFLAGS)
ALL_LDFLAGS = $(SAN_LDFLAGS) $(LDFLAGS)

# The rooms (docs/design.md). Each room's sources are found by wildcard, so a
# new file needs no edit here; scripts/check_includes.sh keeps the arrows.
ROOMS       := core sim sim/models harness live proxy reports cli
CORE_SRC    := $(sort $(wildcard core/*.c))
ROOM_SRC    := $(sort $(foreach r,$(ROOMS),$(wildcard $(r)/*.c)))
LIB_SRC     := $(filter-out cli/main.c,$(ROOM_SRC))
LIB_OBJ     := $(LIB_SRC:%.c=$(BUILD)/%.o)

# tests/ mirrors the rooms: tests/ROOM/check_MODULE.c
CHECK_SRC   := $(sort $(wildcard tests/*/check_*.c tests/*/*/check_*.c))
CHECK_NAMES := $(basename $(notdir $(CHECK_SRC)))
CHECK_NAMES := $(CHECK_NAMES:check_%=%)
TEST_SUPPORT_SRC := $(sort $(wildcard tests/support/*.c))
TEST_OBJ    := $(CHECK_SRC:%.c=$(BUILD)/%.o) $(TEST_SUPPORT_SRC:%.c=$(BUILD)/%.o) \
               $(BUILD)/tests/run_checks.o

BIN   := $(BUILD)/faultline
LIB   := $(BUILD)/libfaultline.a
CHECK := $(BUILD)/run_checks

.PHONY: all deps test test-run suite suite-run bench install clean fuzz
all: $(BIN)

deps:
	$(Q)scripts/deps.sh build

$(BUILD)/%.o: %.c
	@mkdir -p $(@D)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(ALL_CFLAGS) -c $< -o $@

$(LIB): $(LIB_OBJ)
	@$(if $(Q),echo "  AR      $@")
	$(Q)rm -f $@ && ar rcs $@ $^

$(BIN): $(BUILD)/cli/main.o $(LIB)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $< $(LIB) $(PKG_LIBS)

# The suite list is generated from the file names: tests/check_foo.c defines
# Suite *check_foo_suite(void).
$(BUILD)/tests/suites.h: $(CHECK_SRC) Makefile
	@mkdir -p $(@D)
	$(Q)printf '%s\n' $(foreach n,$(CHECK_NAMES),'SUITE($(n))') > $@.tmp && mv $@.tmp $@

$(BUILD)/tests/run_checks.o: tests/run_checks.c $(BUILD)/tests/suites.h
	@mkdir -p $(@D)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(ALL_CFLAGS) -I$(BUILD)/tests -c $< -o $@

$(CHECK): $(TEST_OBJ) $(LIB)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $(TEST_OBJ) $(LIB) $(PKG_LIBS)

# The README's two commands. Each installs what is missing first, then
# re-enters make so pkg-config sees the freshly installed packages.
test: deps
	$(Q)scripts/deps.sh all
	$(Q)$(MAKE) --no-print-directory test-run
	@echo "== again under AddressSanitizer and UndefinedBehaviorSanitizer"
	$(Q)$(MAKE) --no-print-directory SANITIZE=1 test-run

suite: deps
	$(Q)$(MAKE) --no-print-directory suite-run

# Under the sanitizers a finding exits 86 (ASan) or 87 (UBSan), never 1,
# which the command uses for "an invariant was violated".
ifeq ($(SANITIZE),1)
SAN_ENV := ASAN_OPTIONS=exitcode=86:detect_leaks=1 UBSAN_OPTIONS=exitcode=87:print_stacktrace=1
endif

# The Check run's output is kept in $(BUILD)/run_checks.log: tests/cli/death.sh
# reads it instead of running the death-test suites a second time.
test-run: $(BIN) $(CHECK)
	$(Q)scripts/check_includes.sh
	$(Q)rm -f $(BUILD)/run_checks.log
	$(Q){ $(SAN_ENV) FAULTLINE=$(BIN) $(CHECK) 2>&1; echo $$? >$(BUILD)/run_checks.rc; } | \
		tee $(BUILD)/run_checks.part; rc=$$(cat $(BUILD)/run_checks.rc); \
		[ "$$rc" -eq 0 ] && mv $(BUILD)/run_checks.part $(BUILD)/run_checks.log; exit $$rc
	$(Q)$(SAN_ENV) FAULTLINE=$(BIN) tests/cli_test.sh

suite-run: $(BIN)
	$(Q)$(BIN) matrix --report $(BUILD)/report scenarios/

$(BUILD)/bench_sched: bench/bench_sched.c $(LIB)
	@mkdir -p $(@D)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $< $(LIB) $(PKG_LIBS)

# The webhook load generator needs only libcrypto, not the library.
$(BUILD)/bench_webhooks: bench/bench_webhooks.c
	@mkdir -p $(@D)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $< $(PKG_LIBS)

bench: deps
	$(Q)scripts/deps.sh bench
	$(Q)$(MAKE) --no-print-directory $(BIN) $(BUILD)/bench_sched $(BUILD)/bench_webhooks
	$(Q)scripts/bench.sh $(BIN) $(BUILD)/bench_sched

# What a user needs besides the binary: the manual page, the standard
# scenarios and the throwaway-servers script (tests/cli/install.sh).
SHARE_DIR := $(DESTDIR)$(PREFIX)/share/faultline
MAN1_DIR  := $(DESTDIR)$(PREFIX)/share/man/man1
SCENARIO_FILES := $(sort $(wildcard scenarios/*.yaml))

.PHONY: uninstall
install: $(BIN)
	install -d $(DESTDIR)$(PREFIX)/bin $(MAN1_DIR) $(SHARE_DIR)/scenarios
	install -m 0755 $(BIN) $(DESTDIR)$(PREFIX)/bin/faultline
	install -m 0755 scripts/servers.sh $(DESTDIR)$(PREFIX)/bin/faultline-servers
	install -m 0644 docs/faultline.1 $(MAN1_DIR)/faultline.1
	install -m 0644 $(SCENARIO_FILES) $(SHARE_DIR)/scenarios/

uninstall:
	rm -f $(DESTDIR)$(PREFIX)/bin/faultline $(DESTDIR)$(PREFIX)/bin/faultline-servers
	rm -f $(MAN1_DIR)/faultline.1
	rm -f $(addprefix $(SHARE_DIR)/,$(SCENARIO_FILES))
	rmdir $(SHARE_DIR)/scenarios $(SHARE_DIR) 2>/dev/null || true

clean:
	rm -rf build

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)

# ---- robustness: fuzz targets and valgrind (docs/robustness.md) ------------
# fuzz/fuzz_<name>.c become libFuzzer binaries build/fuzz/fuzz_<name>, built
# with clang from the sources they need (ASan + UBSan + coverage).
#   make fuzz-build           the binaries only
#   make fuzz                 each target for FUZZ_SECONDS, new finds merged
#                             into fuzz/corpus/<name> (scripts/fuzz.sh)
#   make valgrind             the standard suite under memcheck (plain build)
FUZZ_CC      ?= clang
FUZZ_BUILD   := build/fuzz
FUZZ_SECONDS ?= 300
FUZZ_NAMES   := $(patsubst fuzz/fuzz_%.c,%,$(sort $(wildcard fuzz/fuzz_*.c)))
FUZZ_BINS    := $(FUZZ_NAMES:%=$(FUZZ_BUILD)/fuzz_%)
FUZZ_SAN     := -fsanitize=address,undefined -fno-sanitize-recover=undefined
FUZZ_CFLAGS   = -std=c11 -D_GNU_SOURCE -DFUZZ_LIBFUZZER -O1 -g -fno-omit-frame-pointer \
                $(FUZZ_SAN) -fsanitize=fuzzer-no-link $(WARN) -I. $(PKG_CFLAGS) -MMD -MP
FUZZ_DEP_SRC := $(CORE_SRC) sim/scenario.c $(wildcard harness/scenario_*.c) harness/coverage.c \
                harness/world_names.c sim/fault.c sim/prng.c \
                proxy/resp_wire.c proxy/pg_wire.c tests/support/fake_env.c
FUZZ_DEP_OBJ := $(FUZZ_DEP_SRC:%.c=$(FUZZ_BUILD)/obj/%.o)

.PHONY: fuzz-build valgrind
# Keep the objects: make would delete them as intermediates of the chain.
.SECONDARY: $(FUZZ_DEP_OBJ) $(FUZZ_NAMES:%=$(FUZZ_BUILD)/obj/fuzz/fuzz_%.o)

$(FUZZ_BUILD)/obj/%.o: %.c
	@mkdir -p $(@D)
	@$(if $(Q),echo "  FUZZCC  $<")
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) -c $< -o $@

$(FUZZ_BUILD)/fuzz_%: $(FUZZ_BUILD)/obj/fuzz/fuzz_%.o $(FUZZ_DEP_OBJ)
	@$(if $(Q),echo "  FUZZLD  $@")
	$(Q)$(FUZZ_CC) -fsanitize=fuzzer $(FUZZ_SAN) -o $@ $^ $(PKG_LIBS)

fuzz-build: $(FUZZ_BINS)

fuzz: fuzz-build
	$(Q)scripts/fuzz.sh -t $(FUZZ_SECONDS) -m $(FUZZ_NAMES)

valgrind: $(BIN)
ifeq ($(SANITIZE),1)
	$(error make valgrind needs a plain build; run it without SANITIZE=1)
endif
	$(Q)rm -rf $(BUILD)/valgrind-report
	$(Q)valgrind -q --leak-check=full --errors-for-leak-kinds=definite \
		--error-exitcode=1 $(BIN) matrix --quiet --report $(BUILD)/valgrind-report scenarios/

# ---- mutation score (docs/mutants.md) ----------------------------------------
#   make mutants   hand-written (tests/mutants/) and operator mutants of core/
#                  against the standard suite: build/mutants.json, build/mutants.md
MUTANTS_JOBS ?= 2
.PHONY: mutants
mutants:
	$(Q)scripts/deps.sh mutants
	$(Q)scripts/mutants.sh -j $(MUTANTS_JOBS)

# ---- live soak (docs/soak.md) -------------------------------------------------
#   make soak      faultline serve (hardened) on real Redis and PostgreSQL behind
#                  faultline proxy, under load and a fault schedule, for SOAK_S
#                  seconds; then the contracts on the servers' state:
#                  build/soak/soak.json, build/soak/soak.html. Not in make test.
SOAK_S ?= 600
SOAK_FLAGS ?=
.PHONY: soak
soak:
	$(Q)scripts/deps.sh live
	$(Q)$(MAKE) --no-print-directory $(BIN)
	$(Q)scripts/soak.py --bin $(BIN) --seconds $(SOAK_S) --out $(BUILD)/soak $(SOAK_FLAGS)

# A one-node Slurm cluster on loopback runs the example job array
# (sbatch --array=1-8); not part of make test (installs slurm-wlm, needs root).
.PHONY: test-slurm
test-slurm: $(BIN)
	$(Q)scripts/test_slurm.sh
