// stb_image's decoders compiled from Debian's own header (libstb-dev, the source of the libstb
// the library links) with the fuzzers' instrumentation, for the fuzz builds only. The shared
// libstb is not instrumented: libFuzzer would see no coverage inside the decoders and
// AddressSanitizer none of their memory errors. The linker takes these definitions before the
// shared library's. (STYLE.md's "never define STB_IMAGE_IMPLEMENTATION" is about the library and
// the programs, which link libstb.)
#define STB_IMAGE_IMPLEMENTATION
#include <stb_image.h>
