#ifndef CELDA_SUPPORT_H
#define CELDA_SUPPORT_H

/// Asks the CPU to start loading the cache line at `p` (a hint: no effect on results). Hot loops
/// over hash tables call it a few records ahead so their lookups do not wait on memory.
static inline __attribute__((always_inline)) void celda_prefetch(const void *p) {
    __builtin_prefetch(p, 1, 3);
}

#endif
