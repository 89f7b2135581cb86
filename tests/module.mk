# tests/: unit tests (Check, one file per module), integration tests (real
# processes on loopback: C programs and shell scripts), fuzz targets whose
# saved corpora are replayed by make check.

# Unit tests: tests/unit/test_<module>.c, linked with the project libraries
# (only the objects a test uses are pulled from the archives).
UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_TESTS := $(UNIT_SRCS:tests/unit/%.c=$(TESTBIN)/unit/%)
DEPS += $(UNIT_SRCS:%.c=$(OBJ)/%.d)
$(UNIT_SRCS:%.c=$(OBJ)/%.o): EXTRA_CFLAGS = $(CHECK_CFLAGS) $(MODBUS_CFLAGS) -Isim -Ilane-controller
$(TESTBIN)/unit/%: $(OBJ)/tests/unit/%.o $(LANE_CORE_LIB) $(SIM_CORE_LIB) $(FWI_LIB) $(COMMON_LIB)
	@mkdir -p $(dir $@)
	$(call quiet,LD,$@)
	$(Q)$(CC) $(ALL_CFLAGS) $^ -o $@ $(CHECK_LIBS) $(MODBUS_LIBS) $(LDLIBS_BASE)

# Integration programs: tests/integration/test_*.c (libmodbus clients that
# start the real daemons); shell tests are run from their source folder.
INTEGRATION_SRCS := $(wildcard tests/integration/*.c)
INTEGRATION_PROGRAMS := $(patsubst tests/integration/%.c,$(TESTBIN)/integration/%,$(filter tests/integration/test_%.c,$(INTEGRATION_SRCS)))
INTEGRATION_LIB_SRCS := $(filter-out tests/integration/test_%.c tests/integration/helper_%.c,$(INTEGRATION_SRCS))
INTEGRATION_LIB_OBJS := $(INTEGRATION_LIB_SRCS:%.c=$(OBJ)/%.o)
DEPS += $(INTEGRATION_SRCS:%.c=$(OBJ)/%.d)
$(INTEGRATION_SRCS:%.c=$(OBJ)/%.o): EXTRA_CFLAGS = $(MODBUS_CFLAGS) $(PQ_CFLAGS) -Itests/integration -Ilane-controller
$(TESTBIN)/integration/%: $(OBJ)/tests/integration/%.o $(INTEGRATION_LIB_OBJS) $(LANE_CORE_LIB) $(FWI_LIB) $(COMMON_LIB)
	@mkdir -p $(dir $@)
	$(call quiet,LD,$@)
	$(Q)$(CC) $(ALL_CFLAGS) $^ -o $@ $(MODBUS_LIBS) $(CENTRAL_LIBS) $(LDLIBS_BASE)

# Helpers the shell tests start (not tests themselves):
# tests/integration/helper_NAME.c becomes $(TESTBIN)/integration/helpers/NAME.
INTEGRATION_HELPERS := $(patsubst tests/integration/helper_%.c,$(TESTBIN)/integration/helpers/%,$(filter tests/integration/helper_%.c,$(INTEGRATION_SRCS)))
INTEGRATION_PROGRAMS += $(INTEGRATION_HELPERS)
$(TESTBIN)/integration/helpers/%: $(OBJ)/tests/integration/helper_%.o $(COMMON_LIB)
	@mkdir -p $(dir $@)
	$(call quiet,LD,$@)
	$(Q)$(CC) $(ALL_CFLAGS) $^ -o $@ $(MHD_LIBS) $(LDLIBS_BASE)

# Fuzz targets: tests/fuzz/fuzz_<name>.c defines LLVMFuzzerTestOneInput.
# make check links each with replay_main.c and replays
# tests/fuzz/corpus/<name>/; make fuzz builds them with libFuzzer.
FUZZ_SRCS := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_NAMES := $(FUZZ_SRCS:tests/fuzz/fuzz_%.c=%)
FUZZ_REPLAYS := $(FUZZ_NAMES:%=$(TESTBIN)/fuzz/fuzz_%-replay)
DEPS += $(FUZZ_SRCS:%.c=$(OBJ)/%.d) $(OBJ)/tests/fuzz/replay_main.d
$(FUZZ_SRCS:%.c=$(OBJ)/%.o): EXTRA_CFLAGS = -Isim -Ilane-controller
$(TESTBIN)/fuzz/fuzz_%-replay: $(OBJ)/tests/fuzz/fuzz_%.o $(OBJ)/tests/fuzz/replay_main.o $(LANE_CORE_LIB) $(SIM_CORE_LIB) $(FWI_LIB) $(COMMON_LIB)
	@mkdir -p $(dir $@)
	$(call quiet,LD,$@)
	$(Q)$(CC) $(ALL_CFLAGS) $^ -o $@ $(LDLIBS_BASE)

FUZZ_CC ?= clang
fuzz:
	@mkdir -p build/fuzz
	@for n in $(FUZZ_NAMES); do \
		echo "building build/fuzz/fuzz_$$n"; \
		$(FUZZ_CC) -g -O1 -fsanitize=fuzzer,address,undefined $(CPPFLAGS) $(MODBUS_CFLAGS) -Isim -Ilane-controller \
			tests/fuzz/fuzz_$$n.c $(FWI_SRCS) $(COMMON_SRCS) $(SIM_CORE_SRCS) $(LANE_CORE_SRCS) $(FUZZ_EXTRA_SRCS) \
			-o build/fuzz/fuzz_$$n $(MODBUS_LIBS) $(LDLIBS_BASE) || exit 1; \
	done
	@echo "run: build/fuzz/fuzz_NAME tests/fuzz/corpus/NAME"
