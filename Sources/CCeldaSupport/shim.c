// Most of the header's functions are inline; the others are here.
#include "celda_support.h"

static size_t count_bits_generic(const uint64_t *w, size_t n, uint64_t mask) {
    size_t c = 0;
    for (size_t i = 0; i < n; i++) c += (size_t)__builtin_popcountll(w[i] & mask);
    return c;
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
__attribute__((target("popcnt"))) static size_t count_bits_popcnt(const uint64_t *w, size_t n, uint64_t mask) {
    size_t c = 0;
    for (size_t i = 0; i < n; i++) c += (size_t)__builtin_popcountll(w[i] & mask);
    return c;
}

size_t celda_count_bits(const uint64_t *w, size_t n, uint64_t mask) {
    if (__builtin_cpu_supports("popcnt")) return count_bits_popcnt(w, n, mask);
    return count_bits_generic(w, n, mask);
}
#else
size_t celda_count_bits(const uint64_t *w, size_t n, uint64_t mask) { return count_bits_generic(w, n, mask); }
#endif
