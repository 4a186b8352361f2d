# fgtrace — wall-clock profiler for native Linux programs.
# `make` builds, `make check` runs every test, `make demo` traces a sample program.

PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
MANDIR ?= $(PREFIX)/share/man
DESTDIR ?=
CC ?= cc
CLANG ?= clang
PYTHON ?= python3
CFLAGS ?= -O2 -g
EXTRA_CFLAGS ?=
LDFLAGS ?=

PKGS := libdw libelf libunwind-ptrace zlib
WARN := -Wall -Wextra -Wshadow -Wformat=2 -Wstrict-prototypes \
	-Wmissing-prototypes -Wundef
ALL_CFLAGS = -std=gnu11 -D_GNU_SOURCE $(WARN) $(CFLAGS) $(EXTRA_CFLAGS) \
	-Ilib -I$(B) $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
LIBS = $(shell pkg-config --libs $(PKGS) 2>/dev/null) -liberty -lpthread -lm

ifeq ($(V),1)
Q :=
else
Q := @
endif

.DELETE_ON_ERROR:
.PHONY: all deps build check demo install uninstall clean fuzz bench format \
	unit-tests targets verify-build

# B is the build directory; a sanitizer build uses another (scripts/sanitize.sh).
B ?= build
BIN ?= fgtrace

LIB_SRCS := $(sort $(wildcard lib/*.c))
LIB_OBJS := $(LIB_SRCS:%.c=$(B)/%.o)
CMD_LIB_SRCS := cmd/options.c
CMD_LIB_OBJS := $(CMD_LIB_SRCS:%.c=$(B)/%.o)
UNIT_SRCS := $(sort $(wildcard tests/unit/test_*.c))
UNIT_BINS := $(UNIT_SRCS:tests/unit/%.c=$(B)/tests/%)
TARGET_SRCS := $(sort $(wildcard tests/targets/*.c))
TARGET_BINS := $(TARGET_SRCS:tests/targets/%.c=$(B)/targets/%)
GEN_HDRS := $(B)/syscalls.h

all: deps
	$(Q)$(MAKE) --no-print-directory build

deps:
	$(Q)scripts/install-deps.sh

build: $(BIN)

$(BIN): $(B)/cmd/fgtrace.o $(CMD_LIB_OBJS) $(B)/libfgtrace.a
	@echo "  LD      $@"
	$(Q)$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $^ $(LIBS)

$(B)/libfgtrace.a: $(LIB_OBJS)
	@echo "  AR      $@"
	$(Q)rm -f $@ && ar rcs $@ $^

$(B)/%.o: %.c $(GEN_HDRS) | $(B)/lib $(B)/cmd
	@echo "  CC      $<"
	$(Q)$(CC) $(ALL_CFLAGS) -MMD -MP -c -o $@ $<

# The syscall name table comes from the kernel headers, never by hand.
$(B)/syscalls.h: scripts/gen-syscalls.sh | $(B)/lib
	@echo "  GEN     $@"
	$(Q)scripts/gen-syscalls.sh "$(CC)" > $@

$(B)/lib $(B)/cmd $(B)/tests $(B)/targets:
	$(Q)mkdir -p $@

# Test targets: small programs with known behaviour. -O1 keeps them fast but
# noinline keeps their frames; frame pointers are not needed (CFI is used).
$(B)/targets/%: tests/targets/%.c | $(B)/targets
	@echo "  CC      $<"
	$(Q)$(CC) -std=gnu11 -D_GNU_SOURCE -O1 -g -Wall -Wextra $(EXTRA_CFLAGS) -o $@ $< -lpthread -ldl

$(B)/tests/%: tests/unit/%.c $(B)/libfgtrace.a $(CMD_LIB_OBJS) | $(B)/tests
	@echo "  CC      $<"
	$(Q)$(CC) $(ALL_CFLAGS) -Icmd -o $@ $< $(CMD_LIB_OBJS) $(B)/libfgtrace.a $(LIBS) -lcmocka

unit-tests: $(UNIT_BINS)
targets: $(TARGET_BINS)

# A test build that unwinds again in full every stack a memo served, and
# counts the two that differ (tests/e2e/test_memo.py).
verify-build:
	$(Q)$(MAKE) --no-print-directory B=$(B)/verify BIN=$(B)/fgtrace-verify \
		EXTRA_CFLAGS="$(EXTRA_CFLAGS) -DFGT_UNWIND_VERIFY" build

check: deps
	$(Q)$(MAKE) --no-print-directory build unit-tests targets verify-build
	$(Q)$(PYTHON) tests/run.py

demo: deps
	$(Q)$(MAKE) --no-print-directory build $(B)/targets/demo
	./fgtrace -d 3s -o fgtrace.json -- $(B)/targets/demo
	@echo "Open fgtrace.json in https://ui.perfetto.dev (Open trace file)."

fuzz: deps
	$(Q)scripts/fuzz.sh 60

bench: deps
	$(Q)$(MAKE) --no-print-directory build
	$(Q)$(MAKE) --no-print-directory -C bench
	$(Q)bench/run.sh

install: build
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1
	install -m 755 fgtrace $(DESTDIR)$(BINDIR)/fgtrace
	install -m 644 man/fgtrace.1 $(DESTDIR)$(MANDIR)/man1/fgtrace.1

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/fgtrace $(DESTDIR)$(MANDIR)/man1/fgtrace.1

format:
	clang-format -i cmd/*.[ch] lib/*.[ch] tests/unit/*.c tests/targets/*.c fuzz/*.c

clean:
	rm -rf build fgtrace fgtrace.json

-include $(shell find build -name '*.d' 2>/dev/null)
