/* Fuzz target: splitvm's x86 kernel image validation (bzImage setup header, ELF program
 * headers and PVH notes) on arbitrary bytes. Whatever it accepts must describe segments that
 * lie inside the input. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "vmm/arch/x86_64/kernel.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct x86_kernel_info k;
	struct errmsg e;
	unsigned int i;

	if (x86_kernel_parse(data, size, 0x100000, &k, &e) != 0)
		return 0;
	if (k.nr_segs == 0 || k.nr_segs > X86_KERNEL_MAX_SEGS)
		abort();
	for (i = 0; i < k.nr_segs; i++) {
		const struct x86_kernel_seg *s = &k.segs[i];

		if (s->file_off > size || s->filesz > size - s->file_off || s->filesz > s->memsz)
			abort();
	}
	return 0;
}
