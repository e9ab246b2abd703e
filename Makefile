# cnnc - a compiler for convolutional neural networks.
# `make` builds build/cnnc; `make check` runs every test (also under
# ASan+UBSan; `make check-vnet`: V-Net at full size); `make demo` shows the
# main job (`make demo-vnet`: volumes);
# `make install PREFIX=DIR`.

CC       ?= cc
CFLAGS   ?= -O2 -g
WARN     := -std=c11 -Wall -Wextra -pedantic -Wshadow -Wstrict-prototypes -Wmissing-prototypes
BUILD    ?= build
PREFIX   ?= /usr/local
VERSION  := 0.1.0

# Flex and bison output is not ours to keep warning-free.
GENFLAGS := -std=c11 -Wno-unused-function -Wno-sign-compare -Wno-unused-parameter

FRONT := util diag reserved ir kinds ast names layers expand frontend check report options outputs plan lower \
         emit/emit emit/conv emit/layers emit/blas emit/flat emit/tile emit/cols emit/embed emit/index emit/print emit/vol
FRONT_OBJS := $(FRONT:%=$(BUILD)/compiler/%.o) $(BUILD)/compiler/lexer.o $(BUILD)/compiler/parser.o \
              $(BUILD)/runtime/safetensors.o $(BUILD)/runtime/io.o $(BUILD)/runtime/model.o \
              $(BUILD)/runtime/geom3d.o
CNNC_OBJS  := $(FRONT_OBJS) $(BUILD)/compiler/main.o

