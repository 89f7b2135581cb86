# lane-controller/: toll-lane.  Every lane_*.c but lane_main.c forms the
# library the unit tests link; lane_main.c makes the program.
LANE_CORE_SRCS := $(filter-out lane-controller/lane_main.c,$(wildcard lane-controller/lane_*.c))
LANE_CORE_OBJS := $(LANE_CORE_SRCS:%.c=$(OBJ)/%.o)
LANE_CORE_LIB := $(LIB)/liblanecore.a
DEPS += $(LANE_CORE_OBJS:.o=.d) $(OBJ)/lane-controller/lane_main.d

$(LANE_CORE_OBJS) $(OBJ)/lane-controller/lane_main.o: EXTRA_CFLAGS = $(MODBUS_CFLAGS) $(CRYPTO_CFLAGS) -Ilane-controller

$(LANE_CORE_LIB): $(LANE_CORE_OBJS)
	@mkdir -p $(dir $@)
	$(call quiet,AR,$@)
	$(Q)$(AR) rcs $@ $^

ifneq ($(wildcard lane-controller/lane_main.c),)
$(BIN)/toll-lane: $(OBJ)/lane-controller/lane_main.o $(LANE_CORE_LIB) $(FWI_LIB) $(COMMON_LIB)
	@mkdir -p $(dir $@)
	$(call quiet,LD,$@)
	$(Q)$(CC) $(ALL_CFLAGS) $^ -o $@ $(MODBUS_LIBS) -lnng $(LDLIBS_BASE)
PROGRAMS += $(BIN)/toll-lane
endif
