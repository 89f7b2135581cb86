# common/: the small shared library (log, err, buf, crc, rng, clock).
COMMON_SRCS := $(wildcard common/*.c)
COMMON_OBJS := $(COMMON_SRCS:%.c=$(OBJ)/%.o)
COMMON_LIB := $(LIB)/libtollcommon.a
DEPS += $(COMMON_OBJS:.o=.d)

$(COMMON_LIB): $(COMMON_OBJS)
	@mkdir -p $(dir $@)
	$(call quiet,AR,$@)
	$(Q)$(AR) rcs $@ $^
