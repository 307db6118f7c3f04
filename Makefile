# Makefile: builds libtape (tensor/ + autograd/), its tests, benchmark and
# install. `make test SANITIZE=1` builds everything again under ASan + UBSan.
# Dependencies come from Debian; `make deps` installs them when run as root.

NAME      := tape
VERSION   := 0.4.0
SOVERSION := 3
PREFIX    ?= /usr/local
CC        ?= cc
BLIS_INC  ?= /usr/include/x86_64-linux-gnu/blis-openmp
BLIS_LIB  ?= /usr/lib/x86_64-linux-gnu/blis-openmp
DEB_PKGS  := gcc make pkg-config libblis-openmp-dev libdnnl-dev libsodium-dev zlib1g-dev \
             libcjson-dev libpng-dev python3-numpy $(if $(filter fuzz,$(MAKECMDGOALS)),clang) \
             $(if $(filter test,$(MAKECMDGOALS)),chromium dataset-fashion-mnist)

WARN      := -std=c11 -Wall -Wextra -pedantic
OPT       ?= -O3 -fno-math-errno -fno-trapping-math
CFLAGS    ?= $(OPT) -g
ALL_CFLAGS = $(WARN) $(CFLAGS) -fopenmp -fPIC -fvisibility=hidden -Itensor -Iautograd -Inn -Inn/train -Imodels -isystem $(BLIS_INC)
LDLIBS    := -L$(BLIS_LIB) -lblis -ldnnl -lsodium -lcjson -lpng -lz -lm -fopenmp

ifeq ($(SANITIZE),1)
BUILD     := build/san
ALL_CFLAGS += -fsanitize=address,undefined,float-cast-overflow -fno-omit-frame-pointer -fno-sanitize-recover=undefined \
              -DTN_POISON_ARENA
LDLIBS    += -fsanitize=address,undefined,float-cast-overflow
else
BUILD     := build
endif
# `make MPI=1 ...`: the same library and programs built with OpenMPI's mpicc
# into $(BUILD)/mpi; nn_train runs data-parallel when started by mpirun
# (nn/dist.c). The default build needs no MPI.
ifeq ($(MPI),1)
BUILD     := $(BUILD)/mpi
CC        := mpicc
ALL_CFLAGS += -DTAPE_MPI
DEB_PKGS  += libopenmpi-dev openmpi-bin
endif

