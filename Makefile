# TimeTracker build. Plain make, automatic header dependencies (-MMD).
#
#   make                      build/timetracker
#   make run                  install deps, build, serve on 127.0.0.1:8080 with SQLite in ./data
#   make test                 install deps, build, run every suite (also under ASan+UBSan)
#   make SANITIZE=address,undefined   sanitizer build into build-sanitize/
#   make DEVELOPER=1          warnings are errors (CI sets this)

CC       ?= cc
PKGS     := libmicrohttpd jansson libsodium sqlite3 libarchive xlsxwriter libpq
WARN     := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
            -Wformat=2 -Wvla -Wpointer-arith -Wcast-qual -Wwrite-strings \
            -Wundef -Wno-unused-parameter -Wno-missing-field-initializers -Wimplicit-fallthrough
CFLAGS   ?= -O2 -g
CFLAGS   += -std=gnu11 -pthread $(WARN) -Isrc -Ibuild-gen \
            $(shell pkg-config --cflags $(PKGS) 2>/dev/null) \
            -D_FORTIFY_SOURCE=2 -fstack-protector-strong
LDLIBS   += $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lpthread -lm

# V=1 shows full command lines.
ifeq ($(V),1)
Q        :=
else
Q        := @
endif

ifeq ($(DEVELOPER),1)
CFLAGS   += -Werror
endif
ifneq ($(CI),)
CFLAGS   += -Werror
endif

ifneq ($(SANITIZE),)
BUILD    := build-sanitize
CFLAGS   := $(filter-out -O2 -D_FORTIFY_SOURCE=2,$(CFLAGS)) -O1 -fsanitize=$(SANITIZE) \
            -fno-omit-frame-pointer -fno-sanitize-recover=all
LDFLAGS  += -fsanitize=$(SANITIZE)
else
BUILD    := build
endif

GEN      := build-gen
SRCS     := $(shell find src -name '*.c' | sort)
LIB_SRCS := $(filter-out src/main.c,$(SRCS))
SCHEMA   := $(sort $(wildcard src/store/schema/*.sql))
WEB      := $(sort $(wildcard web/*))
GEN_SRCS := $(GEN)/schema_embed.c $(GEN)/web_embed.c
OBJS     := $(patsubst src/%.c,$(BUILD)/obj/%.o,$(LIB_SRCS)) \
            $(patsubst $(GEN)/%.c,$(BUILD)/obj/gen/%.o,$(GEN_SRCS))
UNIT_SRCS:= $(sort $(wildcard tests/unit/test_*.c))
UNIT_BINS:= $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(UNIT_SRCS))
CMOCKA   := $(shell pkg-config --libs cmocka 2>/dev/null || echo -lcmocka)

.PHONY: all run test unit-bins clean deps fmt bench

all: $(BUILD)/timetracker

deps:
	@scripts/install-deps

$(BUILD)/timetracker: $(BUILD)/obj/main.o $(OBJS)
	@echo "  LINK    $@"
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/obj/%.o: src/%.c
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	$(Q)$(CC) $(CFLAGS) -MMD -MP -c -o $@ $<

$(BUILD)/obj/gen/%.o: $(GEN)/%.c
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	$(Q)$(CC) $(CFLAGS) -Wno-missing-prototypes -c -o $@ $<

$(GEN)/schema_embed.c: $(SCHEMA) scripts/embed
	@mkdir -p $(GEN)
	$(Q)scripts/embed schema $(SCHEMA) > $@.tmp && mv $@.tmp $@

$(GEN)/web_embed.c: $(WEB) scripts/embed
	@mkdir -p $(GEN)
	$(Q)scripts/embed web $(WEB) > $@.tmp && mv $@.tmp $@

$(BUILD)/tests/%: tests/unit/%.c $(OBJS) tests/unit/unit.h
	@mkdir -p $(dir $@)
	@echo "  TEST    $@"
	$(Q)$(CC) $(CFLAGS) -Itests/unit $(LDFLAGS) -o $@ $< $(OBJS) $(CMOCKA) $(LDLIBS)

unit-bins: $(UNIT_BINS)

# Installs what is missing, builds, serves on SQLite in ./data.
run: deps
	$(MAKE) all
	$(BUILD)/timetracker serve

# Installs what is missing, builds both variants and runs every suite.
test: deps
	$(MAKE) all unit-bins
	$(MAKE) SANITIZE=address,undefined all unit-bins
	scripts/run-tests

# Installs what is missing, builds, runs the import benchmark (bench/README.md).
# BENCH_ROWS=100000 make bench for a quick run.
bench: deps
	$(MAKE) all
	bench/run

clean:
	rm -rf build build-sanitize $(GEN)

fmt:
	clang-format -i $(SRCS) $(wildcard src/*/*.h tests/unit/*.[ch])

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
