# dtk-operator: the only build file.
#
# Top-level targets first make sure the Debian packages are present
# (scripts/deps.sh, idempotent) and then re-enter make, so pkg-config is only
# consulted once the libraries exist. New modules need no edit here: every
# pkg/*/*.c goes into libdtk.a, every cmd/<name>/ becomes build/bin/<name>,
# every test/unit/test_*.c and test/integration/test_*.c becomes a cmocka
# binary, and test/integration/it_*.sh are shell end-to-end tests.

BUILD ?= build
CC ?= gcc
OPT ?= -O2
SAN ?=
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
PKGS := libcurl yajl yaml-0.1 libmicrohttpd openssl libprotobuf-c
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
CFLAGS := -std=c11 -D_POSIX_C_SOURCE=200809L -Wall -Wextra -Werror \
	-Wshadow -Wno-missing-field-initializers -g $(OPT) $(SAN) -I. \
	-I$(BUILD)/gen $(PKG_CFLAGS) -MMD -MP
LDLIBS := $(PKG_LIBS) -lpthread -lm
TEST_LDLIBS := $(shell pkg-config --libs cmocka 2>/dev/null)

PKG_SRCS := $(sort $(wildcard pkg/*/*.c))
CONTROLLER_SRCS := $(sort $(wildcard controller/*.c controller/*/*.c))
# A folder under cmd/ with a main.c is a program; its other files also go
# into libdtkcmd.a so unit tests can link them.
CMDS := $(notdir $(patsubst %/,%,$(sort $(dir $(wildcard cmd/*/main.c)))))
CMD_LIB_SRCS := $(sort $(filter-out %/main.c,$(wildcard cmd/*/*.c)))
SUPPORT_SRCS := $(sort $(wildcard test/support/*.c))
UNIT_SRCS := $(sort $(wildcard test/unit/test_*.c))
ITEST_SRCS := $(sort $(wildcard test/integration/test_*.c))
BENCH_SRCS := $(sort $(wildcard test/bench/bench_*.c))
# dtk-apiserver's protobuf messages: protoc-c turns each .proto into C in
# $(BUILD)/gen at build time (never committed); the objects are linked into
# dtk-apiserver and, through libdtkcmd.a, into the tests.
PROTO_SRCS := $(sort $(wildcard cmd/dtk-apiserver/proto/*.proto))
PROTO_HDRS := $(PROTO_SRCS:cmd/dtk-apiserver/proto/%.proto=$(BUILD)/gen/%.pb-c.h)
PROTO_OBJS := $(PROTO_HDRS:%.h=$(BUILD)/obj/%.o)

PKG_OBJS := $(PKG_SRCS:%.c=$(BUILD)/obj/%.o)
CONTROLLER_OBJS := $(CONTROLLER_SRCS:%.c=$(BUILD)/obj/%.o)
SUPPORT_OBJS := $(SUPPORT_SRCS:%.c=$(BUILD)/obj/%.o)
CMD_LIB_OBJS := $(CMD_LIB_SRCS:%.c=$(BUILD)/obj/%.o)
LIBCMD := $(BUILD)/lib/libdtkcmd.a
LIBDTK := $(BUILD)/lib/libdtk.a
LIBCTRL := $(BUILD)/lib/libdtkctrl.a
BINS := $(CMDS:%=$(BUILD)/bin/%)
UNIT_BINS := $(UNIT_SRCS:%.c=$(BUILD)/%)
ITEST_BINS := $(ITEST_SRCS:%.c=$(BUILD)/%)
BENCH_BINS := $(BENCH_SRCS:%.c=$(BUILD)/%)

ASAN_FLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer \
	-fno-sanitize-recover=all

.PHONY: all build-all deps test test-unit test-integration asan bench run \
	lint format format-check check-deps clean

all: deps
	@$(MAKE) --no-print-directory -j$(JOBS) build-all

deps:
	@scripts/deps.sh build

build-all: $(BINS) $(UNIT_BINS) $(ITEST_BINS) $(BENCH_BINS)

test: 
	@scripts/deps.sh test
	@$(MAKE) --no-print-directory -j$(JOBS) build-all
	@DTK_BUILD=$(BUILD) test/run-tests.sh

test-unit: all
	@DTK_BUILD=$(BUILD) DTK_TEST_ONLY=unit test/run-tests.sh

test-integration:
	@scripts/deps.sh test
	@$(MAKE) --no-print-directory -j$(JOBS) build-all
	@DTK_BUILD=$(BUILD) DTK_TEST_ONLY=integration test/run-tests.sh

# The whole suite again, built with AddressSanitizer + UBSan (LeakSanitizer
# included): the servers the integration tests start are sanitized too.
asan:
	@scripts/deps.sh test
	@$(MAKE) --no-print-directory -j$(JOBS) BUILD=build/asan OPT=-O1 SAN="$(ASAN_FLAGS)" build-all
	@ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	 DTK_BUILD=build/asan test/run-tests.sh

bench:
	@scripts/deps.sh test
	@$(MAKE) --no-print-directory -j$(JOBS) build-all
	@DTK_BUILD=$(BUILD) test/run-bench.sh

run:
	@scripts/deps.sh test
	@$(MAKE) --no-print-directory -j$(JOBS) build-all
	@DTK_BUILD=$(BUILD) scripts/run.sh

$(BUILD)/obj/%.o: %.c | $(PROTO_HDRS)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -c -o $@ $<

$(LIBDTK): $(PKG_OBJS)
	@mkdir -p $(@D)
	rm -f $@ && ar rcs $@ $^

$(LIBCTRL): $(CONTROLLER_OBJS)
	@mkdir -p $(@D)
	rm -f $@ && ar rcs $@ $^

$(LIBCMD): $(CMD_LIB_OBJS) $(PROTO_OBJS)
	@mkdir -p $(@D)
	rm -f $@ && ar rcs $@ $^

# Objects are never intermediate: keep them for incremental builds.
.SECONDARY:

# One protoc-c run writes both files; every .proto may import the others.
$(BUILD)/gen/%.pb-c.c $(BUILD)/gen/%.pb-c.h: cmd/dtk-apiserver/proto/%.proto $(PROTO_SRCS)
	@mkdir -p $(@D)
	protoc-c --c_out=$(@D) -Icmd/dtk-apiserver/proto $<
.PRECIOUS: $(BUILD)/gen/%.pb-c.c $(BUILD)/gen/%.pb-c.h

$(BUILD)/bin/dtk-apiserver: $(PROTO_OBJS)

.SECONDEXPANSION:
$(BUILD)/bin/%: $$(addprefix $(BUILD)/obj/,$$(subst .c,.o,$$(wildcard cmd/$$*/*.c))) $(LIBCTRL) $(LIBDTK)
	@mkdir -p $(@D)
	$(CC) $(SAN) -o $@ $^ $(LDLIBS)

$(BUILD)/test/%: $(BUILD)/obj/test/%.o $(SUPPORT_OBJS) $(LIBCMD) $(LIBCTRL) $(LIBDTK)
	@mkdir -p $(@D)
	$(CC) $(SAN) -o $@ $^ $(TEST_LDLIBS) $(LDLIBS)

lint:
	@scripts/lint.sh

check-deps:
	@scripts/lint.sh deps

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

format-check:
	clang-format --dry-run --Werror $$(git ls-files '*.c' '*.h')

clean:
	rm -rf build

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
