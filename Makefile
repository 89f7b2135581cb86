# Toll engine: one GNU make over the whole tree; each folder adds its
# module.mk.  Outputs go to $(O) (build/ by default): executables in
# $(O)/bin, objects in $(O)/obj, tests in $(O)/tests.
#
#   make            build everything (release flags, assertions on)
#   make check      install what is missing, build with -Werror under
#                   ASan+UBSan into build/check, run every test
#   make demo       install what is missing, build, run the demo
#   make bench      run the benchmarks (never part of pass/fail)
#   make fuzz       build libFuzzer targets with clang into build/fuzz
#   make install    PREFIX=/usr/local DESTDIR= honoured

VERSION := 0.1.0
O ?= build
SAN ?= 0
PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin

BIN := $(O)/bin
OBJ := $(O)/obj
LIB := $(O)/lib
TESTBIN := $(O)/tests

CC ?= cc
PKG_CONFIG ?= pkg-config
CFLAGS ?= -O2 -g
WARN := -std=c11 -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes \
	-Wmissing-prototypes -Wformat=2 -Wvla -Wpointer-arith -Wundef \
	-Wno-format-nonliteral
CPPFLAGS += -D_GNU_SOURCE -DTOLL_VERSION='"$(VERSION)"' \
	-Icommon -Ifirmware-interface
ifeq ($(SAN),1)
SANFLAGS := -fsanitize=address,undefined -fno-sanitize-recover=all \
	-fno-omit-frame-pointer
endif
ALL_CFLAGS = $(WARN) $(CFLAGS) $(SANFLAGS) -MMD -MP

# make V=1 shows the full commands
ifeq ($(V),1)
Q :=
quiet = @true
else
Q := @
quiet = @echo "  $(1)	$(2)"
endif
LDLIBS_BASE := -lpthread

pkg_cflags = $(shell $(PKG_CONFIG) --cflags $(1) 2>/dev/null)
pkg_libs = $(shell $(PKG_CONFIG) --libs $(1) 2>/dev/null)
MODBUS_CFLAGS := $(call pkg_cflags,libmodbus)
MODBUS_LIBS := $(call pkg_libs,libmodbus)
CHECK_CFLAGS := $(call pkg_cflags,check)
CHECK_LIBS := $(call pkg_libs,check)
CRYPTO_CFLAGS := $(call pkg_cflags,libcrypto)
CRYPTO_LIBS := $(call pkg_libs,libcrypto)
# common/ uses OpenSSL (crypto, hashing), so everything links it
LDLIBS_BASE += $(CRYPTO_LIBS) -lm

PROGRAMS :=
TOOLS :=
UNIT_TESTS :=
INTEGRATION_PROGRAMS :=
FUZZ_REPLAYS :=
DEPS :=

.PHONY: all check check-build demo bench fuzz install uninstall clean deps \
	tests docs-check
all:

include common/module.mk
include firmware-interface/module.mk
include sim/module.mk
include lane-controller/module.mk
include central/module.mk
include tests/module.mk

all: $(PROGRAMS) $(TOOLS)
tests: $(UNIT_TESTS) $(INTEGRATION_PROGRAMS) $(FUZZ_REPLAYS)

$(OBJ)/%.o: %.c
	@mkdir -p $(dir $@)
	$(call quiet,CC,$<)
	$(Q)$(CC) $(CPPFLAGS) $(ALL_CFLAGS) $(EXTRA_CFLAGS) -c $< -o $@

-include $(DEPS)

deps:
	@scripts/install-deps

# The test build lives in its own tree so sanitizer and release objects
# never mix.
check: deps
	@$(MAKE) --no-print-directory O=build/check SAN=1 check-build
	@scripts/run-tests build/check

check-build: all tests

demo: deps
	@$(MAKE) --no-print-directory all
	@scripts/demo $(O)

bench: deps
	@$(MAKE) --no-print-directory all
	@scripts/run-bench $(O)

install: all
	install -d $(DESTDIR)$(BINDIR)
	install -m 0755 $(PROGRAMS) $(DESTDIR)$(BINDIR)/

uninstall:
	rm -f $(addprefix $(DESTDIR)$(BINDIR)/,$(notdir $(PROGRAMS)))

clean:
	rm -rf build
