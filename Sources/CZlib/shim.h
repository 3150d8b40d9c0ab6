#include <zlib.h>

// inflateInit2 is a macro: a function Swift can call.
static inline int czlib_inflate_init2(z_stream *stream, int window_bits) {
    return inflateInit2(stream, window_bits);
}
