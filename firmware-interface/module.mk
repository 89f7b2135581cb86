# firmware-interface/: the register map (fwi_map.h, written once), its codec,
# and fwi-doc, which prints the reference table REGISTERS.md.
FWI_SRCS := firmware-interface/fwi_map.c firmware-interface/fwi_codec.c
FWI_OBJS := $(FWI_SRCS:%.c=$(OBJ)/%.o)
FWI_LIB := $(LIB)/libfwi.a
DEPS += $(FWI_OBJS:.o=.d) $(OBJ)/firmware-interface/fwi_doc.d

$(FWI_LIB): $(FWI_OBJS)
	@mkdir -p $(dir $@)
	$(call quiet,AR,$@)
	$(Q)$(AR) rcs $@ $^

$(BIN)/fwi-doc: $(OBJ)/firmware-interface/fwi_doc.o $(FWI_LIB) $(COMMON_LIB)
	@mkdir -p $(dir $@)
	$(call quiet,LD,$@)
	$(Q)$(CC) $(ALL_CFLAGS) $^ -o $@ $(LDLIBS_BASE)
TOOLS += $(BIN)/fwi-doc

# REGISTERS.md is generated; check that the committed copy is current.
docs-check: $(BIN)/fwi-doc
	@$(BIN)/fwi-doc | diff -u firmware-interface/REGISTERS.md - \
		|| { echo "firmware-interface/REGISTERS.md is stale: run $(BIN)/fwi-doc > firmware-interface/REGISTERS.md" >&2; exit 1; }