LIB_SRC   := $(wildcard tensor/*.c) $(wildcard autograd/*.c) $(wildcard nn/*.c) $(wildcard nn/train/*.c) \
             $(wildcard models/*.c)
HEADERS   := tensor/tn.h autograd/ad.h nn/nn.h nn/train/trainer.h nn/train/latent.h nn/train/options.h nn/train/setup.h \
             nn/train/train.h nn/train/plot.h models/model.h models/compare.h
TEST_SRC  := $(wildcard tests/test_*.c) tests/main.c tests/alloc_count.c
# every allocation of the tests and the library's code is counted
WRAP_ALLOC := -Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc,--wrap=aligned_alloc
# The library and tests are built twice: float (what users get) and double
# (for gradient checks at 1e-6).
F_OBJ     := $(LIB_SRC:%.c=$(BUILD)/float/%.o)
D_OBJ     := $(LIB_SRC:%.c=$(BUILD)/double/%.o)

.PHONY: all lib examples test bench demo data install uninstall clean deps fuzz compare
all: deps lib examples
# Two libraries: libtape (float, what models train with) and libtape-double
# (tn_real = double, for gradient checks at eps 1e-6), each with its own
# pkg-config file. A link-time guard in tn.h keeps them from being mixed.
lib: $(BUILD)/lib$(NAME).a $(BUILD)/lib$(NAME).so $(BUILD)/lib$(NAME)-double.a $(BUILD)/lib$(NAME)-double.so

deps:
	@missing=""; \
	if command -v dpkg >/dev/null 2>&1; then \
	  for p in $(DEB_PKGS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	fi; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing:$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq$$missing >/dev/null || exit 1; \
	  else \
	    echo "missing Debian packages; run:"; echo "  sudo apt-get install -y$$missing"; exit 1; \
	  fi; \
	fi

# Every compile waits for `deps` (order-only: it never forces a rebuild), so
# under any -j no compiler starts before apt has installed BLIS.
$(BUILD)/float/%.o: %.c $(HEADERS) models/compare_internal.h tests/test.h autograd/ad_internal.h nn/nn_internal.h nn/train/train_internal.h models/model_internal.h tensor/tn_parallel.h tensor/tn_math.h tensor/tn_ref.h tensor/tn_dnnl.h tensor/tn_blas.h models/compare_internal.h | deps
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c $< -o $@

$(BUILD)/double/%.o: %.c $(HEADERS) autograd/ad_internal.h nn/nn_internal.h nn/train/train_internal.h models/model_internal.h tensor/tn_parallel.h tensor/tn_math.h tensor/tn_ref.h tensor/tn_dnnl.h tensor/tn_blas.h models/compare_internal.h tests/test.h | deps
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -DTN_REAL_DOUBLE -c $< -o $@

$(BUILD)/lib$(NAME).a: $(F_OBJ)
	rm -f $@ && ar rcs $@ $^

# The shared libraries export the public API alone: what the headers mark
# TN_API (tn.h); the objects are built with -fvisibility=hidden, so the
# rest is local (tests/run.sh checks the result).
$(BUILD)/lib$(NAME).so: $(F_OBJ)
	$(CC) -shared -Wl,-soname,lib$(NAME).so.$(SOVERSION) -o $@ $(F_OBJ) $(LDLIBS)

$(BUILD)/lib$(NAME)-double.a: $(D_OBJ)
	rm -f $@ && ar rcs $@ $^

$(BUILD)/lib$(NAME)-double.so: $(D_OBJ)
	$(CC) -shared -Wl,-soname,lib$(NAME)-double.so.$(SOVERSION) -o $@ $(D_OBJ) $(LDLIBS)

# ---- example programs ------------------------------------------------------
# The model programs are built as a user builds them: against the headers
# as installed (<tape/train.h>, staged once in $(BUILD)/include/tape) and
# the library.
MODELS    := cvae iwae gumbel_vae conv_vae vqvae m2 flow_vae hvae2
examples: $(BUILD)/vae $(BUILD)/compare $(BUILD)/tape-plot $(MODELS:%=$(BUILD)/%)
$(BUILD)/vae: $(BUILD)/float/examples/vae.o $(BUILD)/lib$(NAME).a
	$(CC) $(ALL_CFLAGS) -o $@ $^ $(LDLIBS)
$(BUILD)/compare: $(BUILD)/float/examples/compare.o $(BUILD)/lib$(NAME).a
	$(CC) $(ALL_CFLAGS) -o $@ $^ $(LDLIBS)
$(BUILD)/include/$(NAME)/.staged: $(HEADERS)
	@mkdir -p $(dir $@)
	cp $(HEADERS) $(dir $@) && touch $@
$(BUILD)/tape-plot: examples/plot.c $(BUILD)/include/$(NAME)/.staged $(BUILD)/lib$(NAME).a | deps
	$(CC) $(WARN) $(CFLAGS) -fopenmp -I$(BUILD)/include -o $@ $< $(BUILD)/lib$(NAME).a $(LDLIBS)
$(MODELS:%=$(BUILD)/%): $(BUILD)/%: examples/%.c $(BUILD)/include/$(NAME)/.staged $(BUILD)/lib$(NAME).a | deps
	$(CC) $(WARN) $(CFLAGS) -fopenmp -I$(BUILD)/include -o $@ $< $(BUILD)/lib$(NAME).a $(LDLIBS)

# ---- the main job on real data -------------------------------------------
# `make demo`: get MNIST (or Fashion-MNIST) with checksums checked, train the
# reference VAE, write pictures to out/demo and print the test ELBO; then a
# 2-D latent VAE for the manifold and the scatter of codes.
DEMO_EPOCHS ?= 10
data:
	@sh examples/get_data.sh >/dev/null
demo: deps examples
	@dir=$$(sh examples/get_data.sh) || exit 1; \
	echo "== VAE 784-400-20 on $$dir, $(DEMO_EPOCHS) epochs (PyTorch's reference configuration)"; \
	$(BUILD)/vae --data "$$dir" --epochs $(DEMO_EPOCHS) --seed 1 --out out/demo \
	    --metrics out/demo/metrics.jsonl --iw-samples 50 || exit 1; \
	echo "== VAE 784-400-2 for the learned manifold, 5 epochs"; \
	$(BUILD)/vae --data "$$dir" --epochs 5 --latent 2 --seed 1 --out out/demo-2d \
	    --metrics out/demo-2d/metrics.jsonl --iw-samples 0 || exit 1; \
	echo "pictures in out/demo and out/demo-2d (open the .svg files: what each shows is written on it),"; \
	echo "learning curves in out/demo/metrics.svg and out/demo-2d/metrics.svg"

# `make compare`: every autoencoder variant on the demo data, 5 epochs and
# one seed (about 5 minutes on 2 cores); the report is out/compare/report.md.
# docs/compare.md shows the full setting (10 epochs, 3 seeds).
compare: deps examples
	@dir=$$(sh examples/get_data.sh) || exit 1; \
	$(BUILD)/compare --data "$$dir" --epochs 5 --seeds 1 --out out/compare && \
	echo "the page: out/compare/report.html (open it in a browser)"

# ---- tests ---------------------------------------------------------------
T_F_OBJ := $(TEST_SRC:%.c=$(BUILD)/float/%.o)
T_D_OBJ := $(TEST_SRC:%.c=$(BUILD)/double/%.o)

$(BUILD)/test_float: $(T_F_OBJ) $(BUILD)/lib$(NAME).a
	$(CC) $(ALL_CFLAGS) -o $@ $^ $(LDLIBS) $(WRAP_ALLOC)
$(BUILD)/test_double: $(T_D_OBJ) $(BUILD)/lib$(NAME)-double.a
	$(CC) $(ALL_CFLAGS) -o $@ $^ $(LDLIBS) $(WRAP_ALLOC)

test: deps $(BUILD)/test_float $(BUILD)/test_double lib examples
	@sh tests/run.sh $(BUILD) "$(CC)"

# ---- fuzzing -----------------------------------------------------------------
# `make fuzz FUZZ_TIME=60`: every loader harness of tests/fuzz/fuzz.c, built
# with clang's libFuzzer + ASan + UBSan over a copy of the library, run for
# FUZZ_TIME seconds each from its seed corpus (new inputs go to a scratch
# copy; the repository's corpus stays small). Fails on any finding.
FUZZ_TIME    ?= 60
FUZZ_TARGETS := idx csv amat mat safetensors metrics runcache
FUZZ_CFLAGS  := -std=c11 -g -O1 -fopenmp -Itensor -Iautograd -Inn -Inn/train -Imodels -Iexamples -isystem $(BLIS_INC) \
                -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined
FUZZ_OBJ     := $(LIB_SRC:%.c=build/fuzz/%.o) 
.SECONDARY: $(FUZZ_OBJ)
build/fuzz/%.o: %.c $(HEADERS) models/compare_internal.h autograd/ad_internal.h nn/nn_internal.h nn/train/train_internal.h models/model_internal.h | deps
	@mkdir -p $(dir $@)
	clang $(FUZZ_CFLAGS) -c $< -o $@
build/fuzz/fuzz_%: tests/fuzz/fuzz.c $(FUZZ_OBJ)
	clang $(FUZZ_CFLAGS) -fsanitize=fuzzer -DFUZZ_$(shell echo $* | tr a-z A-Z) -o $@ $^ \
	    -L$(BLIS_LIB) -lblis -ldnnl -lsodium -lcjson -lpng -lz -lm
fuzz: deps $(FUZZ_TARGETS:%=build/fuzz/fuzz_%)
	@sh tests/fuzz/run.sh $(FUZZ_TIME) $(FUZZ_TARGETS)

# ---- benchmark -----------------------------------------------------------
$(BUILD)/bench: tests/bench.c $(BUILD)/lib$(NAME).a | deps
	$(CC) $(ALL_CFLAGS) -o $@ $^ $(LDLIBS) $(if $(filter x86_64,$(shell uname -m)),-lmvec)
# `make bench`: the core's costs and the ops, then one table of the
# training step against its floor and PyTorch (tests/bench_table.sh), then
# compare's variants and L_5000 against their floors.
bench: deps $(BUILD)/bench
	$(BUILD)/bench
	sh tests/bench_table.sh 3
	$(BUILD)/bench variants 1 128 3
	$(BUILD)/bench iwae 1 32

# ---- install -------------------------------------------------------------
# Headers go to include/tape/: users write #include <tape/model.h> and
# pkg-config's Cflags point at include/.
PC_COMMON = 'prefix=$(PREFIX)' 'libdir=$${prefix}/lib' 'includedir=$${prefix}/include' '' \
            'Version: $(VERSION)' 'Requires.private: libsodium libcjson libpng zlib' \
            'Libs.private: -L$(BLIS_LIB) -lblis -ldnnl -lm -fopenmp'
install: lib
	install -d $(DESTDIR)$(PREFIX)/include/$(NAME) $(DESTDIR)$(PREFIX)/lib/pkgconfig
	install -m 644 $(HEADERS) $(DESTDIR)$(PREFIX)/include/$(NAME)/
	for v in $(NAME) $(NAME)-double; do \
	  install -m 644 $(BUILD)/lib$$v.a $(DESTDIR)$(PREFIX)/lib/ && \
	  install -m 755 $(BUILD)/lib$$v.so $(DESTDIR)$(PREFIX)/lib/lib$$v.so.$(SOVERSION) && \
	  ln -sf lib$$v.so.$(SOVERSION) $(DESTDIR)$(PREFIX)/lib/lib$$v.so || exit 1; \
	done
	printf '%s\n' $(PC_COMMON) 'Name: $(NAME)' \
	  'Description: reverse-mode tape autodiff and tensors in C (float build)' \
	  'Cflags: -I$${includedir}' 'Libs: -L$${libdir} -l$(NAME)' \
	  > $(DESTDIR)$(PREFIX)/lib/pkgconfig/$(NAME).pc
	printf '%s\n' $(PC_COMMON) 'Name: $(NAME)-double' \
	  'Description: tape built with tn_real = double, for gradient checks' \
	  'Cflags: -DTN_REAL_DOUBLE -I$${includedir}' 'Libs: -L$${libdir} -l$(NAME)-double' \
	  > $(DESTDIR)$(PREFIX)/lib/pkgconfig/$(NAME)-double.pc

uninstall:
	rm -rf $(DESTDIR)$(PREFIX)/include/$(NAME)
	rm -f $(DESTDIR)$(PREFIX)/lib/lib$(NAME).a $(DESTDIR)$(PREFIX)/lib/lib$(NAME).so* \
	      $(DESTDIR)$(PREFIX)/lib/lib$(NAME)-double.a $(DESTDIR)$(PREFIX)/lib/lib$(NAME)-double.so* \
	      $(DESTDIR)$(PREFIX)/lib/pkgconfig/$(NAME).pc $(DESTDIR)$(PREFIX)/lib/pkgconfig/$(NAME)-double.pc

clean:
	rm -rf build