# The runtime is C99 like the code it serves.
RT_SRCS := $(wildcard runtime/*.c)
RT_OBJS := $(RT_SRCS:%.c=$(BUILD)/%.o)
RT_WARN := -std=c99 -Wall -Wextra -pedantic -Wshadow -Wstrict-prototypes -Wmissing-prototypes
RT_LIBS := -lz -lm
OPENMP  ?= -fopenmp
# libcnnrt-mpi: the same objects but dist.c, built with MPI (when mpicc is there).
MPICC   ?= $(shell command -v mpicc 2>/dev/null)
MPI_LIB := $(if $(MPICC),$(BUILD)/libcnnrt-mpi.a)

UNIT_SRCS := $(wildcard tests/unit/*.c)
UNIT_OBJS := $(UNIT_SRCS:%.c=$(BUILD)/%.o)

.PHONY: all check unit-check asan-check system-check check-vnet demo demo-vnet bench install clean fuzz fuzz-check setup golden
all: $(BUILD)/cnnc $(BUILD)/libcnnrt.a $(MPI_LIB)

$(BUILD)/runtime/%.o: runtime/%.c runtime/cnnrt.h runtime/cnnrt_net.h runtime/io.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(RT_WARN) $(OPENMP) -fPIC -Iruntime -MMD -MP -c -o $@ $<

$(BUILD)/libcnnrt.a: $(RT_OBJS)
	rm -f $@
	ar rcs $@ $^

$(BUILD)/mpi/dist.o: runtime/dist.c runtime/dist.h runtime/cnnrt.h runtime/cnnrt_net.h
	@mkdir -p $(dir $@)
	$(MPICC) $(CFLAGS) $(RT_WARN) $(OPENMP) -fPIC -DCNNRT_MPI -Iruntime -c -o $@ $<

$(BUILD)/libcnnrt-mpi.a: $(filter-out $(BUILD)/runtime/dist.o,$(RT_OBJS)) $(BUILD)/mpi/dist.o
	rm -f $@
	ar rcs $@ $^

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
	$(CC) $(CFLAGS) $(WARN) -DCNNC_VERSION='"$(VERSION)"' -Icompiler -Iruntime -I$(BUILD)/compiler -MMD -MP -c -o $@ $<

$(BUILD)/tests/unit/%.o: tests/unit/%.c $(BUILD)/compiler/parser.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -std=c11 -Wall -Wextra -Icompiler -I$(BUILD)/compiler -MMD -MP -c -o $@ $<

$(BUILD)/test_unit: $(UNIT_OBJS) $(FRONT_OBJS)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ -lcunit -lm

$(BUILD)/test_runtime: tests/runtime/test_runtime.c tests/runtime/optim_ref.h $(BUILD)/libcnnrt.a
	$(CC) $(CFLAGS) $(LDFLAGS) -std=c99 -Iruntime -o $@ $< $(BUILD)/libcnnrt.a -lcunit -lz -lm

$(BUILD)/test_team: tests/runtime/test_team.c $(BUILD)/libcnnrt.a
	$(CC) $(CFLAGS) $(LDFLAGS) -std=c99 -Wall -Wextra -pedantic -Iruntime -o $@ $< $(BUILD)/libcnnrt.a -lcunit -lz -lm

$(BUILD)/test_layers: tests/runtime/test_layers.c tests/runtime/layers_ref.h $(BUILD)/libcnnrt.a
	$(CC) $(CFLAGS) $(LDFLAGS) -std=c99 -Wall -Wextra -pedantic -Iruntime -o $@ $< $(BUILD)/libcnnrt.a -lcunit -lz -lm

# Every instruction set's kernels that the CPU runs (the others: skipped).
$(BUILD)/test_kernels: tests/runtime/test_kernels.c $(BUILD)/libcnnrt.a
	$(CC) $(CFLAGS) $(LDFLAGS) -std=c99 -Wall -Wextra -pedantic -Iruntime -o $@ $< $(BUILD)/libcnnrt.a \
	    $(OPENMP) -lcunit -lz -lm

# The same tests of the plain C kernels a compiler without GNU C builds.
$(BUILD)/test_kernels_plain: tests/runtime/test_kernels.c runtime/kernels.c $(BUILD)/libcnnrt.a
	$(CC) $(CFLAGS) $(LDFLAGS) -std=c99 -Wall -Wextra -pedantic -DCNNRT_PLAIN_C -Iruntime -o $@ $< \
	    runtime/kernels.c $(BUILD)/libcnnrt.a $(OPENMP) -lcunit -lz -lm

# The 3-D convolution (runtime/conv3d.c), also against PyTorch.
$(BUILD)/test_conv3d: tests/runtime/test_conv3d.c $(BUILD)/libcnnrt.a
	$(CC) $(CFLAGS) $(LDFLAGS) -std=c99 -Wall -Wextra -pedantic -Iruntime -o $@ $< $(BUILD)/libcnnrt.a \
	    $(OPENMP) -lz -lm

# The 3-D pools, deconvolution and upsampling (runtime/vol3d.c), also against PyTorch.
$(BUILD)/test_vol3d: tests/runtime/test_vol3d.c $(BUILD)/libcnnrt.a
	$(CC) $(CFLAGS) $(LDFLAGS) -std=c99 -Wall -Wextra -pedantic -Iruntime -o $@ $< $(BUILD)/libcnnrt.a \
	    $(OPENMP) -lz -lm

# Generated code under test: hand-computed cases from the literature.
GEN_NETS := edge pool4
$(BUILD)/gen/%.c: tests/gen/%.net $(BUILD)/cnnc
	@mkdir -p $(dir $@)
	$(BUILD)/cnnc $< -o $@

$(BUILD)/gen/test_known: tests/gen/test_known.c $(GEN_NETS:%=$(BUILD)/gen/%.c) $(BUILD)/libcnnrt.a
	$(CC) $(CFLAGS) $(LDFLAGS) -std=c99 -Wall -Wextra -pedantic -Iruntime -I$(BUILD)/gen -o $@ \
	    $< $(GEN_NETS:%=$(BUILD)/gen/%.c) $(BUILD)/libcnnrt.a -lcunit -lz -lm

-include $(wildcard $(BUILD)/compiler/*.d $(BUILD)/compiler/emit/*.d $(BUILD)/tests/unit/*.d $(BUILD)/runtime/*.d)

# The tests run from the top so that they find examples/ and tests/ files.
unit-check: $(BUILD)/test_unit $(BUILD)/cnnc $(BUILD)/test_runtime $(BUILD)/test_team $(BUILD)/test_layers \
            $(BUILD)/test_kernels $(BUILD)/test_kernels_plain $(BUILD)/test_conv3d $(BUILD)/test_vol3d \
            $(BUILD)/gen/test_known
	sh tests/layering.sh . $(BUILD)
	CNNC=$(BUILD)/cnnc $(BUILD)/test_unit
	CNNC=$(BUILD)/cnnc sh tests/cli.sh
	CNNC=$(BUILD)/cnnc sh tests/golden.sh
	sh tests/runtime/torch_check.sh $(BUILD)/test_runtime
	$(BUILD)/test_team
	$(BUILD)/test_layers
	$(BUILD)/test_kernels
	$(BUILD)/test_kernels_plain
	sh tests/runtime/cases_check.sh $(BUILD)/test_conv3d conv3d_ref.py
	sh tests/runtime/cases_check.sh $(BUILD)/test_vol3d vol3d_ref.py
	$(BUILD)/gen/test_known

# tests/golden/: the generated C that `make check` compares byte for byte;
# after a change to the output that is meant, regenerate and review it.
golden: $(BUILD)/cnnc
	CNNC=$(BUILD)/cnnc sh tests/golden.sh --update

SAN := -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
asan-check:
	$(MAKE) BUILD=build/asan CFLAGS='$(SAN)' LDFLAGS='$(SAN)' unit-check
	CNNC=build/asan/cnnc LIBCNNRT=build/asan/libcnnrt.a SAN='$(SAN)' sh tests/gen/sanitize.sh

# Once, with the normal build: the generated code of every example, the
# driver, and conformance with PyTorch.
system-check: all
	CNNC=$(BUILD)/cnnc sh tests/gen/examples.sh
	CNNC=$(BUILD)/cnnc sh tests/gen/embed.sh
	CNNC=$(BUILD)/cnnc sh tests/gen/prefixes.sh
	CNNC=$(BUILD)/cnnc sh tests/gen/threads.sh
	CNNC=$(BUILD)/cnnc sh tests/gen/blas.sh
	CNNC=$(BUILD)/cnnc sh tests/gen/gradcheck.sh
	CNNC=$(BUILD)/cnnc sh tests/gen/isa.sh
	sh tests/install.sh
	CNNC=$(BUILD)/cnnc LIBCNNRT_MPI=$(MPI_LIB) sh tests/mpi/run.sh
	CNNC=$(BUILD)/cnnc sh tests/driver/run.sh
	BUILD=$(BUILD) sh tests/bench/replay.sh
	CNNC=$(BUILD)/cnnc sh tests/torch/run.sh
	CNNC=$(BUILD)/cnnc sh tests/torch/memory.sh
	CNNC=$(BUILD)/cnnc OPENBLAS_NUM_THREADS=1 /usr/bin/python3 tests/torch/unet_check.py
	OPENBLAS_NUM_THREADS=1 /usr/bin/python3 tests/torch/vnet.py --check
	CNNC=$(BUILD)/cnnc OPENBLAS_NUM_THREADS=1 /usr/bin/python3 tests/torch/vnet_step.py
	/usr/bin/python3 tests/data/ellipsoids.py
	OPENBLAS_NUM_THREADS=1 /usr/bin/python3 tests/torch/torchvision_load.py $(BUILD)/cnnc

check: setup
	$(MAKE) unit-check
	ASAN_OPTIONS=detect_leaks=1 $(MAKE) asan-check
	$(MAKE) system-check
	$(MAKE) fuzz-check

# Installs missing Debian packages (as root); a no-op when all are there.
setup:
	@sh scripts/setup.sh

# The main job: build, compile an example network, train it briefly,
# print its report and its test accuracy.
DEMO_EPOCHS ?= 5
DEMO_FLAGS  ?= -O3 -march=native -fopenmp
demo: setup all
	@mkdir -p $(BUILD)/demo
	@echo '$$ cnnc --report examples/lenet.net'
	@$(BUILD)/cnnc --report examples/lenet.net
	@echo '$$ cnnc --main examples/lenet.net -o build/demo/lenet.c'
	@$(BUILD)/cnnc --main examples/lenet.net -o $(BUILD)/demo/lenet.c
	@wc -l $(BUILD)/demo/lenet.c
	$(CC) $(DEMO_FLAGS) -std=c99 -Iruntime $(BUILD)/demo/lenet.c $(BUILD)/libcnnrt.a -lz -lm -o $(BUILD)/demo/lenet
	@echo '$$ ./lenet train --epochs $(DEMO_EPOCHS) --save lenet.safetensors   (Fashion-MNIST)'
	@$(BUILD)/demo/lenet train --epochs $(DEMO_EPOCHS) --save $(BUILD)/demo/lenet.safetensors
	@echo '$$ ./lenet eval --load lenet.safetensors'
	@$(BUILD)/demo/lenet eval --load $(BUILD)/demo/lenet.safetensors

# Issue 11's volumetric demo: a small V-Net (8 base channels, 32x32x32)
# trained with the Dice loss on random ellipsoids (scripts/ellipsoids.py);
# in PyTorch the same recipe (tests/torch/vnet_demo.py) reached Dice 0.947.
VNET_DATA  ?= --train 32 --test 16 --seed 1
VNET_TRAIN ?= --epochs 8 --batch 2 --optim adam --lr 0.0003
demo-vnet: setup all
	@mkdir -p $(BUILD)/demo
	@echo '$$ scripts/ellipsoids.py build/demo/ellipsoids $(VNET_DATA)'
	@/usr/bin/python3 scripts/ellipsoids.py $(BUILD)/demo/ellipsoids $(VNET_DATA)
	@echo '$$ cnnc --main examples/vnet_small.net -o build/demo/vnet_small.c'
	@$(BUILD)/cnnc --main examples/vnet_small.net -o $(BUILD)/demo/vnet_small.c
	$(CC) $(DEMO_FLAGS) -std=c99 -Iruntime $(BUILD)/demo/vnet_small.c $(BUILD)/libcnnrt.a -lz -lm \
	    -o $(BUILD)/demo/vnet_small
	@echo '$$ ./vnet_small train --data ellipsoids $(VNET_TRAIN) --save vnet_small.safetensors'
	@$(BUILD)/demo/vnet_small train --data $(BUILD)/demo/ellipsoids $(VNET_TRAIN) \
	    --save $(BUILD)/demo/vnet_small.safetensors
	@echo '$$ ./vnet_small eval --data ellipsoids --load vnet_small.safetensors'
	@$(BUILD)/demo/vnet_small eval --data $(BUILD)/demo/ellipsoids --load $(BUILD)/demo/vnet_small.safetensors

# Issue 11's V-Net at full size (64x128x128): one training step at batch 1,
# its peak RSS against the report's memory plan, and the same step in
# PyTorch float32.  1.5 to 2.5 minutes and 3.2 GiB, so not in `make check`
# (system-check has the small V-Net's RSS, tests/torch/memory.sh).
check-vnet: all
	CNNC=$(BUILD)/cnnc OPENBLAS_NUM_THREADS=1 /usr/bin/python3 tests/torch/vnet_full.py

# Speed, side by side with ONNX Runtime (npm, installed into $(BUILD)/ort on
# first use) and PyTorch (medians of alternating rounds), documented build
# and -march=native: LeNet-5, a 3x3 convolution against the measured FP32
# peak, a 5x5x5 3-D convolution (issue 11), ResNet-18, VGG-16, ResNet-50,
# with 1 and 2 threads, --blas, under load, time to 89% on Fashion-MNIST,
# compile times, issue 12's targets.
# A table on stdout and $(BUILD)/bench.json; knobs: ROUNDS (3), SECONDS (2),
# THREADS ("1 2"), BENCH_ORT, BENCH_NATIVE, BENCH_BLAS, BENCH_R50,
# BENCH_LOAD, BENCH_TRAIN, BENCH_COMPILE, BENCH_CONV3D (0 skips them); see
# bench/run.sh.
bench: all
	BUILD=$(BUILD) sh bench/run.sh

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib/pkgconfig \
	    $(DESTDIR)$(PREFIX)/include $(DESTDIR)$(PREFIX)/share/man/man1
	install -m 755 $(BUILD)/cnnc $(DESTDIR)$(PREFIX)/bin/cnnc
	install -m 644 $(BUILD)/libcnnrt.a $(DESTDIR)$(PREFIX)/lib/libcnnrt.a
	install -m 644 runtime/cnnrt.h runtime/cnnrt_net.h $(DESTDIR)$(PREFIX)/include/
	install -m 644 docs/cnnc.1 $(DESTDIR)$(PREFIX)/share/man/man1/cnnc.1
	$(if $(MPI_LIB),install -m 644 $(MPI_LIB) $(DESTDIR)$(PREFIX)/lib/libcnnrt-mpi.a)
	for pc in cnnrt cnnrt-blas $(if $(MPI_LIB),cnnrt-mpi); do \
	    sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@VERSION@|$(VERSION)|' runtime/$$pc.pc.in \
	        > $(DESTDIR)$(PREFIX)/lib/pkgconfig/$$pc.pc; \
	done

clean:
	rm -rf build

# Fuzzing with libFuzzer under ASan+UBSan (needs clang): `make fuzz
# FUZZ_SECONDS=N` runs each target in turn for N seconds: the front end
# (inputs up to 1 MiB, so that tokens longer than flex's buffers are
# tried), the safetensors loader and the IDX/gz loader.  Seeds are the test
# corpora themselves and, for the loaders, files fuzz/make_seeds.py writes;
# each corpus grows in $(BUILD)/fuzz/corpus-TARGET, crashes go to
# $(BUILD)/fuzz/TARGET-crash-*.  `make check` runs each for FUZZ_CHECK_SECONDS.
FUZZ_SECONDS ?= 600
FUZZ_CHECK_SECONDS ?= 25
FUZZ_TIMEOUT ?= 10
FUZZ_CC      ?= clang
FUZZ_SAN     := -g -O1 -fno-omit-frame-pointer -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all
FUZZ_FLAGS   := -std=c11 $(FUZZ_SAN) -DCNNC_FUZZ_LIMITS
# cnnc's own sources (those of FRONT_OBJS), so that the list cannot go stale.
FUZZ_GEN     := $(BUILD)/compiler/lexer.c $(BUILD)/compiler/parser.c
FUZZ_SRCS    := fuzz/fuzz_frontend.c $(FUZZ_GEN) $(patsubst $(BUILD)/%.o,%.c, \
                $(filter-out $(FUZZ_GEN:.c=.o),$(FRONT_OBJS)))
FUZZ_ST_SRCS := runtime/safetensors.c runtime/model.c runtime/io.c
FUZZ_IDX_SRCS := runtime/idx.c runtime/io.c
FUZZ_SEEDS   := tests/errors examples tests/gen tests/torch/cases

$(BUILD)/fuzz/fuzz_frontend: $(FUZZ_SRCS) $(wildcard compiler/*.h compiler/emit/*.h runtime/*.h)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_FLAGS) -DCNNC_VERSION='"$(VERSION)"' -Icompiler -Iruntime -I$(BUILD)/compiler \
		-o $@ $(FUZZ_SRCS) -lm

$(BUILD)/fuzz/fuzz_safetensors: fuzz/fuzz_safetensors.c fuzz/fuzz_file.h $(FUZZ_ST_SRCS) $(wildcard runtime/*.h)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) -std=c99 $(FUZZ_SAN) -Iruntime -o $@ fuzz/fuzz_safetensors.c $(FUZZ_ST_SRCS) -lz -lm

$(BUILD)/fuzz/fuzz_idx: fuzz/fuzz_idx.c fuzz/fuzz_file.h $(FUZZ_IDX_SRCS) $(wildcard runtime/*.h)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) -std=c99 $(FUZZ_SAN) -Iruntime -o $@ fuzz/fuzz_idx.c $(FUZZ_IDX_SRCS) -lz -lm

$(BUILD)/fuzz/seeds/.done: fuzz/make_seeds.py
	python3 fuzz/make_seeds.py $(dir $@)
	touch $@

# fuzz-run T=target ARGS=extra: one run; the first directory collects the corpus.
FUZZ_RUN = mkdir -p $(BUILD)/fuzz/corpus-$(1) && $(BUILD)/fuzz/fuzz_$(1) -max_total_time=$(2) \
           -timeout=$(FUZZ_TIMEOUT) -print_final_stats=1 -artifact_prefix=$(BUILD)/fuzz/$(1)- $(3) \
           $(BUILD)/fuzz/corpus-$(1)
FUZZ_BINS := $(BUILD)/fuzz/fuzz_frontend $(BUILD)/fuzz/fuzz_safetensors $(BUILD)/fuzz/fuzz_idx $(BUILD)/fuzz/seeds/.done

fuzz: $(FUZZ_BINS)
	$(call FUZZ_RUN,frontend,$(FUZZ_SECONDS),-dict=fuzz/net.dict -max_len=1048576 -len_control=0) $(FUZZ_SEEDS)
	$(call FUZZ_RUN,safetensors,$(FUZZ_SECONDS),-max_len=65536) $(BUILD)/fuzz/seeds/safetensors
	$(call FUZZ_RUN,idx,$(FUZZ_SECONDS),-max_len=65536) $(BUILD)/fuzz/seeds/idx

fuzz-check:
	$(MAKE) fuzz FUZZ_SECONDS=$(FUZZ_CHECK_SECONDS)
