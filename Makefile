# cajal: build, test and install.
#
#   make              build ./cajal (double precision)
#   make demo         install missing packages, build, run the main example
#   make test         install missing packages, build both precisions, run every test
#   make test SANITIZE=1   the same under AddressSanitizer + UndefinedBehaviorSanitizer
#   make PRECISION=float   build build/float/cajal
#   make install PREFIX=/usr/local
#   make fuzz | bench | fixtures | reproduce
#
# Generated parser sources go to build/gen; objects to build/<precision>[-san].

PRECISION ?= double
SANITIZE ?=
PREFIX ?= /usr/local
CC ?= gcc
ifeq ($(CC),cc)
CC := gcc
endif

ifneq ($(PRECISION),double)
ifneq ($(PRECISION),float)
$(error PRECISION must be double or float, not '$(PRECISION)')
endif
endif

VARIANT := $(PRECISION)$(if $(SANITIZE),-san)
BUILD := build/$(VARIANT)
GEN := build/gen
BLAS_INC := $(firstword $(wildcard /usr/include/x86_64-linux-gnu/openblas-pthread /usr/include/$(shell gcc -dumpmachine 2>/dev/null)/openblas-pthread /usr/include/openblas))

CPPFLAGS := -Iinclude -I$(GEN) $(if $(BLAS_INC),-I$(BLAS_INC)) -D_GNU_SOURCE \
            -DCAJAL_STDLIB='"$(PREFIX)/share/cajal/stdlib"' -DCAJAL_SRCDIR='"$(CURDIR)"'
ifeq ($(PRECISION),float)
CPPFLAGS += -DCAJAL_FLOAT
endif
OPT ?= -O2 -march=native
CFLAGS := -std=c11 $(OPT) -g -fno-math-errno -fvect-cost-model=dynamic -Wall -Wextra -Wno-unused-parameter
LDLIBS := -lopenblas -lreadline -lffi -lz -lm -lpthread
ifdef SANITIZE
CFLAGS += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
LDFLAGS += -fsanitize=address,undefined
CPPFLAGS += -DCAJAL_SANITIZE
endif

SRCS := $(wildcard src/*.c)
OBJS := $(patsubst src/%.c,$(BUILD)/obj/%.o,$(SRCS)) $(BUILD)/obj/lexer.o $(BUILD)/obj/parser.o
LIB_OBJS := $(filter-out $(BUILD)/obj/main.o,$(OBJS))
UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(UNIT_SRCS))

.PHONY: all deps demo test check-build install uninstall clean fuzz bench fixtures reproduce unit FORCE
.DEFAULT_GOAL := all

all: $(BUILD)/cajal $(if $(filter double,$(VARIANT)),cajal)

# Copy then rename: a running ./cajal keeps its old file.
cajal: $(BUILD)/cajal
	cp $< $@.tmp && mv -f $@.tmp $@

# The flags a build directory was compiled with: objects depend on this file,
# and it changes only when the flags do, so `make OPT=-O0` (or a VARIANT given
# by hand) rebuilds everything instead of mixing objects of two builds.
$(BUILD)/flags: export CAJAL_BUILD_FLAGS := $(CC) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS)
$(BUILD)/flags: FORCE
	@mkdir -p $(BUILD)
	@printf '%s\n' "$$CAJAL_BUILD_FLAGS" | cmp -s - $@ || printf '%s\n' "$$CAJAL_BUILD_FLAGS" >$@

FORCE:

$(BUILD)/cajal: $(OBJS)
	$(CC) $(LDFLAGS) -o $@ $(OBJS) $(LDLIBS)

$(BUILD)/libcajal.a: $(LIB_OBJS)
	rm -f $@
	ar rcs $@ $(LIB_OBJS)

$(GEN)/parser.c $(GEN)/parser.h &: grammar/parser.y
	@mkdir -p $(GEN)
	bison -Wall -Werror --defines=$(GEN)/parser.h -o $(GEN)/parser.c $<

$(GEN)/lexer.c $(GEN)/lexer.h &: grammar/lexer.l $(GEN)/parser.h
	@mkdir -p $(GEN)
	flex --header-file=$(GEN)/lexer.h -o $(GEN)/lexer.c $<

GENERATED_CFLAGS := -Wno-unused-function -Wno-sign-compare -Wno-unused-but-set-variable

$(BUILD)/obj/lexer.o: $(GEN)/lexer.c $(GEN)/parser.h $(BUILD)/flags
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(GENERATED_CFLAGS) -MMD -MP -c -o $@ $<

$(BUILD)/obj/parser.o: $(GEN)/parser.c $(GEN)/lexer.h $(BUILD)/flags
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(GENERATED_CFLAGS) -MMD -MP -c -o $@ $<

# Every object may include the generated headers.
$(BUILD)/obj/%.o: src/%.c $(BUILD)/flags | $(GEN)/parser.h $(GEN)/lexer.h
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -MMD -MP -c -o $@ $<

$(BUILD)/tests/%: tests/unit/%.c $(BUILD)/libcajal.a tests/unit/check.h $(BUILD)/flags
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) -Itests/unit $(CFLAGS) $(LDFLAGS) -o $@ $< $(BUILD)/libcajal.a $(LDLIBS)

unit: $(UNIT_BINS)

-include $(OBJS:.o=.d)

deps:
	@sh scripts/deps.sh build

demo:
	@sh scripts/deps.sh build
	@$(MAKE) --no-print-directory all
	./cajal examples/demo.cajal

# The whole suite: both precisions' unit tests, golden scripts, REPL, stdlib models.
test:
	@sh scripts/deps.sh test
	@$(MAKE) --no-print-directory all unit
	@$(MAKE) --no-print-directory PRECISION=float SANITIZE=$(SANITIZE) all unit
	@sh tests/run.sh $(BUILD) build/float$(if $(SANITIZE),-san)

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/cajal/stdlib $(DESTDIR)$(PREFIX)/share/man/man1
	install -m 755 $(BUILD)/cajal $(DESTDIR)$(PREFIX)/bin/cajal
	install -m 644 stdlib/*.cajal $(DESTDIR)$(PREFIX)/share/cajal/stdlib/
	$(BUILD)/cajal --man > $(BUILD)/cajal.1
	install -m 644 $(BUILD)/cajal.1 $(DESTDIR)$(PREFIX)/share/man/man1/cajal.1

uninstall:
	rm -f $(DESTDIR)$(PREFIX)/bin/cajal $(DESTDIR)$(PREFIX)/share/man/man1/cajal.1
	rm -rf $(DESTDIR)$(PREFIX)/share/cajal

# libFuzzer over lexer + parser + checker; FUZZ_SECONDS bounds one run.
FUZZ_SECONDS ?= 300
fuzz:
	@sh scripts/deps.sh fuzz
	@$(MAKE) --no-print-directory $(GEN)/parser.c $(GEN)/lexer.c
	@sh tests/fuzz/build.sh
	@sh tests/fuzz/run.sh $(FUZZ_SECONDS)

bench:
	@sh scripts/deps.sh bench
	@$(MAKE) --no-print-directory all
	@$(MAKE) --no-print-directory PRECISION=float all
	@sh bench/run.sh

fixtures:
	@sh scripts/deps.sh fixtures
	@sh fixtures/make.sh

reproduce:
	@sh scripts/deps.sh test
	@$(MAKE) --no-print-directory all
	@sh scripts/reproduce.sh

clean:
	rm -rf build cajal
