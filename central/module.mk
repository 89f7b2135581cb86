# central/: toll-central (settlement) and toll-admin.  Every central/*.c
# but the *_main.c files forms the library the tests link; the migrations
# in central/sql are built in (scripts/embed-sql).
CENTRAL_SQL := $(sort $(wildcard central/sql/*.sql))
CENTRAL_CORE_SRCS := $(filter-out %_main.c,$(wildcard central/*.c))
CENTRAL_CORE_OBJS := $(CENTRAL_CORE_SRCS:%.c=$(OBJ)/%.o) $(OBJ)/central/sql_files.o
CENTRAL_CORE_LIB := $(LIB)/libcentral.a
CENTRAL_MAINS := $(wildcard central/*_main.c)
DEPS += $(CENTRAL_CORE_SRCS:%.c=$(OBJ)/%.d) $(CENTRAL_MAINS:%.c=$(OBJ)/%.d)
PQ_CFLAGS := $(call pkg_cflags,libpq)
PQ_LIBS := $(call pkg_libs,libpq)
# Debian's libnng-dev has no pkg-config file
NNG_LIBS := -lnng
# the partner API: libmicrohttpd (HTTP, TLS through GnuTLS) and jansson
MHD_CFLAGS := $(call pkg_cflags,libmicrohttpd)
MHD_LIBS := $(call pkg_libs,libmicrohttpd)
JANSSON_CFLAGS := $(call pkg_cflags,jansson)
JANSSON_LIBS := $(call pkg_libs,jansson)
CENTRAL_LIBS := $(PQ_LIBS) $(NNG_LIBS) $(MHD_LIBS) $(JANSSON_LIBS)

$(CENTRAL_CORE_OBJS) $(CENTRAL_MAINS:%.c=$(OBJ)/%.o): EXTRA_CFLAGS = $(PQ_CFLAGS) $(MHD_CFLAGS) $(JANSSON_CFLAGS) -Icentral

$(OBJ)/central/sql_files.c: $(CENTRAL_SQL) scripts/embed-sql
	@mkdir -p $(dir $@)
	$(call quiet,GEN,$@)
	$(Q)scripts/embed-sql $@ $(CENTRAL_SQL)

$(OBJ)/central/sql_files.o: $(OBJ)/central/sql_files.c
	$(call quiet,CC,$@)
	$(Q)$(CC) $(CPPFLAGS) $(ALL_CFLAGS) -Icentral -c $< -o $@

$(CENTRAL_CORE_LIB): $(CENTRAL_CORE_OBJS)
	@mkdir -p $(dir $@)
	$(call quiet,AR,$@)
	$(Q)$(AR) rcs $@ $^

ifneq ($(wildcard central/central_main.c),)
$(BIN)/toll-central: $(OBJ)/central/central_main.o $(CENTRAL_CORE_LIB) $(OBJ)/lane-controller/lane_taglist.o $(OBJ)/lane-controller/lane_tariff.o $(COMMON_LIB)
	@mkdir -p $(dir $@)
	$(call quiet,LD,$@)
	$(Q)$(CC) $(ALL_CFLAGS) $^ -o $@ $(CENTRAL_LIBS) $(LDLIBS_BASE)
PROGRAMS += $(BIN)/toll-central
endif

ifneq ($(wildcard central/admin_main.c),)
$(BIN)/toll-admin: $(OBJ)/central/admin_main.o $(OBJ)/lane-controller/lane_tariff.o $(CENTRAL_CORE_LIB) $(COMMON_LIB)
	@mkdir -p $(dir $@)
	$(call quiet,LD,$@)
	$(Q)$(CC) $(ALL_CFLAGS) $^ -o $@ $(CENTRAL_LIBS) $(LDLIBS_BASE)
PROGRAMS += $(BIN)/toll-admin
endif

# partner_file.c (the partners' daily file) is libc alone: its unit test
# and its fuzz target link the object itself; make fuzz compiles it in.
$(TESTBIN)/unit/test_partner_file: $(OBJ)/central/partner_file.o
$(TESTBIN)/fuzz/fuzz_partner_file-replay: $(OBJ)/central/partner_file.o
FUZZ_EXTRA_SRCS += central/partner_file.c
