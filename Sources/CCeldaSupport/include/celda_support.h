#ifndef CELDA_SUPPORT_H
#define CELDA_SUPPORT_H

/// Asks the CPU to start loading the cache line at `p` (a hint: no effect on results). Hot loops
/// over hash tables call it a few records ahead so their lookups do not wait on memory.
static inline __attribute__((always_inline)) void celda_prefetch(const void *p) {
    __builtin_prefetch(p, 1, 3);
}

#include <stddef.h>
#include <stdint.h>
#if defined(__linux__) || defined(__APPLE__)
#include <sys/mman.h>
#endif
#if defined(__linux__)
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>
#else
#include <stdlib.h>
#include <string.h>
#endif

/// Tells the kernel that the mapping `[p, p + n)` may be backed by transparent huge pages
/// (`madvise(MADV_HUGEPAGE)`; a hint: no effect on results, ignored where the kernel or the
/// platform does not offer it). Detector tables are read at random over hundreds of megabytes,
/// so with 4 KiB pages most lookups also miss the TLB. The whole mapping, its unaligned ends
/// too: `mremap` moves only a range inside one mapping, and advising part of one splits it.
static inline void celda_table_advise(void *p, size_t n) {
#if defined(__linux__) && defined(MADV_HUGEPAGE)
    (void)madvise(p, n, MADV_HUGEPAGE);
#else
    (void)p;
    (void)n;
#endif
}

#if defined(__linux__)
/// Tables of at least this many bytes start on a 2 MiB boundary (see ``celda_table_map``).
#define CELDA_HUGE_PAGE ((size_t)2 << 20)

/// The bytes mapped for a table of `n` bytes: whole pages, and whole 2 MiB blocks from 2 MiB up.
/// Transparent huge pages cover only the 2 MiB blocks wholly inside a mapping, and when a table
/// grows, the pages of a partial last block move along as 4 KiB pages for good: a table grown to
/// 44 MB held 14 MB of them.
static inline size_t celda_table_size(size_t n) {
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    n = (n + page - 1) & ~(page - 1);
    return n >= CELDA_HUGE_PAGE ? (n + CELDA_HUGE_PAGE - 1) & ~(CELDA_HUGE_PAGE - 1) : n;
}

/// An anonymous mapping of `celda_table_size(n)` zero bytes, or `NULL`. One of 2 MiB or more
/// starts on a 2 MiB boundary, so that all of it is in huge pages: a huge page that `mremap`
/// moves to an address that is not aligned is split into 4 KiB pages.
static inline void *celda_table_map(size_t n) {
    n = celda_table_size(n);
    size_t extra = n >= CELDA_HUGE_PAGE ? CELDA_HUGE_PAGE : 0;
    char *p = (char *)mmap(NULL, n + extra, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANON, -1, 0);
    if (p == MAP_FAILED) return NULL;
    if (extra == 0) return p;
    uintptr_t a = ((uintptr_t)p + CELDA_HUGE_PAGE - 1) & ~(uintptr_t)(CELDA_HUGE_PAGE - 1);
    size_t head = (size_t)(a - (uintptr_t)p);
    if (head > 0) (void)munmap(p, head);
    if (extra - head > 0) (void)munmap((char *)a + n, extra - head);
    return (void *)a;
}
#endif

/// `n` zero bytes for a table (hash-table slots, pools, the pair sketch), or `NULL`: an anonymous mapping (its memory is taken
/// as pages are first written, in huge pages once it is big), which ``celda_table_grow`` extends
/// in place or moves without copying. Free with ``celda_table_free``.
static inline void *celda_table_alloc(size_t n) {
#if defined(__linux__)
    void *p = celda_table_map(n);
    if (p == NULL) return NULL;
    celda_table_advise(p, celda_table_size(n));
    return p;
#else
    return calloc(1, n);
#endif
}

/// The table at `p` (`old` bytes) made `n` bytes long (`n > old`): the first `old` bytes kept,
/// the rest zero; `NULL` when there is no memory (then `p` is unchanged). On Linux the pages are
/// remapped (`mremap`), not copied, so only the new part is ever zeroed and written: in place
/// when the addresses after it are free (and, for 2 MiB or more, it starts on a 2 MiB boundary:
/// a small table growing past 2 MiB in place would keep its unaligned start), else onto a new
/// mapping that starts on a 2 MiB boundary, so its huge pages move whole.
static inline void *celda_table_grow(void *p, size_t old, size_t n) {
#if defined(__linux__)
    old = celda_table_size(old);
    n = celda_table_size(n);
    if (n <= old) return p;
    int aligned = n < CELDA_HUGE_PAGE || ((uintptr_t)p & (CELDA_HUGE_PAGE - 1)) == 0;
    long q = aligned ? syscall(SYS_mremap, p, old, n, 0) : -1;
    if (q == -1) {
        void *to = celda_table_map(n);
        if (to != NULL) {
            q = syscall(SYS_mremap, p, old, n, 3 /* MREMAP_MAYMOVE | MREMAP_FIXED */, to);
            if (q == -1) (void)munmap(to, n);
        }
    }
    if (q == -1) q = syscall(SYS_mremap, p, old, n, 1 /* MREMAP_MAYMOVE */);
    if (q == -1) return NULL;
    celda_table_advise((void *)q, n);
    return (void *)q;
#else
    char *q = (char *)realloc(p, n);
    if (q != NULL) memset(q + old, 0, n - old);
    return q;
#endif
}

