# sim/: the roadside simulator toll-sim.  The device models, the traffic,
# the scenario code and the relay (toll-sim relay: its frame parser is
# unit-tested) form a library the unit tests link; the Modbus server, the
# control socket and main make the program.
SIM_CORE_SRCS := sim/sim_reader.c sim/sim_io.c sim/sim_display.c \
	sim/sim_scenario.c sim/sim_world.c sim/sim_relay.c
SIM_CORE_OBJS := $(SIM_CORE_SRCS:%.c=$(OBJ)/%.o)
SIM_CORE_LIB := $(LIB)/libsimcore.a
SIM_PROG_SRCS := sim/sim_server.c sim/sim_ctl.c sim/sim_main.c
SIM_PROG_OBJS := $(SIM_PROG_SRCS:%.c=$(OBJ)/%.o)
DEPS += $(SIM_CORE_OBJS:.o=.d) $(SIM_PROG_OBJS:.o=.d)

$(SIM_CORE_OBJS) $(SIM_PROG_OBJS): EXTRA_CFLAGS = $(MODBUS_CFLAGS) -Isim

$(SIM_CORE_LIB): $(SIM_CORE_OBJS)
	@mkdir -p $(dir $@)
	$(call quiet,AR,$@)
	$(Q)$(AR) rcs $@ $^

$(BIN)/toll-sim: $(SIM_PROG_OBJS) $(SIM_CORE_LIB) $(FWI_LIB) $(COMMON_LIB)
	@mkdir -p $(dir $@)
	$(call quiet,LD,$@)
	$(Q)$(CC) $(ALL_CFLAGS) $^ -o $@ $(MODBUS_LIBS) $(LDLIBS_BASE)
PROGRAMS += $(BIN)/toll-sim
