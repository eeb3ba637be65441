# examples: xport-echo, the smallest lib/xport + lib/wire program (used by make demo).
BINS += xport-echo
xport-echo_SRCS := examples/xport-echo.c

.PHONY: examples
examples: $(O)/bin/xport-echo