static inline void celda_table_free(void *p, size_t n) {
#if defined(__linux__)
    (void)munmap(p, celda_table_size(n));
#else
    (void)n;
    free(p);
#endif
}

/// The loop of ``celda_count_bits``, inlined into each of its variants.
static inline __attribute__((always_inline)) size_t celda_count_bits_loop(
    const uint64_t *w, size_t n, uint64_t mask) {
    size_t c = 0;
    for (size_t i = 0; i < n; i++) c += (size_t)__builtin_popcountll(w[i] & mask);
    return c;
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
static inline size_t celda_count_bits_generic(const uint64_t *w, size_t n, uint64_t mask) {
    return celda_count_bits_loop(w, n, mask);
}

__attribute__((target("popcnt"))) static inline size_t celda_count_bits_popcnt(
    const uint64_t *w, size_t n, uint64_t mask) {
    return celda_count_bits_loop(w, n, mask);
}
#endif

/// The number of bits set in `w[0] & mask`, …, `w[n - 1] & mask`. On x86-64 it uses the
/// `popcnt` instruction when the CPU has it (Swift's `nonzeroBitCount` cannot assume it there,
/// and its bit-twiddling fallback takes about 20 instructions a word).
static inline size_t celda_count_bits(const uint64_t *w, size_t n, uint64_t mask) {
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
    if (__builtin_cpu_supports("popcnt")) return celda_count_bits_popcnt(w, n, mask);
    return celda_count_bits_generic(w, n, mask);
#else
    return celda_count_bits_loop(w, n, mask);
#endif
}

/// Atomically ORs `v` into `*p`; returns the previous value (relaxed: the threads that share a
/// word only ever set bits, and are joined before anyone reads the result).
static inline __attribute__((always_inline)) uint64_t celda_fetch_or(uint64_t *p, uint64_t v) {
    return __atomic_fetch_or(p, v, __ATOMIC_RELAXED);
}

/// Reads `*p` while other threads may be setting bits in it.
static inline __attribute__((always_inline)) uint64_t celda_load_relaxed(const uint64_t *p) {
    return __atomic_load_n(p, __ATOMIC_RELAXED);
}

/// Names the calling thread (its first 15 bytes) for `top -H`, `ps -L` and
/// `/proc/PID/task/*/comm`, so a profile can tell the threads apart. Linux only; elsewhere a
/// no-op.
static inline void celda_name_this_thread(const char *name) {
#if defined(__linux__)
    prctl(PR_SET_NAME, (unsigned long)name, 0UL, 0UL, 0UL);
#else
    (void)name;
#endif
}

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

/// A bit for each of the 32 bytes at `p` that equals `c` (bit k for byte k); all 32 must be
/// readable.
static inline __attribute__((always_inline)) uint32_t celda_match32(const void *p, uint8_t c) {
#if defined(__SSE2__)
    const __m128i n = _mm_set1_epi8((char)c);
    const __m128i *q = (const __m128i *)p;
    uint32_t m0 = (uint32_t)_mm_movemask_epi8(_mm_cmpeq_epi8(_mm_loadu_si128(q), n));
    uint32_t m1 = (uint32_t)_mm_movemask_epi8(_mm_cmpeq_epi8(_mm_loadu_si128(q + 1), n));
    return m0 | (m1 << 16);
#else
    const uint8_t *b = (const uint8_t *)p;
    uint32_t m = 0;
    for (int k = 0; k < 32; k++) m |= (uint32_t)(b[k] == c) << k;
    return m;
#endif
}

/// The bytes of a CSV row's 64-byte block at `p` that matter to the unquoted scan: `delimiters`
/// has a bit for each byte equal to `d`, `stops` one for each line feed or quote (bit k for byte
/// k). All 64 bytes must be readable.
typedef struct {
    uint64_t delimiters;
    uint64_t stops;
} celda_csv_block;

static inline __attribute__((always_inline)) celda_csv_block celda_csv_scan64(const void *p, uint8_t d) {
    celda_csv_block r;
#if defined(__SSE2__)
    const __m128i dn = _mm_set1_epi8((char)d);
    const __m128i lf = _mm_set1_epi8(0x0A);
    const __m128i qt = _mm_set1_epi8(0x22);
    const __m128i *q = (const __m128i *)p;
    uint64_t dm = 0, sm = 0;
    for (int k = 0; k < 4; k++) {
        __m128i v = _mm_loadu_si128(q + k);
        dm |= (uint64_t)(uint32_t)_mm_movemask_epi8(_mm_cmpeq_epi8(v, dn)) << (16 * k);
        sm |= (uint64_t)(uint32_t)_mm_movemask_epi8(_mm_or_si128(_mm_cmpeq_epi8(v, lf), _mm_cmpeq_epi8(v, qt)))
            << (16 * k);
    }
    r.delimiters = dm;
    r.stops = sm;
#else
    const uint8_t *b = (const uint8_t *)p;
    r.delimiters = 0;
    r.stops = 0;
    for (int k = 0; k < 64; k++) {
        r.delimiters |= (uint64_t)(b[k] == d) << k;
        r.stops |= (uint64_t)(b[k] == 0x0A || b[k] == 0x22) << k;
    }
#endif
    return r;
}

/// ``celda_match32`` for the 64 bytes at `p`. SIP header scanning finds its line ends 64 bytes
/// at a time with it, instead of one `memchr` call per line.
static inline __attribute__((always_inline)) uint64_t celda_match64(const void *p, uint8_t c) {
    return (uint64_t)celda_match32(p, c) | ((uint64_t)celda_match32((const uint8_t *)p + 32, c) << 32);
}

#endif
